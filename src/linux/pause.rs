//! The pod's pause process: PID 1 of the pod's namespaces, holding them open and reaping every
//! orphan (like Kubernetes' pause container).
//!
//! Every container of the pod sees it as its PID 1, so it must hold nothing of the host
//! (issue 7: a fork of the supervisor let a container with CAP_SYS_PTRACE reach the host's root
//! through /proc/1/root). It is confined the way Kubernetes' pause container is:
//!
//! - it is an exec of runp (`/pause`, an empty environment): none of the supervisor's memory,
//!   command line or environment is in it;
//! - its own mount namespace, rooted in an empty read-only tmpfs: /proc/1/root, /proc/1/cwd
//!   and /proc/1/mountinfo lead nowhere;
//! - no fds, no capabilities in any of the five sets, no_new_privs, non-dumpable, and a
//!   seccomp filter that kills it on anything but waiting for signals and reaping.
//!
//! Spawning is two steps: the clone (async-signal-safe: signals, hostname, loopback, then
//! execve) and the program after exec (`main`), which confines itself and reports on fd 3.
//!
//! As PID 1 of a new PID namespace it also hands the supervisor a detached proc filesystem of
//! that namespace (made while it still may): the /proc the pod's containers mount. Their
//! inits are set up outside the namespace and only forked into it once confined, and a process
//! outside a PID namespace cannot otherwise make its proc (before Linux 6.18's `pidns`).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::sys::{self, mount_api, Forked};
use anyhow::{bail, Context, Result};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

/// argv[0] of the pause program: what `ps` in a container shows as PID 1.
pub const ARGV0: &str = "/pause";

/// The fd on which the pause program reports its status (one byte, 0 = ready).
const READY_FD: i32 = 3;

/// Why pause did not start (the byte it reports).
const FAILURES: [&str; 9] = [
    "ok",
    "setting the hostname",
    "bringing loopback up",
    "executing runp as /pause",
    "making its empty root",
    "dropping capabilities",
    "setting no_new_privs",
    "loading its seccomp filter",
    "making the proc filesystem of its PID namespace",
];

/// A running pause process.
pub struct Pause {
    pub pid: i32,
    pub pidfd: Option<OwnedFd>,
    /// A detached proc mount (fsmount) of pause's PID namespace, when it made a new one.
    pub proc_mount: Option<OwnedFd>,
}

/// The tag of the message that carries the proc mount fd (before the status byte).
const PROC_TAG: u8 = b'p';

/// Brings the loopback interface up (a new network namespace starts with it down).
fn loopback_up() -> i32 {
    // SAFETY: socket/ioctl on a stack ifreq; all async-signal-safe.
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            return -1;
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        ifr.ifr_name[0] = b'l' as libc::c_char;
        ifr.ifr_name[1] = b'o' as libc::c_char;
        let mut r = libc::ioctl(s, libc::SIOCGIFFLAGS, &mut ifr);
        if r == 0 {
            ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            r = libc::ioctl(s, libc::SIOCSIFFLAGS, &ifr);
        }
        libc::close(s);
        r
    }
}

/// The cloned child, before exec. Async-signal-safe only. Never returns.
fn child(ready_fd: i32, hostname: Option<&CString>, parent: i32, new_net: bool) -> ! {
    let report = |status: u8| -> ! {
        // SAFETY: write of one stack byte, then _exit; both async-signal-safe.
        unsafe {
            libc::write(ready_fd, std::ptr::addr_of!(status).cast(), 1);
            libc::_exit(i32::from(status))
        }
    };
    // SAFETY: async-signal-safe libc calls on stack data or pre-built strings.
    unsafe {
        sys::reset_signals();
        // If the supervisor dies, the pod dies with it: never left running unsupervised. Kept
        // across the exec below (runp is neither set-id nor file-capable).
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        // In a new PID namespace the parent is outside it and getppid() reads 0.
        let ppid = libc::getppid();
        if ppid != parent && ppid != 0 {
            libc::_exit(1);
        }
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        libc::setsid();
        if let Some(h) = hostname {
            if libc::sethostname(h.as_ptr(), h.as_bytes().len()) != 0 {
                report(1);
            }
        }
        if new_net && loopback_up() != 0 {
            report(2);
        }
        // The report fd crosses the exec as fd 3 (dup2 clears close-on-exec; fcntl if it
        // already is 3).
        let moved = if ready_fd == READY_FD {
            libc::fcntl(READY_FD, libc::F_SETFD, 0)
        } else {
            libc::dup2(ready_fd, READY_FD) - READY_FD
        };
        if moved != 0 {
            report(3);
        }
        // Only stdio and the report fd cross the exec; the program closes those too.
        libc::syscall(libc::SYS_close_range, READY_FD as u32 + 1, u32::MAX, 0u32);
        let argv = [c"/pause".as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null::<libc::c_char>()];
        // Our own binary: the supervisor runs from a read-only copy (exeseal).
        libc::execve(c"/proc/self/exe".as_ptr(), argv.as_ptr(), envp.as_ptr());
        libc::write(READY_FD, [3u8].as_ptr().cast(), 1);
        libc::_exit(3)
    }
}

