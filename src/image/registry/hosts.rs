//! Per-registry configuration, a subset of containerd's hosts directory
//! (`<dir>/<host[:port]>/hosts.toml`), with docker's `*.crt` files beside it:
//!
//! ```toml
//! server = "https://registry.example.com"     # the upstream; default https://<host>
//! ca = "/etc/runp/certs.d/registry.example.com/ca.pem"
//! skip_verify = false
//!
//! [host."http://mirror.local:5000"]           # mirrors, tried first, in file order
//! capabilities = ["pull", "resolve"]          # resolve: may answer tag lookups
//! ca = ["/path/a.pem", "/path/b.pem"]         # a string or a list
//! skip_verify = true
//! override_path = false                      # true: the URL already ends in the API path
//! ```
//!
//! An `http://` URL is plain HTTP. Relative `ca` paths are relative to the host's directory.
//! Any `*.crt` file in the directory is a CA for every endpoint of that registry (as docker and
//! containerd read them). Without a configuration, a registry on a loopback address
//! (`localhost`, 127.0.0.0/8, `::1`) is tried over HTTPS then plain HTTP, as docker does;
//! every other registry is HTTPS only. Unknown keys are ignored, as containerd does.

use anyhow::{bail, Context, Result};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The default hosts directory.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/runp/certs.d";
/// Largest hosts.toml read.
const MAX_HOSTS_TOML: u64 = 1 << 20;
/// Most endpoints one registry may list.
const MAX_ENDPOINTS: usize = 32;

/// One place to send registry requests to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://host:port/v2` (no trailing slash).
    pub base: String,
    /// `host:port` as in the URL: the auth file key for this endpoint.
    pub host: String,
    pub plain_http: bool,
    /// May resolve tags (else only used for digest references).
    pub resolve: bool,
    pub skip_verify: bool,
    /// Extra CA files (PEM), trusted beside the system's.
    pub ca_files: Vec<PathBuf>,
    /// Only a fallback: tried if the HTTPS endpoint before it could not be reached.
    pub fallback: bool,
}

/// The `--certs-dir` flag, else `$RUNP_CERTS_DIR`, else [`DEFAULT_CONFIG_DIR`].
pub fn config_dir(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("RUNP_CERTS_DIR").filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_DIR))
}

/// Whether `host` (`name[:port]`, `[v6]:port`) is a loopback address.
pub fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => match host.rsplit_once(':') {
            Some((n, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !n.contains(':') => n,
            _ => host,
        },
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn endpoint_from_url(url: &str, override_path: bool) -> Result<Endpoint> {
    let (plain_http, rest) = if let Some(r) = url.strip_prefix("https://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (true, r)
    } else {
        bail!("{url:?}: want an http:// or https:// URL");
    };
    let rest = rest.trim_end_matches('/');
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control() || c == '@') {
        bail!("{url:?}: invalid host");
    }
    let scheme = if plain_http { "http" } else { "https" };
    let base = if override_path { format!("{scheme}://{host}{path}") } else { format!("{scheme}://{host}{path}/v2") };
    Ok(Endpoint {
        base,
        host: host.to_string(),
        plain_http,
        resolve: true,
        skip_verify: false,
        ca_files: Vec::new(),
        fallback: false,
    })
}

fn ca_list(v: Option<&toml::Value>, dir: &Path) -> Result<Vec<PathBuf>> {
    let abs = |s: &str| if Path::new(s).is_absolute() { PathBuf::from(s) } else { dir.join(s) };
    match v {
        None => Ok(Vec::new()),
        Some(toml::Value::String(s)) => Ok(vec![abs(s)]),
        Some(toml::Value::Array(a)) if a.len() <= MAX_ENDPOINTS => {
            a.iter().map(|x| x.as_str().map(abs).context("\"ca\" entries must be strings")).collect()
        }
        Some(_) => bail!("\"ca\" must be a path or a list of at most {MAX_ENDPOINTS} paths"),
    }
}

fn apply(e: &mut Endpoint, t: &toml::Table, dir: &Path) -> Result<()> {
    e.ca_files.extend(ca_list(t.get("ca"), dir)?);
    if let Some(v) = t.get("skip_verify") {
        e.skip_verify = v.as_bool().context("\"skip_verify\" must be true or false")?;
    }
    if let Some(v) = t.get("capabilities") {
        let caps = v.as_array().context("\"capabilities\" must be a list")?;
        e.resolve = caps.iter().any(|c| c.as_str() == Some("resolve"));
        if !caps.iter().any(|c| c.as_str() == Some("pull")) {
            bail!("an endpoint without the \"pull\" capability cannot be pulled from");
        }
    }
    Ok(())
}

/// The `*.crt` files of a host directory, sorted.
fn crt_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "crt") && p.is_file())
        .take(MAX_ENDPOINTS)
        .collect();
    out.sort();
    out
}

