//! The HTTP side of the distribution API: one agent per endpoint (its TLS settings),
//! authorization from challenges, manifests and blobs. Blocking I/O (`ureq`); every body read
//! is bounded by the size the caller expects.

use super::auth::{parse_challenge, query_escape, AuthFile};
use super::hosts::Endpoint;
use crate::image::digest::Digest;
use crate::image::manifest::MAX_MANIFEST_SIZE;
use crate::image::media;
use anyhow::{anyhow, bail, Context, Result};
use std::io::Read;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use ureq::http::Response;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::Body;

/// Redirects followed for one request (registries send blobs to storage by a redirect).
pub const MAX_REDIRECTS: u32 = 5;
/// Time to set up a connection (TCP and TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for response headers, or for any one read of a body.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest token response read.
const MAX_TOKEN_RESPONSE: u64 = 1 << 20;
/// The system's CA bundle (Debian's ca-certificates).
const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Largest CA file read.
const MAX_CA_FILE: u64 = 16 << 20;

/// A failure before any HTTP status was received (connect, TLS, reset): another endpoint may
/// do better.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Transport(pub String);

fn read_pem(path: &std::path::Path) -> Result<Vec<Certificate<'static>>> {
    let f = std::fs::File::open(path).with_context(|| format!("reading CA file {}", path.display()))?;
    let mut b = Vec::new();
    f.take(MAX_CA_FILE).read_to_end(&mut b).with_context(|| format!("reading CA file {}", path.display()))?;
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(&b) {
        if let PemItem::Certificate(c) = item.map_err(|e| anyhow!("CA file {}: {e}", path.display()))? {
            out.push(c);
        }
    }
    if out.is_empty() {
        bail!("CA file {}: no PEM certificate in it", path.display());
    }
    Ok(out)
}

/// The system CAs, read once; None when the bundle is missing (ureq's built-in Mozilla roots
/// are used then).
fn system_cas() -> Option<&'static Vec<Certificate<'static>>> {
    static CAS: OnceLock<Option<Vec<Certificate<'static>>>> = OnceLock::new();
    CAS.get_or_init(|| read_pem(std::path::Path::new(SYSTEM_CA_FILE)).ok()).as_ref()
}

/// One endpoint and its agent and cached authorization.
pub struct Ep {
    pub endpoint: Endpoint,
    agent: ureq::Agent,
    authorization: Mutex<Option<String>>,
}

/// A registry client for one repository.
pub struct Client {
    pub endpoints: Vec<Ep>,
    repo: String,
    domain: String,
    auth: AuthFile,
}

