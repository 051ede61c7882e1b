//! Namespace files: open one and check that it really is the namespace type the config claims.

use crate::plan::NsKind;
use anyhow::{bail, Context, Result};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

const NS_GET_NSTYPE: libc::c_ulong = 0xb703; // _IO(0xb7, 0x3)

/// Opens a namespace file for setns and verifies its type: a mount namespace file given as
/// `network` must be refused, not silently joined (docs/security.md#namespaces).
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

/// A detached proc filesystem (fsmount) for the PID namespace `pid_ns`, with the mount flags
/// and options of a proc mount: what a process outside that namespace mounts as the /proc of
/// a container that joins it. Needs proc's `pidns` parameter (Linux 6.18 has it; older kernels
/// answer EINVAL and the caller falls back).
pub fn proc_for_pid_ns(
    pid_ns: std::os::fd::RawFd,
    flags: libc::c_ulong,
    data: Option<&std::ffi::CStr>,
) -> std::io::Result<OwnedFd> {
    use super::sys::mount_api as m;
    let fs = m::fsopen(c"proc")?;
    m::set_fd(fs.as_raw_fd(), c"pidns", pid_ns)?;
    m::set_string(fs.as_raw_fd(), c"source", c"proc")?;
    for opt in data.map(|d| d.to_string_lossy().into_owned()).unwrap_or_default().split(',').filter(|o| !o.is_empty()) {
        let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
        let key = std::ffi::CString::new(k).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        let value = std::ffi::CString::new(v).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        m::set_string(fs.as_raw_fd(), &key, &value)?;
    }
    let mut attrs = 0;
    for (ms, attr) in [
        (libc::MS_RDONLY, m::MOUNT_ATTR_RDONLY),
        (libc::MS_NOSUID, m::MOUNT_ATTR_NOSUID),
        (libc::MS_NODEV, m::MOUNT_ATTR_NODEV),
        (libc::MS_NOEXEC, m::MOUNT_ATTR_NOEXEC),
    ] {
        if flags & ms != 0 {
            attrs |= attr;
        }
    }
    m::create_and_mount(fs.as_raw_fd(), attrs)
}
