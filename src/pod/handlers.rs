//! Lifecycle handlers (postStart, preStop) as non-blocking runs inside the supervisor's loop:
//! exec (a process in the container, reaped like any child), httpGet and tcpSocket (a
//! non-blocking socket in the pod's network namespace, which the supervisor has joined), sleep
//! (a timer). The kubelet's rules: any HTTP response is success; exec needs exit 0.
//! tcpSocket hooks WORK in runp (the kubelet's always fail): a completed connect is success.

use anyhow::{anyhow, bail, Context, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Instant;

/// A running handler.
pub enum Run {
    /// An exec'd process (our child): done when it is reaped.
    Exec { pid: i32 },
    /// A socket: connecting, then (httpGet) request sent, reading the status line.
    Net { sock: TcpStream, http: Option<Vec<u8>>, sent: bool, got: Vec<u8>, addr: SocketAddr },
    /// Done at this instant.
    Sleep { until: Instant },
}

/// Where a network handler connects: `host` (IP literal or "localhost"; none = the pod).
pub fn address(host: Option<&str>, port: u16) -> Result<SocketAddr> {
    let host = match host.map(str::trim).filter(|h| !h.is_empty()) {
        None | Some("localhost") => "127.0.0.1",
        Some(h) => h,
    };
    let ip: std::net::IpAddr =
        host.parse().map_err(|_| anyhow!("host {host:?}: only IP addresses and localhost are supported"))?;
    Ok(SocketAddr::new(ip, port))
}

/// An httpGet handler's request: path, Host header, extra headers.
pub type HttpRequest = (String, String, Vec<(String, String)>);

/// Starts a non-blocking connect.
pub fn connect(addr: SocketAddr, http: Option<HttpRequest>) -> Result<Run> {
    use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, SockaddrStorage};
    let fam = if addr.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
    let fd = socket(fam, SockType::Stream, SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC, None).context("socket")?;
    let sa = SockaddrStorage::from(addr);
    match connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &sa) {
        Ok(()) | Err(nix::errno::Errno::EINPROGRESS) => {}
        Err(e) => bail!("dial tcp {addr}: connect: {}", e.desc().to_lowercase()),
    }
    let sock = TcpStream::from(fd);
    let request = http.map(|(path, host, headers)| {
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: kube-lifecycle/1.33\r\nAccept: */*\r\nConnection: close\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.into_bytes()
    });
    Ok(Run::Net { sock, http: request, sent: false, got: Vec::new(), addr })
}

impl Run {
    /// The fd and events to poll for, if any.
    pub fn poll_fd(&self) -> Option<(BorrowedFd<'_>, nix::poll::PollFlags)> {
        match self {
            Run::Net { sock, sent, http, .. } => {
                let ev =
                    if http.is_some() && *sent { nix::poll::PollFlags::POLLIN } else { nix::poll::PollFlags::POLLOUT };
                Some((sock.as_fd(), ev))
            }
            _ => None,
        }
    }

    /// Makes progress after poll said the socket is ready: Some(result) when finished.
    pub fn progress(&mut self) -> Option<Result<()>> {
        let Run::Net { sock, http, sent, got, addr } = self else { return None };
        if !*sent {
            if let Ok(Some(e)) = sock.take_error() {
                return Some(Err(anyhow!("dial tcp {addr}: connect: {}", super::probe::http::errtext(&e))));
            }
            let Some(req) = http else { return Some(Ok(())) };
            if let Err(e) = sock.write_all(req) {
                return Some(Err(anyhow!("sending request: {e}")));
            }
            *sent = true;
            return None;
        }
        let mut buf = [0u8; 1024];
        match sock.read(&mut buf) {
            Ok(0) => Some(if got.starts_with(b"HTTP/") {
                Ok(())
            } else {
                Err(anyhow!("connection closed before an HTTP response"))
            }),
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                // Any HTTP response counts, whatever the status (the kubelet's hook rule).
                if got.len() >= 12 && got.starts_with(b"HTTP/") {
                    Some(Ok(()))
                } else if got.len() > 8192 || (got.len() >= 5 && !got.starts_with(b"HTTP/")) {
                    Some(Err(anyhow!("malformed HTTP response")))
                } else {
                    None
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(e) => Some(Err(anyhow!("reading response: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn drive(mut r: Run) -> Result<()> {
        for _ in 0..1000 {
            let ready = match r.poll_fd() {
                Some((fd, ev)) => {
                    let mut fds = [nix::poll::PollFd::new(fd, ev)];
                    nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(1000u16)).unwrap() > 0
                }
                None => true,
            };
            if ready {
                if let Some(res) = r.progress() {
                    return res;
                }
            }
        }
        panic!("handler never finished");
    }

    #[test]
    fn http_any_status_is_success_and_refused_fails() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 512];
            let n = s.read(&mut buf).unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            s.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n").unwrap();
            req
        });
        let run = connect(
            address(Some("localhost"), port).unwrap(),
            Some(("/index.html".into(), format!("localhost:{port}"), vec![])),
        )
        .unwrap();
        drive(run).unwrap();
        let req = server.join().unwrap();
        assert!(req.starts_with("GET /index.html HTTP/1.1\r\n"), "{req}");
        // a closed port: refused
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        assert!(drive(connect(address(None, port).unwrap(), None).unwrap()).is_err());
        assert!(address(Some("example.com"), 80).is_err());
    }

    #[test]
    fn tcp_socket_connects() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drive(connect(address(Some("127.0.0.1"), port).unwrap(), None).unwrap()).unwrap();
    }
}
