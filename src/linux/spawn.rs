//! Parent side of process creation: socketpair, clone, and the sync protocol with the child.

use super::child;
use super::child_args::ChildArgs;
use super::sync::{Report, Step, GO, KIND_ERROR, KIND_HOOKS, KIND_READY};
use super::sys::{self, Forked};
use anyhow::{anyhow, bail, Context, Result};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// A child that has been cloned and is waiting for the parent.
pub struct Spawned {
    pub pid: i32,
    pub pidfd: Option<OwnedFd>,
    sync: OwnedFd,
}

/// Why the child stopped before exec: the step, which item (mount index...) and errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildError {
    pub step: Step,
    pub index: u32,
    pub errno: i32,
}

impl std::fmt::Display for ChildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.step.describe(), io::Error::from_raw_os_error(self.errno))
    }
}

impl std::error::Error for ChildError {}

/// What the child said next.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Set up, waiting for GO to go on to exec.
    Ready,
    /// Stopped before pivot_root so that the parent can run create hooks.
    Hooks,
    /// The child exec'd (its end of the socket closed without an error) or died.
    Gone,
}

fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .context("creating the sync socketpair")
}

/// Clones a child with `clone_flags` (CLONE_NEW*) that runs the child program on `args`.
/// `pid_ns` is a PID namespace to create the child in (setns'd in this process first, which
/// only affects children). The child waits for `go()` before doing anything.
pub fn spawn(args: &mut ChildArgs, clone_flags: u64, pid_ns: Option<&OwnedFd>) -> Result<Spawned> {
    let (parent_end, child_end) = socketpair()?;
    args.set_sync(&child_end);
    // setns(CLONE_NEWPID) only changes where our *children* go; a long-lived caller (a pod
    // supervisor) must get its own back, or its next child would land in this container.
    let restore = match pid_ns {
        Some(ns) => {
            let own = std::fs::File::open("/proc/self/ns/pid_for_children").context("opening our PID namespace")?;
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWPID).context("joining the PID namespace")?;
            Some(own)
        }
        None => None,
    };
    // SAFETY: runp is single-threaded here, and the child runs only child::run, which is
    // async-signal-safe and never returns.
    let forked = unsafe { sys::fork_with_flags(clone_flags) };
    if let Ok(Forked::Child) = forked {
        child::run(args)
    }
    if let Some(own) = restore {
        nix::sched::setns(own, nix::sched::CloneFlags::CLONE_NEWPID).context("returning to our PID namespace")?;
    }
    match forked.context("clone")? {
        Forked::Child => child::run(args),
        Forked::Parent { pid, pidfd } => {
            drop(child_end);
            Ok(Spawned { pid, pidfd, sync: parent_end })
        }
    }
}

impl Spawned {
    /// Lets the child go on (after maps and cgroups, after hooks, or to exec).
    pub fn go(&self) -> Result<()> {
        let n = nix::sys::socket::send(self.sync.as_raw_fd(), &[GO], nix::sys::socket::MsgFlags::MSG_NOSIGNAL);
        match n {
            Ok(1) => Ok(()),
            Ok(_) => bail!("short write to the container process"),
            // The child already died: its report (if any) explains why.
            Err(nix::errno::Errno::EPIPE) | Err(nix::errno::Errno::ECONNRESET) => Ok(()),
            Err(e) => Err(anyhow!("signalling the container process: {e}")),
        }
    }

    /// Waits for the child's next report.
    pub fn next(&self) -> Result<Event> {
        let mut b = [0u8; 16];
        let n = loop {
            match nix::unistd::read(&self.sync, &mut b) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.context("reading from the container process")?,
            }
        };
        if n == 0 {
            return Ok(Event::Gone);
        }
        if n != b.len() {
            bail!("malformed report from the container process ({n} bytes)");
        }
        let r = Report::from_bytes(&b);
        match r.kind {
            KIND_READY => Ok(Event::Ready),
            KIND_HOOKS => Ok(Event::Hooks),
            KIND_ERROR => {
                let step = Step::from_u32(r.step).ok_or_else(|| anyhow!("unknown failure step {}", r.step))?;
                Err(ChildError { step, index: r.index, errno: r.errno }.into())
            }
            k => bail!("unknown report kind {k} from the container process"),
        }
    }

    pub fn sync_fd(&self) -> RawFd {
        self.sync.as_raw_fd()
    }
}
