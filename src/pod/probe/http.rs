//! The kubelet's httpGet probe (pod-lifecycle.md §7.4, design-notes.md §8) as a non-blocking
//! state machine for the supervisor's poll loop: connect, send, read the head, then the body
//! up to 10 KiB. 200 <= status < 400 is success (3xx: a warning); same-origin redirects are
//! followed until the 10th redirect response (Go's client, a Failure); other hosts (or ports,
//! security.md S-53) are never contacted. The caller enforces the timeout by dropping the
//! probe, which closes its socket.

use anyhow::{bail, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{send, MsgFlags};
use std::io::{ErrorKind, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// The User-Agent the kubelet sends (`kube-probe/<major>.<minor>`).
pub const USER_AGENT: &str = "kube-probe/1.33";
const MAX_BODY: usize = 10 * 1024;
const MAX_HEAD: usize = 64 * 1024;
const MAX_REDIRECTS: usize = 10;
const MAX_INFORMATIONAL: u8 = 5;

/// A probe's result. Warning counts as success (with a ProbeWarning event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success(String),
    Warning(String),
    Failure(String),
}

/// Lower-case errno text, as Go prints syscall errors ("connection refused").
pub(crate) fn errtext(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_lowercase(),
        None => e.to_string(),
    }
}

/// Starts a non-blocking TCP connect; an immediate error is Go-style text.
pub(crate) fn dial(addr: SocketAddr) -> std::result::Result<TcpStream, String> {
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
pub(crate) fn connected(sock: &TcpStream, addr: SocketAddr) -> Option<std::result::Result<(), String>> {
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
pub(crate) fn send_nosig(sock: &TcpStream, buf: &[u8]) -> std::io::Result<usize> {
    send(sock.as_raw_fd(), buf, MsgFlags::MSG_NOSIGNAL).map_err(std::io::Error::from)
}

/// Go's text for a socket I/O error: "read tcp 127.0.0.1:5->127.0.0.1:80: read: <errno>".
pub(crate) fn io_error(op: &str, sock: &TcpStream, e: &std::io::Error) -> String {
    match (sock.local_addr(), sock.peer_addr()) {
        (Ok(l), Ok(p)) => format!("{op} tcp {l}->{p}: {op}: {}", errtext(e)),
        _ => format!("{op} tcp: {}", errtext(e)),
    }
}

mod parse;
use parse::*;
pub use parse::{header, parse_response_head};

enum State {
    Done(Option<Outcome>),
    Connecting(TcpStream),
    Sending { sock: TcpStream, req: Vec<u8>, off: usize },
    Head { sock: TcpStream, buf: Vec<u8>, informational: u8 },
    Body { sock: TcpStream, status: u16, framing: Framing, raw: Vec<u8>, body: Vec<u8> },
}

enum Step {
    Wait(State),
    Next(State),
    Finish(Outcome),
}

/// A running httpGet probe (possibly across redirects). Poll `poll_fd()` afresh before every
/// wait: a redirect opens a new socket.
pub struct HttpProbe {
    url: Url,
    addr: SocketAddr,
    head_lines: String,
    redirects: usize,
    state: State,
}

impl HttpProbe {
    /// Starts an HTTP probe; never blocks. `host` is an IP literal, "localhost", or empty (the
    /// pod: 127.0.0.1). `headers` are the probe's httpHeaders. Errors surface as a Failure
    /// on the first `progress()`.
    pub fn start(host: &str, port: u16, path: &str, headers: &[(String, String)]) -> HttpProbe {
        HttpProbe::start_scheme("HTTP", host, port, path, headers)
    }

    /// Like `start`, with the probe's scheme: HTTPS is refused (no TLS in runp).
    pub fn start_scheme(scheme: &str, host: &str, port: u16, path: &str, headers: &[(String, String)]) -> HttpProbe {
        let host = host.trim().trim_start_matches('[').trim_end_matches(']');
        let (url_host, ip) = match host {
            "" => ("127.0.0.1".to_string(), Some(IpAddr::V4(Ipv4Addr::LOCALHOST))),
            h if h.eq_ignore_ascii_case("localhost") => {
                ("localhost".to_string(), Some(IpAddr::V4(Ipv4Addr::LOCALHOST)))
            }
            h => (h.to_ascii_lowercase(), h.parse().ok()),
        };
        let url = Url { host: url_host, port, target: normalize_target(path) };
        let addr = SocketAddr::new(ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), port);
        let mut p = HttpProbe { url, addr, head_lines: String::new(), redirects: 0, state: State::Done(None) };
        let fail = |m: String| State::Done(Some(Outcome::Failure(m)));
        p.state = if !scheme.eq_ignore_ascii_case("http") {
            fail("HTTPS probes are not supported".into())
        } else if ip.is_none() {
            fail(format!("Get \"{}\": dial tcp: lookup {host}: only IP addresses and localhost are supported", p.url))
        } else {
            match p.build_head(headers) {
                Err(e) => fail(format!("Get \"{}\": {e}", p.url)),
                Ok(()) => match p.connect() {
                    Step::Next(s) | Step::Wait(s) => s,
                    Step::Finish(o) => State::Done(Some(o)),
                },
            }
        };
        p
    }

    fn build_head(&mut self, headers: &[(String, String)]) -> Result<()> {
        let first = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let mut lines = Vec::new();
        let host = first("host").filter(|v| !v.is_empty()).map(str::to_string).unwrap_or_else(|| self.url.authority());
        lines.push(("Host".to_string(), host));
        let ua = first("user-agent").unwrap_or(USER_AGENT);
        if !ua.is_empty() {
            lines.push(("User-Agent".to_string(), ua.to_string()));
        }
        for (name, default) in [("accept", "*/*"), ("connection", "close")] {
            match first(name) {
                None => lines.push((canonical_key(name), default.to_string())),
                Some("") => {}
                Some(_) => lines.extend(
                    headers
                        .iter()
                        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(k, v)| (canonical_key(k), v.clone())),
                ),
            }
        }
        for (k, v) in headers {
            if ["host", "user-agent", "accept", "connection"].iter().any(|n| k.eq_ignore_ascii_case(n)) {
                continue;
            }
            lines.push((canonical_key(k), v.clone()));
        }
        for (k, v) in &lines {
            if !is_token(k) {
                bail!("net/http: invalid header field name {k:?}");
            }
            if v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                bail!("net/http: invalid header field value for {k:?}");
            }
            self.head_lines.push_str(&format!("{k}: {v}\r\n"));
        }
        Ok(())
    }

    fn connect(&self) -> Step {
        match dial(self.addr) {
            Ok(sock) => Step::Next(State::Connecting(sock)),
            Err(e) => Step::Finish(Outcome::Failure(format!("Get \"{}\": {e}", self.url))),
        }
    }

    /// The message for a probe the caller timed out, as the kubelet words it.
    pub fn timeout_message(&self) -> String {
        format!("Get \"{}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)", self.url)
    }

    /// The fd and events to wait for; None once finished (or before the first `progress()`
    /// hands out an immediate error).
    pub fn poll_fd(&self) -> Option<(BorrowedFd<'_>, PollFlags)> {
        match &self.state {
            State::Done(_) => None,
            State::Connecting(s) | State::Sending { sock: s, .. } => Some((s.as_fd(), PollFlags::POLLOUT)),
            State::Head { sock, .. } | State::Body { sock, .. } => Some((sock.as_fd(), PollFlags::POLLIN)),
        }
    }

    /// Makes all the progress possible without blocking; Some(outcome) when finished.
    pub fn progress(&mut self) -> Option<Outcome> {
        for _ in 0..10_000 {
            let state = std::mem::replace(&mut self.state, State::Done(None));
            match self.step(state) {
                Step::Wait(s) => {
                    self.state = s;
                    return None;
                }
                Step::Next(s) => self.state = s,
                Step::Finish(o) => return Some(o),
            }
        }
        None // a pathological peer; the next call continues
    }

    fn fail(&self, e: impl std::fmt::Display) -> Step {
        Step::Finish(Outcome::Failure(format!("Get \"{}\": {e}", self.url)))
    }

    fn step(&mut self, state: State) -> Step {
        match state {
            State::Done(Some(o)) => Step::Finish(o),
            State::Done(None) => Step::Wait(State::Done(None)),
            State::Connecting(sock) => match connected(&sock, self.addr) {
                None => Step::Wait(State::Connecting(sock)),
                Some(Err(e)) => self.fail(e),
                Some(Ok(())) => {
                    let req = format!("GET {} HTTP/1.1\r\n{}\r\n", self.url.target, self.head_lines).into_bytes();
                    Step::Next(State::Sending { sock, req, off: 0 })
                }
            },
            State::Sending { sock, req, off } => match send_nosig(&sock, &req[off..]) {
                Ok(n) if off + n >= req.len() => Step::Next(State::Head { sock, buf: Vec::new(), informational: 0 }),
                Ok(n) => Step::Next(State::Sending { sock, req, off: off + n }),
                Err(e) if e.kind() == ErrorKind::WouldBlock => Step::Wait(State::Sending { sock, req, off }),
                Err(e) if e.kind() == ErrorKind::Interrupted => Step::Next(State::Sending { sock, req, off }),
                Err(e) => self.fail(io_error("write", &sock, &e)),
            },
            State::Head { sock, mut buf, informational } => match parse_response_head(&buf) {
                Err(e) => self.fail(format!("net/http: HTTP/1.x transport connection broken: {e}")),
                Ok(Some((status, _, len))) if (100..200).contains(&status) && status != 101 => {
                    if informational >= MAX_INFORMATIONAL {
                        return self.fail("net/http: too many 1xx informational responses");
                    }
                    buf.drain(..len);
                    Step::Next(State::Head { sock, buf, informational: informational + 1 })
                }
                Ok(Some((status, headers, len))) => self.decide(sock, status, &headers, buf.split_off(len)),
                Ok(None) => match read_some(&sock, &mut buf) {
                    Ok(true) => Step::Next(State::Head { sock, buf, informational }),
                    Ok(false) => self.fail(if buf.is_empty() { "EOF" } else { "unexpected EOF" }),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => Step::Wait(State::Head { sock, buf, informational }),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {
                        Step::Next(State::Head { sock, buf, informational })
                    }
                    Err(e) => self.fail(io_error("read", &sock, &e)),
                },
            },
            State::Body { sock, status, mut framing, mut raw, mut body } => {
                // The status already decided; a body that breaks off still reports it.
                let finish = |body: &[u8]| Step::Finish(verdict(status, body));
                match feed(&mut framing, &mut raw, &mut body) {
                    Ok(true) | Err(_) => return finish(&body),
                    Ok(false) => {}
                }
                match read_some(&sock, &mut raw) {
                    Ok(true) => Step::Next(State::Body { sock, status, framing, raw, body }),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        Step::Wait(State::Body { sock, status, framing, raw, body })
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {
                        Step::Next(State::Body { sock, status, framing, raw, body })
                    }
                    Ok(false) | Err(_) => finish(&body),
                }
            }
        }
    }

    fn decide(&mut self, sock: TcpStream, status: u16, headers: &[(String, String)], raw: Vec<u8>) -> Step {
        let location = header(headers, "location").filter(|l| !l.is_empty());
        if let (true, Some(loc)) = ([301, 302, 303, 307, 308].contains(&status), location) {
            match resolve_location(&self.url, loc) {
                Err(e) => return self.fail(format!("failed to parse Location header {loc:?}: {e}")),
                Ok(None) => {} // another host: not followed, a warning below
                Ok(Some(next)) => {
                    // Go's client: the 10th redirect response ends the chain (9 are followed).
                    if self.redirects + 1 >= MAX_REDIRECTS {
                        return Step::Finish(Outcome::Failure(format!(
                            "Get {loc:?}: stopped after {MAX_REDIRECTS} redirects"
                        )));
                    }
                    drop(sock);
                    self.redirects += 1;
                    self.url = next;
                    return self.connect();
                }
            }
        }
        if !(200..400).contains(&status) {
            return Step::Finish(Outcome::Failure(format!("HTTP probe failed with statuscode: {status}")));
        }
        let te = header(headers, "transfer-encoding")
            .map(|v| v.rsplit(',').next().unwrap_or("").trim().to_ascii_lowercase());
        let framing = if status == 204 || status == 304 {
            Framing::Done
        } else if te.as_deref() == Some("chunked") {
            Framing::ChunkSize
        } else if let Some(cl) = header(headers, "content-length") {
            match cl.trim().parse::<usize>() {
                Ok(n) => Framing::Length(n),
                Err(_) => {
                    return self
                        .fail(format!("net/http: HTTP/1.x transport connection broken: bad Content-Length {cl:?}"))
                }
            }
        } else {
            Framing::Eof
        };
        Step::Next(State::Body { sock, status, framing, raw, body: Vec::new() })
    }
}

/// Reads once into `buf`: Ok(false) on EOF.
fn read_some(mut sock: &TcpStream, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut chunk = [0u8; 4096];
    let n = sock.read(&mut chunk)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

fn verdict(status: u16, body: &[u8]) -> Outcome {
    let body = String::from_utf8_lossy(body).into_owned();
    if status >= 300 {
        Outcome::Warning(format!("Probe terminated redirects, Response body: {body}"))
    } else {
        Outcome::Success(body)
    }
}

#[cfg(test)]
mod tests;
