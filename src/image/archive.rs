//! Readers for the image archives users have: an OCI image layout (a directory, or the same as
//! a tar: what `skopeo copy ... oci:DIR`, `podman save --format oci-archive` and
//! `buildah push oci-archive:` write) and a docker-archive (`docker save`, `podman save`:
//! `manifest.json` listing `Config`, `RepoTags` and `Layers`).
//!
//! [`Archive::open`] reads the small JSON documents (index, manifests, configs), verifying
//! each against its digest; layer blobs are only located. [`Archive::open_blob`] streams one
//! through a [`Verifier`]: read it to the end, then call [`BlobReader::finish`]. Nothing is
//! unpacked here. A tar is indexed once (entry name → position and size) and blobs are read
//! by seeking into it, so a layer is never copied to a temporary file.
//!
//! A docker-archive's layers are uncompressed tars whose digest is the config's `diff_id`; they
//! are described as `application/vnd.oci.image.layer.v1.tar` with that digest and their size in
//! the archive. The legacy format with only a `repositories` file (Docker before 1.10) is
//! refused.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::config::{ImageConfig, MAX_CONFIG_SIZE};
use super::digest::{Digest, Verifier};
use super::manifest::{self, Descriptor, Manifest, Parsed, MAX_MANIFEST_SIZE};
use super::media;
use super::platform::Matcher;
use super::reference::{is_tag, Reference};

/// Most entries a tar archive may have.
pub const MAX_TAR_ENTRIES: usize = 1_000_000;
/// Most images one archive may list.
pub const MAX_IMAGES: usize = 10_000;
/// Deepest chain of symbolic links followed inside a tar (docker save links repeated layers).
const MAX_LINKS: usize = 8;

/// A name an archive gives an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveName {
    /// A full reference (`docker.io/library/busybox:latest`).
    Reference(Reference),
    /// A bare tag, as `skopeo copy ... oci:DIR:TAG` writes: the importer supplies the repository.
    Tag(String),
}

/// One layer of an archived image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveLayer {
    /// Media type (compression), digest and size of the blob as stored.
    pub descriptor: Descriptor,
    /// The digest of the uncompressed tar (`rootfs.diff_ids[i]` of the config).
    pub diff_id: Digest,
    /// Where the blob is inside the archive.
    pub path: String,
}

/// One image found in an archive.
#[derive(Debug, Clone)]
pub struct ArchiveImage {
    pub names: Vec<ArchiveName>,
    /// The manifest's digest (OCI layouts); a docker-archive has none.
    pub manifest_digest: Option<Digest>,
    /// The manifest (synthesized, as Docker schema 2, for a docker-archive).
    pub manifest: Manifest,
    /// The config's digest: the image ID.
    pub config_digest: Digest,
    pub config: ImageConfig,
    pub layers: Vec<ArchiveLayer>,
}

#[derive(Debug)]
enum Source {
    Dir(PathBuf),
    /// A tar: path, and for each entry its data position and size, or a link target.
    Tar(PathBuf, BTreeMap<String, Entry>),
}

#[derive(Debug, Clone)]
enum Entry {
    File { offset: u64, size: u64 },
    Link(String),
}

/// An opened archive and the images it holds.
#[derive(Debug)]
pub struct Archive {
    source: Source,
    images: Vec<ArchiveImage>,
}

/// A blob being read from an archive, hashed as it streams.
pub struct BlobReader {
    verifier: Verifier<Box<dyn Read>>,
    digest: Digest,
    size: Option<u64>,
    path: String,
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.verifier.read(buf)
    }
}

impl BlobReader {
    /// Checks digest and size once the blob was read to the end; returns its size.
    pub fn finish(self) -> Result<u64> {
        let path = self.path;
        self.verifier.finish(&self.digest, self.size).context(path)
    }
}

/// A relative path inside an archive, normalized (`./a//b` → `a/b`); refuses absolute paths and
/// `..`, which would leave the archive.
fn clean(path: &str) -> Result<String> {
    let mut parts = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str().ok_or_else(|| anyhow!("{path:?}: not UTF-8"))?),
            Component::CurDir => {}
            _ => bail!("{path:?}: not a relative path inside the archive"),
        }
    }
    if parts.is_empty() {
        bail!("{path:?}: empty path");
    }
    Ok(parts.join("/"))
}

