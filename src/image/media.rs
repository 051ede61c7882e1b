//! Media types of image manifests, indexes, configs and layers, OCI and Docker.
//!
//! Non-distributable ("foreign") layers, OCI's `nondistributable` and Docker's
//! `rootfs.foreign.diff.tar.gzip`: accepted as ordinary layers of their compression and fetched
//! from the registry by digest like any other blob, as containerd does by default; their `urls`
//! are kept in the descriptor but never followed (runp contacts no host the user did not name).
//! They are Windows base layers in practice and linux images do not use them.

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const OCI_LAYOUT_HEADER: &str = "application/vnd.oci.layout.header.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_LAYER_NONDIST: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
pub const OCI_LAYER_NONDIST_GZIP: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
pub const OCI_LAYER_NONDIST_ZSTD: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_LAYER_FOREIGN_GZIP: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
/// Not in Docker's spec, but written by some tools and accepted by containerd.
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Not in Docker's spec, but written by some tools and accepted by containerd.
pub const DOCKER_LAYER_ZSTD: &str = "application/vnd.docker.image.rootfs.diff.tar.zstd";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The `Accept` header for manifest requests: every kind runp reads, best first.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// The compression of a layer media type, or `None` when it is not a layer type runp reads.
pub fn layer_compression(media_type: &str) -> Option<Compression> {
    match media_type {
        OCI_LAYER | OCI_LAYER_NONDIST | DOCKER_LAYER => Some(Compression::None),
        OCI_LAYER_GZIP | OCI_LAYER_NONDIST_GZIP | DOCKER_LAYER_GZIP | DOCKER_LAYER_FOREIGN_GZIP => {
            Some(Compression::Gzip)
        }
        OCI_LAYER_ZSTD | OCI_LAYER_NONDIST_ZSTD | DOCKER_LAYER_ZSTD => Some(Compression::Zstd),
        _ => None,
    }
}

/// Whether a layer type is non-distributable (see the module doc).
pub fn is_non_distributable(media_type: &str) -> bool {
    matches!(
        media_type,
        OCI_LAYER_NONDIST | OCI_LAYER_NONDIST_GZIP | OCI_LAYER_NONDIST_ZSTD | DOCKER_LAYER_FOREIGN_GZIP
    )
}

/// An image manifest type (one platform's image).
pub fn is_manifest(media_type: &str) -> bool {
    matches!(media_type, OCI_MANIFEST | DOCKER_MANIFEST)
}

/// An index type (a list of manifests).
pub fn is_index(media_type: &str) -> bool {
    matches!(media_type, OCI_INDEX | DOCKER_MANIFEST_LIST)
}

/// A container image config type.
pub fn is_config(media_type: &str) -> bool {
    matches!(media_type, OCI_CONFIG | DOCKER_CONFIG)
}

/// Docker's deprecated schema 1.
pub fn is_schema1(media_type: &str) -> bool {
    matches!(media_type, DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED)
}

/// The bare media type of a `Content-Type` header: parameters dropped, lowercased, trimmed.
pub fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_types() {
        assert_eq!(layer_compression(OCI_LAYER_GZIP), Some(Compression::Gzip));
        assert_eq!(layer_compression(DOCKER_LAYER_GZIP), Some(Compression::Gzip));
        assert_eq!(layer_compression(OCI_LAYER_ZSTD), Some(Compression::Zstd));
        assert_eq!(layer_compression(OCI_LAYER), Some(Compression::None));
        assert_eq!(layer_compression(DOCKER_LAYER_FOREIGN_GZIP), Some(Compression::Gzip));
        assert!(is_non_distributable(DOCKER_LAYER_FOREIGN_GZIP));
        assert!(!is_non_distributable(OCI_LAYER_GZIP));
        assert_eq!(layer_compression("application/vnd.in-toto+json"), None);
        assert_eq!(layer_compression(OCI_CONFIG), None);
    }

    #[test]
    fn kinds_and_essence() {
        assert!(is_manifest(OCI_MANIFEST) && is_manifest(DOCKER_MANIFEST) && !is_manifest(OCI_INDEX));
        assert!(is_index(OCI_INDEX) && is_index(DOCKER_MANIFEST_LIST));
        assert!(is_config(DOCKER_CONFIG) && is_schema1(DOCKER_SCHEMA1_SIGNED));
        assert_eq!(essence(" Application/JSON; charset=utf-8"), "application/json");
        for t in MANIFEST_ACCEPT.split(", ") {
            assert!(is_manifest(t) || is_index(t), "{t}");
        }
    }
}
