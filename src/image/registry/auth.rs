//! Registry credentials and challenges: docker-style auth files (`config.json` / podman's
//! `auth.json`: `{"auths": {"<host>": {"auth": base64("user:pass")}}}` or `username` and
//! `password`), and the `WWW-Authenticate` challenges of the distribution API (`Bearer` with
//! `realm`, `service`, `scope`; `Basic`).

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Largest auth file read.
const MAX_AUTH_FILE: u64 = 4 << 20;
/// Most parameters in one challenge.
const MAX_PARAMS: usize = 32;

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({:?}, <redacted>)", self.username)
    }
}

impl Credentials {
    /// The value of an `Authorization: Basic` header.
    pub fn basic_header(&self) -> String {
        format!("Basic {}", base64_encode(format!("{}:{}", self.username, self.password).as_bytes()))
    }
}

#[derive(Deserialize, Default)]
struct AuthFileJson {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The credentials of an auth file, by normalized host.
#[derive(Debug, Default, Clone)]
pub struct AuthFile {
    hosts: BTreeMap<String, Credentials>,
}

/// The host an auth file key names: no scheme, no path; Docker Hub's aliases become
/// `docker.io` (docker writes `https://index.docker.io/v1/`).
pub fn normalize_host(key: &str) -> String {
    let k = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let k = k.split('/').next().unwrap_or("").to_ascii_lowercase();
    match k.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_string(),
        _ => k,
    }
}

impl AuthFile {
    /// Parses an auth file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<AuthFile> {
        let j: AuthFileJson = serde_json::from_slice(bytes).context("not a docker config.json / auth.json")?;
        let mut hosts = BTreeMap::new();
        for (key, e) in j.auths {
            let creds = match (&e.auth, &e.username, &e.password) {
                (Some(a), _, _) if !a.is_empty() => {
                    let raw = base64_decode(a).with_context(|| format!("auths[{key:?}].auth: invalid base64"))?;
                    let s = String::from_utf8(raw).with_context(|| format!("auths[{key:?}].auth: not UTF-8"))?;
                    let (u, p) = s.split_once(':').with_context(|| format!("auths[{key:?}].auth: no ':'"))?;
                    Credentials { username: u.to_string(), password: p.to_string() }
                }
                (_, Some(u), Some(p)) => Credentials { username: u.clone(), password: p.clone() },
                _ => continue,
            };
            hosts.insert(normalize_host(&key), creds);
        }
        Ok(AuthFile { hosts })
    }

    /// Reads an auth file.
    pub fn read(path: &Path) -> Result<AuthFile> {
        let f = std::fs::File::open(path).with_context(|| format!("reading auth file {}", path.display()))?;
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_AUTH_FILE + 1), &mut b)
            .with_context(|| format!("reading auth file {}", path.display()))?;
        if b.len() as u64 > MAX_AUTH_FILE {
            bail!("auth file {}: larger than {MAX_AUTH_FILE} bytes", path.display());
        }
        AuthFile::parse(&b).with_context(|| format!("auth file {}", path.display()))
    }

    /// The auth file to use: `flag`, else `$REGISTRY_AUTH_FILE` (both must exist), else
    /// `$HOME/.docker/config.json` when present, else none.
    pub fn discover(flag: Option<&Path>) -> Result<AuthFile> {
        let explicit = flag
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("REGISTRY_AUTH_FILE").filter(|v| !v.is_empty()).map(PathBuf::from));
        if let Some(p) = explicit {
            return AuthFile::read(&p);
        }
        let home =
            std::env::var_os("HOME").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| "/root".into());
        let p = home.join(".docker/config.json");
        if p.is_file() {
            return AuthFile::read(&p);
        }
        Ok(AuthFile::default())
    }

    /// Credentials for `host` (`host[:port]`, or a reference domain).
    pub fn get(&self, host: &str) -> Option<&Credentials> {
        self.hosts.get(&normalize_host(host))
    }

    /// Adds credentials (an imagePullSecret, a test).
    pub fn insert(&mut self, host: &str, c: Credentials) {
        self.hosts.insert(normalize_host(host), c);
    }
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Lowercase: `bearer`, `basic`.
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// Parses the first challenge of a `WWW-Authenticate` value (registries send one).
pub fn parse_challenge(v: &str) -> Option<Challenge> {
    let v = v.trim();
    let (scheme, mut rest) = match v.find(' ') {
        Some(i) => (&v[..i], v[i + 1..].trim_start()),
        None => (v, ""),
    };
    if scheme.is_empty() {
        return None;
    }
    let mut params = BTreeMap::new();
    while !rest.is_empty() && params.len() < MAX_PARAMS {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim().to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let mut val = String::new();
        if let Some(r) = rest.strip_prefix('"') {
            let mut chars = r.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            val.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    _ => val.push(c),
                }
            }
            rest = &r[end?..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            val = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        params.insert(key, val);
        rest = rest.trim_start().strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Some(Challenge { scheme: scheme.to_ascii_lowercase(), params })
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard (or URL-safe) base64, padding optional, whitespace ignored.
pub fn base64_decode(s: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace()) {
        if c == b'=' {
            break;
        }
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => bail!("invalid base64 character {:?}", c as char),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for s in ["", "a", "ab", "abc", "user:pa:ss", "héllo wörld"] {
            assert_eq!(base64_decode(&base64_encode(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(base64_encode(b"user:pass"), "dXNlcjpwYXNz");
        assert!(base64_decode("a*b").is_err());
    }

    #[test]
    fn auth_file() {
        let f = AuthFile::parse(
            br#"{"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
                "127.0.0.1:5000": {"username": "u", "password": "p:q"},
                "https://quay.io/v2/": {"auth": ""}}, "credsStore": "x"}"#,
        )
        .unwrap();
        assert_eq!(f.get("docker.io").unwrap().username, "user");
        assert_eq!(f.get("registry-1.docker.io").unwrap().password, "pass");
        assert_eq!(f.get("127.0.0.1:5000").unwrap().password, "p:q");
        assert!(f.get("quay.io").is_none());
        assert!(AuthFile::parse(br#"{"auths": {"x": {"auth": "!!"}}}"#).is_err());
    }

    #[test]
    fn challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["scope"], "repository:library/busybox:pull");
        let c = parse_challenge(r#"Basic realm="a \"b\", c""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.params["realm"], r#"a "b", c"#);
        assert!(parse_challenge(r#"Bearer realm="unterminated"#).is_none());
        assert_eq!(query_escape("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
    }
}
