//! The content-addressed image store, under the images directory (`<data-root>/images`):
//!
//! ```text
//! store.lock                   shared by writers (pulls, imports, acquire), exclusive for rm/prune
//! locks/blob-<hex>             one writer per blob, one unpacker per layer, one per image record
//! locks/layer-<hex>  locks/image-<hex>  locks/refs
//! blobs/sha256/<hex>           manifests, indexes, configs (and layer blobs a caller keeps)
//! layers/<chain-id hex>/       one per layer, unpacked once, shared by every image using it
//!     diff/                    the layer's files: an overlayfs lower directory
//!     layer.json               LayerRecord
//!     users/<user>             one marker per container using the layer (see acquire)
//! l/<short>                    symlink to ../layers/<hex>/diff: short lowerdir names
//! images/<config hex>.json     ImageRecord; the config digest is the image id
//! refs.json                    name → image id and repo digest
//! ```
//!
//! Atomic commit: a blob is written to `blobs/sha256/.tmp-*`, verified, then renamed; a layer
//! is unpacked to `layers/.tmp-*/diff`, verified against its DiffID, then the directory is
//! renamed to its chain id; an image record is written only once all its layers exist. So a
//! crash leaves `.tmp-*` entries only, which [`Store::open`] (when no one else uses the store)
//! and [`Store::prune`] remove. A layer is removed by renaming it to `.tmp-*` first, so a
//! half-removed layer is never taken for a whole one.
//!
//! The rootfs-directory images of `pod/images.rs` live beside these (as `<name>_<tag>/`
//! directories, whose names always hold a `_`): neither store reads the other's entries.

use super::unpack::{self, Hashing, Options, Unpacked};
use crate::linux::dirfd::FileLock;
use crate::runtime::state::write_atomic;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The `<hex>` of a `sha256:<hex>` digest; anything else is an error (it becomes a file name).
pub fn digest_hex(digest: &str) -> Result<&str> {
    match digest.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) => Ok(h),
        _ => bail!("invalid digest {digest:?} (want sha256:<64 lowercase hex>)"),
    }
}

/// The chain id of a layer (OCI image spec): its DiffID for the bottom layer, else
/// `sha256(parent chain id + " " + diff id)`.
pub fn chain_id(parent: Option<&str>, diff_id: &str) -> String {
    match parent {
        None => diff_id.to_string(),
        Some(p) => format!("sha256:{}", unpack::hex(&Sha256::digest(format!("{p} {diff_id}").as_bytes()))),
    }
}

/// The chain ids of a stack of layers, bottom first, from their DiffIDs.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let c = chain_id(out.last().map(|s| s.as_str()), d);
        out.push(c);
    }
    out
}

/// What `layers/<hex>/layer.json` says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LayerRecord {
    pub chain_id: String,
    pub diff_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Bytes of the uncompressed tar.
    pub size: u64,
    /// The compressed blob it came from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_size: Option<u64>,
    #[serde(default)]
    pub media_type: String,
    /// The name of its `l/` symlink.
    pub link: String,
}

/// What `images/<hex>.json` says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ImageRecord {
    /// The config digest.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
    /// Chain ids, bottom layer first.
    pub layers: Vec<String>,
    pub diff_ids: Vec<String>,
    /// Compressed size as pulled (config and layers), as `image list` shows it.
    pub size: u64,
    #[serde(default)]
    pub created: String,
}

/// One `refs.json` entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RefEntry {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_digest: Option<String>,
}

/// A line of `image list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    pub record: ImageRecord,
    /// Names pointing at it, sorted.
    pub refs: Vec<String>,
    pub repo_digests: Vec<String>,
}

/// Where a layer comes from, and what it must turn out to be.
#[derive(Debug, Clone)]
pub struct LayerSource<'a> {
    pub media_type: &'a str,
    /// The compressed blob's digest and size, verified while reading when given.
    pub blob_digest: Option<&'a str>,
    pub blob_size: Option<u64>,
    /// The DiffID from the image config's `rootfs.diff_ids`.
    pub diff_id: &'a str,
}

/// What [`Store::prune`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub images: Vec<String>,
    pub layers: Vec<String>,
    pub blobs: Vec<String>,
    pub temporaries: usize,
}

