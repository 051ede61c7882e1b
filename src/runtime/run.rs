//! `run`: create + start in one process. In the foreground it forwards signals to the init,
//! relays a terminal, and exits with the container's status (128+N for a signal).

use super::create::{create, CreateOptions, Created};
use super::state::Status;
use super::{delete, foreground, hooks};
use crate::linux::spawn::Event;
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Releases a created init to exec and runs poststart hooks. Returns once it exec'd.
pub fn release(c: &mut Created) -> Result<()> {
    if !c.plan.hooks.start_container.is_empty() {
        let ns = hooks::container_namespaces(c.state.pid)?;
        let json = c.state.oci_json(Status::Created, "").to_string();
        hooks::run_all_in("startContainer", &c.plan.hooks.start_container, &json, &c.state.bundle, &hooks::raw(&ns))?;
    }
    c.spawned.go()?;
    match c.spawned.next_event() {
        Ok(Event::Gone) => {}
        Ok(e) => bail!("unexpected report from the container process: {e:?}"),
        Err(e) => return Err(e).context("unable to start container process"),
    }
    crate::time::mark("exec'd");
    let json = c.state.oci_json(Status::Running, "").to_string();
    hooks::run_all("poststart", &c.plan.hooks.poststart, &json, &c.state.bundle)
}

pub struct RunOptions {
    pub create: CreateOptions,
    pub detach: bool,
    pub keep: bool,
}

/// Returns the exit code runp should exit with.
pub fn run(root: &Path, o: RunOptions) -> Result<i32> {
    let mut co = o.create.clone();
    co.no_gate = true;
    co.detach = o.detach;
    if o.detach {
        let mut c = create(root, &co)?;
        if let Err(e) = release(&mut c) {
            let _ = delete::delete(root, &co.id, true);
            return Err(e);
        }
        return Ok(0);
    }
    // Blocked before the child exists so that no signal is lost; the child resets its mask.
    let mask = foreground::forwarded_signals();
    mask.thread_block().context("blocking signals")?;
    let mut c = match create(root, &co) {
        Ok(c) => c,
        Err(e) => {
            let _ = mask.thread_unblock();
            return Err(e);
        }
    };
    let result = release(&mut c).and_then(|()| foreground::wait(c.state.pid, c.pty_master.as_ref()));
    crate::time::mark("exited");
    if result.is_err() || !o.keep {
        if let Err(e) = delete::delete(root, &co.id, true) {
            log::warn!("deleting container {}: {e:#}", co.id);
        }
        crate::time::mark("deleted");
    }
    result
}
