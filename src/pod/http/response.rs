//! The response: the head (status line and header fields, parsed by `httparse`, with Go's
//! leniencies and error texts) and the body framing (Content-Length, chunked, until EOF),
//! of which at most 10 KiB is kept.

use anyhow::{anyhow, bail, Result};

/// The most body kept (the kubelet's maxRespBodyLength).
pub const MAX_BODY: usize = 10 * 1024;
/// The largest response head accepted (Go's default MaxResponseHeaderBytes is larger; this
/// bounds what a hostile server can make the supervisor buffer).
pub const MAX_HEAD: usize = 64 * 1024;

/// A parsed head: status, header fields in order, and the head's length in the buffer.
pub type Head = (u16, Vec<(String, String)>, usize);

/// Finds a header (case-insensitive) in a parsed head.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn quoted(what: &str, val: &[u8]) -> anyhow::Error {
    anyhow!("{what} {:?}", String::from_utf8_lossy(val))
}

fn first_line(buf: &[u8]) -> &[u8] {
    let line = buf.split(|&b| b == b'\n').next().unwrap_or(buf);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Go reads any `HTTP/<digit>.<digit>` status line; httparse only 1.0 and 1.1. A head whose
/// version has that shape (as far as it has arrived) is parsed as if it said 1.1.
fn as_http11(buf: &[u8]) -> Option<Vec<u8>> {
    let v = buf.get(5..buf.len().min(8))?;
    let shaped = buf.starts_with(b"HTTP/")
        && v.iter().enumerate().all(|(i, &b)| if i == 1 { b == b'.' } else { b.is_ascii_digit() });
    if !shaped || b"1.1".starts_with(v) || b"1.0".starts_with(v) {
        return None;
    }
    let mut copy = buf.to_vec();
    copy[5..5 + v.len()].copy_from_slice(&b"1.1"[..v.len()]);
    Some(copy)
}

/// Parses a response head: Ok(None) while incomplete, else (status, headers, head length).
/// Accepts CRLF or bare LF line ends, several spaces after the version, no reason phrase and
/// obs-fold continuation lines (joined with a space); rejects garbage as soon as the first
/// bytes show it is not HTTP, and heads over 64 KiB.
pub fn parse_response_head(buf: &[u8]) -> Result<Option<Head>> {
    let n = buf.len().min(5);
    if buf[..n] != b"HTTP/"[..n] {
        let line = first_line(buf);
        return Err(quoted("malformed HTTP response", &line[..line.len().min(64)]));
    }
    let patched = as_http11(buf);
    let input = patched.as_deref().unwrap_or(buf);
    let mut config = httparse::ParserConfig::default();
    config
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_response_status_delimiters(true);
    let mut room = 32;
    loop {
        let mut fields = vec![httparse::EMPTY_HEADER; room];
        let mut resp = httparse::Response::new(&mut fields);
        match config.parse_response(&mut resp, input) {
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => break,
            Ok(httparse::Status::Partial) => return Ok(None),
            Ok(httparse::Status::Complete(len)) if len > MAX_HEAD => break,
            Ok(httparse::Status::Complete(len)) => {
                let status = resp.code.ok_or_else(|| anyhow!("malformed HTTP status code"))?;
                let headers = resp.headers.iter().map(|h| (h.name.to_string(), field_value(h.value))).collect();
                return Ok(Some((status, headers, len)));
            }
            Err(httparse::Error::TooManyHeaders) if room < MAX_HEAD / 4 => room *= 8,
            Err(e) => return Err(malformed(e, buf)),
        }
    }
    bail!("net/http: server response headers exceeded {MAX_HEAD} bytes; aborted")
}

/// A field value with obs-fold line breaks (and the blanks around them) made one space.
fn field_value(v: &[u8]) -> String {
    let text = String::from_utf8_lossy(v);
    let parts: Vec<&str> =
        text.split(['\r', '\n']).map(|p| p.trim_matches([' ', '\t'])).filter(|p| !p.is_empty()).collect();
    parts.join(" ")
}

/// Go's wording for what httparse rejected.
fn malformed(e: httparse::Error, buf: &[u8]) -> anyhow::Error {
    let status_line = first_line(buf);
    let mut words = status_line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let version = words.next().unwrap_or_default();
    match e {
        httparse::Error::Version if !status_line.contains(&b' ') => quoted("malformed HTTP response", status_line),
        httparse::Error::Version => quoted("malformed HTTP version", version),
        httparse::Error::Status => quoted("malformed HTTP status code", words.next().unwrap_or_default()),
        e => {
            // The first header line that does not parse (or the head's first line).
            let rest = &buf[status_line.len().min(buf.len())..];
            let line = rest.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).find(|l| bad_field(l));
            let line = line.unwrap_or(status_line);
            anyhow!("malformed MIME header line: {:?} ({e})", String::from_utf8_lossy(&line[..line.len().min(64)]))
        }
    }
}

fn bad_field(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else { return !line.is_empty() };
    !super::request::is_token(&String::from_utf8_lossy(&line[..colon]))
}

/// How the body is delimited, and how far reading it has come.
pub enum Framing {
    Length(usize),
    ChunkSize,
    ChunkData(usize),
    ChunkEnd,
    Eof,
    Done,
}

/// Moves body bytes from `raw` into `body` (at most MAX_BODY); true when the body is complete
/// or the cap is reached. Consumed input is drained, so `raw` stays small.
pub fn feed(framing: &mut Framing, raw: &mut Vec<u8>, body: &mut Vec<u8>) -> Result<bool, String> {
    fn take(raw: &mut Vec<u8>, n: usize, body: &mut Vec<u8>) -> usize {
        let n = n.min(raw.len());
        let keep = n.min(MAX_BODY.saturating_sub(body.len()));
        body.extend_from_slice(&raw[..keep]);
        raw.drain(..n);
        n
    }
    loop {
        if body.len() >= MAX_BODY {
            return Ok(true);
        }
        match framing {
            Framing::Done => return Ok(true),
            Framing::Eof => {
                take(raw, usize::MAX, body);
                return Ok(body.len() >= MAX_BODY);
            }
            Framing::Length(left) => {
                *left -= take(raw, *left, body);
                if *left > 0 {
                    return Ok(body.len() >= MAX_BODY);
                }
                *framing = Framing::Done;
            }
            Framing::ChunkSize => match httparse::parse_chunk_size(raw) {
                Ok(httparse::Status::Partial) if raw.len() > 4096 => return Err("malformed chunked encoding".into()),
                Ok(httparse::Status::Partial) => return Ok(false),
                Err(httparse::InvalidChunkSize) => return Err("malformed chunked encoding".into()),
                Ok(httparse::Status::Complete((len, size))) => {
                    let Ok(size) = usize::try_from(size) else { return Err("malformed chunked encoding".into()) };
                    raw.drain(..len);
                    *framing = if size == 0 { Framing::Done } else { Framing::ChunkData(size) };
                }
            },
            Framing::ChunkData(left) => {
                *left -= take(raw, *left, body);
                if *left > 0 {
                    return Ok(body.len() >= MAX_BODY);
                }
                *framing = Framing::ChunkEnd;
            }
            Framing::ChunkEnd => {
                if raw.starts_with(b"\r\n") {
                    raw.drain(..2);
                    *framing = Framing::ChunkSize;
                } else if raw.is_empty() || raw[..] == b"\r"[..] {
                    return Ok(false);
                } else {
                    return Err("malformed chunked encoding".into());
                }
            }
        }
    }
}