/// Starts pause in new namespaces (`clone_flags`: CLONE_NEWPID|NEWNET|NEWIPC|NEWUTS or a
/// subset; a new mount namespace is always added) and waits until it is confined.
pub fn spawn(clone_flags: u64, hostname: Option<&str>) -> Result<Pause> {
    let hostname = hostname.map(CString::new).transpose().context("hostname contains NUL")?;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    let (r, w) =
        socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).context("socketpair")?;
    let parent = std::process::id() as i32;
    let flags = clone_flags | libc::CLONE_NEWNS as u64;
    // SAFETY: single-threaded caller; the child runs only `child`, which is async-signal-safe.
    let forked = unsafe { sys::fork_with_flags(flags) }.context("cloning pause")?;
    match forked {
        Forked::Child => child(w.as_raw_fd(), hostname.as_ref(), parent, flags & libc::CLONE_NEWNET as u64 != 0),
        Forked::Parent { pid, pidfd } => {
            drop(w);
            let reply = read_reply(&r);
            match reply {
                Ok((0, proc_mount)) => Ok(Pause { pid, pidfd, proc_mount }),
                other => {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
                    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                    let why = match other {
                        Ok((b, _)) => FAILURES.get(usize::from(b)).copied().unwrap_or("unknown failure").to_string(),
                        Err(e) => format!("{e:#}"),
                    };
                    bail!("pause failed to start: {why}");
                }
            }
        }
    }
}