fn index_tar(path: &Path) -> Result<BTreeMap<String, Entry>> {
    let file = File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut archive = tar::Archive::new(file);
    let mut entries = BTreeMap::new();
    for (n, entry) in archive.entries_with_seek().with_context(|| format!("{}", path.display()))?.enumerate() {
        if n >= MAX_TAR_ENTRIES {
            bail!("{}: more than {MAX_TAR_ENTRIES} entries", path.display());
        }
        let entry = entry.with_context(|| format!("{}: entry {n}", path.display()))?;
        let raw =
            entry.path().with_context(|| format!("{}: entry {n}", path.display()))?.to_string_lossy().into_owned();
        let Ok(name) = clean(&raw) else { continue };
        let kind = entry.header().entry_type();
        if kind.is_file() {
            entries.insert(name, Entry::File { offset: entry.raw_file_position(), size: entry.size() });
        } else if kind.is_symlink() || kind.is_hard_link() {
            let target = entry.link_name().ok().flatten().map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
            // Symbolic links are relative to the link's directory; hard links to the root.
            let joined = match (kind.is_symlink(), name.rsplit_once('/')) {
                (true, Some((dir, _))) => format!("{dir}/{target}"),
                _ => target,
            };
            if let Ok(t) = clean_dots(&joined) {
                entries.insert(name, Entry::Link(t));
            }
        }
    }
    Ok(entries)
}

/// Like [`clean`], resolving `..` lexically without leaving the root (for link targets).
fn clean_dots(path: &str) -> Result<String> {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or_else(|| anyhow!("{path:?} leaves the archive"))?;
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

impl Source {
    fn exists(&self, name: &str) -> bool {
        match self {
            Source::Dir(d) => d.join(name).exists(),
            Source::Tar(_, e) => e.contains_key(name),
        }
    }

    /// The blob `name`: a reader and its size.
    fn open(&self, name: &str) -> Result<(Box<dyn Read>, u64)> {
        let name = clean(name)?;
        match self {
            Source::Dir(d) => {
                let path = d.join(&name);
                let f = File::open(&path).with_context(|| format!("{}", path.display()))?;
                let size = f.metadata().with_context(|| format!("{}", path.display()))?.len();
                Ok((Box::new(f), size))
            }
            Source::Tar(path, entries) => {
                let mut current = name.clone();
                for _ in 0..=MAX_LINKS {
                    match entries.get(&current) {
                        Some(Entry::File { offset, size }) => {
                            let mut f = File::open(path).with_context(|| format!("{}", path.display()))?;
                            f.seek(SeekFrom::Start(*offset)).with_context(|| format!("{}: {name}", path.display()))?;
                            return Ok((Box::new(f.take(*size)), *size));
                        }
                        Some(Entry::Link(t)) => current = t.clone(),
                        None => bail!("{}: no file {name}", path.display()),
                    }
                }
                bail!("{}: {name}: more than {MAX_LINKS} links", path.display())
            }
        }
    }

    /// A whole small file, at most `max` bytes.
    fn read_small(&self, name: &str, max: usize) -> Result<Vec<u8>> {
        let (r, size) = self.open(name)?;
        if size > max as u64 {
            bail!("{name}: {size} bytes, more than the {max} accepted");
        }
        let mut out = Vec::new();
        r.take(max as u64 + 1).read_to_end(&mut out).with_context(|| name.to_string())?;
        Ok(out)
    }

    /// A small blob, verified against `d`.
    fn read_blob(&self, d: &Descriptor, max: usize) -> Result<Vec<u8>> {
        let path = blob_path(&d.digest);
        if d.size > max as u64 {
            bail!("{path}: descriptor size {} is more than the {max} accepted", d.size);
        }
        let bytes = self.read_small(&path, max)?;
        let mut v = Verifier::new(&bytes[..]);
        std::io::copy(&mut v, &mut std::io::sink()).with_context(|| path.clone())?;
        v.finish(&d.digest, Some(d.size)).with_context(|| path.clone())?;
        Ok(bytes)
    }
}

/// Where an OCI layout keeps a blob.
pub fn blob_path(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm(), d.hex())
}

