//! hostPath volume types, and removing the pod's cgroup directories at the end.

use anyhow::{bail, Context, Result};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// Checks (or creates) a hostPath according to its `type`.
pub fn prepare_host_path(p: &Path, kind: &str) -> Result<()> {
    let meta = std::fs::metadata(p);
    let ok = match kind {
        "" => true,
        "DirectoryOrCreate" => {
            if meta.is_err() {
                std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
                std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
            }
            std::fs::metadata(p).map(|m| m.is_dir()).unwrap_or(false)
        }
        "FileOrCreate" => {
            if meta.is_err() {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| format!("creating {}", p.display()))?;
            }
            std::fs::metadata(p).map(|m| m.is_file()).unwrap_or(false)
        }
        "Directory" => meta.as_ref().map(|m| m.is_dir()).unwrap_or(false),
        "File" => meta.as_ref().map(|m| m.is_file()).unwrap_or(false),
        "Socket" => meta.as_ref().map(|m| m.file_type().is_socket()).unwrap_or(false),
        "CharDevice" => meta.as_ref().map(|m| m.file_type().is_char_device()).unwrap_or(false),
        "BlockDevice" => meta.as_ref().map(|m| m.file_type().is_block_device()).unwrap_or(false),
        other => bail!("unknown hostPath type {other:?}"),
    };
    if !ok {
        bail!("hostPath type check failed: {} is not a {kind}", p.display());
    }
    Ok(())
}

/// Removes `/runp/pod_<uid>` (and `/runp` when empty) in every hierarchy; rmdir only ever
/// removes empty cgroups, so a still-running container is never affected.
pub fn remove_cgroup_dirs(parent: &str) {
    let Ok(layout) = crate::linux::cgroup::detect_host() else { return };
    let rel = parent.trim_start_matches('/');
    let mounts: Vec<std::path::PathBuf> = match layout {
        crate::linux::cgroup::Layout::V1 { hierarchies } => hierarchies.into_iter().map(|h| h.mountpoint).collect(),
        crate::linux::cgroup::Layout::V2 { mountpoint } => vec![mountpoint],
    };
    for m in mounts {
        let _ = std::fs::remove_dir(m.join(rel));
        if let Some(p) = Path::new(rel).parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::remove_dir(m.join(p));
        }
    }
}
