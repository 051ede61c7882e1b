//! The GET request both httpGet users send, by the kubelet's rules (newProbeRequest in
//! pkg/probe/http, used for probes and, since ConsistentHTTPGetHandlers, for lifecycle
//! hooks): Host is the URL's authority unless a `Host` header is given; User-Agent is
//! `kube-probe/<major>.<minor>` for probes and `kube-lifecycle/<major>.<minor>` for hooks
//! unless given (an empty value sends none); `Accept: */*` unless given (an empty value sends
//! none). `Connection: close` follows the same rule: every request here is the connection's
//! only one. Header names must be tokens and values free of control characters (Go's
//! net/http refuses to send anything else), so a value cannot inject a line.

use super::url::Url;

/// The Kubernetes version whose kubelet runp follows: `kube-probe/<major>.<minor>`.
macro_rules! kube_version {
    () => {
        "1.33"
    };
}

/// The User-Agent of probes (also the gRPC probe's).
pub const PROBE_USER_AGENT: &str = concat!("kube-probe/", kube_version!());
/// The User-Agent of httpGet lifecycle hooks.
pub const LIFECYCLE_USER_AGENT: &str = concat!("kube-lifecycle/", kube_version!());

/// Who sends the request: it sets the default User-Agent and what the client reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// An httpGet probe: the status decides, the body (10 KiB at most) is its output.
    Probe,
    /// An httpGet postStart or preStop handler: any response will do.
    Lifecycle,
}

impl Purpose {
    pub fn user_agent(self) -> &'static str {
        match self {
            Purpose::Probe => PROBE_USER_AGENT,
            Purpose::Lifecycle => LIFECYCLE_USER_AGENT,
        }
    }
}

/// An HTTP token (RFC 9110 §5.6.2): what a header name must be.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Go's CanonicalMIMEHeaderKey ("x-custom" → "X-Custom"); non-tokens stay as they are.
pub fn canonical_key(k: &str) -> String {
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

/// Whether a header value may be sent: no control characters but tab (CR, LF and NUL
/// included), as Go's httpguts.ValidHeaderFieldValue.
pub fn valid_value(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// The header lines (each ending in CRLF) for a request to `url` with the handler's or
/// probe's `headers`; an invalid name or value is an error naming the header.
pub fn header_lines(purpose: Purpose, url: &Url, headers: &[(String, String)]) -> Result<String, String> {
    let first = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let mut lines = Vec::new();
    let host = first("host").filter(|v| !v.is_empty()).map(str::to_string).unwrap_or_else(|| url.authority());
    lines.push(("Host".to_string(), host));
    let ua = first("user-agent").unwrap_or(purpose.user_agent());
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
    let mut out = String::new();
    for (k, v) in &lines {
        if !is_token(k) {
            return Err(format!("net/http: invalid header field name {k:?}"));
        }
        if !valid_value(v) {
            return Err(format!("net/http: invalid header field value for {k:?}"));
        }
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    Ok(out)
}

/// The request: GET of the URL's (escaped) target with the given header lines.
pub fn request(url: &Url, header_lines: &str) -> Vec<u8> {
    format!("GET {} HTTP/1.1\r\n{header_lines}\r\n", url.target).into_bytes()
}