fn agent(e: &Endpoint) -> Result<ureq::Agent> {
    let mut tls = TlsConfig::builder().disable_verification(e.skip_verify);
    if !e.plain_http {
        let mut roots: Vec<Certificate<'static>> = system_cas().cloned().unwrap_or_default();
        for f in &e.ca_files {
            roots.extend(read_pem(f)?);
        }
        if !roots.is_empty() {
            tls = tls.root_certs(RootCerts::new_with_certs(&roots));
        }
    }
    let cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(MAX_REDIRECTS)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(READ_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .user_agent(concat!("runp/", env!("CARGO_PKG_VERSION")))
        .tls_config(tls.build())
        .build();
    Ok(ureq::Agent::new_with_config(cfg))
}

/// `"401 Unauthorized"`, and the registry's first error message when it sent one.
fn status_error(method: &str, url: &str, resp: Response<Body>) -> anyhow::Error {
    let status = resp.status();
    let mut line = format!("{method} {url}: {} {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
    let mut body = Vec::new();
    let _ = resp.into_body().into_reader().take(4096).read_to_end(&mut body);
    #[derive(serde::Deserialize)]
    struct E {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    #[derive(serde::Deserialize)]
    struct Es {
        errors: Vec<E>,
    }
    if let Ok(es) = serde_json::from_slice::<Es>(&body) {
        if let Some(e) = es.errors.first() {
            let msg: String = format!("{}: {}", e.code, e.message).chars().take(200).collect();
            line.push_str(&format!(" ({msg})"));
        }
    }
    anyhow!(line.trim_end().to_string())
}

impl Client {
    pub fn new(domain: &str, repo: &str, endpoints: Vec<Endpoint>, auth: AuthFile) -> Result<Client> {
        let endpoints = endpoints
            .into_iter()
            .map(|e| Ok(Ep { agent: agent(&e)?, endpoint: e, authorization: Mutex::new(None) }))
            .collect::<Result<Vec<_>>>()?;
        Ok(Client { endpoints, repo: repo.to_string(), domain: domain.to_string(), auth })
    }

    fn call(
        &self,
        ep: &Ep,
        method: &str,
        url: &str,
        accept: Option<&str>,
        authz: Option<&str>,
    ) -> Result<Response<Body>> {
        let r = match method {
            "HEAD" => {
                let mut b = ep.agent.head(url);
                if let Some(a) = accept {
                    b = b.header("Accept", a);
                }
                if let Some(a) = authz {
                    b = b.header("Authorization", a);
                }
                b.call()
            }
            _ => {
                let mut b = ep.agent.get(url);
                if let Some(a) = accept {
                    b = b.header("Accept", a);
                }
                if let Some(a) = authz {
                    b = b.header("Authorization", a);
                }
                b.call()
            }
        };
        r.map_err(|e| anyhow::Error::new(Transport(format!("{method} {url}: {e}"))))
    }

    /// Sends a request, answering one authorization challenge; the response is returned
    /// whatever its status.
    fn send(&self, ep: &Ep, method: &str, url: &str, accept: Option<&str>) -> Result<Response<Body>> {
        let cached = ep.authorization.lock().map_err(|_| anyhow!("poisoned lock"))?.clone();
        let resp = self.call(ep, method, url, accept, cached.as_deref())?;
        if resp.status().as_u16() != 401 {
            return Ok(resp);
        }
        let Some(challenge) =
            resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).and_then(parse_challenge)
        else {
            return Err(status_error(method, url, resp));
        };
        let creds = self.auth.get(&ep.endpoint.host).or_else(|| self.auth.get(&self.domain)).cloned();
        let header = match challenge.scheme.as_str() {
            "basic" => match &creds {
                Some(c) if cached.as_deref() != Some(&c.basic_header()) => c.basic_header(),
                _ => return Err(status_error(method, url, resp)),
            },
            "bearer" => {
                let fresh = self
                    .token(ep, &challenge.params, creds.as_ref())
                    .with_context(|| format!("{method} {url}: 401 Unauthorized, and getting a token failed"))?;
                if cached.as_deref() == Some(fresh.as_str()) {
                    return Err(status_error(method, url, resp));
                }
                fresh
            }
            _ => return Err(status_error(method, url, resp)),
        };
        drop(resp);
        *ep.authorization.lock().map_err(|_| anyhow!("poisoned lock"))? = Some(header.clone());
        let resp = self.call(ep, method, url, accept, Some(&header))?;
        if resp.status().as_u16() == 401 {
            return Err(status_error(method, url, resp));
        }
        Ok(resp)
    }

    /// A bearer token from the challenge's realm (anonymous, or with basic credentials).
    fn token(
        &self,
        ep: &Ep,
        params: &std::collections::BTreeMap<String, String>,
        creds: Option<&super::auth::Credentials>,
    ) -> Result<String> {
        let realm = params.get("realm").filter(|r| !r.is_empty()).context("the Bearer challenge has no realm")?;
        if !(realm.starts_with("https://") || realm.starts_with("http://")) {
            bail!("token realm {realm:?} is not an http(s) URL");
        }
        let mut url = realm.clone();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        if let Some(s) = params.get("service") {
            url.push_str(&format!("{sep}service={}", query_escape(s)));
            sep = '&';
        }
        let scope = format!("repository:{}:pull", self.repo);
        url.push_str(&format!("{sep}scope={}", query_escape(&scope)));
        let mut b = ep.agent.get(&url);
        if let Some(c) = creds {
            b = b.header("Authorization", c.basic_header());
        }
        let resp = b.call().map_err(|e| anyhow!("GET {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(status_error("GET", &url, resp));
        }
        let mut body = Vec::new();
        resp.into_body()
            .into_reader()
            .take(MAX_TOKEN_RESPONSE + 1)
            .read_to_end(&mut body)
            .with_context(|| format!("GET {url}: reading the token"))?;
        if body.len() as u64 > MAX_TOKEN_RESPONSE {
            bail!("GET {url}: token response larger than {MAX_TOKEN_RESPONSE} bytes");
        }
        #[derive(serde::Deserialize)]
        struct T {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
        }
        let t: T = serde_json::from_slice(&body).with_context(|| format!("GET {url}: not a token response"))?;
        let tok = if t.token.is_empty() { t.access_token } else { t.token };
        if tok.is_empty() || tok.chars().any(|c| c.is_control() || c == ' ') {
            bail!("GET {url}: the response has no usable token");
        }
        Ok(format!("Bearer {tok}"))
    }

    fn url(&self, ep: &Ep, kind: &str, what: &str) -> String {
        format!("{}/{}/{kind}/{what}", ep.endpoint.base, self.repo)
    }

    /// A manifest or index by tag or digest: its bytes, content type and digest (verified
    /// against a digest selector and the registry's `Docker-Content-Digest`).
    pub fn manifest(&self, ep: &Ep, selector: &str) -> Result<(Vec<u8>, Option<String>, Digest)> {
        let url = self.url(ep, "manifests", selector);
        let resp = self.send(ep, "GET", &url, Some(media::MANIFEST_ACCEPT))?;
        if resp.status().as_u16() != 200 {
            return Err(status_error("GET", &url, resp));
        }
        let h = |k: &str| resp.headers().get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
        let ctype = h("content-type");
        let announced = h("docker-content-digest");
        if let Some(n) = h("content-length").and_then(|v| v.parse::<u64>().ok()) {
            if n > MAX_MANIFEST_SIZE as u64 {
                bail!("GET {url}: manifest of {n} bytes, more than the {MAX_MANIFEST_SIZE} accepted");
            }
        }
        let mut body = Vec::new();
        resp.into_body()
            .into_reader()
            .take(MAX_MANIFEST_SIZE as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| anyhow::Error::new(Transport(format!("GET {url}: reading the manifest: {e}"))))?;
        if body.len() > MAX_MANIFEST_SIZE {
            bail!("GET {url}: manifest larger than {MAX_MANIFEST_SIZE} bytes");
        }
        let got = Digest::of(&body);
        if let Ok(want) = Digest::parse(selector) {
            if want != got {
                bail!("GET {url}: the manifest hashes to {got}, not the digest asked for");
            }
        }
        if let Some(a) = announced.filter(|a| a.starts_with("sha256:")) {
            if a != got.to_string() {
                bail!("GET {url}: the manifest hashes to {got}, not the Docker-Content-Digest {a}");
            }
        }
        Ok((body, ctype, got))
    }

    /// Opens a blob (redirects followed): a reader of its bytes, unverified (the caller
    /// verifies), and the URL for messages.
    pub fn blob(&self, ep: &Ep, digest: &Digest) -> Result<(Box<dyn Read + Send>, String)> {
        let url = self.url(ep, "blobs", &digest.to_string());
        let resp = self.send(ep, "GET", &url, None)?;
        if resp.status().as_u16() != 200 {
            return Err(status_error("GET", &url, resp));
        }
        let u = url.clone();
        let r = resp.into_body().into_reader();
        Ok((Box::new(ErrUrl(r, u)), url))
    }

    /// A small blob (a config), read whole and verified.
    pub fn small_blob(&self, ep: &Ep, digest: &Digest, size: u64, max: u64) -> Result<Vec<u8>> {
        if size > max {
            bail!("blob {digest}: {size} bytes, more than the {max} accepted");
        }
        let (r, url) = self.blob(ep, digest)?;
        let mut body = Vec::new();
        r.take(size + 1).read_to_end(&mut body).with_context(|| format!("GET {url}"))?;
        if body.len() as u64 != size {
            bail!("GET {url}: {} bytes where the manifest says {size}", body.len());
        }
        let got = Digest::of(&body);
        if &got != digest {
            bail!("GET {url}: the blob hashes to {got}");
        }
        Ok(body)
    }
}

/// A body reader whose errors name the URL.
struct ErrUrl<R>(R, String);

impl<R: Read> Read for ErrUrl<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).map_err(|e| std::io::Error::new(e.kind(), format!("GET {}: {e}", self.1)))
    }
}
