//! The pod side of the image store (`crate::image::store`, under `--image-dir`): what a
//! container's `image:` names, whether it is here, what runs (the image config) and from which
//! layers; and the ways an image arrives without a registry (`runp image import`): a root
//! filesystem directory (stored as a one-layer image), an OCI image layout (directory or tar)
//! or a docker-archive.

use crate::image::archive::{self, Archive, ArchiveName};
use crate::image::config::ImageConfig;
use crate::image::digest::{Digest, Hasher};
use crate::image::reference::Reference;
use crate::image::rootfs::{self, LowerDirs};
use crate::image::store::{ImageRecord, LayerSource, Store};
use anyhow::{anyhow, bail, Context, Result};
use std::io::{Read, Write};
use std::path::Path;

/// A container's image, found in the store.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub reference: Reference,
    pub record: ImageRecord,
    pub config: ImageConfig,
    /// `status.containerStatuses[].image`: the full normalized reference.
    pub image: String,
    /// `imageID`: the repo digest when known, else the image id (`sha256:<config digest>`).
    pub image_id: String,
}

/// What a container's `image:` comes to.
#[derive(Debug)]
pub enum Lookup {
    Found(Box<Resolved>),
    /// A valid reference that is not in the store.
    Missing,
    /// Not a reference: the kubelet's waiting reason (InvalidImageName) and message.
    Invalid {
        reason: String,
        message: String,
    },
}

/// The store, as pods and `runp image` use it.
pub struct Images {
    store: Store,
}

/// The prefix of the store's in-use markers of a pod's container instances.
pub fn pod_user_prefix(pod_uid: &str) -> String {
    let uid: String = pod_uid.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    format!("pod-{uid}_")
}

/// The store key of a reference: its full normalized form.
pub fn key(r: &Reference) -> String {
    r.to_string()
}

