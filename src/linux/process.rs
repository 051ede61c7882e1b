//! Processes known by (pid, start time), so a reused pid is never mistaken for ours.

use super::sys;
use anyhow::{bail, Result};
use std::os::fd::{AsRawFd, OwnedFd};

/// What /proc/<pid>/stat says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub state: char,
    pub ppid: i32,
    /// Field 9: the kernel's PF_* flags.
    pub flags: u32,
    /// Field 22: start time in clock ticks since boot.
    pub start_time: u64,
}

/// Parses /proc/<pid>/stat. The comm field may contain spaces and parentheses (a container
/// can name itself `x) Z 1 1 1`), so the fields are counted from the LAST ')'
/// (docs/security.md#input-validation).
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); start time is field 22.
    Some(ProcStat {
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        flags: f.get(6)?.parse().ok()?,
        start_time: f.get(19)?.parse().ok()?,
    })
}

pub fn stat(pid: i32) -> Option<ProcStat> {
    if pid <= 0 {
        return None;
    }
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The kernel's PF_EXITING: the process has begun to exit.
const PF_EXITING: u32 = 0x4;

/// True when `pid` (ours, not yet reaped) has begun to exit or is a zombie. A PID
/// namespace's init that was killed stays in this state until every other process of its
/// namespace has been reaped.
pub fn is_exiting(pid: i32) -> bool {
    stat(pid).is_some_and(|s| matches!(s.state, 'Z' | 'X') || s.flags & PF_EXITING != 0)
}

/// True when `pid` is still the process that started at `start_time` and has not exited.
pub fn alive(pid: i32, start_time: u64) -> bool {
    matches!(stat(pid), Some(s) if s.start_time == start_time && s.state != 'Z' && s.state != 'X')
}

/// A handle on a process we did not necessarily create: a pidfd opened after checking the
/// start time (and checked again after opening, closing the reuse race).
pub struct ProcessRef {
    pub pid: i32,
    pidfd: Option<OwnedFd>,
}

impl ProcessRef {
    pub fn open(pid: i32, start_time: u64) -> Result<ProcessRef> {
        if pid <= 0 {
            bail!("invalid pid {pid}");
        }
        if !alive(pid, start_time) {
            bail!("container not running");
        }
        let pidfd = sys::pidfd_open(pid).ok();
        if !alive(pid, start_time) {
            bail!("container not running");
        }
        Ok(ProcessRef { pid, pidfd })
    }

    pub fn signal(&self, sig: i32) -> Result<()> {
        let r = match &self.pidfd {
            Some(fd) => sys::pidfd_send_signal(fd.as_raw_fd(), sig),
            // SAFETY: kill with a checked positive pid.
            None => match unsafe { libc::kill(self.pid, sig) } {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            },
        };
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => bail!("container not running"),
            Err(e) => bail!("sending signal {sig} to {}: {e}", self.pid),
        }
    }

    pub fn pidfd(&self) -> Option<&OwnedFd> {
        self.pidfd.as_ref()
    }
}

/// kill(2) for a child of ours (its pid cannot be reused before we reap it). Any signal number,
/// real-time ones included.
pub fn signal_child(pid: i32, sig: i32) -> Result<()> {
    if pid <= 0 {
        bail!("invalid pid {pid}");
    }
    // SAFETY: kill with a positive pid.
    if unsafe { libc::kill(pid, sig) } != 0 {
        bail!("sending signal {sig} to {pid}: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// PR_SET_DUMPABLE 0: our /proc entries become root's alone (no ptrace, no /proc/<pid>/mem
/// or fd access for processes without CAP_SYS_PTRACE).
pub fn make_non_dumpable() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
}

/// Orphaned descendants are re-parented to us (to be reaped) instead of to PID 1.
pub fn become_subreaper() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// Takes ownership of an fd number inherited from our parent (e.g. a readiness pipe passed
/// as `--ready-fd N`), marking it close-on-exec so it goes no further.
pub fn adopt_inherited_fd(fd: i32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    if fd <= 2 {
        return None;
    }
    // SAFETY: fcntl on an fd number; F_GETFD fails cleanly (EBADF) if it is not open.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        return None;
    }
    // SAFETY: the fd is open and was handed to this process for exactly this use.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Every live descendant of `pid` (children, their children...), from /proc's parent links.
/// Descendants that were already re-parented elsewhere are not found.
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut parent_of: Vec<(i32, i32)> = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if let Some(st) = stat(p) {
            parent_of.push((p, st.ppid));
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(cur) = frontier.pop() {
        for (p, pp) in &parent_of {
            if *pp == cur && *p != pid && !out.contains(p) {
                out.push(*p);
                frontier.push(*p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_hostile_comm() {
        let line = "1234 (x) Z 1 1 1) S 42 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 42);
        assert_eq!(s.start_time, 98765);
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn own_process_is_alive() {
        let me = std::process::id() as i32;
        let s = stat(me).unwrap();
        assert!(alive(me, s.start_time));
        assert!(!alive(me, s.start_time + 1));
        assert!(!alive(0, 0) && !alive(-1, 0));
    }
}
