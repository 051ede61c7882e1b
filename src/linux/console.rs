//! Terminals: a pty pair made on the host, the slave for the container, the master sent to the
//! caller over --console-socket (one SCM_RIGHTS message, as runc, conmon and go-runc expect).

use anyhow::{bail, Context, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Opens a new pty. The slave comes from TIOCGPTPEER, with no path lookup (CVE-2025-52565).
pub fn open_pty(size: Option<(u16, u16)>) -> Result<Pty> {
    // SAFETY: open of a constant path.
    let m = unsafe { libc::open(c"/dev/ptmx".as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if m < 0 {
        return Err(std::io::Error::last_os_error()).context("opening /dev/ptmx");
    }
    // SAFETY: m is a new fd we own.
    let master = unsafe { OwnedFd::from_raw_fd(m) };
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK takes a pointer to an int.
    if unsafe { libc::ioctl(m, libc::TIOCSPTLCK, &unlock) } < 0 {
        return Err(std::io::Error::last_os_error()).context("unlocking the pty");
    }
    // SAFETY: TIOCGPTPEER returns a new fd for the slave.
    let s = unsafe { libc::ioctl(m, libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if s < 0 {
        return Err(std::io::Error::last_os_error()).context("opening the pty slave");
    }
    // SAFETY: s is a new fd we own.
    let slave = unsafe { OwnedFd::from_raw_fd(s) };
    if let Some((rows, cols)) = size {
        set_size(&master, rows, cols)?;
    }
    Ok(Pty { master, slave })
}

pub fn set_size(fd: &OwnedFd, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ takes a pointer to a winsize.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(std::io::Error::last_os_error()).context("setting the terminal size");
    }
    Ok(())
}

/// Connects to the console socket and sends the master: data = the pty name, one fd.
pub fn send_master(path: &Path, master: &OwnedFd) -> Result<()> {
    use nix::sys::socket::{
        connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
    };
    let sock = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)
        .context("creating the console socket")?;
    let addr = UnixAddr::new(path).with_context(|| format!("console socket path {}", path.display()))?;
    connect(sock.as_raw_fd(), &addr).with_context(|| format!("connecting to console socket {}", path.display()))?;
    let name = b"/dev/ptmx";
    let iov = [std::io::IoSlice::new(name)];
    let fds = [master.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let n = sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)
        .with_context(|| format!("sending the console to {}", path.display()))?;
    if n != name.len() {
        bail!("short write to console socket {}", path.display());
    }
    Ok(())
}

/// Copies the size of the terminal on our stdin (if any) to the pty.
pub fn copy_size_from_stdin(master: &OwnedFd) {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a pointer to a stack winsize.
    unsafe {
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
        }
    }
}
