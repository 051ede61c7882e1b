//! Namespace files: open one and check that it really is the namespace type the config claims.

use crate::plan::NsKind;
use anyhow::{bail, Context, Result};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

const NS_GET_NSTYPE: libc::c_ulong = 0xb703; // _IO(0xb7, 0x3)

/// Opens a namespace file for setns and verifies its type (S-48: a mount namespace file given
/// as `network` must be refused, not silently joined).
pub fn open_checked(path: &Path, kind: NsKind) -> Result<OwnedFd> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("opening {} namespace {}", kind.proc_name(), path.display()))?;
    let fd: OwnedFd = file.into();
    // SAFETY: ioctl with no argument on an fd we own.
    let t = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) };
    if t < 0 {
        bail!("{} is not a namespace file: {}", path.display(), std::io::Error::last_os_error());
    }
    if t != kind.flag() {
        bail!("{} is not a {} namespace", path.display(), kind.proc_name());
    }
    Ok(fd)
}

/// The inode of a namespace, for identity checks (`readlink /proc/<pid>/ns/<kind>`).
pub fn inode(pid: i32, kind: NsKind) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let p = format!("/proc/{pid}/ns/{}", kind.proc_name());
    Ok(std::fs::metadata(&p).with_context(|| format!("stat {p}"))?.ino())
}
