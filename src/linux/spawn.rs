//! Parent side of process creation: socketpair, clone, and the sync protocol with the child.

use super::child;
use super::child_args::ChildArgs;
use super::sync::{Report, Step, GO, KIND_ERROR, KIND_HOOKS, KIND_PID, KIND_READY};
use super::sys::{self, Forked};
use anyhow::{anyhow, bail, Context, Result};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// A child that has been cloned and is waiting for the parent.
pub struct Spawned {
    pub pid: i32,
    sync: OwnedFd,
    /// The first stage has handed over to the process it forked (child::split_into_pid_ns).
    split: bool,
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
    let restore = enter_pid_ns(pid_ns)?;
    // SAFETY: runp is single-threaded here, and the child runs only child::run, which is
    // async-signal-safe and never returns.
    let forked = unsafe { sys::fork_with_flags(clone_flags) };
    if let Ok(Forked::Child) = forked {
        child::run(args)
    }
    leave_pid_ns(restore)?;
    match forked.context("clone")? {
        Forked::Child => child::run(args),
        // Nothing signals through a pidfd here: the caller checks pids against start times.
        Forked::Parent { pid, pidfd: _ } => {
            drop(child_end);
            Ok(Spawned { pid, sync: parent_end, split: false })
        }
    }
}

/// setns(CLONE_NEWPID) only changes where our *children* go; a long-lived caller (a pod
/// supervisor) must get its own back, or its next child would land in this container.
fn enter_pid_ns(pid_ns: Option<&OwnedFd>) -> Result<Option<std::fs::File>> {
    let Some(ns) = pid_ns else { return Ok(None) };
    let own = std::fs::File::open("/proc/self/ns/pid_for_children").context("opening our PID namespace")?;
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWPID).context("joining the PID namespace")?;
    Ok(Some(own))
}

fn leave_pid_ns(own: Option<std::fs::File>) -> Result<()> {
    if let Some(own) = own {
        nix::sched::setns(own, nix::sched::CloneFlags::CLONE_NEWPID).context("returning to our PID namespace")?;
    }
    Ok(())
}

/// The stack direct children run on. One is enough: the parent is suspended while its child
/// uses it (CLONE_VFORK), and the lock keeps two threads from spawning on it at once.
/// Allocated once and kept: unmapping memory shared with a child that ran on another CPU costs
/// a TLB shootdown, the very thing a direct spawn avoids.
static STACK_TOP: std::sync::Mutex<Option<usize>> = std::sync::Mutex::new(None);

/// 256 KiB: child::run needs a few pages (its largest frame holds a 4 KiB getcwd buffer).
const STACK_SIZE: usize = 256 * 1024;

fn stack_top(slot: &mut Option<usize>) -> Result<*mut libc::c_void> {
    if let Some(top) = slot {
        return Ok(*top as *mut libc::c_void);
    }
    let guard = 4096;
    // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            STACK_SIZE + guard,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(io::Error::last_os_error()).context("allocating the child's stack");
    }
    // A guard page below the stack: an overflow faults instead of writing our heap.
    // SAFETY: the first page of the mapping we just made.
    if unsafe { libc::mprotect(base, guard, libc::PROT_NONE) } != 0 {
        return Err(io::Error::last_os_error()).context("protecting the child's stack guard page");
    }
    let top = base as usize + STACK_SIZE + guard;
    *slot = Some(top);
    Ok(top as *mut libc::c_void)
}

extern "C" fn direct_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: spawn_direct passes a ChildArgs that outlives the child's use of it: the parent
    // stays suspended (CLONE_VFORK) until the child has exec'd or exited.
    let args = unsafe { &*(arg as *const ChildArgs) };
    child::run(args)
}