impl Images {
    pub fn open(dir: &Path) -> Result<Images> {
        Ok(Images { store: Store::open(dir).with_context(|| format!("image store {}", dir.display()))? })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Finds `image` (a container's `image:` field).
    pub fn find(&self, image: &str) -> Result<Lookup> {
        let r = match Reference::parse(image) {
            Ok(r) => r,
            Err(e) => {
                return Ok(Lookup::Invalid {
                    reason: e.kubelet_reason().to_string(),
                    message: e.kubelet_message(image),
                })
            }
        };
        let list = self.store.list()?;
        let k = key(&r);
        let hit = match r.digest() {
            Some(d) => {
                let rd = r.repo_digest(d);
                let d = d.to_string();
                list.into_iter()
                    .find(|s| s.repo_digests.contains(&rd) || s.record.manifest_digest.as_deref() == Some(d.as_str()))
            }
            None => list.into_iter().find(|s| s.refs.contains(&k)),
        };
        let Some(s) = hit else { return Ok(Lookup::Missing) };
        let config = ImageConfig::parse(&self.store.read_blob(&s.record.id)?).map_err(|e| anyhow!("image {k}: {e}"))?;
        let name = r.name();
        let image_id = s
            .repo_digests
            .iter()
            .find(|d| d.split_once('@').is_some_and(|(n, _)| n == name))
            .or(s.repo_digests.first())
            .cloned()
            .unwrap_or_else(|| s.record.id.clone());
        Ok(Lookup::Found(Box::new(Resolved { image: k, image_id, reference: r, record: s.record, config })))
    }

    /// [`Images::find`] for callers that need the image: missing or invalid is an error.
    pub fn get(&self, image: &str) -> Result<Resolved> {
        match self.find(image)? {
            Lookup::Found(r) => Ok(*r),
            Lookup::Missing => bail!(
                "image {image:?} not found in {} (import it with `runp image import`)",
                self.store.dir().display()
            ),
            Lookup::Invalid { message, .. } => bail!("{message}"),
        }
    }

    /// The overlay `lowerdir=` of an image for an instance with these upper and work dirs.
    pub fn lowerdir(&self, r: &Resolved, upper: &Path, work: &Path) -> Result<LowerDirs> {
        let budget = rootfs::budget(&upper.to_string_lossy(), &work.to_string_lossy(), "volatile");
        rootfs::lowerdir(&self.store, &r.record, budget)
    }

    /// Stores root filesystem directory `src` as a one-layer image named `name`, running `cmd`.
    /// The layer tar is written to a temporary file in the store (hashed as written for its
    /// DiffID), unpacked like any layer, then removed. Returns the stored name.
    pub fn import_dir(&self, name: &str, src: &Path, cmd: Vec<String>) -> Result<String> {
        let r = Reference::parse(name).map_err(|e| anyhow!("image name {name:?}: {e}"))?;
        if !src.is_dir() {
            bail!("{}: not a directory", src.display());
        }
        if !src.join("bin").exists() && !src.join("usr").exists() {
            log::warn!("{} has neither bin nor usr: is it a root filesystem?", src.display());
        }
        let w = self.store.writer()?;
        let tmp = self.store.dir().join("layers").join(format!(".tmp-import-{}.tar", std::process::id()));
        let result = (|| -> Result<String> {
            let file = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
            let mut hw = HashWriter { inner: std::io::BufWriter::new(file), hasher: Hasher::new() };
            {
                let mut b = tar::Builder::new(&mut hw);
                b.follow_symlinks(false);
                b.mode(tar::HeaderMode::Complete);
                b.append_dir_all("", src).with_context(|| format!("archiving {}", src.display()))?;
                b.finish().context("writing the layer tar")?;
            }
            hw.inner.flush()?;
            let (diff_id, _) = hw.hasher.finish();
            let diff_id = diff_id.to_string();
            let f = std::fs::File::open(&tmp).with_context(|| format!("reading {}", tmp.display()))?;
            let src_desc = LayerSource {
                media_type: crate::image::media::OCI_LAYER,
                blob_digest: None,
                blob_size: None,
                diff_id: &diff_id,
            };
            let layer = w.put_layer(None, &src_desc, std::io::BufReader::new(f))?;
            let p = crate::image::platform::host();
            let config = serde_json::json!({
                "created": crate::time::rfc3339(std::time::SystemTime::now()),
                "architecture": p.architecture,
                "os": p.os,
                "config": {
                    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                    "Cmd": cmd,
                },
                "rootfs": { "type": "layers", "diff_ids": [diff_id] },
            });
            let bytes = serde_json::to_vec(&config)?;
            let id = Digest::of(&bytes).to_string();
            w.put_blob(&id, Some(bytes.len() as u64), &bytes[..])?;
            let rec = ImageRecord {
                id: id.clone(),
                manifest_digest: None,
                layers: vec![layer.chain_id.clone()],
                diff_ids: vec![diff_id.clone()],
                size: bytes.len() as u64 + layer.size,
                created: crate::time::now_nanos(),
            };
            w.commit_image(&rec)?;
            let k = key(&r);
            w.tag(&k, &id, None)?;
            Ok(k)
        })();
        let _ = std::fs::remove_file(&tmp);
        result
    }

    /// Imports every image of an OCI layout (dir or tar) or docker-archive, each blob verified
    /// as read. `name` names the (single) image, or gives the repository of an image the
    /// archive names by tag only. Returns the names stored (the image id for unnamed ones).
    pub fn import_archive(&self, path: &Path, name: Option<&str>) -> Result<Vec<String>> {
        let a = Archive::open(path).with_context(|| format!("{}", path.display()))?;
        if a.images().is_empty() {
            bail!("{}: no image in the archive", path.display());
        }
        if name.is_some() && a.images().len() > 1 {
            bail!("{}: {} images in the archive; a name applies to one", path.display(), a.images().len());
        }
        let forced = name.map(|n| Reference::parse(n).map_err(|e| anyhow!("image name {n:?}: {e}"))).transpose()?;
        let w = self.store.writer()?;
        let mut out = Vec::new();
        for img in a.images() {
            let cfg_hex = img.config_digest.hex();
            let cfg_size = None;
            let config = match a.open_blob(&archive::blob_path(&img.config_digest), &img.config_digest, cfg_size) {
                Ok(r) => r,
                Err(_) => a.open_blob(&format!("{cfg_hex}.json"), &img.config_digest, cfg_size)?,
            };
            let id = img.config_digest.to_string();
            put_verified(&w, &id, config)?;
            if let Some(md) = &img.manifest_digest {
                let m = a.open_blob(&archive::blob_path(md), md, None)?;
                put_verified(&w, &md.to_string(), m)?;
            }
            let mut parent: Option<String> = None;
            let mut size = 0u64;
            let mut layers = Vec::new();
            let mut diff_ids = Vec::new();
            for l in &img.layers {
                let diff_id = l.diff_id.to_string();
                let blob = l.descriptor.digest.to_string();
                let src = LayerSource {
                    media_type: &l.descriptor.media_type,
                    blob_digest: Some(&blob),
                    blob_size: Some(l.descriptor.size),
                    diff_id: &diff_id,
                };
                let reader = a.open_layer(l)?;
                let rec = w.put_layer(parent.as_deref(), &src, reader).with_context(|| format!("layer {blob}"))?;
                size += l.descriptor.size;
                parent = Some(rec.chain_id.clone());
                layers.push(rec.chain_id);
                diff_ids.push(diff_id);
            }
            let rec = ImageRecord {
                id: id.clone(),
                manifest_digest: img.manifest_digest.map(|d| d.to_string()),
                layers,
                diff_ids,
                size,
                created: crate::time::now_nanos(),
            };
            w.commit_image(&rec)?;
            let mut names: Vec<Reference> = Vec::new();
            if let Some(f) = &forced {
                names.push(f.clone());
            } else {
                for n in &img.names {
                    match n {
                        ArchiveName::Reference(r) => names.push(r.clone()),
                        ArchiveName::Tag(t) => {
                            log::warn!("{}: image {id} is named only by tag {t:?}; give --name", path.display())
                        }
                    }
                }
            }
            if names.is_empty() {
                out.push(id.clone());
            }
            for r in names {
                let rd = img.manifest_digest.as_ref().map(|d| r.repo_digest(d));
                w.tag(&key(&r), &id, rd.as_deref())?;
                out.push(key(&r));
            }
        }
        Ok(out)
    }

    /// Marks the image's layers used by container instance `user` (prune keeps them).
    pub fn acquire(&self, r: &Resolved, user: &str) -> Result<()> {
        self.store.acquire(&r.record.id, user)
    }

    /// Drops marker `user` from every layer (whatever image the instance ran).
    pub fn release_user(&self, user: &str) -> Result<()> {
        self.release_matching(|n| n == user)
    }

    /// Drops every marker of a pod's instances (`pod rm` after a supervisor was lost).
    pub fn release_pod(&self, pod_uid: &str) -> Result<()> {
        let prefix = pod_user_prefix(pod_uid);
        self.release_matching(|n| n.starts_with(&prefix))
    }

    fn release_matching(&self, want: impl Fn(&str) -> bool) -> Result<()> {
        let layers = self.store.dir().join("layers");
        let rd = match std::fs::read_dir(&layers) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", layers.display())),
        };
        for l in rd.flatten() {
            if l.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let Some(users) = std::fs::read_dir(l.path().join("users")).ok() else { continue };
            for u in users.flatten() {
                if want(&u.file_name().to_string_lossy()) {
                    std::fs::remove_file(u.path()).with_context(|| format!("removing {}", u.path().display()))?;
                }
            }
        }
        Ok(())
    }
}

/// Copies a verifying archive reader into the store (the store checks the digest too).
fn put_verified(w: &crate::image::store::Writer, digest: &str, mut r: archive::BlobReader) -> Result<()> {
    let mut buf = Vec::new();
    (&mut r).take(crate::image::config::MAX_CONFIG_SIZE as u64 + 1).read_to_end(&mut buf)?;
    r.finish()?;
    w.put_blob(digest, Some(buf.len() as u64), &buf[..])?;
    Ok(())
}

struct HashWriter<W: Write> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The user an image's `USER` runs as: `uid[:gid]` or names, resolved in the image's
/// /etc/passwd and /etc/group (read from its layers, top first). Empty: root.
pub fn image_user(images: &Images, r: &Resolved) -> Result<(u32, u32)> {
    let user = r.config.exec().user.unwrap_or_default();
    if user.is_empty() {
        return Ok((0, 0));
    }
    let spec = crate::spec::user::parse(&user).with_context(|| format!("image {}: config.User", r.image))?;
    if let crate::spec::user::UserSpec::Ids { .. } = spec {
        return crate::spec::user::resolve(&spec, "", "");
    }
    let passwd = image_file(images, r, "etc/passwd").unwrap_or_default();
    let group = image_file(images, r, "etc/group").unwrap_or_default();
    crate::spec::user::resolve(&spec, &passwd, &group).with_context(|| format!("image {}: USER {user:?}", r.image))
}

/// A small text file of the image (the topmost layer that has it), read without following
/// symlinks out of the layer; None when no layer has it as a regular file.
fn image_file(images: &Images, r: &Resolved, rel: &str) -> Option<String> {
    for c in r.record.layers.iter().rev() {
        let diff = images.store.layer_diff(c).ok()?;
        let p = diff.join(rel);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_file() && m.len() < (4 << 20) => return std::fs::read_to_string(&p).ok(),
            Ok(_) => return None,
            Err(_) => continue,
        }
    }
    None
}

#[cfg(test)]
#[path = "images_tests.rs"]
mod tests;
