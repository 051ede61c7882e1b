//! Image manifests and indexes, OCI and Docker schema 2, parsed from the bytes a registry or
//! an archive gives, with their media type checked against their content.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::media;
use super::platform::Platform;

/// The largest manifest or index accepted: containerd's limit, `4 * 1048 * 1048` bytes
/// (4,393,216: slightly more than 4 MiB, as containerd writes it). It bounds every count in a
/// manifest (layers, index entries, annotations) too.
pub const MAX_MANIFEST_SIZE: usize = 4 * 1048 * 1048;

/// A content descriptor: what a blob is, its digest and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// An annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

/// An OCI image index or Docker manifest list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An OCI image manifest or Docker schema 2 manifest: one platform's image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
}

/// What a manifest document turned out to be, with its effective media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Index(Index, String),
    Manifest(Box<Manifest>, String),
}

impl Parsed {
    /// The media type the document was read as.
    pub fn media_type(&self) -> &str {
        match self {
            Parsed::Index(_, t) | Parsed::Manifest(_, t) => t,
        }
    }
}

/// Why a manifest was refused. One line; the caller names the image or file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is {0} bytes, more than the {MAX_MANIFEST_SIZE} accepted")]
    TooLarge(usize),
    #[error("Docker schema 1 manifests are not supported (deprecated by Docker and removed from containerd 2.0): push the image again with a current tool")]
    Schema1,
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedType(String),
    #[error("cannot tell what this document is: it has neither \"manifests\" nor \"config\" and \"layers\", and no known mediaType")]
    Unknown,
    #[error("{0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> ManifestError {
    ManifestError::Invalid(msg.into())
}

/// The fields that tell documents apart, read before the real parse.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    schema_version: Option<serde_json::Value>,
    media_type: Option<String>,
    manifests: Option<serde::de::IgnoredAny>,
    config: Option<serde::de::IgnoredAny>,
    layers: Option<serde::de::IgnoredAny>,
    fs_layers: Option<serde::de::IgnoredAny>,
}

fn is_generic(content_type: &str) -> bool {
    matches!(content_type, "" | "application/json" | "text/plain" | "application/octet-stream" | "binary/octet-stream")
}

/// Parses a manifest or index from `bytes`, which came with `content_type` (the registry's
/// `Content-Type`, or a descriptor's `mediaType`; `None` or a generic JSON type when unknown).
///
/// The kind comes from the content type when it names one, else from the document's own
/// `mediaType`, else from its fields. Both must agree on the kind; schema 1 is refused; every
/// layer must have a layer media type runp can unpack and the config an image config type.
pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Parsed, ManifestError> {
    if bytes.len() > MAX_MANIFEST_SIZE {
        return Err(ManifestError::TooLarge(bytes.len()));
    }
    let probe: Probe =
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("manifest is not a JSON object: {e}")))?;
    let declared = content_type.map(media::essence).filter(|t| !is_generic(t));
    let body = probe.media_type.as_deref().map(media::essence).filter(|t| !t.is_empty());

    let schema1 = |t: &Option<String>| t.as_deref().is_some_and(media::is_schema1);
    if schema1(&declared)
        || schema1(&body)
        || probe.fs_layers.is_some()
        || probe.schema_version.as_ref().and_then(|v| v.as_u64()) == Some(1)
    {
        return Err(ManifestError::Schema1);
    }
    let kind = |t: &str| -> Result<bool, ManifestError> {
        if media::is_index(t) {
            Ok(true)
        } else if media::is_manifest(t) {
            Ok(false)
        } else {
            Err(ManifestError::UnsupportedType(t.to_string()))
        }
    };
    let is_index = match (&declared, &body) {
        (Some(d), Some(b)) => {
            let (dk, bk) = (kind(d)?, kind(b)?);
            if dk != bk {
                return Err(invalid(format!("the content type says {d:?} but the document's mediaType is {b:?}")));
            }
            dk
        }
        (Some(t), None) | (None, Some(t)) => kind(t)?,
        (None, None) if probe.manifests.is_some() => true,
        (None, None) if probe.config.is_some() && probe.layers.is_some() => false,
        (None, None) => return Err(ManifestError::Unknown),
    };
    let media_type = declared
        .or(body)
        .unwrap_or_else(|| (if is_index { media::OCI_INDEX } else { media::OCI_MANIFEST }).to_string());
    if is_index && (probe.config.is_some() || probe.layers.is_some()) {
        return Err(invalid("an index must not have \"config\" or \"layers\""));
    }
    if !is_index && probe.manifests.is_some() {
        return Err(invalid("a manifest must not have \"manifests\""));
    }
    match probe.schema_version.as_ref().and_then(|v| v.as_u64()) {
        Some(2) => {}
        _ => return Err(invalid("schemaVersion: must be 2")),
    }

    let mut de = serde_json::Deserializer::from_slice(bytes);
    if is_index {
        let index: Index = serde_path_to_error::deserialize(&mut de).map_err(|e| invalid(e.to_string()))?;
        Ok(Parsed::Index(index, media_type))
    } else {
        let m: Manifest = serde_path_to_error::deserialize(&mut de).map_err(|e| invalid(e.to_string()))?;
        check_manifest(&m)?;
        Ok(Parsed::Manifest(Box::new(m), media_type))
    }
}

