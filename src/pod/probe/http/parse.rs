//! probe::http's pure parts: the request URL and Location resolution, the response head
//! parser and the body framing (Content-Length, chunked, until EOF) with the 10 KiB cap.

use super::{MAX_BODY, MAX_HEAD};
use anyhow::{bail, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Url {
    pub(super) host: String, // without brackets
    pub(super) port: u16,
    pub(super) target: String, // path and query, escaped
}

impl Url {
    pub(super) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.target)
    }
}

/// Percent-encodes what may not appear raw in a request target (controls, space, non-ASCII…).
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b <= b' ' || b >= 0x7f || b"\"<>\\^`{|}".contains(&b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// RFC 3986 remove_dot_segments on an absolute path.
pub(super) fn remove_dots(path: &str) -> String {
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match *seg {
            "." => {}
            ".." => {
                out.pop();
            }
            s => {
                out.push(s);
                continue;
            }
        }
        if last {
            out.push("");
        }
    }
    format!("/{}", out.join("/"))
}

/// A probe path as the kubelet sends it: fragment dropped, leading '/', escaped.
pub(super) fn normalize_target(path: &str) -> String {
    let path = path.split('#').next().unwrap_or("");
    let (p, q) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let p = if p.starts_with('/') { remove_dots(p) } else { remove_dots(&format!("/{p}")) };
    match q {
        Some(q) => format!("{}?{}", escape(&p), escape(q)),
        None => escape(&p),
    }
}

/// Resolves a Location against the current URL: Ok(Some) for the same origin (http, same
/// host and port), Ok(None) for anything else, which is not followed.
pub(super) fn resolve_location(base: &Url, loc: &str) -> Result<Option<Url>> {
    let loc = loc.trim().split('#').next().unwrap_or("");
    let scheme_len = loc
        .find(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
        .filter(|&i| i > 0 && loc.as_bytes()[i] == b':');
    let rest = match scheme_len {
        Some(_) if !loc.as_bytes()[0].is_ascii_alphabetic() => bail!("first path segment in URL cannot contain colon"),
        Some(i) if loc[..i].eq_ignore_ascii_case("http") && loc[i + 1..].starts_with("//") => &loc[i + 1..],
        Some(_) => return Ok(None),
        None => loc,
    };
    if let Some(auth_and_path) = rest.strip_prefix("//") {
        let end = auth_and_path.find(['/', '?']).unwrap_or(auth_and_path.len());
        let (auth, path) = auth_and_path.split_at(end);
        let hostport = auth.rsplit('@').next().unwrap_or("");
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let Some((h, p)) = v6.split_once(']') else { bail!("missing ']' in host") };
            (h, p.strip_prefix(':').unwrap_or(p))
        } else {
            hostport.rsplit_once(':').unwrap_or((hostport, ""))
        };
        let port: u16 =
            if port.is_empty() { 80 } else { port.parse().map_err(|_| anyhow::anyhow!("invalid port {port:?}"))? };
        if !host.eq_ignore_ascii_case(&base.host) || port != base.port {
            return Ok(None);
        }
        let path = if path.is_empty() { "/" } else { path };
        return Ok(Some(Url { target: normalize_target(path), ..base.clone() }));
    }
    let base_path = base.target.split_once('?').map_or(base.target.as_str(), |(p, _)| p);
    let target = if rest.is_empty() {
        base.target.clone()
    } else if let Some(q) = rest.strip_prefix('?') {
        format!("{base_path}?{}", escape(q))
    } else if rest.starts_with('/') {
        normalize_target(rest)
    } else {
        let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        normalize_target(&format!("{dir}{rest}"))
    };
    Ok(Some(Url { target, ..base.clone() }))
}

pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Go's CanonicalMIMEHeaderKey ("x-custom" → "X-Custom"); non-tokens stay as they are.
pub(super) fn canonical_key(k: &str) -> String {
    if !is_token(k) {
        return k.to_string();
    }
    let mut upper = true;
    k.chars()
        .map(|c| {
            let out = if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() };
            upper = c == '-';
            out
        })
        .collect()
}

/// Finds a header (case-insensitive) in a parsed head.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn malformed(what: &str, val: &[u8]) -> anyhow::Error {
    anyhow::anyhow!("{what} {:?}", String::from_utf8_lossy(val))
}

