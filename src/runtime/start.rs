//! `start`: release an init parked on exec.fifo, wait for its exec, run poststart hooks.

use super::hooks;
use super::state::{self, StateDir, Status};
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub fn start(root: &Path, id: &str) -> Result<()> {
    let dir = StateDir::new(root, id)?;
    let _lock = dir.lock()?;
    let st = dir.load()?;
    match st.status(&dir) {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        _ => bail!("cannot start an already running container"),
    }
    let fifo_path = dir.path(state::FIFO);
    // O_NONBLOCK: ENXIO instead of hanging when the init is gone.
    let mut fifo =
        std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&fifo_path).map_err(|e| match e
            .raw_os_error()
        {
            Some(libc::ENXIO) => anyhow::anyhow!("cannot start a container that has stopped"),
            _ => anyhow::anyhow!("opening {}: {e}", fifo_path.display()),
        })?;
    if let Err(e) = std::fs::remove_file(&fifo_path) {
        log::warn!("removing {}: {e}", fifo_path.display());
    }
    if !st.hooks.start_container.is_empty() {
        let ns = hooks::container_namespaces(st.pid)?;
        let json = st.oci_json(Status::Created, "").to_string();
        if let Err(e) =
            hooks::run_all_in("startContainer", &st.hooks.start_container, &json, &st.bundle, &hooks::raw(&ns))
        {
            kill_init(&st);
            return Err(e);
        }
    }
    fifo.write_all(b"g").context("releasing the container process")?;
    // The init held the fifo's only read end: POLLERR once it exec'd (close-on-exec) or died.
    let mut fds = [nix::poll::PollFd::new(fifo.as_fd(), nix::poll::PollFlags::empty())];
    let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(10_000u16));
    drop(fifo);
    let json = st.oci_json(Status::Running, "").to_string();
    if let Err(e) = hooks::run_all("poststart", &st.hooks.poststart, &json, &st.bundle) {
        kill_init(&st);
        return Err(e);
    }
    Ok(())
}

/// A failed start hook stops the container (runtime-spec lifecycle).
fn kill_init(st: &state::State) {
    if let Ok(p) = crate::linux::process::ProcessRef::open(st.pid, st.start_time) {
        let _ = p.signal(libc::SIGKILL);
    }
}