fn check_manifest(m: &Manifest) -> Result<(), ManifestError> {
    if !media::is_config(&m.config.media_type) {
        return Err(invalid(format!(
            "config.mediaType: {:?} is not a container image config (an artifact, not an image runp can run)",
            m.config.media_type
        )));
    }
    for (i, layer) in m.layers.iter().enumerate() {
        if media::layer_compression(&layer.media_type).is_none() {
            return Err(invalid(format!(
                "layers[{i}].mediaType: {:?} is not a layer type runp can unpack",
                layer.media_type
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::media::Compression;

    fn d(n: u8) -> String {
        Digest::of(&[n]).to_string()
    }

    fn manifest_json(media_type: Option<&str>, config_type: &str, layer_types: &[&str]) -> String {
        let layers: Vec<String> = layer_types
            .iter()
            .enumerate()
            .map(|(i, t)| format!(r#"{{"mediaType":"{t}","digest":"{}","size":{}}}"#, d(i as u8 + 1), 100 + i))
            .collect();
        let mt = media_type.map(|t| format!(r#""mediaType":"{t}","#)).unwrap_or_default();
        format!(
            r#"{{"schemaVersion":2,{mt}"config":{{"mediaType":"{config_type}","digest":"{}","size":7}},"layers":[{}]}}"#,
            d(0),
            layers.join(",")
        )
    }

    fn index_json(media_type: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}","manifests":[
              {{"mediaType":"{}","digest":"{}","size":500,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}},
              {{"mediaType":"{}","digest":"{}","size":501,"platform":{{"architecture":"amd64","os":"linux"}},"annotations":{{"a":"b"}}}}]}}"#,
            media::OCI_MANIFEST,
            d(1),
            media::OCI_MANIFEST,
            d(2)
        )
    }

    #[test]
    fn oci_manifest() {
        let j = manifest_json(
            Some(media::OCI_MANIFEST),
            media::OCI_CONFIG,
            &[media::OCI_LAYER_GZIP, media::OCI_LAYER_ZSTD, media::OCI_LAYER],
        );
        let Parsed::Manifest(m, t) = parse(j.as_bytes(), Some(media::OCI_MANIFEST)).unwrap() else { panic!() };
        assert_eq!(t, media::OCI_MANIFEST);
        assert_eq!(m.config.digest, Digest::of(&[0]));
        let kinds: Vec<_> = m.layers.iter().map(|l| media::layer_compression(&l.media_type).unwrap()).collect();
        assert_eq!(kinds, [Compression::Gzip, Compression::Zstd, Compression::None]);
        assert_eq!(m.layers[2].size, 102);
    }

    #[test]
    fn docker_manifest_with_generic_content_type() {
        let j = manifest_json(
            Some(media::DOCKER_MANIFEST),
            media::DOCKER_CONFIG,
            &[media::DOCKER_LAYER_GZIP, media::DOCKER_LAYER_FOREIGN_GZIP],
        );
        let p = parse(j.as_bytes(), Some("application/json; charset=utf-8")).unwrap();
        assert_eq!(p.media_type(), media::DOCKER_MANIFEST);
        // The Content-Type with parameters and other case names the kind too.
        let p = parse(j.as_bytes(), Some("Application/vnd.docker.distribution.manifest.v2+json; x=y")).unwrap();
        assert!(matches!(p, Parsed::Manifest(..)));
    }

    #[test]
    fn kind_is_sniffed_without_any_media_type() {
        let j = manifest_json(None, media::OCI_CONFIG, &[media::OCI_LAYER_GZIP]);
        assert_eq!(parse(j.as_bytes(), None).unwrap().media_type(), media::OCI_MANIFEST);
        let i = r#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(parse(i.as_bytes(), None).unwrap().media_type(), media::OCI_INDEX);
        assert_eq!(parse(br#"{"schemaVersion":2}"#, None).unwrap_err(), ManifestError::Unknown);
    }

    #[test]
    fn indexes_oci_and_docker() {
        for t in [media::OCI_INDEX, media::DOCKER_MANIFEST_LIST] {
            let Parsed::Index(i, mt) = parse(index_json(t).as_bytes(), Some(t)).unwrap() else { panic!() };
            assert_eq!(mt, t);
            assert_eq!(i.manifests.len(), 2);
            assert_eq!(i.manifests[0].platform.as_ref().unwrap().variant(), "v8");
            assert_eq!(i.manifests[1].annotation("a"), Some("b"));
        }
    }

    #[test]
    fn schema1_is_refused_clearly() {
        let s1 = r#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[{"blobSum":"sha256:00"}],"history":[]}"#;
        for ct in [None, Some(media::DOCKER_SCHEMA1_SIGNED), Some("application/json")] {
            assert_eq!(parse(s1.as_bytes(), ct).unwrap_err(), ManifestError::Schema1);
        }
        assert!(ManifestError::Schema1.to_string().contains("schema 1"));
    }

    #[test]
    fn kind_disagreements_are_refused() {
        let j = manifest_json(Some(media::OCI_MANIFEST), media::OCI_CONFIG, &[]);
        let e = parse(j.as_bytes(), Some(media::OCI_INDEX)).unwrap_err();
        assert!(e.to_string().contains("but the document's mediaType"), "{e}");
        // An index carrying layers, or a manifest carrying manifests.
        let bad =
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"layers":[]}"#;
        assert!(parse(bad.as_bytes(), None).unwrap_err().to_string().contains("must not have"));
        let j = manifest_json(None, media::OCI_CONFIG, &[]).replacen('{', r#"{"manifests":[],"#, 1);
        assert!(parse(j.as_bytes(), Some(media::OCI_MANIFEST)).unwrap_err().to_string().contains("must not have"));
        assert_eq!(
            parse(b"{}", Some("application/vnd.example+json")).unwrap_err(),
            ManifestError::UnsupportedType("application/vnd.example+json".into())
        );
    }

    #[test]
    fn errors_name_the_field() {
        let j = manifest_json(None, media::OCI_CONFIG, &[media::OCI_LAYER_GZIP, "application/vnd.example.blob"]);
        let e = parse(j.as_bytes(), None).unwrap_err().to_string();
        assert_eq!(e, "layers[1].mediaType: \"application/vnd.example.blob\" is not a layer type runp can unpack");
        let j = manifest_json(None, "application/vnd.cncf.helm.config.v1+json", &[]);
        assert!(parse(j.as_bytes(), None).unwrap_err().to_string().starts_with("config.mediaType:"));
        let j = manifest_json(None, media::OCI_CONFIG, &[media::OCI_LAYER]).replace(&d(1), "sha256:nothex");
        let e = parse(j.as_bytes(), None).unwrap_err().to_string();
        assert!(e.starts_with("layers[0].digest: invalid digest"), "{e}");
        let j = manifest_json(None, media::OCI_CONFIG, &[media::OCI_LAYER]).replace("\"size\":100", "\"size\":-1");
        let e = parse(j.as_bytes(), None).unwrap_err().to_string();
        assert!(e.starts_with("layers[0].size:"), "{e}");
        let j = manifest_json(None, media::OCI_CONFIG, &[]).replace("\"schemaVersion\":2", "\"schemaVersion\":3");
        assert_eq!(parse(j.as_bytes(), None).unwrap_err().to_string(), "schemaVersion: must be 2");
        assert!(parse(b"[1]", None).unwrap_err().to_string().starts_with("manifest is not a JSON object"));
    }

    #[test]
    fn size_limit_is_containerds() {
        assert_eq!(MAX_MANIFEST_SIZE, 4_393_216);
        let mut big = manifest_json(None, media::OCI_CONFIG, &[]).into_bytes();
        big.pop();
        big.extend_from_slice(b",\"annotations\":{\"x\":\"");
        big.resize(MAX_MANIFEST_SIZE - 3, b'a');
        big.extend_from_slice(b"\"}}");
        assert_eq!(big.len(), MAX_MANIFEST_SIZE);
        assert!(parse(&big, None).is_ok());
        big.insert(1, b' ');
        assert_eq!(parse(&big, None).unwrap_err(), ManifestError::TooLarge(MAX_MANIFEST_SIZE + 1));
    }

    #[test]
    fn round_trips_unchanged_fields() {
        let j = manifest_json(Some(media::OCI_MANIFEST), media::OCI_CONFIG, &[media::OCI_LAYER_GZIP]);
        let Parsed::Manifest(m, _) = parse(j.as_bytes(), None).unwrap() else { panic!() };
        let again: Manifest = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(again, *m);
    }
}