/// Parses a response head: Ok(None) while incomplete, else (status, headers, head length).
/// Accepts CRLF or bare LF line ends and obs-fold continuation lines; rejects garbage as soon
/// as the first bytes show it is not HTTP, and heads over 64 KiB.
#[allow(clippy::type_complexity)]
pub fn parse_response_head(buf: &[u8]) -> Result<Option<(u16, Vec<(String, String)>, usize)>> {
    let n = buf.len().min(5);
    if buf[..n] != b"HTTP/"[..n] {
        let line = buf.split(|&b| b == b'\n').next().unwrap_or(buf);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        return Err(malformed("malformed HTTP response", &line[..line.len().min(64)]));
    }
    let mut lines = Vec::new();
    let mut pos = 0;
    let end = loop {
        let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') else {
            if buf.len() > MAX_HEAD {
                bail!("net/http: server response headers exceeded {MAX_HEAD} bytes; aborted");
            }
            return Ok(None);
        };
        let line = &buf[pos..pos + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += nl + 1;
        if pos > MAX_HEAD {
            bail!("net/http: server response headers exceeded {MAX_HEAD} bytes; aborted");
        }
        if line.is_empty() {
            break pos;
        }
        lines.push(line);
    };
    let status_line = lines.first().copied().unwrap_or_default();
    let Some(sp) = status_line.iter().position(|&b| b == b' ') else {
        return Err(malformed("malformed HTTP response", status_line));
    };
    let (proto, rest) = (&status_line[..sp], &status_line[sp + 1..]);
    let rest = &rest[rest.iter().position(|&b| b != b' ').unwrap_or(rest.len())..];
    let code = &rest[..rest.iter().position(|&b| b == b' ').unwrap_or(rest.len())];
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Err(malformed("malformed HTTP status code", code));
    }
    let status = code.iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
    let version = proto.strip_prefix(b"HTTP/").and_then(|v| {
        let dot = v.iter().position(|&b| b == b'.')?;
        let ok = |d: &[u8]| !d.is_empty() && d.len() <= 7 && d.iter().all(u8::is_ascii_digit);
        (ok(&v[..dot]) && ok(&v[dot + 1..])).then_some(())
    });
    if version.is_none() {
        return Err(malformed("malformed HTTP version", proto));
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(1) {
        if line[0] == b' ' || line[0] == b'\t' {
            let Some(last) = headers.last_mut().filter(|_| i > 1) else {
                return Err(malformed("malformed MIME header initial line:", line));
            };
            last.1.push(' ');
            last.1.push_str(String::from_utf8_lossy(line).trim_matches([' ', '\t']));
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(malformed("malformed MIME header line:", line));
        };
        let name = String::from_utf8_lossy(&line[..colon]).into_owned();
        if !is_token(&name) {
            return Err(malformed("malformed MIME header line:", line));
        }
        let value = String::from_utf8_lossy(&line[colon + 1..]).trim_matches([' ', '\t']).to_string();
        headers.push((name, value));
    }
    Ok(Some((status, headers, end)))
}

pub(super) enum Framing {
    Length(usize),
    ChunkSize,
    ChunkData(usize),
    ChunkEnd,
    Eof,
    Done,
}

/// Moves body bytes from `raw` into `body` (at most MAX_BODY); true when the body is complete
/// or the cap is reached. Consumed input is drained, so `raw` stays small.
pub(super) fn feed(framing: &mut Framing, raw: &mut Vec<u8>, body: &mut Vec<u8>) -> std::result::Result<bool, String> {
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
                    return Ok(false);
                }
                *framing = Framing::Done;
            }
            Framing::ChunkSize => {
                let Some(nl) = raw.iter().position(|&b| b == b'\n') else {
                    return if raw.len() > 4096 { Err("malformed chunked encoding".into()) } else { Ok(false) };
                };
                let line = String::from_utf8_lossy(&raw[..nl]).into_owned();
                let hex = line.split(';').next().unwrap_or("").trim();
                let size = (!hex.is_empty() && hex.len() <= 15).then(|| usize::from_str_radix(hex, 16).ok()).flatten();
                let Some(size) = size else { return Err("malformed chunked encoding".into()) };
                raw.drain(..=nl);
                *framing = if size == 0 { Framing::Done } else { Framing::ChunkData(size) };
            }
            Framing::ChunkData(left) => {
                *left -= take(raw, *left, body);
                if *left > 0 {
                    return Ok(false);
                }
                *framing = Framing::ChunkEnd;
            }
            Framing::ChunkEnd => {
                if raw.starts_with(b"\r\n") || raw.starts_with(b"\n") {
                    raw.drain(..if raw[0] == b'\r' { 2 } else { 1 });
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