/// The store at a directory.
pub struct Store {
    dir: PathBuf,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A name no other process or thread uses at the same time.
fn unique(prefix: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}{}-{}-{nanos}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(serde_json::from_slice(&b).with_context(|| format!("parsing {}", path.display()))?)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn remove_dir(path: &Path) -> Result<()> {
    let r = crate::linux::fs::remove_tree_same_fs(path).with_context(|| format!("removing {}", path.display()))?;
    if !r.complete() {
        bail!("could not remove all of {}: {r:?}", path.display());
    }
    Ok(())
}

fn names(dir: &Path) -> Result<Vec<String>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.with_context(|| format!("reading {}", dir.display()))?;
        out.push(e.file_name().to_string_lossy().into_owned());
    }
    out.sort();
    Ok(out)
}

/// A container key usable as a file name.
fn check_user(user: &str) -> Result<()> {
    if user.is_empty()
        || user.len() > 200
        || user.starts_with('.')
        || !user.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        bail!("invalid layer user name {user:?}");
    }
    Ok(())
}

/// The l/ link name candidates of a chain id: 6 base32 characters (30 bits) from successive
/// windows of its digest; a collision takes the next window.
fn link_candidates(hex: &str) -> Vec<String> {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let bits: Vec<u8> = hex
        .bytes()
        .filter_map(|c| (c as char).to_digit(16))
        .flat_map(|v| (0..4).rev().map(move |i| ((v >> i) & 1) as u8))
        .collect();
    let chars: Vec<u8> =
        bits.chunks_exact(5).map(|c| ALPHABET[c.iter().fold(0usize, |a, b| a << 1 | *b as usize)]).collect();
    chars.windows(6).map(|w| String::from_utf8_lossy(w).into_owned()).collect()
}

impl Store {
    /// Opens (creating) the store at `dir`. When no other process uses it, what a crash left
    /// (`.tmp-*`) is removed.
    pub fn open(dir: &Path) -> Result<Store> {
        let s = Store { dir: dir.to_path_buf() };
        for d in ["blobs/sha256", "layers", "images", "l", "locks"] {
            fs::create_dir_all(dir.join(d)).with_context(|| format!("creating {}", dir.join(d).display()))?;
        }
        if let Some(_l) = FileLock::try_lock(&s.lock_path(), true).context("locking the image store")? {
            s.remove_temporaries()?;
        }
        Ok(s)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.join("store.lock")
    }

    fn item_lock(&self, kind: &str, hex: &str) -> Result<FileLock> {
        let p = self.dir.join("locks").join(format!("{kind}-{hex}"));
        FileLock::lock(&p, true).with_context(|| format!("locking {}", p.display()))
    }

