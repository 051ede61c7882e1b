//! The request URL: the path as the kubelet sends it (fragment dropped, dot segments removed,
//! escaped) and Location resolution for redirects, which only ever stay on the same origin.

use anyhow::{bail, Result};

/// An http URL: host (without brackets), port, and the escaped request target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    pub target: String, // path and query, escaped
}

impl Url {
    /// A URL for `path` (a handler's or probe's `path` field) on host:port.
    pub fn new(host: &str, port: u16, path: &str) -> Url {
        let host = host.trim().trim_start_matches('[').trim_end_matches(']');
        Url { host: host.to_ascii_lowercase(), port, target: normalize_target(path) }
    }

    /// "host:port", with brackets around an IPv6 host.
    pub fn authority(&self) -> String {
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

/// The host of an authority ("localhost:8080" → "localhost", "[::1]:80" → "::1").
pub fn host_of(authority: &str) -> &str {
    let a = authority.trim();
    if let Some(v6) = a.strip_prefix('[') {
        return v6.split_once(']').map_or(v6, |(h, _)| h);
    }
    match a.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => a,
    }
}

/// Percent-encodes what may not appear raw in a request target (controls, space, non-ASCII…).
pub fn escape(s: &str) -> String {
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
pub fn remove_dots(path: &str) -> String {
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

/// A path as the kubelet sends it: fragment dropped, leading '/', escaped.
pub fn normalize_target(path: &str) -> String {
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
pub fn resolve_location(base: &Url, loc: &str) -> Result<Option<Url>> {
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