fn name_from_annotations(d: &Descriptor) -> Option<ArchiveName> {
    if let Some(full) = d.annotation("io.containerd.image.name") {
        if let Ok(r) = Reference::parse(full) {
            return Some(ArchiveName::Reference(r));
        }
    }
    let name = d.annotation("org.opencontainers.image.ref.name")?;
    if is_tag(name) {
        return Some(ArchiveName::Tag(name.to_string()));
    }
    Reference::parse(name).ok().map(ArchiveName::Reference)
}

impl Archive {
    /// Opens the archive at `path` (a directory or a tar), finds its format and reads every
    /// image's manifest and config.
    pub fn open(path: &Path) -> Result<Archive> {
        let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
        let source = if meta.is_dir() {
            Source::Dir(path.to_path_buf())
        } else {
            Source::Tar(path.to_path_buf(), index_tar(path)?)
        };
        let mut archive = Archive { source, images: Vec::new() };
        let images = if archive.source.exists("oci-layout") && archive.source.exists("index.json") {
            archive.read_oci()
        } else if archive.source.exists("manifest.json") {
            archive.read_docker()
        } else if archive.source.exists("repositories") {
            Err(anyhow!("a docker-archive without manifest.json (written by Docker before 1.10) is not supported"))
        } else {
            Err(anyhow!("neither an OCI image layout (oci-layout, index.json) nor a docker-archive (manifest.json)"))
        };
        archive.images = images.with_context(|| format!("{}", path.display()))?;
        Ok(archive)
    }

    /// The images, in the archive's order.
    pub fn images(&self) -> &[ArchiveImage] {
        &self.images
    }

    /// Streams the blob at `path` inside the archive, to be verified against `digest` and, when
    /// given, `size`. Reading more than the expected size fails at once.
    pub fn open_blob(&self, path: &str, digest: &Digest, size: Option<u64>) -> Result<BlobReader> {
        let (reader, actual) = self.source.open(path)?;
        let limit = size.unwrap_or(actual);
        Ok(BlobReader { verifier: Verifier::with_limit(reader, limit), digest: *digest, size, path: path.to_string() })
    }

    /// Opens a layer of an image.
    pub fn open_layer(&self, layer: &ArchiveLayer) -> Result<BlobReader> {
        self.open_blob(&layer.path, &layer.descriptor.digest, Some(layer.descriptor.size))
    }

    fn read_oci(&self) -> Result<Vec<ArchiveImage>> {
        let layout = self.source.read_small("oci-layout", 4096)?;
        let version: serde_json::Value = serde_json::from_slice(&layout).context("oci-layout")?;
        match version.get("imageLayoutVersion").and_then(|v| v.as_str()) {
            Some(v) if v.starts_with("1.") => {}
            other => bail!("oci-layout: imageLayoutVersion {other:?}, expected 1.x"),
        }
        let index = self.source.read_small("index.json", MAX_MANIFEST_SIZE)?;
        let Parsed::Index(index, _) = manifest::parse(&index, Some(media::OCI_INDEX)).context("index.json")? else {
            bail!("index.json: not an index");
        };
        let matcher = Matcher::host();
        let mut images = Vec::new();
        for (i, entry) in index.manifests.iter().enumerate() {
            let names: Vec<ArchiveName> = name_from_annotations(entry).into_iter().collect();
            let mut desc = entry.clone();
            if media::is_index(&desc.media_type) {
                let bytes = self.source.read_blob(&desc, MAX_MANIFEST_SIZE)?;
                let Parsed::Index(nested, _) =
                    manifest::parse(&bytes, Some(&desc.media_type)).with_context(|| blob_path(&desc.digest))?
                else {
                    bail!("{}: not an index", blob_path(&desc.digest));
                };
                desc = matcher
                    .select(&nested.manifests)
                    .ok_or_else(|| {
                        anyhow!("index.json: manifests[{i}]: no entry for {}", super::platform::host().display())
                    })?
                    .clone();
            }
            if !media::is_manifest(&desc.media_type) {
                continue;
            }
            if images.len() >= MAX_IMAGES {
                bail!("more than {MAX_IMAGES} images");
            }
            let bytes = self.source.read_blob(&desc, MAX_MANIFEST_SIZE)?;
            let Parsed::Manifest(m, _) =
                manifest::parse(&bytes, Some(&desc.media_type)).with_context(|| blob_path(&desc.digest))?
            else {
                bail!("{}: not a manifest", blob_path(&desc.digest));
            };
            let config_bytes = self.source.read_blob(&m.config, MAX_CONFIG_SIZE)?;
            let config = ImageConfig::parse(&config_bytes).with_context(|| blob_path(&m.config.digest))?;
            if config.rootfs.diff_ids.len() != m.layers.len() {
                bail!(
                    "{}: {} layers but the config lists {} diff_ids",
                    blob_path(&desc.digest),
                    m.layers.len(),
                    config.rootfs.diff_ids.len()
                );
            }
            let layers = m
                .layers
                .iter()
                .zip(&config.rootfs.diff_ids)
                .map(|(l, diff_id)| ArchiveLayer {
                    descriptor: l.clone(),
                    diff_id: *diff_id,
                    path: blob_path(&l.digest),
                })
                .collect();
            images.push(ArchiveImage {
                names,
                manifest_digest: Some(desc.digest),
                config_digest: m.config.digest,
                manifest: *m,
                config,
                layers,
            });
        }
        Ok(images)
    }