/// Reads pause's messages: an optional proc mount fd, then its status byte.
fn read_reply(sock: &OwnedFd) -> Result<(u8, Option<OwnedFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::FromRawFd;
    let mut proc_mount = None;
    loop {
        let mut b = [0u8; 1];
        let mut iov = [std::io::IoSliceMut::new(&mut b)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = match recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.context("waiting for pause")?,
        };
        let mut fds = Vec::new();
        for c in msg.cmsgs().context("reading pause's message")? {
            if let ControlMessageOwned::ScmRights(v) = c {
                // SAFETY: the kernel installed these fds for us; nothing else owns them.
                fds.extend(v.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
            }
        }
        let n = msg.bytes;
        if n == 0 {
            bail!("it exited");
        }
        if b[0] == PROC_TAG {
            proc_mount = fds.into_iter().next();
            continue;
        }
        return Ok((b[0], proc_mount));
    }
}

impl Pause {
    /// SIGTERM (pause exits 0), then SIGKILL if it is still there after `grace`.
    /// Stops pause: SIGTERM, SIGKILL after `grace`, and waits for it (at most 5 s more).
    ///
    /// While waiting it also reaps every other exited child of ours: pause is the init of the
    /// pod's PID namespace, and it cannot finish exiting while a process of that namespace is
    /// a zombie its parent (us: the second stage of an exec probe or handler) has not reaped.
    /// Call it when nothing else of ours needs reaping (the pod is done).
    pub fn stop(&self, grace: std::time::Duration) {
        use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
        let _ = self.signal(libc::SIGTERM);
        let pid = nix::unistd::Pid::from_raw(self.pid);
        let term_until = crate::time::deadline(grace);
        let give_up = crate::time::after(term_until, std::time::Duration::from_secs(5));
        let mut killed = false;
        loop {
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {}
                _ => return,
            }
            // Other children that ended: reaped, so that pause's namespace can empty.
            while let Ok(st) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                match st.pid() {
                    Some(p) if p == pid => return,
                    Some(_) => {}
                    None => break,
                }
            }
            let now = std::time::Instant::now();
            if !killed && now >= term_until {
                let _ = self.signal(libc::SIGKILL);
                killed = true;
            }
            if now >= give_up {
                log::warn!("pause (pid {}) did not exit", self.pid);
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    pub fn signal(&self, sig: i32) -> Result<()> {
        match &self.pidfd {
            Some(fd) => sys::pidfd_send_signal(fd.as_raw_fd(), sig).context("signalling pause"),
            None => super::process::signal_child(self.pid, sig),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The pause program, after exec.
// ---------------------------------------------------------------------------------------------

/// Whether this process was started as the pause program (`/pause`, no arguments).
pub fn is_pause_program() -> bool {
    let mut args = std::env::args_os();
    args.next().is_some_and(|a| a == ARGV0) && args.next().is_none()
}

extern "C" fn on_term(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(0) }
}

extern "C" fn on_chld(_: libc::c_int) {
    // SAFETY: waitpid with WNOHANG is async-signal-safe; reap every zombie we inherited.
    unsafe { while libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) > 0 {} }
}

/// The system calls pause still makes once confined: its loop, its handlers, and exiting.
/// `write` and `close_range` only serve the report just after loading; no fd is left then.
const SYSCALLS: &[&str] =
    &["pause", "rt_sigreturn", "restart_syscall", "wait4", "exit", "exit_group", "write", "close_range"];

/// Replaces our root with an empty read-only tmpfs and drops every other mount: a new tmpfs
/// stacked on "/", pivot_root into it, the old root detached.
fn empty_root() -> std::io::Result<()> {
    let err = std::io::Error::last_os_error;
    // SAFETY: mount/pivot_root/umount2/fchdir with NUL-terminated constants and our own fds.
    unsafe {
        // Nothing we do here may propagate back to the host's mounts.
        if libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(err());
        }
        let fs = mount_api::fsopen(c"tmpfs")?;
        mount_api::set_string(fs.as_raw_fd(), c"source", c"pause")?;
        mount_api::set_string(fs.as_raw_fd(), c"mode", c"0555")?;
        mount_api::set_string(fs.as_raw_fd(), c"size", c"4k")?;
        mount_api::set_string(fs.as_raw_fd(), c"nr_inodes", c"1")?;
        let attrs = mount_api::MOUNT_ATTR_RDONLY
            | mount_api::MOUNT_ATTR_NOSUID
            | mount_api::MOUNT_ATTR_NODEV
            | mount_api::MOUNT_ATTR_NOEXEC;
        let mnt = mount_api::create_and_mount(fs.as_raw_fd(), attrs)?;
        if mount_api::move_mount(mnt.as_raw_fd(), libc::AT_FDCWD, c"/".as_ptr(), 0) != 0 {
            return Err(err());
        }
        if libc::fchdir(mnt.as_raw_fd()) != 0 {
            return Err(err());
        }
        // pivot_root(".", "."): the old root is stacked on ours, then detached with everything
        // mounted below it.
        if sys::pivot_root(c".".as_ptr(), c".".as_ptr()) != 0 {
            return Err(err());
        }
        if libc::umount2(c".".as_ptr(), libc::MNT_DETACH) != 0 {
            return Err(err());
        }
        if libc::chdir(c"/".as_ptr()) != 0 {
            return Err(err());
        }
    }
    Ok(())
}

/// Sends the supervisor a detached proc filesystem of our PID namespace (see the module doc).
fn send_proc_mount() -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let fs = mount_api::fsopen(c"proc")?;
    mount_api::set_string(fs.as_raw_fd(), c"source", c"proc")?;
    let attrs = mount_api::MOUNT_ATTR_NOSUID | mount_api::MOUNT_ATTR_NODEV | mount_api::MOUNT_ATTR_NOEXEC;
    let mnt = mount_api::create_and_mount(fs.as_raw_fd(), attrs)?;
    let fds = [mnt.as_raw_fd()];
    let tag = [PROC_TAG];
    sendmsg::<()>(
        READY_FD,
        &[std::io::IoSlice::new(&tag)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    Ok(())
}

/// Empties all five capability sets.
fn drop_capabilities() -> std::io::Result<()> {
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments; EINVAL past the kernel's last capability.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } != 0 && sys::errno() != libc::EINVAL {
            return Err(std::io::Error::last_os_error());
        }
    }
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if sys::capset(0, 0, 0) != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The pause program: confines itself, reports on fd 3, then waits for signals for ever.
pub fn main() -> ! {
    let report = |status: u8| {
        // SAFETY: write of one stack byte to the report fd.
        unsafe { libc::write(READY_FD, std::ptr::addr_of!(status).cast(), 1) };
    };
    let fail = |status: u8| -> ! {
        report(status);
        // SAFETY: _exit with an integer.
        unsafe { libc::_exit(i32::from(status)) }
    };
    // SAFETY: prctl with a constant name and integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, c"pause".as_ptr(), 0, 0, 0);
        // The exec made us dumpable again: nothing in the containers may open our /proc files.
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    // Built before the root goes away (libseccomp reads nothing from disk, but be sure).
    let Ok(filter) = crate::plan::seccomp::allow_only(SYSCALLS) else { fail(7) };
    if empty_root().is_err() {
        fail(4);
    }
    // PID 1: a new PID namespace, whose containers get their /proc from us.
    if std::process::id() == 1 && send_proc_mount().is_err() {
        fail(8);
    }
    // SAFETY: sigaction with handlers that only call async-signal-safe functions.
    unsafe {
        let mut term: libc::sigaction = std::mem::zeroed();
        term.sa_sigaction = on_term as *const () as usize;
        libc::sigaction(libc::SIGTERM, &term, std::ptr::null_mut());
        libc::sigaction(libc::SIGINT, &term, std::ptr::null_mut());
        let mut chld: libc::sigaction = std::mem::zeroed();
        chld.sa_sigaction = on_chld as *const () as usize;
        chld.sa_flags = libc::SA_NOCLDSTOP | libc::SA_RESTART;
        libc::sigaction(libc::SIGCHLD, &chld, std::ptr::null_mut());
    }
    if drop_capabilities().is_err() {
        fail(5);
    }
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        fail(6);
    }
    // SAFETY: the program was just built by libseccomp for the calls made from here on.
    if unsafe { super::seccomp::load(&filter) }.is_err() {
        fail(7);
    }
    report(0);
    // Hold no fd at all: not the report pipe, not the supervisor's stdio.
    // SAFETY: close_range with integer arguments.
    unsafe { libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) };
    loop {
        // SAFETY: pause(2) has no arguments; the raw syscall, so that no libc wrapper can use
        // another system call the filter does not allow.
        unsafe { libc::syscall(libc::SYS_pause) };
    }
}
