//! `delete`: destroy a stopped (or created, or with --force any) container, then poststop hooks.

use super::hooks;
use super::state::{State, StateDir, Status};
use anyhow::{bail, Result};
use std::path::Path;
use std::time::{Duration, Instant};

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let dir = StateDir::new(root, id)?;
    match dir.load() {
        Ok(_) => {}
        Err(e) => {
            // `delete --force` of an unknown id succeeds and removes any stray directory.
            if force {
                return dir.remove();
            }
            if dir.exists() {
                // A crashed create left a directory without state: remove it.
                return dir.remove();
            }
            return Err(e);
        }
    };
    let _lock = match dir.lock() {
        Ok(l) => l,
        Err(_) if force && !dir.exists() => return Ok(()),
        Err(e) => return Err(e),
    };
    // A racing delete may have destroyed it while we waited for the lock: only one destroys
    // (and runs poststop hooks).
    let st = match dir.load() {
        Ok(st) => st,
        Err(_) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let status = st.status(&dir);
    match status {
        // The init is gone but, without a PID namespace of its own, its children may live on
        // in its cgroup (runc's "kill all on exit"): they go with the container.
        Status::Stopped if st.cgroup.as_ref().is_some_and(|c| c.all_procs().is_ok_and(|p| !p.is_empty())) => {
            kill_all(&st)?
        }
        Status::Stopped => {}
        Status::Created => kill_all(&st)?,
        _ if force => kill_all(&st)?,
        s => bail!("cannot delete container {id} that is not stopped: {}", s.as_str()),
    }
    destroy(&dir, &st)
}

fn kill_all(st: &State) -> Result<()> {
    match &st.cgroup {
        Some(cg) => {
            cg.signal_all(libc::SIGKILL)?;
            let _ = cg.thaw();
        }
        None => {
            if let Ok(p) = crate::linux::process::ProcessRef::open(st.pid, st.start_time) {
                p.signal(libc::SIGKILL)?;
            }
        }
    }
    // Wait until every process is gone, so the cgroup can be removed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let left = st.cgroup.as_ref().and_then(|c| c.all_procs().ok()).map(|p| p.len()).unwrap_or(0);
        if left == 0 && !crate::linux::process::alive(st.pid, st.start_time) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    bail!("processes of container {} did not exit after SIGKILL", st.id)
}

/// Removes cgroup and state, then runs poststop hooks (failures there are warnings only).
pub fn destroy(dir: &StateDir, st: &State) -> Result<()> {
    if let Some(cg) = &st.cgroup {
        cg.destroy()?;
        cg.prune_default_parent();
    }
    dir.remove()?;
    let json = st.oci_json(Status::Stopped, "").to_string();
    hooks::run_all_warn("poststop", &st.hooks.poststop, &json, &st.bundle);
    Ok(())
}
