//! The kubelet's gRPC probe: one `grpc.health.v1.Health/Check` unary call over h2c (HTTP/2
//! with prior knowledge) as a non-blocking state machine for the supervisor's poll loop.
//! Success iff the answer is SERVING. A minimal HTTP/2 client: preface, SETTINGS (ours, and
//! ACKs of the server's), one HEADERS and one DATA frame out; SETTINGS, PING (answered),
//! WINDOW_UPDATE, GOAWAY, RST_STREAM, HEADERS + CONTINUATION and DATA in. HPACK is in
//! `hpack`. Messages follow the kubelet's (`pkg/probe/grpc`). Input is bounded: frames 16 KiB,
//! header blocks and lists 64 KiB, the response message 64 KiB.

use super::hpack::{self, Decoder};
use super::http::{Outcome, USER_AGENT};
use crate::pod::net::{connected, dial, io_error, send_nosig};
use nix::poll::PollFlags;
use std::io::{ErrorKind, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

mod wire;
use wire::*;

/// The HTTP/2 connection and the one call, without the socket (so tests can feed it bytes).
struct H2 {
    target: String,
    within: String,
    out: Vec<u8>,
    inbuf: Vec<u8>,
    hpack: Decoder,
    preface_seen: bool,
    block: Option<(u32, bool, Vec<u8>)>, // stream, END_STREAM, fragments until END_HEADERS
    headers: Option<Vec<(String, String)>>,
    trailers: Option<Vec<(String, String)>>,
    data: Vec<u8>,
    received: usize,
    goaway: Option<String>,
}

impl H2 {
    fn new(target: String, within: String, service: &str) -> H2 {
        let mut out = PREFACE.to_vec();
        let mut s = Vec::new();
        for (id, v) in [(2u16, 0u32), (4, WINDOW), (6, MAX_HEADER_LIST as u32)] {
            s.extend_from_slice(&id.to_be_bytes());
            s.extend_from_slice(&v.to_be_bytes());
        }
        frame(&mut out, SETTINGS, 0, 0, &s);
        frame(&mut out, WINDOW_UPDATE, 0, 0, &(WINDOW - 65535).to_be_bytes());
        let mut block = Vec::new();
        for (k, v) in [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/grpc.health.v1.Health/Check"),
            (":authority", &target),
            ("content-type", "application/grpc"),
            ("user-agent", USER_AGENT),
            ("te", "trailers"),
        ] {
            hpack::encode_literal(k, v, &mut block);
        }
        frame(&mut out, HEADERS, END_HEADERS, 1, &block);
        let mut pb = Vec::new();
        if !service.is_empty() {
            pb.push(0x0a);
            let mut n = service.len();
            while n >= 0x80 {
                pb.push((n as u8 & 0x7f) | 0x80);
                n >>= 7;
            }
            pb.push(n as u8);
            pb.extend_from_slice(service.as_bytes());
        }
        let mut msg = vec![0];
        msg.extend_from_slice(&(pb.len() as u32).to_be_bytes());
        msg.extend_from_slice(&pb);
        frame(&mut out, DATA, END_STREAM, 1, &msg);
        H2 {
            target,
            within,
            out,
            inbuf: Vec::new(),
            hpack: Decoder::new(hpack::DEFAULT_TABLE_SIZE),
            preface_seen: false,
            block: None,
            headers: None,
            trailers: None,
            data: Vec::new(),
            received: 0,
            goaway: None,
        }
    }

    fn connect_failure(&self, why: &str) -> Outcome {
        Outcome::Failure(format!("timeout: failed to connect service {:?} within {}: {why}", self.target, self.within))
    }

    fn rpc_failure(&self, code: u32, msg: &str) -> Outcome {
        match code {
            12 => Outcome::Failure(format!(
                "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): {msg}"
            )),
            4 => Outcome::Failure(format!("timeout: health rpc did not complete within {}", self.within)),
            _ => {
                let name = CODES.get(code as usize).map_or_else(|| format!("Code({code})"), |s| s.to_string());
                Outcome::Failure(format!("error: health rpc probe failed: rpc error: code = {name} desc = {msg}"))
            }
        }
    }

    /// The connection ended (EOF or an I/O error) before the call did.
    fn closed(&self, why: &str) -> Outcome {
        if !self.preface_seen {
            return self.connect_failure(&format!("connection closed before server preface received ({why})"));
        }
        let why = match &self.goaway {
            Some(g) => format!("{why}, received prior goaway: {g}"),
            None => why.to_string(),
        };
        self.rpc_failure(UNAVAILABLE, &format!("error reading from server: {why}"))
    }

    /// Consumes bytes from the server; Some when the call is over.
    fn feed(&mut self, bytes: &[u8]) -> Option<Outcome> {
        self.inbuf.extend_from_slice(bytes);
        let mut used = 0;
        let result = loop {
            match parse_frame(&self.inbuf[used..]) {
                Ok(None) => break None,
                Err(e) => break Some(self.protocol(&e)),
                Ok(Some((typ, flags, stream, payload))) => {
                    let (n, payload) = (9 + payload.len(), payload.to_vec());
                    used += n;
                    if let Some(o) = self.on_frame(typ, flags, stream, &payload) {
                        break Some(o);
                    }
                }
            }
        };
        self.inbuf.drain(..used);
        result
    }

    fn protocol(&self, e: &str) -> Outcome {
        if !self.preface_seen {
            return self.connect_failure(&format!("{e} (is it an HTTP/2 server?)"));
        }
        self.rpc_failure(INTERNAL, &format!("connection error: desc = {e:?}"))
    }

    fn on_frame(&mut self, typ: u8, flags: u8, stream: u32, p: &[u8]) -> Option<Outcome> {
        if !self.preface_seen && (typ != SETTINGS || flags & ACK != 0) {
            return Some(self.protocol("the server's first frame is not SETTINGS"));
        }
        if let Some((s, _, _)) = &self.block {
            if typ != CONTINUATION || stream != *s {
                return Some(self.protocol("expected a CONTINUATION frame"));
            }
        }
        if self.out.len() > MAX_PENDING_OUT {
            // SETTINGS or PING floods from a peer that does not read our ACKs.
            return Some(self.protocol("too many unanswered control frames (ENHANCE_YOUR_CALM)"));
        }
        let conn_frame = matches!(typ, SETTINGS | PING | GOAWAY);
        if conn_frame != (stream == 0) && typ <= CONTINUATION && typ != WINDOW_UPDATE {
            return Some(self.protocol(&format!("frame type {typ} on stream {stream}")));
        }
        match typ {
            SETTINGS if flags & ACK != 0 => (!p.is_empty()).then(|| self.protocol("SETTINGS ACK with a payload")),
            SETTINGS => {
                if p.len() % 6 != 0 {
                    return Some(self.protocol("SETTINGS of a bad length"));
                }
                self.preface_seen = true;
                frame(&mut self.out, SETTINGS, ACK, 0, &[]);
                None
            }
            PING if p.len() != 8 => Some(self.protocol("PING of a bad length")),
            PING => {
                if flags & ACK == 0 {
                    frame(&mut self.out, PING, ACK, 0, p);
                }
                None
            }
            GOAWAY if p.len() < 8 => Some(self.protocol("GOAWAY of a bad length")),
            GOAWAY => {
                let last = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff;
                let code = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
                let debug = String::from_utf8_lossy(&p[8..p.len().min(8 + 256)]).into_owned();
                let g = format!("code: {}, debug data: {debug:?}", h2_error(code));
                if last < 1 {
                    return Some(
                        self.rpc_failure(UNAVAILABLE, &format!("the connection is draining: received goaway: {g}")),
                    );
                }
                self.goaway = Some(g);
                None
            }
            RST_STREAM if p.len() != 4 => Some(self.protocol("RST_STREAM of a bad length")),
            RST_STREAM if stream == 1 => {
                let code = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
                let grpc = match code {
                    7 => UNAVAILABLE,
                    8 => 1,
                    11 => 8,
                    12 => 7,
                    _ => INTERNAL,
                };
                Some(
                    self.rpc_failure(
                        grpc,
                        &format!("stream terminated by RST_STREAM with error code: {}", h2_error(code)),
                    ),
                )
            }
            PUSH_PROMISE => Some(self.protocol("PUSH_PROMISE although push is disabled")),
            HEADERS | CONTINUATION => {
                let frag = if typ == HEADERS {
                    let pad_skip = usize::from(flags & PADDED != 0) + if flags & PRIORITY != 0 { 5 } else { 0 };
                    let Some(body) = strip_padding(p, flags, pad_skip) else {
                        return Some(self.protocol("bad padding"));
                    };
                    self.block = Some((stream, flags & END_STREAM != 0, Vec::new()));
                    body
                } else if self.block.is_none() {
                    return Some(self.protocol("CONTINUATION without HEADERS"));
                } else {
                    p
                };
                let (s, end, mut block) = self.block.take()?;
                if block.len() + frag.len() > MAX_HEADER_LIST {
                    return Some(self.protocol("header block too large"));
                }
                block.extend_from_slice(frag);
                if flags & END_HEADERS == 0 {
                    self.block = Some((s, end, block));
                    return None;
                }
                self.on_header_block(s, end, &block)
            }
            DATA => {
                self.received += p.len();
                let Some(body) = strip_padding(p, flags, usize::from(flags & PADDED != 0)) else {
                    return Some(self.protocol("bad padding"));
                };
                if stream != 1 || self.headers.is_none() || self.trailers.is_some() {
                    return Some(self.protocol("DATA on an unexpected stream or before HEADERS"));
                }
                if self.received > WINDOW as usize {
                    return Some(self.protocol("flow control window exceeded"));
                }
                if self.data.len() + body.len() > MAX_MESSAGE + 5 {
                    return Some(self.rpc_failure(
                        8,
                        &format!(
                            "grpc: received message larger than max ({} vs. {MAX_MESSAGE})",
                            self.data.len() + body.len() - 5
                        ),
                    ));
                }
                self.data.extend_from_slice(body);
                (flags & END_STREAM != 0).then(|| self.verdict())
            }
            _ => None, // WINDOW_UPDATE, PRIORITY, RST_STREAM on other streams, unknown types
        }
    }

    fn on_header_block(&mut self, stream: u32, end: bool, block: &[u8]) -> Option<Outcome> {
        // Always decode: the dynamic table must stay in step even for blocks we then ignore.
        let list = match self.hpack.decode(block, MAX_HEADER_LIST) {
            Ok(l) => l,
            Err(e) => return Some(self.protocol(&format!("{e} (COMPRESSION_ERROR)"))),
        };
        if stream != 1 {
            return None;
        }
        if self.headers.is_none() {
            self.headers = Some(list);
        } else if self.trailers.is_none() && end {
            self.trailers = Some(list);
        } else {
            return Some(self.protocol("unexpected HEADERS frame"));
        }
        end.then(|| self.verdict())
    }

    /// The stream has ended: the call's result.
    fn verdict(&self) -> Outcome {
        let empty = Vec::new();
        let headers = self.headers.as_ref().unwrap_or(&empty);
        let status = find(headers, ":status").unwrap_or("");
        if status != "200" {
            let code = match status {
                "400" => INTERNAL,
                "401" => 16,
                "403" => 7,
                "404" => 12,
                "429" | "502" | "503" | "504" => UNAVAILABLE,
                _ => UNKNOWN,
            };
            return self.rpc_failure(code, &format!("unexpected HTTP status code received from server: {status}"));
        }
        let ct = find(headers, "content-type").unwrap_or("");
        if !(ct == "application/grpc" || ct.starts_with("application/grpc+") || ct.starts_with("application/grpc;")) {
            return self.rpc_failure(UNKNOWN, &format!("transport: received unexpected content-type {ct:?}"));
        }
        let trailers = self.trailers.as_ref().unwrap_or(headers);
        let Some(code) = find(trailers, "grpc-status") else {
            return self.rpc_failure(INTERNAL, "server closed the stream without sending trailers");
        };
        let Ok(code) = code.parse::<u32>() else {
            return self.rpc_failure(INTERNAL, &format!("transport: malformed grpc-status: {code:?}"));
        };
        if code != 0 {
            return self.rpc_failure(code, &percent_decode(find(trailers, "grpc-message").unwrap_or("")));
        }
        let d = &self.data;
        if d.is_empty() {
            return self.rpc_failure(
                INTERNAL,
                "cardinality violation: received no response message from non-server-streaming RPC",
            );
        }
        let len = d.get(1..5).map_or(usize::MAX, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
        if d[0] != 0 {
            return self.rpc_failure(INTERNAL, "grpc: compressed flag set with identity or empty encoding");
        }
        if len == usize::MAX || d.len() < 5 + len {
            return self.rpc_failure(INTERNAL, "grpc: failed to receive the whole message: unexpected EOF");
        }
        if d.len() > 5 + len {
            return self.rpc_failure(
                INTERNAL,
                "cardinality violation: expected <EOF> for non server-streaming RPCs, but received another message",
            );
        }
        match health_status(&d[5..]) {
            None => self.rpc_failure(INTERNAL, "grpc: failed to unmarshal the received message: malformed protobuf"),
            Some(1) => Outcome::Success("service healthy".into()),
            Some(s) => {
                let name = match s {
                    0 => "UNKNOWN".to_string(),
                    2 => "NOT_SERVING".to_string(),
                    3 => "SERVICE_UNKNOWN".to_string(),
                    n => n.to_string(),
                };
                Outcome::Failure(format!("service unhealthy (responded with {name:?})"))
            }
        }
    }
}

/// A HEADERS or DATA payload without its padding (and `skip` leading bytes: pad length,
/// priority); None when the padding does not fit.
fn strip_padding(p: &[u8], flags: u8, skip: usize) -> Option<&[u8]> {
    let pad = if flags & PADDED != 0 { usize::from(*p.first()?) } else { 0 };
    let end = p.len().checked_sub(pad)?;
    p.get(skip..end)
}

enum State {
    Done(Option<Outcome>),
    Connecting(TcpStream),
    Open(TcpStream),
}

/// A running gRPC health probe. The timeout is the caller's: it drops the probe (closing the
/// socket) and reports `timeout_message()`.
pub struct GrpcProbe {
    addr: SocketAddr,
    h2: H2,
    sent: usize,
    state: State,
}

impl GrpcProbe {
    /// Starts `grpc.health.v1.Health/Check` for `service` ("" when unset) on 127.0.0.1:port;
    /// never blocks. Errors surface as a Failure on the first `progress()`.
    pub fn start(port: u16, service: &str) -> GrpcProbe {
        GrpcProbe::start_with_timeout(port, service, Duration::from_secs(1))
    }

    /// Like `start`; `timeout` (the probe's timeoutSeconds) only words the messages.
    pub fn start_with_timeout(port: u16, service: &str, timeout: Duration) -> GrpcProbe {
        let addr = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
        let h2 = H2::new(addr.to_string(), go_duration(timeout), service);
        let state = if service.len() > MAX_SERVICE {
            State::Done(Some(Outcome::Failure(format!(
                "error: health rpc probe failed: service name longer than {MAX_SERVICE} bytes"
            ))))
        } else {
            match dial(addr) {
                Ok(s) => State::Connecting(s),
                Err(e) => State::Done(Some(h2.connect_failure(&e))),
            }
        };
        GrpcProbe { addr, h2, sent: 0, state }
    }

    /// The message for a probe the caller timed out, as the kubelet words it.
    pub fn timeout_message(&self) -> String {
        if self.h2.preface_seen {
            format!("timeout: health rpc did not complete within {}", self.h2.within)
        } else {
            format!(
                "timeout: failed to connect service {:?} within {}: context deadline exceeded",
                self.h2.target, self.h2.within
            )
        }
    }

    /// The fd and events to wait for; None once finished.
    pub fn poll_fd(&self) -> Option<(BorrowedFd<'_>, PollFlags)> {
        match &self.state {
            State::Done(_) => None,
            State::Connecting(s) => Some((s.as_fd(), PollFlags::POLLOUT)),
            State::Open(s) if self.sent < self.h2.out.len() => {
                Some((s.as_fd(), PollFlags::POLLIN | PollFlags::POLLOUT))
            }
            State::Open(s) => Some((s.as_fd(), PollFlags::POLLIN)),
        }
    }

    /// Makes all the progress possible without blocking; Some(outcome) when finished.
    pub fn progress(&mut self) -> Option<Outcome> {
        let out = match std::mem::replace(&mut self.state, State::Done(None)) {
            State::Done(o) => o,
            State::Connecting(sock) => match connected(&sock, self.addr) {
                None => {
                    self.state = State::Connecting(sock);
                    None
                }
                Some(Err(e)) => Some(self.h2.connect_failure(&e)),
                Some(Ok(())) => {
                    self.state = State::Open(sock);
                    return self.progress();
                }
            },
            State::Open(sock) => match self.pump(&sock) {
                None => {
                    self.state = State::Open(sock);
                    None
                }
                done => done,
            },
        };
        if out.is_some() {
            self.h2.out = Vec::new();
        }
        out
    }

    /// Reads everything available (the answer may already be there), then writes what is due.
    fn pump(&mut self, mut sock: &TcpStream) -> Option<Outcome> {
        let mut chunk = vec![0u8; MAX_FRAME + 9];
        for _ in 0..64 {
            match sock.read(&mut chunk) {
                Ok(0) => return Some(self.h2.closed("EOF")),
                Ok(n) => {
                    if let Some(o) = self.h2.feed(&chunk[..n]) {
                        return Some(o);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Some(self.h2.closed(&io_error("read", sock, &e))),
            }
        }
        while self.sent < self.h2.out.len() {
            match send_nosig(sock, &self.h2.out[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Some(self.h2.closed(&io_error("write", sock, &e))),
            }
        }
        if self.sent == self.h2.out.len() && self.sent > 0 {
            self.h2.out.clear(); // keep only what is still due (ACKs) from now on
            self.sent = 0;
        }
        None
    }
}

#[cfg(test)]
mod tests;