    fn read_docker(&self) -> Result<Vec<ArchiveImage>> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Entry {
            config: String,
            #[serde(default)]
            repo_tags: Option<Vec<String>>,
            layers: Vec<String>,
        }
        let bytes = self.source.read_small("manifest.json", MAX_MANIFEST_SIZE)?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let entries: Vec<Entry> =
            serde_path_to_error::deserialize(&mut de).map_err(|e| anyhow!("manifest.json: {e}"))?;
        if entries.len() > MAX_IMAGES {
            bail!("manifest.json: more than {MAX_IMAGES} images");
        }
        let mut images = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let config_path = clean(&e.config).with_context(|| format!("manifest.json: [{i}].Config"))?;
            let config_bytes = self.source.read_small(&config_path, MAX_CONFIG_SIZE)?;
            let config_digest = Digest::of(&config_bytes);
            // The file is named after its digest (`<hex>.json` or `blobs/sha256/<hex>`): check it.
            let stem = config_path.rsplit('/').next().unwrap_or_default().trim_end_matches(".json");
            if stem.len() == 64 && stem != config_digest.hex() {
                bail!("{config_path}: content is {config_digest}, not what its name says");
            }
            let config = ImageConfig::parse(&config_bytes).with_context(|| config_path.clone())?;
            if config.rootfs.diff_ids.len() != e.layers.len() {
                bail!(
                    "manifest.json: [{i}].Layers has {} layers but the config lists {} diff_ids",
                    e.layers.len(),
                    config.rootfs.diff_ids.len()
                );
            }
            let mut layers = Vec::new();
            for (j, (path, diff_id)) in e.layers.iter().zip(&config.rootfs.diff_ids).enumerate() {
                let path = clean(path).with_context(|| format!("manifest.json: [{i}].Layers[{j}]"))?;
                let (_, size) = self.source.open(&path)?;
                let descriptor = Descriptor {
                    media_type: media::OCI_LAYER.to_string(),
                    digest: *diff_id,
                    size,
                    urls: None,
                    annotations: None,
                    platform: None,
                    artifact_type: None,
                };
                layers.push(ArchiveLayer { descriptor, diff_id: *diff_id, path });
            }
            let mut names = Vec::new();
            for (j, tag) in e.repo_tags.iter().flatten().enumerate() {
                let r = Reference::parse(tag).with_context(|| format!("manifest.json: [{i}].RepoTags[{j}]"))?;
                names.push(ArchiveName::Reference(r));
            }
            let manifest = Manifest {
                schema_version: 2,
                media_type: Some(media::DOCKER_MANIFEST.to_string()),
                config: Descriptor {
                    media_type: media::DOCKER_CONFIG.to_string(),
                    digest: config_digest,
                    size: config_bytes.len() as u64,
                    urls: None,
                    annotations: None,
                    platform: None,
                    artifact_type: None,
                },
                layers: layers.iter().map(|l| l.descriptor.clone()).collect(),
                annotations: None,
                subject: None,
            };
            images.push(ArchiveImage { names, manifest_digest: None, manifest, config_digest, config, layers });
        }
        Ok(images)
    }
}

#[cfg(test)]
mod tests;
