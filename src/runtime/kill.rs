//! `kill`: a signal to the init (pidfd, checked start time), or to every process with --all.

use super::state::{StateDir, Status};
use crate::linux::process::ProcessRef;
use anyhow::{bail, Result};
use std::path::Path;

pub fn kill(root: &Path, id: &str, sig: i32, all: bool) -> Result<()> {
    let dir = StateDir::new(root, id)?;
    let st = dir.load()?;
    let status = st.status(&dir);
    if status == Status::Stopped {
        if all {
            // runc HEAD: --all only suppresses "not running" (containerd relies on it).
            return Ok(());
        }
        bail!("container not running");
    }
    // Without its own PID namespace, SIGKILL to the init would orphan the rest: kill the cgroup.
    let whole = all || (sig == libc::SIGKILL && !st.own_pid_ns);
    match (&st.cgroup, whole) {
        (Some(cg), true) => cg.signal_all(sig)?,
        _ => ProcessRef::open(st.pid, st.start_time)?.signal(sig)?,
    }
    // A frozen task only dies once thawed.
    if status == Status::Paused && sig == libc::SIGKILL {
        if let Some(cg) = &st.cgroup {
            cg.thaw()?;
        }
    }
    Ok(())
}
