//! The pod's pause process: PID 1 of the pod's namespaces, holding them open, reaping every
//! orphan (like Kubernetes' pause.c). It is a clone of runp that never execs: its whole life is
//! async-signal-safe code, so no image and no exec are needed.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::sys::{self, Forked};
use anyhow::{bail, Context, Result};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

/// A running pause process.
pub struct Pause {
    pub pid: i32,
    pub pidfd: Option<OwnedFd>,
}

extern "C" fn on_term(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(0) }
}

extern "C" fn on_chld(_: libc::c_int) {
    // SAFETY: waitpid with WNOHANG is async-signal-safe; reap every zombie we inherited.
    unsafe { while libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) > 0 {} }
}

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

/// The pause program. Never returns.
fn run(ready_fd: i32, hostname: Option<&CString>, parent: i32, new_net: bool) -> ! {
    // SAFETY: everything below is async-signal-safe libc on stack data or pre-built strings.
    unsafe {
        sys::reset_signals();
        // If the supervisor dies, the pod dies with it: never left running unsupervised.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        // In a new PID namespace the parent is outside it and getppid() reads 0.
        let ppid = libc::getppid();
        if ppid != parent && ppid != 0 {
            libc::_exit(1);
        }
        libc::prctl(libc::PR_SET_NAME, c"pause".as_ptr(), 0, 0, 0);
        // PID 1 of every container: nothing in them may open our /proc entries (exe, mem).
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        libc::setsid();
        libc::chdir(c"/".as_ptr());
        let mut status: u8 = 0;
        if let Some(h) = hostname {
            if libc::sethostname(h.as_ptr(), h.as_bytes().len()) != 0 {
                status = 1;
            }
        }
        if new_net && loopback_up() != 0 {
            status = 2;
        }
        let mut term: libc::sigaction = std::mem::zeroed();
        term.sa_sigaction = on_term as *const () as usize;
        libc::sigaction(libc::SIGTERM, &term, std::ptr::null_mut());
        libc::sigaction(libc::SIGINT, &term, std::ptr::null_mut());
        let mut chld: libc::sigaction = std::mem::zeroed();
        chld.sa_sigaction = on_chld as *const () as usize;
        chld.sa_flags = libc::SA_NOCLDSTOP | libc::SA_RESTART;
        libc::sigaction(libc::SIGCHLD, &chld, std::ptr::null_mut());
        libc::write(ready_fd, std::ptr::addr_of!(status).cast(), 1);
        // Hold nothing of the supervisor's: its sockets, pipes and files.
        libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32);
        if status != 0 {
            libc::_exit(i32::from(status));
        }
        loop {
            libc::pause();
        }
    }
}

/// Starts pause in new namespaces (`clone_flags`: CLONE_NEWPID|NEWNET|NEWIPC|NEWUTS or a
/// subset) and waits until it has set the hostname and brought loopback up.
pub fn spawn(clone_flags: u64, hostname: Option<&str>) -> Result<Pause> {
    let hostname = hostname.map(CString::new).transpose().context("hostname contains NUL")?;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    let parent = std::process::id() as i32;
    // SAFETY: single-threaded caller; the child runs only `run`, which is async-signal-safe.
    let forked = unsafe { sys::fork_with_flags(clone_flags) }.context("cloning pause")?;
    match forked {
        Forked::Child => run(w.as_raw_fd(), hostname.as_ref(), parent, clone_flags & libc::CLONE_NEWNET as u64 != 0),
        Forked::Parent { pid, pidfd } => {
            drop(w);
            let mut b = [0u8; 1];
            let n = nix::unistd::read(&r, &mut b).context("waiting for pause")?;
            if n != 1 || b[0] != 0 {
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                bail!("pause failed to start ({})", if n == 1 { b[0] } else { 255 });
            }
            Ok(Pause { pid, pidfd })
        }
    }
}

impl Pause {
    /// SIGTERM (pause exits 0), then SIGKILL if it is still there after `grace`.
    pub fn stop(&self, grace: std::time::Duration) {
        let _ = self.signal(libc::SIGTERM);
        let deadline = std::time::Instant::now() + grace;
        loop {
            match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(self.pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
                Ok(nix::sys::wait::WaitStatus::StillAlive) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Ok(nix::sys::wait::WaitStatus::StillAlive) => {
                    let _ = self.signal(libc::SIGKILL);
                    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(self.pid), None);
                    return;
                }
                _ => return,
            }
        }
    }

    pub fn signal(&self, sig: i32) -> Result<()> {
        match &self.pidfd {
            Some(fd) => sys::pidfd_send_signal(fd.as_raw_fd(), sig).context("signalling pause"),
            None => super::process::signal_child(self.pid, sig),
        }
    }
}
