//! Relaying a container's terminal when runp itself holds the pty master (foreground run/exec).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Puts our stdin in raw mode while alive (only when it is a terminal).
pub struct RawMode {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawMode {
    pub fn enter(master: &OwnedFd) -> RawMode {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        copy_size(master);
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            cfmakeraw(&mut raw);
            let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        }
        RawMode { saved }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(std::io::stdin().as_fd(), nix::sys::termios::SetArg::TCSANOW, t);
        }
    }
}

/// Copies our terminal's size to the pty.
pub fn copy_size(master: &OwnedFd) {
    crate::linux::console::copy_size_from_stdin(master);
}

/// Copies what is available from `from` to `to`; false on EOF or error.
pub fn copy(from: BorrowedFd, to: BorrowedFd) -> bool {
    let mut buf = [0u8; 8192];
    match nix::unistd::read(from, &mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            let mut off = 0;
            while off < n {
                match nix::unistd::write(to, &buf[off..n]) {
                    Ok(w) => off += w,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => return false,
                }
            }
            true
        }
    }
}

/// Copies what is left in the pty after the process exited.
pub fn drain(master: BorrowedFd) {
    loop {
        let mut fds = [nix::poll::PollFd::new(master, nix::poll::PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO) {
            Ok(n) if n > 0 => {
                if !copy(master, std::io::stdout().as_fd()) {
                    return;
                }
            }
            _ => return,
        }
    }
}
