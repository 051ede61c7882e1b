//! Local images: a rootfs directory and a little config (entrypoint, cmd, env, workdir,
//! stop signal), under `--image-dir` (RUNP_IMAGE_DIR, default `<data-root>/images`).
//! There is no registry: `runp image import NAME DIR` is how an image arrives.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What an image says about how to run it (the OCI image config's runtime part).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ImageConfig {
    pub name: String,
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub working_dir: String,
    #[serde(default)]
    pub stop_signal: String,
    #[serde(default)]
    pub created: String,
}

/// `busybox` → `busybox:latest`; a registry prefix like `docker.io/library/` is dropped.
pub fn normalize(name: &str) -> Result<String> {
    let name = name.trim();
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    let name = name.strip_prefix("library/").unwrap_or(name);
    if name.is_empty() || name.contains("..") || name.starts_with('/') || name.contains('@') {
        bail!("invalid image name {name:?}");
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    let full = if last.contains(':') { name.to_string() } else { format!("{name}:latest") };
    if !full.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-:/".contains(&b)) {
        bail!("invalid image name {name:?}");
    }
    Ok(full)
}

/// The image store.
pub struct Images {
    pub dir: PathBuf,
}

impl Images {
    pub fn new(dir: &Path) -> Images {
        Images { dir: dir.to_path_buf() }
    }

    fn entry(&self, full: &str) -> PathBuf {
        // ':' and '/' are fine in file names but awkward in overlay option strings.
        self.dir.join(full.replace(['/', ':'], "_"))
    }

    /// The image's rootfs and config; a clear error when it is not there.
    pub fn get(&self, name: &str) -> Result<(PathBuf, ImageConfig)> {
        let full = normalize(name)?;
        let e = self.entry(&full);
        let cfg_path = e.join("image.json");
        let text = match std::fs::read_to_string(&cfg_path) {
            Ok(t) => t,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                bail!(
                    "image {name:?} not found in {} (import it with `runp image import {name} DIR`)",
                    self.dir.display()
                )
            }
            Err(err) => return Err(err).with_context(|| format!("reading {}", cfg_path.display())),
        };
        let cfg: ImageConfig =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", cfg_path.display()))?;
        Ok((e.join("rootfs"), cfg))
    }

    /// Copies `src` (a root filesystem directory) in as image `name`.
    pub fn import(&self, name: &str, src: &Path, mut cfg: ImageConfig) -> Result<String> {
        let full = normalize(name)?;
        if !src.join("bin").exists() && !src.join("usr").exists() {
            log::warn!("{} has neither bin nor usr: is it a root filesystem?", src.display());
        }
        let e = self.entry(&full);
        let tmp = self.dir.join(format!(".import-{}", std::process::id()));
        let _ = super::store::remove_tree(&tmp);
        std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        copy_tree(src, &tmp.join("rootfs"))?;
        cfg.name = full.clone();
        cfg.created = crate::time::now_nanos();
        std::fs::write(tmp.join("image.json"), serde_json::to_vec_pretty(&cfg)?)?;
        if e.exists() {
            super::store::remove_tree(&e).context("replacing the image")?;
        }
        std::fs::rename(&tmp, &e).with_context(|| format!("installing {}", e.display()))?;
        Ok(full)
    }

    pub fn list(&self) -> Result<Vec<ImageConfig>> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.dir.display())),
        };
        for ent in rd.flatten() {
            if ent.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(ent.path().join("image.json")) {
                if let Ok(c) = serde_json::from_str::<ImageConfig>(&text) {
                    out.push(c);
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub fn remove(&self, name: &str) -> Result<()> {
        let full = normalize(name)?;
        let e = self.entry(&full);
        if !e.exists() {
            bail!("image {full:?} not found");
        }
        super::store::remove_tree(&e)
    }
}

/// Copies a directory tree, keeping symlinks as symlinks and file modes; never follows links.
pub fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::symlink_metadata(src).with_context(|| format!("reading {}", src.display()))?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = std::fs::read_link(src)?;
        std::os::unix::fs::symlink(&target, dst).with_context(|| format!("linking {}", dst.display()))?;
    } else if ft.is_dir() {
        std::fs::create_dir_all(dst).with_context(|| format!("creating {}", dst.display()))?;
        for ent in std::fs::read_dir(src)? {
            let ent = ent?;
            copy_tree(&ent.path(), &dst.join(ent.file_name()))?;
        }
        std::fs::set_permissions(dst, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    } else if ft.is_file() {
        std::fs::copy(src, dst).with_context(|| format!("copying {}", src.display()))?;
    }
    // Devices, fifos and sockets in an image are skipped: containers get their own /dev.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalize("busybox").unwrap(), "busybox:latest");
        assert_eq!(normalize("busybox:1.36").unwrap(), "busybox:1.36");
        assert_eq!(normalize("docker.io/library/nginx").unwrap(), "nginx:latest");
        assert_eq!(normalize("localhost:5000/x").unwrap(), "localhost:5000/x:latest");
        for bad in ["", "../x", "/abs", "a@sha256:x", "a b"] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn import_get_list_remove() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("bin")).unwrap();
        std::fs::write(src.join("bin/tool"), b"x").unwrap();
        std::os::unix::fs::symlink("/bin/tool", src.join("bin/sh")).unwrap();
        let images = Images::new(&d.path().join("images"));
        assert!(images.get("busybox").unwrap_err().to_string().contains("not found"));
        let cfg = ImageConfig { cmd: vec!["sh".into()], ..Default::default() };
        assert_eq!(images.import("busybox", &src, cfg).unwrap(), "busybox:latest");
        let (rootfs, cfg) = images.get("busybox:latest").unwrap();
        assert_eq!(std::fs::read_link(rootfs.join("bin/sh")).unwrap(), Path::new("/bin/tool"));
        assert_eq!(cfg.cmd, vec!["sh"]);
        assert_eq!(images.list().unwrap().len(), 1);
        images.remove("busybox").unwrap();
        assert!(images.list().unwrap().is_empty());
    }
}