/// The endpoints to try for registry `domain` (a reference's domain, `docker.io` for Docker
/// Hub) whose API host is `api_host`, in order, from `config_dir`.
pub fn endpoints(config_dir: &Path, domain: &str, api_host: &str) -> Result<Vec<Endpoint>> {
    let dir = config_dir.join(domain);
    let file = dir.join("hosts.toml");
    let crts = crt_files(&dir);
    let text = match std::fs::File::open(&file) {
        Ok(f) => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::Read::take(f, MAX_HOSTS_TOML + 1), &mut s)
                .with_context(|| format!("reading {}", file.display()))?;
            if s.len() as u64 > MAX_HOSTS_TOML {
                bail!("{}: larger than {MAX_HOSTS_TOML} bytes", file.display());
            }
            Some(s)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let mut out = Vec::new();
    let mut server = match text {
        None => {
            let mut e = endpoint_from_url(&format!("https://{api_host}"), false)?;
            e.ca_files = crts.clone();
            if is_loopback(api_host) && crts.is_empty() {
                out.push(e);
                let mut plain = endpoint_from_url(&format!("http://{api_host}"), false)?;
                plain.fallback = true;
                out.push(plain);
                return Ok(out);
            }
            e
        }
        Some(text) => {
            let t: toml::Table = toml::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
            let ctx = |what: &str| format!("{}: {what}", file.display());
            if let Some(hosts) = t.get("host") {
                let hosts = hosts.as_table().with_context(|| ctx("\"host\" must be a table"))?;
                if hosts.len() > MAX_ENDPOINTS {
                    bail!("{}", ctx(&format!("more than {MAX_ENDPOINTS} hosts")));
                }
                for (url, v) in hosts {
                    let ht = v.as_table().with_context(|| ctx(&format!("host {url:?} must be a table")))?;
                    let op = ht.get("override_path").and_then(|v| v.as_bool()).unwrap_or(false);
                    let mut e = endpoint_from_url(url, op).with_context(|| ctx("host"))?;
                    e.ca_files = crts.clone();
                    apply(&mut e, ht, &dir).with_context(|| ctx(&format!("host {url:?}")))?;
                    out.push(e);
                }
            }
            let url = match t.get("server") {
                Some(v) => v.as_str().with_context(|| ctx("\"server\" must be a string"))?.to_string(),
                None => format!("https://{api_host}"),
            };
            let op = t.get("override_path").and_then(|v| v.as_bool()).unwrap_or(false);
            let mut e = endpoint_from_url(&url, op).with_context(|| ctx("server"))?;
            e.ca_files = crts;
            apply(&mut e, &t, &dir).with_context(|| ctx("server"))?;
            e
        }
    };
    server.resolve = true;
    out.push(server);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback() {
        for h in ["localhost", "localhost:5000", "127.0.0.1:5000", "127.3.2.1", "[::1]:5000", "::1"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["docker.io", "10.0.0.1:5000", "[::2]:1", "localhost.example:5000"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn defaults() {
        let d = tempfile::tempdir().unwrap();
        let e = endpoints(d.path(), "docker.io", "registry-1.docker.io").unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].base, "https://registry-1.docker.io/v2");
        let e = endpoints(d.path(), "127.0.0.1:5000", "127.0.0.1:5000").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].base, "http://127.0.0.1:5000/v2");
        assert!(e[1].plain_http && e[1].fallback);
    }

    #[test]
    fn hosts_toml() {
        let d = tempfile::tempdir().unwrap();
        let h = d.path().join("reg.example:5000");
        std::fs::create_dir(&h).unwrap();
        std::fs::write(h.join("extra.crt"), "").unwrap();
        std::fs::write(
            h.join("hosts.toml"),
            r#"
server = "https://reg.example:5000"
ca = "ca.pem"
[host."http://mirror-b:80/prefix"]
capabilities = ["pull"]
[host."https://mirror-a"]
skip_verify = true
"#,
        )
        .unwrap();
        let e = endpoints(d.path(), "reg.example:5000", "reg.example:5000").unwrap();
        let bases: Vec<&str> = e.iter().map(|e| e.base.as_str()).collect();
        assert_eq!(bases, ["http://mirror-b:80/prefix/v2", "https://mirror-a/v2", "https://reg.example:5000/v2"]);
        assert!(!e[0].resolve && e[0].plain_http);
        assert!(e[1].skip_verify && e[1].resolve);
        assert_eq!(e[2].ca_files, [h.join("extra.crt"), h.join("ca.pem")]);
        std::fs::write(h.join("hosts.toml"), "server = 3").unwrap();
        assert!(endpoints(d.path(), "reg.example:5000", "reg.example:5000").is_err());
    }
}
