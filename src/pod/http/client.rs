//! One GET as a non-blocking state machine for the supervisor's poll loop: connect, send,
//! read the head (skipping 1xx), follow same-origin redirects, then read what the purpose
//! needs of the body (a probe: up to 10 KiB of a 2xx/3xx body; a hook: nothing). The caller
//! enforces any timeout by dropping the client, which closes its socket.

use super::request::{self, Purpose};
use super::response::{feed, header, parse_response_head, Framing};
use super::url::{resolve_location, Url};
use crate::pod::net::{connected, dial, io_error, send_nosig};
use nix::poll::PollFlags;
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};

/// Go's client gives up at the 10th redirect response.
const MAX_REDIRECTS: usize = 10;
const MAX_INFORMATIONAL: u8 = 5;

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The final response: its status and the body read (see the module doc).
    Response { status: u16, body: Vec<u8> },
    /// No response: Go's client's error text (`Get "<url>": …`).
    Error(String),
}

enum State {
    Done,
    Connecting(TcpStream),
    Sending { sock: TcpStream, req: Vec<u8>, off: usize },
    Head { sock: TcpStream, buf: Vec<u8>, informational: u8 },
    Body { sock: TcpStream, status: u16, framing: Framing, raw: Vec<u8>, body: Vec<u8> },
}

enum Step {
    Wait(State),
    Next(State),
    Finish(Reply),
}

/// A running GET (possibly across redirects). Ask `poll_fd()` afresh before every wait: a
/// redirect opens a new socket.
pub struct Client {
    purpose: Purpose,
    url: Url,
    addr: SocketAddr,
    header_lines: String,
    redirects: usize,
    state: State,
}

impl Client {
    /// Builds the request and starts connecting to `addr`; never blocks. An invalid header or
    /// a connect that fails at once is an error in Go's words.
    pub fn start(purpose: Purpose, addr: SocketAddr, url: Url, headers: &[(String, String)]) -> Result<Client, String> {
        let header_lines = request::header_lines(purpose, &url, headers).map_err(|e| format!("Get \"{url}\": {e}"))?;
        let sock = dial(addr).map_err(|e| format!("Get \"{url}\": {e}"))?;
        Ok(Client { purpose, url, addr, header_lines, redirects: 0, state: State::Connecting(sock) })
    }

    /// The URL being fetched (the last redirect's target).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Whether the request is out and the response is awaited.
    pub fn awaiting_response(&self) -> bool {
        matches!(self.state, State::Head { .. })
    }

    /// The fd and events to wait for; None once finished.
    pub fn poll_fd(&self) -> Option<(BorrowedFd<'_>, PollFlags)> {
        match &self.state {
            State::Done => None,
            State::Connecting(s) | State::Sending { sock: s, .. } => Some((s.as_fd(), PollFlags::POLLOUT)),
            State::Head { sock, .. } | State::Body { sock, .. } => Some((sock.as_fd(), PollFlags::POLLIN)),
        }
    }

    /// Makes all the progress possible without blocking; Some(reply) when finished.
    pub fn progress(&mut self) -> Option<Reply> {
        for _ in 0..10_000 {
            let state = std::mem::replace(&mut self.state, State::Done);
            match self.step(state) {
                Step::Wait(s) => {
                    self.state = s;
                    return None;
                }
                Step::Next(s) => self.state = s,
                Step::Finish(r) => return Some(r),
            }
        }
        None // a pathological peer; the next call continues
    }

    fn fail(&self, e: impl std::fmt::Display) -> Step {
        Step::Finish(Reply::Error(format!("Get \"{}\": {e}", self.url)))
    }

    fn connect(&self) -> Step {
        match dial(self.addr) {
            Ok(sock) => Step::Next(State::Connecting(sock)),
            Err(e) => self.fail(e),
        }
    }

    fn step(&mut self, state: State) -> Step {
        match state {
            State::Done => Step::Wait(State::Done),
            State::Connecting(sock) => match connected(&sock, self.addr) {
                None => Step::Wait(State::Connecting(sock)),
                Some(Err(e)) => self.fail(e),
                Some(Ok(())) => {
                    let req = request::request(&self.url, &self.header_lines);
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
                match feed(&mut framing, &mut raw, &mut body) {
                    Ok(true) | Err(_) => return Step::Finish(Reply::Response { status, body }),
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
                    Ok(false) | Err(_) => Step::Finish(Reply::Response { status, body }),
                }
            }
        }
    }

    /// A final head arrived: follow a same-origin redirect, or read the body if wanted.
    fn decide(&mut self, sock: TcpStream, status: u16, headers: &[(String, String)], raw: Vec<u8>) -> Step {
        let location = header(headers, "location").filter(|l| !l.is_empty());
        if let (true, Some(loc)) = ([301, 302, 303, 307, 308].contains(&status), location) {
            match resolve_location(&self.url, loc) {
                Err(e) => return self.fail(format!("failed to parse Location header {loc:?}: {e}")),
                Ok(None) => {} // another origin: not followed (security.md S-53), the answer as it is
                Ok(Some(next)) => {
                    // Go's client: the 10th redirect response ends the chain (9 are followed).
                    if self.redirects + 1 >= MAX_REDIRECTS {
                        return Step::Finish(Reply::Error(format!(
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
        let wants_body = self.purpose == Purpose::Probe && (200..400).contains(&status);
        if !wants_body {
            return Step::Finish(Reply::Response { status, body: Vec::new() });
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
