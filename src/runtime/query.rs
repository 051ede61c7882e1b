//! `state`, `list`, `ps`, `pause`, `resume`: reading and freezing containers.

use super::state::{State, StateDir, Status};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// One container as `state` and `list` show it.
pub struct Entry {
    pub state: State,
    pub status: Status,
}

pub fn state(root: &Path, id: &str) -> Result<Entry> {
    let dir = StateDir::new(root, id)?;
    let state = dir.load()?;
    let status = state.status(&dir);
    Ok(Entry { state, status })
}

/// Every container under `root`, sorted by id. A missing root is an empty list; a container
/// deleted while we read is skipped, never an error (docs/oci-cli.md#list).
pub fn list(root: &Path) -> Result<Vec<Entry>> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", root.display())),
    };
    let mut out = Vec::new();
    for ent in rd.flatten() {
        let name = ent.file_name().to_string_lossy().into_owned();
        let Ok(dir) = StateDir::new(root, &name) else { continue };
        let Ok(state) = dir.load() else { continue };
        let status = state.status(&dir);
        out.push(Entry { state, status });
    }
    out.sort_by(|a, b| a.state.id.cmp(&b.state.id));
    Ok(out)
}

pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let e = state(root, id)?;
    match &e.state.cgroup {
        Some(cg) => cg.all_procs(),
        None if e.status != Status::Stopped => Ok(vec![e.state.pid]),
        None => Ok(Vec::new()),
    }
}

pub fn pause(root: &Path, id: &str) -> Result<()> {
    let e = state(root, id)?;
    match e.status {
        Status::Running | Status::Created => {}
        Status::Paused => bail!("container already paused"),
        _ => bail!("container not running"),
    }
    e.state.cgroup.as_ref().context("container has no cgroup to freeze")?.freeze()
}

pub fn resume(root: &Path, id: &str) -> Result<()> {
    let e = state(root, id)?;
    if e.status != Status::Paused {
        bail!("container not paused");
    }
    e.state.cgroup.as_ref().context("container has no cgroup to thaw")?.thaw()
}
