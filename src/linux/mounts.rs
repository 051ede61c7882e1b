//! The few host-side mounts the pod layer needs: the pod's /dev/shm (a tmpfs, or a bind of the
//! host's under hostIPC), Memory-medium emptyDirs (tmpfs), pause's /proc attached on the host,
//! and detaching all of them at the end. Also joining pause's network namespace.

use anyhow::{Context, Result};
use nix::mount::{MntFlags, MsFlags};
use std::os::fd::OwnedFd;
use std::path::Path;

/// Binds `src` onto `dst`.
pub fn bind(src: &Path, dst: &Path) -> Result<()> {
    nix::mount::mount(Some(src), dst, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .with_context(|| format!("binding {} on {}", src.display(), dst.display()))
}

/// A tmpfs on `dst` (nosuid, nodev, and noexec when asked) with these options
/// (`size=...,mode=...`).
pub fn tmpfs(source: &str, dst: &Path, options: &str, noexec: bool) -> Result<()> {
    let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    if noexec {
        flags |= MsFlags::MS_NOEXEC;
    }
    nix::mount::mount(Some(source), dst, Some("tmpfs"), flags, Some(options))
        .with_context(|| format!("mounting tmpfs on {}", dst.display()))
}

/// Attaches a detached mount (from fsmount or open_tree) on `dst`.
pub fn attach(mount: &OwnedFd, dst: &Path) -> Result<()> {
    super::sys::attach_mount(mount, dst).with_context(|| format!("mounting on {}", dst.display()))
}

/// Lazily unmounts whatever is mounted on `path`; nothing mounted there is not an error.
pub fn detach(path: &Path) {
    let _ = nix::mount::umount2(path, MntFlags::MNT_DETACH);
}

/// Moves the calling thread into the network namespace of process `pid`.
pub fn join_net_ns_of(pid: i32) -> Result<()> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).context("opening the pod's network namespace")?;
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).context("joining the pod's network namespace")
}
