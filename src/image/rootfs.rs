//! The overlayfs `lowerdir=` of an image: its layer directories, top layer first.
//!
//! Two kernel limits apply. Overlayfs stacks at most 500 lower layers
//! ([`MAX_LOWER_LAYERS`]), and mount(2) passes options in one page: 4096 bytes with the
//! terminating NUL ([`MOUNT_DATA_MAX`]), `upperdir=` and `workdir=` included. Absolute paths
//! (`<images>/layers/<64 hex>/diff`, about 100 bytes each) fit only some 35 layers, so:
//!
//! 1. absolute paths when they fit;
//! 2. otherwise the `l/<short>` symlinks, named relative to `<images>/l`: 6 characters and a
//!    `:` per layer (500 layers: 3.5 KB). The mounting process must then chdir to
//!    [`LowerDirs::cwd`] for the mount call (the kernel resolves relative lowerdirs against
//!    the caller's working directory when the mount is made; they are not kept as text);
//! 3. past that (more than 500 layers, or upper/work paths so long that even the short form
//!    does not fit) it is an error saying so; the image cannot run.
//!
//! (Linux 6.5 and later also accept one `lowerdir+` per layer through the new mount API,
//! which has no such length limit; runp does not need it below 500 layers.)

use super::store::{ImageRecord, Store};
use anyhow::{anyhow, bail, Result};
use std::path::PathBuf;

/// Overlayfs's limit on lower layers.
pub const MAX_LOWER_LAYERS: usize = 500;
/// Bytes of mount options, the terminating NUL not counted (one 4 KiB page).
pub const MOUNT_DATA_MAX: usize = 4095;

/// A `lowerdir=` value and where it must be resolved from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowerDirs {
    /// Directories, top layer first, `:`-separated.
    pub value: String,
    /// Some: the value is relative to this directory; the mount must be made from it.
    pub cwd: Option<PathBuf>,
}

/// The lowerdir of `layers` (bottom first, each as (absolute diff dir, short link name)),
/// fitting in `budget` bytes.
pub fn lowerdir_for(layers: &[(PathBuf, String)], links_dir: PathBuf, budget: usize) -> Result<LowerDirs> {
    if layers.is_empty() {
        bail!("an image without layers has no root filesystem");
    }
    if layers.len() > MAX_LOWER_LAYERS {
        bail!("the image has {} layers; overlayfs stacks at most {MAX_LOWER_LAYERS}", layers.len());
    }
    let mut abs = Vec::with_capacity(layers.len());
    for (p, _) in layers.iter().rev() {
        let s = p.to_str().ok_or_else(|| anyhow!("layer path {} is not UTF-8", p.display()))?;
        if s.contains([':', ',', '\\']) {
            bail!("layer path {s:?} has a character overlayfs options cannot hold");
        }
        abs.push(s);
    }
    let value = abs.join(":");
    if value.len() <= budget {
        return Ok(LowerDirs { value, cwd: None });
    }
    let short: Vec<&str> = layers.iter().rev().map(|(_, l)| l.as_str()).collect();
    let value = short.join(":");
    if value.len() <= budget {
        return Ok(LowerDirs { value, cwd: Some(links_dir) });
    }
    bail!(
        "the image's {} layers need a lowerdir of {} bytes even with short names; the mount options leave {budget}",
        layers.len(),
        value.len()
    )
}

/// The bytes left for the lowerdir value once `lowerdir=`, `,upperdir=<upper>`,
/// `,workdir=<work>` and `other` (extra options, comma-joined) are counted.
pub fn budget(upper: &str, work: &str, other: &str) -> usize {
    let used = "lowerdir=".len()
        + if upper.is_empty() { 0 } else { ",upperdir=".len() + upper.len() }
        + if work.is_empty() { 0 } else { ",workdir=".len() + work.len() }
        + if other.is_empty() { 0 } else { 1 + other.len() };
    MOUNT_DATA_MAX.saturating_sub(used)
}

/// The lowerdir of image `image` in `store`; every layer must be present.
pub fn lowerdir(store: &Store, image: &ImageRecord, budget: usize) -> Result<LowerDirs> {
    let mut layers = Vec::with_capacity(image.layers.len());
    for c in &image.layers {
        let rec = store.layer(c)?.ok_or_else(|| anyhow!("image {}: layer {c} is missing", image.id))?;
        layers.push((store.layer_diff(c)?, rec.link));
    }
    lowerdir_for(&layers, store.dir().join("l"), budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(n: usize) -> Vec<(PathBuf, String)> {
        (0..n)
            .map(|i| (PathBuf::from(format!("/var/lib/runp/images/layers/{i:064x}/diff")), format!("{i:06}")))
            .collect()
    }

    #[test]
    fn absolute_when_it_fits_top_first() {
        let l = lowerdir_for(&layers(2), "/x/l".into(), 4000).unwrap();
        assert_eq!(l.cwd, None);
        let parts: Vec<&str> = l.value.split(':').collect();
        assert!(parts[0].contains(&format!("{:064x}", 1)) && parts[1].contains(&format!("{:064x}", 0)));
    }

    #[test]
    fn short_links_past_the_page_and_errors_past_the_limits() {
        let b = budget("/var/lib/runp/pods/x/upper", "/var/lib/runp/pods/x/work", "index=off");
        let l = lowerdir_for(&layers(100), "/x/l".into(), b).unwrap();
        assert_eq!(l.cwd.as_deref(), Some(std::path::Path::new("/x/l")));
        assert_eq!(l.value.split(':').next(), Some("000099"));
        assert!(lowerdir_for(&layers(500), "/x/l".into(), b).is_ok());
        let e = lowerdir_for(&layers(501), "/x/l".into(), b).unwrap_err().to_string();
        assert!(e.contains("at most 500"), "{e}");
        let e = lowerdir_for(&layers(500), "/x/l".into(), 1000).unwrap_err().to_string();
        assert!(e.contains("short names"), "{e}");
        assert!(lowerdir_for(&[], "/x/l".into(), b).is_err());
    }
}