/// Starts a process without copying our address space: clone(CLONE_VM | CLONE_VFORK), the
/// child on its own stack, and this thread suspended until the child has exec'd or died, as
/// posix_spawn does. A fork of a long-lived supervisor copies its page tables and, write-
/// protecting them, shoots down TLBs on every CPU (expensive in a VM): for the exec probes
/// a supervisor runs every second, that was most of its CPU time.
///
/// There is no handshake (the parent cannot answer): the child joins its cgroup through
/// `args.cgroup_procs` and goes straight on to exec. Returns the pid once it has exec'd; a
/// failure before exec comes back as a [`ChildError`], the child reaped.
pub fn spawn_direct(args: &mut ChildArgs, pid_ns: Option<&OwnedFd>) -> Result<i32> {
    // Anything that waits for us before exec would wait for ever: we are suspended.
    if args.gate_fd >= 0 || args.pause_for_hooks || args.rootfs.is_some() {
        bail!("internal error: a direct spawn cannot wait for a gate, hooks or a rootfs setup");
    }
    let (parent_end, child_end) = socketpair()?;
    args.set_sync(&child_end);
    args.direct = true;
    let mut stack = STACK_TOP.lock().map_err(|_| anyhow!("the spawn stack lock is poisoned"))?;
    let top = stack_top(&mut stack)?;
    let restore = enter_pid_ns(pid_ns)?;
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
    let arg = std::ptr::from_ref::<ChildArgs>(args) as *mut libc::c_void;
    // SAFETY: the child runs direct_entry on its own stack and only async-signal-safe code,
    // touching nothing of ours but `args`; we are suspended until it execs or exits.
    let pid = unsafe { libc::clone(direct_entry, top, flags, arg) };
    let err = io::Error::last_os_error();
    drop(stack);
    let left = leave_pid_ns(restore);
    if pid < 0 {
        return Err(err).context("clone");
    }
    drop(child_end);
    let mut spawned = Spawned { pid, sync: parent_end, split: false };
    let result = match (left, spawned.next_event()) {
        (Ok(()), Ok(Event::Gone)) => return Ok(spawned.pid),
        (Err(e), _) | (_, Err(e)) => Err(e),
        (_, Ok(e)) => Err(anyhow!("unexpected report from the process: {e:?}")),
    };
    // It reported an error and exited, or we cannot go on with it (and a first stage that
    // forked a second is already reaped: `spawned.pid` is the second).
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(spawned.pid), nix::sys::signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(spawned.pid), None);
    if spawned.pid != pid {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
    }
    result
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

    /// Waits for the child's next report. When a first stage reports the pid of the process
    /// it forked into a PID namespace, that process becomes ours (`pid`) and the first
    /// stage, which exits at once, is reaped.
    pub fn next_event(&mut self) -> Result<Event> {
        loop {
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
                KIND_READY => return Ok(Event::Ready),
                KIND_HOOKS => return Ok(Event::Hooks),
                KIND_PID => {
                    // Once, from the first stage, naming a child of ours: the second stage runs
                    // where a container process may drive it (ptrace) and could send one too.
                    // waitid(WNOHANG|WNOWAIT) answers ECHILD for anything that is not our child.
                    use nix::sys::wait::{waitid, Id, WaitPidFlag as W};
                    let ours = r.errno > 0
                        && waitid(Id::Pid(nix::unistd::Pid::from_raw(r.errno)), W::WNOHANG | W::WNOWAIT | W::WEXITED)
                            .is_ok();
                    if self.split || !ours {
                        bail!("unexpected pid report ({}) from the container process", r.errno);
                    }
                    self.split = true;
                    let first = nix::unistd::Pid::from_raw(self.pid);
                    self.pid = r.errno;
                    let _ = nix::sys::wait::waitpid(first, None);
                }
                KIND_ERROR => {
                    let step = Step::from_u32(r.step).ok_or_else(|| anyhow!("unknown failure step {}", r.step))?;
                    return Err(ChildError { step, index: r.index, errno: r.errno }.into());
                }
                k => bail!("unknown report kind {k} from the container process"),
            }
        }
    }

    pub fn sync_fd(&self) -> RawFd {
        self.sync.as_raw_fd()
    }
}
