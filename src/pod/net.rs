//! Non-blocking TCP for the pod's network clients (httpGet and tcpSocket hooks and probes,
//! gRPC probes): start a connect, learn when it finished, send without SIGPIPE, and word
//! socket errors as Go (and so the kubelet) does.

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{send, MsgFlags};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd};

/// Lower-case errno text, as Go prints syscall errors ("connection refused").
pub fn errtext(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_lowercase(),
        None => e.to_string(),
    }
}

/// Starts a non-blocking TCP connect; an immediate error is Go-style text.
pub fn dial(addr: SocketAddr) -> Result<TcpStream, String> {
    use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, SockaddrStorage};
    let fam = if addr.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
    let fd = socket(fam, SockType::Stream, SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC, None)
        .map_err(|e| format!("dial tcp {addr}: socket: {}", e.desc().to_lowercase()))?;
    match connect(fd.as_raw_fd(), &SockaddrStorage::from(addr)) {
        Ok(()) | Err(nix::errno::Errno::EINPROGRESS) => Ok(TcpStream::from(fd)),
        Err(e) => Err(format!("dial tcp {addr}: connect: {}", e.desc().to_lowercase())),
    }
}

/// Whether a connect started by `dial` has finished: None while still in progress.
pub fn connected(sock: &TcpStream, addr: SocketAddr) -> Option<Result<(), String>> {
    let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLOUT)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(0) | Err(nix::errno::Errno::EINTR) => return None,
        _ => {}
    }
    match sock.take_error() {
        Ok(None) => Some(Ok(())),
        Ok(Some(e)) | Err(e) => Some(Err(format!("dial tcp {addr}: connect: {}", errtext(&e)))),
    }
}

/// send(2) with MSG_NOSIGNAL: a peer that went away must not SIGPIPE the supervisor.
pub fn send_nosig(sock: &TcpStream, buf: &[u8]) -> std::io::Result<usize> {
    send(sock.as_raw_fd(), buf, MsgFlags::MSG_NOSIGNAL).map_err(std::io::Error::from)
}

/// Go's text for a socket I/O error: "read tcp 127.0.0.1:5->127.0.0.1:80: read: <errno>".
pub fn io_error(op: &str, sock: &TcpStream, e: &std::io::Error) -> String {
    match (sock.local_addr(), sock.peer_addr()) {
        (Ok(l), Ok(p)) => format!("{op} tcp {l}->{p}: {op}: {}", errtext(e)),
        _ => format!("{op} tcp: {}", errtext(e)),
    }
}
