//! Waiting for a child of ours in the foreground (`run`, `exec`): forward every signal to it,
//! relay its terminal if we hold the pty master, and return its exit code (128+N for a signal).

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use std::os::fd::{AsFd, OwnedFd};

/// Everything catchable; SIGCHLD is read, not forwarded.
pub fn forwarded_signals() -> SigSet {
    let mut set = SigSet::all();
    set.remove(Signal::SIGKILL);
    set.remove(Signal::SIGSTOP);
    set
}

fn reap(pid: nix::unistd::Pid) -> Result<Option<i32>> {
    match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => Ok(Some(code)),
        Ok(WaitStatus::Signaled(_, sig, _)) => Ok(Some(128 + sig as i32)),
        Ok(_) => Ok(None),
        Err(nix::errno::Errno::ECHILD) => Ok(Some(255)),
        Err(e) => Err(e).context("waiting for the container process"),
    }
}

/// Blocks the forwarded signals (call before the child exists, so none is lost) and waits.
pub fn wait(pid: i32, master: Option<&OwnedFd>) -> Result<i32> {
    let mask = forwarded_signals();
    mask.thread_block().context("blocking signals")?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).context("creating signalfd")?;
    let npid = nix::unistd::Pid::from_raw(pid);
    let _raw = master.map(super::tty::RawMode::enter);
    let stdin = std::io::stdin();
    loop {
        if let Some(code) = reap(npid)? {
            if let Some(m) = master {
                super::tty::drain(m.as_fd());
            }
            return Ok(code);
        }
        let mut fds = vec![nix::poll::PollFd::new(sfd.as_fd(), nix::poll::PollFlags::POLLIN)];
        if let Some(m) = master {
            fds.push(nix::poll::PollFd::new(m.as_fd(), nix::poll::PollFlags::POLLIN));
            fds.push(nix::poll::PollFd::new(stdin.as_fd(), nix::poll::PollFlags::POLLIN));
        }
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.context("poll")?,
        };
        let ready = |i: usize| fds.get(i).and_then(|f| f.revents()).is_some_and(|r| !r.is_empty());
        if ready(0) {
            if let Ok(Some(info)) = sfd.read_signal() {
                match (info.ssi_signo as i32, master) {
                    (libc::SIGCHLD, _) => {}
                    (libc::SIGWINCH, Some(m)) => super::tty::copy_size(m),
                    (sig, _) => {
                        let _ = crate::linux::process::signal_child(pid, sig);
                    }
                }
            }
        }
        if let Some(m) = master {
            if ready(1) {
                super::tty::copy(m.as_fd(), std::io::stdout().as_fd());
            }
            if ready(2) {
                super::tty::copy(stdin.as_fd(), m.as_fd());
            }
        }
    }
}