    /// Path of a blob (present or not).
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        Ok(self.dir.join("blobs/sha256").join(digest_hex(digest)?))
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).map(|p| p.is_file()).unwrap_or(false)
    }

    /// A (small) blob's bytes, verified against its digest.
    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>> {
        let p = self.blob_path(digest)?;
        let b = fs::read(&p).with_context(|| format!("reading blob {digest}"))?;
        let got = format!("sha256:{}", unpack::hex(&Sha256::digest(&b)));
        if got != digest {
            bail!("blob {} is corrupt: its content hashes to {got}", p.display());
        }
        Ok(b)
    }

    fn layer_path(&self, chain_id: &str) -> Result<PathBuf> {
        Ok(self.dir.join("layers").join(digest_hex(chain_id)?))
    }

    /// The layer's record, None when it is not (completely) here.
    pub fn layer(&self, chain_id: &str) -> Result<Option<LayerRecord>> {
        read_json(&self.layer_path(chain_id)?.join("layer.json"))
    }

    /// The directory holding the layer's files (an overlay lower directory).
    pub fn layer_diff(&self, chain_id: &str) -> Result<PathBuf> {
        Ok(self.layer_path(chain_id)?.join("diff"))
    }

    /// Starts writing: holds the store lock shared until dropped, so prune and rm wait for the
    /// pull or import in progress (and what it wrote before recording the image stays).
    pub fn writer(&self) -> Result<Writer<'_>> {
        let lock = FileLock::lock(&self.lock_path(), false).context("locking the image store")?;
        Ok(Writer { store: self, _lock: lock })
    }

    fn refs(&self) -> Result<BTreeMap<String, RefEntry>> {
        Ok(read_json(&self.dir.join("refs.json"))?.unwrap_or_default())
    }

    fn image_path(&self, id: &str) -> Result<PathBuf> {
        Ok(self.dir.join("images").join(format!("{}.json", digest_hex(id)?)))
    }

    /// The image record of id `id`.
    pub fn image(&self, id: &str) -> Result<Option<ImageRecord>> {
        read_json(&self.image_path(id)?)
    }

    fn records(&self) -> Result<Vec<ImageRecord>> {
        let mut out = Vec::new();
        for n in names(&self.dir.join("images"))? {
            if let Some(hex) = n.strip_suffix(".json").filter(|h| !h.starts_with('.')) {
                if let Some(r) = self.image(&format!("sha256:{hex}"))? {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    /// Every image with its names (images without a name included).
    pub fn list(&self) -> Result<Vec<ImageSummary>> {
        let refs = self.refs()?;
        let mut out = Vec::new();
        for record in self.records()? {
            let mine: Vec<(&String, &RefEntry)> = refs.iter().filter(|(_, r)| r.id == record.id).collect();
            let mut repo_digests: Vec<String> = mine.iter().filter_map(|(_, r)| r.repo_digest.clone()).collect();
            repo_digests.sort();
            repo_digests.dedup();
            out.push(ImageSummary { refs: mine.iter().map(|(n, _)| n.to_string()).collect(), repo_digests, record });
        }
        Ok(out)
    }

    /// The image a name (exact ref), an id (`sha256:<hex>`) or a unique id prefix (at least
    /// 12 hex digits) stands for.
    pub fn resolve(&self, name_or_id: &str) -> Result<ImageRecord> {
        if let Some(r) = self.refs()?.get(name_or_id) {
            return self.image(&r.id)?.ok_or_else(|| anyhow!("image {name_or_id:?}: record {} is missing", r.id));
        }
        if digest_hex(name_or_id).is_ok() {
            if let Some(r) = self.image(name_or_id)? {
                return Ok(r);
            }
        }
        let prefix = name_or_id.strip_prefix("sha256:").unwrap_or(name_or_id);
        if prefix.len() >= 12 && prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hits: Vec<ImageRecord> =
                self.records()?.into_iter().filter(|r| r.id["sha256:".len()..].starts_with(prefix)).collect();
            match hits.len() {
                1 => return hits.into_iter().next().ok_or_else(|| anyhow!("no image")),
                0 => {}
                n => bail!("image id prefix {name_or_id:?} matches {n} images"),
            }
        }
        bail!("image {name_or_id:?} not found")
    }

    /// The record and the config (JSON bytes) of an image.
    pub fn inspect(&self, name_or_id: &str) -> Result<(ImageRecord, Vec<u8>)> {
        let r = self.resolve(name_or_id)?;
        let config = self.read_blob(&r.id)?;
        Ok((r, config))
    }

    /// Whether a container uses the layer (a marker in its `users/`).
    pub fn layer_in_use(&self, chain_id: &str) -> Result<bool> {
        Ok(!names(&self.layer_path(chain_id)?.join("users"))?.is_empty())
    }

    /// Marks every layer of image `id` as used by `user` (a container key): prune keeps them
    /// until [`Store::release`]. The pod layer calls it before mounting the container's
    /// rootfs. Errors when a layer is missing.
    pub fn acquire(&self, id: &str, user: &str) -> Result<()> {
        check_user(user)?;
        let _l = FileLock::lock(&self.lock_path(), false).context("locking the image store")?;
        let r = self.image(id)?.ok_or_else(|| anyhow!("image {id} not found"))?;
        for c in &r.layers {
            let users = self.layer_path(c)?.join("users");
            if self.layer(c)?.is_none() {
                bail!("image {id}: layer {c} is missing");
            }
            fs::write(users.join(user), b"").with_context(|| format!("marking {} used", users.display()))?;
        }
        Ok(())
    }

    /// Removes `user`'s markers from the layers of image `id` (missing ones are fine).
    pub fn release(&self, id: &str, user: &str) -> Result<()> {
        check_user(user)?;
        let Some(r) = self.image(id)? else { return Ok(()) };
        for c in &r.layers {
            let m = self.layer_path(c)?.join("users").join(user);
            match fs::remove_file(&m) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", m.display())),
            }
        }
        Ok(())
    }

    fn image_in_use(&self, r: &ImageRecord) -> Result<bool> {
        for c in &r.layers {
            if self.layer_in_use(c)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `image rm`: a name is untagged; an id untags every name of the image. The record goes
    /// when no name is left and no container uses it (otherwise `prune` takes it later).
    /// Layers and blobs go at `prune`. Returns the image id.
    pub fn remove(&self, name_or_id: &str) -> Result<String> {
        let _l = FileLock::lock(&self.lock_path(), true).context("locking the image store")?;
        let r = self.resolve(name_or_id)?;
        let _rl = self.item_lock("refs", "all")?;
        let mut refs = self.refs()?;
        if refs.contains_key(name_or_id) {
            refs.remove(name_or_id);
        } else {
            refs.retain(|_, e| e.id != r.id);
        }
        write_atomic(&self.dir.join("refs.json"), &serde_json::to_vec_pretty(&refs)?, 0o644)?;
        if !refs.values().any(|e| e.id == r.id) {
            if self.image_in_use(&r)? {
                log::info!("image {} is used by a container: its record stays until prune", r.id);
            } else {
                fs::remove_file(self.image_path(&r.id)?).with_context(|| format!("removing image {}", r.id))?;
            }
        }
        Ok(r.id)
    }

    fn remove_temporaries(&self) -> Result<usize> {
        let mut n = 0;
        for sub in ["layers", "blobs/sha256", "images"] {
            let d = self.dir.join(sub);
            for name in names(&d)? {
                if !name.starts_with('.') {
                    continue;
                }
                let p = d.join(&name);
                if p.is_dir() {
                    remove_dir(&p)?;
                } else {
                    fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
                }
                n += 1;
            }
        }
        Ok(n)
    }

    /// Removes images without a name that no container uses, layers no image record and no
    /// container (`users/` marker) uses, blobs no image record names, `l/` links to nothing,
    /// and what interrupted writes left. Waits for writers to finish.
    pub fn prune(&self) -> Result<Pruned> {
        let _l = FileLock::lock(&self.lock_path(), true).context("locking the image store")?;
        let mut out = Pruned { temporaries: self.remove_temporaries()?, ..Default::default() };
        let refs = self.refs()?;
        let named: BTreeSet<&str> = refs.values().map(|e| e.id.as_str()).collect();
        let mut kept = Vec::new();
        for r in self.records()? {
            if named.contains(r.id.as_str()) || self.image_in_use(&r)? {
                kept.push(r);
            } else {
                fs::remove_file(self.image_path(&r.id)?).with_context(|| format!("removing image {}", r.id))?;
                out.images.push(r.id);
            }
        }
        let used_layers: BTreeSet<String> =
            kept.iter().flat_map(|r| r.layers.iter().map(|c| digest_hex(c).unwrap_or("").to_string())).collect();
        let layers = self.dir.join("layers");
        for hex in names(&layers)? {
            if hex.starts_with('.') || used_layers.contains(&hex) {
                continue;
            }
            let chain = format!("sha256:{hex}");
            if digest_hex(&chain).is_err() || self.layer_in_use(&chain)? {
                continue;
            }
            // Renamed first: a crash half-way leaves a temporary, never a half layer.
            let tmp = layers.join(unique(".tmp-rm-"));
            fs::rename(layers.join(&hex), &tmp).with_context(|| format!("removing layer {chain}"))?;
            remove_dir(&tmp)?;
            out.layers.push(chain);
        }
        let ldir = self.dir.join("l");
        for link in names(&ldir)? {
            let p = ldir.join(&link);
            if fs::metadata(&p).is_err() {
                fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
        let mut used_blobs: BTreeSet<String> = BTreeSet::new();
        for r in &kept {
            used_blobs.insert(r.id.clone());
            used_blobs.extend(r.manifest_digest.clone());
        }
        for l in names(&layers)? {
            if let Ok(Some(rec)) = read_json::<LayerRecord>(&layers.join(&l).join("layer.json")) {
                used_blobs.extend(rec.blob_digest);
            }
        }
        let bdir = self.dir.join("blobs/sha256");
        for hex in names(&bdir)? {
            let d = format!("sha256:{hex}");
            if !used_blobs.contains(&d) {
                fs::remove_file(bdir.join(&hex)).with_context(|| format!("removing blob {d}"))?;
                out.blobs.push(d);
            }
        }
        // Nobody holds an item lock without the store lock held shared: safe to remove.
        for n in names(&self.dir.join("locks"))? {
            let _ = fs::remove_file(self.dir.join("locks").join(n));
        }
        Ok(out)
    }
}

/// Writes to the store; holds the store lock shared.
pub struct Writer<'a> {
    store: &'a Store,
    _lock: FileLock,
}

impl Writer<'_> {
    /// Stores a blob read from `reader`, verified against `digest` (and `size` when given);
    /// nothing of it is kept on a mismatch or a read error. Present already: nothing is read.
    pub fn put_blob<R: Read>(&self, digest: &str, size: Option<u64>, reader: R) -> Result<PathBuf> {
        let s = self.store;
        let path = s.blob_path(digest)?;
        if path.is_file() {
            return Ok(path);
        }
        let hex = digest_hex(digest)?;
        let _l = s.item_lock("blob", hex)?;
        if path.is_file() {
            return Ok(path);
        }
        let tmp = s.dir.join("blobs/sha256").join(unique(".tmp-"));
        let r = (|| -> Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            let mut h = Hashing::new(reader, size.unwrap_or(u64::MAX));
            io::copy(&mut h, &mut f).with_context(|| format!("reading blob {digest}"))?;
            f.flush()?;
            f.sync_all().with_context(|| format!("syncing {}", tmp.display()))?;
            let (got, n) = h.finish();
            if size.is_some_and(|s| s != n) {
                bail!("blob {digest}: {n} bytes where {} were announced", size.unwrap_or(0));
            }
            if got != digest {
                bail!("blob {digest}: digest mismatch, the content hashes to {got}");
            }
            fs::rename(&tmp, &path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
        })();
        if r.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        r.map(|()| path)
    }

    /// Unpacks a layer (compressed as its media type says) on top of layer `parent` (a chain
    /// id, which may still be being unpacked; None for the bottom layer), unless it is here
    /// already. The compressed digest and
    /// size (when given) and the DiffID are verified while streaming; on any error nothing of
    /// the layer is kept. Two callers ingesting the same layer: one unpacks, the other waits
    /// and gets its record without reading.
    pub fn put_layer<R: Read>(&self, parent: Option<&str>, src: &LayerSource, reader: R) -> Result<LayerRecord> {
        self.put_layer_with(parent, src, || Ok(reader), &Options::default())
    }

    /// [`Writer::put_layer`] for a source that costs something to open (a registry download):
    /// `open` is called only by the one caller that unpacks the layer, under the layer's lock,
    /// so two concurrent pulls of an image fetch each layer blob once.
    pub fn put_layer_opening<R: Read>(
        &self,
        parent: Option<&str>,
        src: &LayerSource,
        open: impl FnOnce() -> Result<R>,
    ) -> Result<LayerRecord> {
        self.put_layer_with(parent, src, open, &Options::default())
    }

    /// [`Writer::put_layer_opening`] with explicit unpack options.
    pub fn put_layer_with<R: Read>(
        &self,
        parent: Option<&str>,
        src: &LayerSource,
        open: impl FnOnce() -> Result<R>,
        opts: &Options,
    ) -> Result<LayerRecord> {
        let s = self.store;
        digest_hex(src.diff_id)?;
        // The parent need not be here yet: a pull unpacks an image's layers in parallel (a
        // layer's files do not depend on its parent's); commit_image checks the whole chain.
        if let Some(p) = parent {
            digest_hex(p)?;
        }
        let chain = chain_id(parent, src.diff_id);
        if let Some(r) = s.layer(&chain)? {
            return Ok(r);
        }
        let hex = digest_hex(&chain)?.to_string();
        let _l = s.item_lock("layer", &hex)?;
        if let Some(r) = s.layer(&chain)? {
            return Ok(r);
        }
        let reader = open()?;
        let layers = s.dir.join("layers");
        let tmp = layers.join(unique(".tmp-"));
        let r = self.unpack_to(&tmp, &chain, parent, src, reader, opts);
        match r {
            Ok(rec) => {
                let dst = layers.join(&hex);
                if let Err(e) = fs::rename(&tmp, &dst) {
                    let _ = remove_dir(&tmp);
                    return Err(e).with_context(|| format!("installing layer {chain}"));
                }
                Ok(rec)
            }
            Err(e) => {
                if let Err(e2) = remove_dir(&tmp) {
                    log::warn!("{e2:#}");
                }
                Err(e)
            }
        }
    }

    fn unpack_to<R: Read>(
        &self,
        tmp: &Path,
        chain: &str,
        parent: Option<&str>,
        src: &LayerSource,
        reader: R,
        opts: &Options,
    ) -> Result<LayerRecord> {
        let diff = tmp.join("diff");
        fs::create_dir(tmp).with_context(|| format!("creating {}", tmp.display()))?;
        fs::create_dir(tmp.join("users")).with_context(|| format!("creating {}", tmp.display()))?;
        fs::create_dir(&diff).with_context(|| format!("creating {}", diff.display()))?;
        fs::set_permissions(&diff, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        let mut compressed = Hashing::new(reader, src.blob_size.unwrap_or(u64::MAX));
        let Unpacked { diff_id, size, .. } = {
            let tar = unpack::decompress(src.media_type, &mut compressed)?;
            unpack::unpack(tar, &diff, opts).with_context(|| format!("unpacking layer {}", src.diff_id))?
        };
        io::copy(&mut compressed, &mut io::sink()).context("reading the end of the layer blob")?;
        let (blob, blob_size) = compressed.finish();
        if let Some(want) = src.blob_digest {
            if blob != want {
                bail!("layer blob {want}: digest mismatch, the content hashes to {blob}");
            }
        }
        if let Some(want) = src.blob_size {
            if want != blob_size {
                bail!("layer blob: {blob_size} bytes where {want} were announced");
            }
        }
        if diff_id != src.diff_id {
            bail!("layer {}: the uncompressed content hashes to {diff_id} (diff_id mismatch)", src.diff_id);
        }
        let link = self.make_link(chain)?;
        let rec = LayerRecord {
            chain_id: chain.to_string(),
            diff_id,
            parent: parent.map(str::to_string),
            size,
            blob_digest: src.blob_digest.map(str::to_string),
            blob_size: Some(blob_size),
            media_type: src.media_type.to_string(),
            link,
        };
        write_atomic(&tmp.join("layer.json"), &serde_json::to_vec_pretty(&rec)?, 0o644)?;
        Ok(rec)
    }

    /// Creates `l/<short>` → `../layers/<hex>/diff` (the first free candidate; one already
    /// pointing there is reused).
    fn make_link(&self, chain: &str) -> Result<String> {
        let hex = digest_hex(chain)?;
        let target = PathBuf::from(format!("../layers/{hex}/diff"));
        let ldir = self.store.dir.join("l");
        for c in link_candidates(hex) {
            let p = ldir.join(&c);
            match std::os::unix::fs::symlink(&target, &p) {
                Ok(()) => return Ok(c),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if fs::read_link(&p).ok().as_deref() == Some(target.as_path()) {
                        return Ok(c);
                    }
                }
                Err(e) => return Err(e).with_context(|| format!("creating {}", p.display())),
            }
        }
        bail!("no free short link name for layer {chain}")
    }

    /// Records an image: its config blob and every layer must be in the store already.
    pub fn commit_image(&self, rec: &ImageRecord) -> Result<()> {
        let s = self.store;
        let hex = digest_hex(&rec.id)?;
        if !s.has_blob(&rec.id) {
            bail!("image {}: its config blob is not in the store", rec.id);
        }
        if rec.layers.len() != rec.diff_ids.len() || chain_ids(&rec.diff_ids) != rec.layers {
            bail!("image {}: layer chain ids do not match its diff ids", rec.id);
        }
        for c in &rec.layers {
            if s.layer(c)?.is_none() {
                bail!("image {}: layer {c} is not in the store", rec.id);
            }
        }
        let _l = s.item_lock("image", hex)?;
        write_atomic(&s.image_path(&rec.id)?, &serde_json::to_vec_pretty(rec)?, 0o644)
    }

    /// Points name `name` at image `id` (replacing what it named before).
    pub fn tag(&self, name: &str, id: &str, repo_digest: Option<&str>) -> Result<()> {
        let s = self.store;
        if name.is_empty() || name.chars().any(|c| c.is_control()) {
            bail!("invalid image name {name:?}");
        }
        if s.image(id)?.is_none() {
            bail!("image {id} not found");
        }
        let _l = s.item_lock("refs", "all")?;
        let mut refs = s.refs()?;
        refs.insert(name.to_string(), RefEntry { id: id.to_string(), repo_digest: repo_digest.map(str::to_string) });
        write_atomic(&s.dir.join("refs.json"), &serde_json::to_vec_pretty(&refs)?, 0o644)
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
