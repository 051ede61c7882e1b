//! Image references, parsed and normalized as docker, containerd and the kubelet do
//! (distribution's "normalized named" references).
//!
//! Grammar (distribution's `reference := name [":" tag] ["@" digest]`):
//! - name: `[domain "/"] path`, at most 255 characters in all (domain included);
//! - domain: `host [":" port]`, host a dotted list of `[A-Za-z0-9]` components with inner `-`,
//!   or a bracketed IPv6 address; port digits;
//! - path: `/`-separated components of `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`;
//! - tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`;
//! - digest: `sha256:<64 lowercase hex>` (other algorithms are refused: runp verifies sha256).
//!
//! Normalization: the first `/`-separated component is a domain only when it contains `.` or
//! `:`, is `localhost`, or has an uppercase letter; otherwise the domain is `docker.io`.
//! `index.docker.io` is `docker.io`, and a one-component docker.io path gets `library/`. A name
//! with neither tag nor digest gets `:latest` ([`Reference::parse`], the kubelet's default).
//!
//! One deliberate difference: a first component that is taken as a domain (it has a `.`) but
//! is not a valid host, such as `a_b.com/x`, is refused here; distribution's grammar would
//! fall back to reading it as a domain-less path, which no registry can serve.

use std::fmt;

use super::digest::{Digest, DigestError};

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's legacy name, normalized to [`DOCKER_HUB`].
pub const DOCKER_HUB_LEGACY: &str = "index.docker.io";
/// The host serving Docker Hub's registry API.
pub const DOCKER_HUB_REGISTRY: &str = "registry-1.docker.io";
/// The tag a reference without tag or digest gets.
pub const DEFAULT_TAG: &str = "latest";
/// Longest name (domain and path) distribution accepts.
pub const NAME_MAX: usize = 255;
/// Longest tag.
pub const TAG_MAX: usize = 128;

/// A normalized image reference: domain, path, optional tag and digest.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Why an image reference was refused. Each case is the kubelet's `InvalidImageName`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format: {0}")]
    Format(String),
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    #[error("repository name must not be more than {NAME_MAX} characters")]
    NameTooLong,
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    IdentifierOnly(String),
    #[error("invalid reference format: {0}")]
    Digest(DigestError),
}

impl ReferenceError {
    /// The container status reason the kubelet reports for this error.
    pub fn kubelet_reason(&self) -> &'static str {
        "InvalidImageName"
    }

    /// The message the kubelet puts beside the reason, for image `input`.
    pub fn kubelet_message(&self, input: &str) -> String {
        format!("Failed to apply default image tag {input:?}: couldn't parse image name {input:?}: {self}")
    }
}

fn format_err(what: impl Into<String>) -> ReferenceError {
    ReferenceError::Format(what.into())
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// One path component: `[a-z0-9]+` runs joined by `.`, `_`, `__` or one or more `-`.
fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else { return false };
    if !is_lower_alnum(first) || !is_lower_alnum(last) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_lower_alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run, between two alphanumerics (the ends are alphanumeric).
        let start = i;
        while i < b.len() && !is_lower_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|s| s == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_path(p: &str) -> bool {
    p.split('/').all(is_path_component)
}

/// A domain component: `[A-Za-z0-9]` with `-` inside only.
fn is_domain_component(c: &str) -> bool {
    let b = c.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        }
        _ => false,
    }
}

/// `host [":" port]`, host a domain name or `[IPv6]`.
fn is_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        let Some(end) = rest.find(']') else { return false };
        let inner = &rest[..end];
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        let after = &rest[end + 1..];
        match after.strip_prefix(':') {
            Some(port) => ("", Some(port)),
            None if after.is_empty() => ("", None),
            None => return false,
        }
    } else {
        match d.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    if d.starts_with('[') {
        return true;
    }
    host.split('.').all(is_domain_component)
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_tag(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |x: &u8| x.is_ascii_alphanumeric() || *x == b'_';
    match b.first() {
        Some(f) if word(f) => b.len() <= TAG_MAX && b.iter().all(|x| word(x) || *x == b'.' || *x == b'-'),
        _ => false,
    }
}

/// Docker's first-component rule: where the domain ends, and whether there is one.
fn split_domain(s: &str) -> (String, String) {
    let (mut domain, mut rest) = match s.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DOCKER_HUB.to_string(), s.to_string()),
    };
    if domain == DOCKER_HUB_LEGACY {
        domain = DOCKER_HUB.to_string();
    }
    if domain == DOCKER_HUB && !rest.contains('/') {
        rest = format!("library/{rest}");
    }
    (domain, rest)
}

impl Reference {
    /// Parses and normalizes `s` as the kubelet does: `busybox` is
    /// `docker.io/library/busybox:latest`; a digest without tag gets no tag.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let mut r = Reference::parse_normalized(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    /// Parses and normalizes `s` without adding a default tag.
    pub fn parse_normalized(s: &str) -> Result<Reference, ReferenceError> {
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(ReferenceError::IdentifierOnly(s.to_string()));
        }
        if s.is_empty() {
            return Err(format_err("empty image name"));
        }
        let (domain, rest) = split_domain(s);
        let remote_name = rest.split(':').next().unwrap_or_default();
        if remote_name.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(remote_name.to_string()));
        }
        // `rest` is `path [":" tag] ["@" digest]`; only the digest may contain `@`.
        let (name_tag, digest) = match rest.split_once('@') {
            Some((nt, d)) => (nt, Some(d)),
            None => (rest.as_str(), None),
        };
        let (path, tag) = match name_tag.split_once(':') {
            Some((p, t)) => (p, Some(t)),
            None => (name_tag, None),
        };
        if !is_domain(&domain) {
            return Err(format_err(format!("{domain:?} is not a registry host[:port]")));
        }
        if !is_path(path) {
            return Err(format_err(format!(
                "repository path {path:?}: components are lowercase letters and digits joined by '.', '_', '__' or '-'"
            )));
        }
        if domain.len() + 1 + path.len() > NAME_MAX {
            return Err(ReferenceError::NameTooLong);
        }
        if let Some(t) = tag {
            if !is_tag(t) {
                return Err(format_err(format!(
                    "tag {t:?}: at most {TAG_MAX} of letters, digits, '_', '.' and '-', not starting with '.' or '-'"
                )));
            }
        }
        let digest = match digest {
            Some(d) => Some(Digest::parse(d).map_err(ReferenceError::Digest)?),
            None => None,
        };
        Ok(Reference { domain, path: path.to_string(), tag: tag.map(str::to_string), digest })
    }

    /// The registry's name as references write it (`docker.io`, `localhost:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `domain/path` (`docker.io/library/busybox`).
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The host to send registry API requests to: `registry-1.docker.io` for Docker Hub, else
    /// the domain itself (with its port).
    pub fn registry_host(&self) -> &str {
        if self.domain == DOCKER_HUB {
            DOCKER_HUB_REGISTRY
        } else {
            &self.domain
        }
    }

    /// What the registry's manifest endpoint is asked for: the digest when there is one (it
    /// wins over the tag, as in containerd), else the tag.
    pub fn manifest_selector(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// This reference with `digest` (keeping the tag).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference { digest: Some(digest), ..self.clone() }
    }

    /// The repo digest `docker.io/library/busybox@sha256:...`: what the kubelet reports as a
    /// container's `imageID` for the manifest `digest` this reference resolved to.
    pub fn repo_digest(&self, digest: &Digest) -> String {
        format!("{}@{digest}", self.name())
    }

    /// The short form docker prints: no `docker.io/`, no `library/` (`busybox:latest`).
    pub fn familiar(&self) -> String {
        let mut out = self.familiar_name();
        if let Some(t) = &self.tag {
            out.push(':');
            out.push_str(t);
        }
        if let Some(d) = &self.digest {
            out.push('@');
            out.push_str(&d.to_string());
        }
        out
    }

    /// The familiar name without tag or digest (`busybox`, `grafana/grafana`, `quay.io/x/y`).
    pub fn familiar_name(&self) -> String {
        if self.domain == DOCKER_HUB {
            match self.path.strip_prefix("library/") {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The kubelet's default `imagePullPolicy` for this image: `Always` when the tag is
    /// `latest` (or defaulted to it), else `IfNotPresent`.
    pub fn default_pull_policy(&self) -> &'static str {
        if self.tag.as_deref() == Some(DEFAULT_TAG) {
            "Always"
        } else {
            "IfNotPresent"
        }
    }
}

impl fmt::Display for Reference {
    /// The full normalized form: `docker.io/library/busybox:latest[@sha256:...]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    /// Same as [`Reference::parse`].
    fn from_str(s: &str) -> Result<Reference, ReferenceError> {
        Reference::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn full(s: &str) -> String {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}")).to_string()
    }

    #[test]
    fn docker_hub_normalization() {
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(full("library/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("docker.io/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("index.docker.io/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("index.docker.io/grafana/grafana:10"), "docker.io/grafana/grafana:10");
        assert_eq!(full("grafana/grafana"), "docker.io/grafana/grafana:latest");
        assert_eq!(full("a/b/c"), "docker.io/a/b/c:latest");
    }

    #[test]
    fn digests_with_and_without_tag() {
        let r = Reference::parse(&format!("busybox@sha256:{HEX}")).unwrap();
        assert_eq!(r.tag(), None, "a digest gets no default tag");
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@sha256:{HEX}"));
        assert_eq!(r.manifest_selector(), format!("sha256:{HEX}"));
        assert_eq!(r.default_pull_policy(), "IfNotPresent");
        let r = Reference::parse(&format!("busybox:1.36@sha256:{HEX}")).unwrap();
        assert_eq!(r.tag(), Some("1.36"));
        assert_eq!(r.manifest_selector(), format!("sha256:{HEX}"), "the digest wins");
        assert_eq!(r.familiar(), format!("busybox:1.36@sha256:{HEX}"));
        let e = Reference::parse(&format!("busybox@sha512:{}", "a".repeat(128))).unwrap_err();
        assert!(matches!(e, ReferenceError::Digest(_)), "{e}");
        assert!(Reference::parse("busybox@sha256:abc").is_err());
        assert!(Reference::parse(&format!("busybox@sha256:{HEX}@sha256:{HEX}")).is_err());
    }

    #[test]
    fn domains() {
        let r = Reference::parse("localhost:5000/team/app:v1").unwrap();
        assert_eq!((r.domain(), r.path(), r.tag()), ("localhost:5000", "team/app", Some("v1")));
        assert_eq!(r.registry_host(), "localhost:5000");
        assert_eq!(full("localhost/x"), "localhost/x:latest");
        assert_eq!(full("127.0.0.1:5000/x"), "127.0.0.1:5000/x:latest");
        assert_eq!(full("registry.k8s.io/pause:3.9"), "registry.k8s.io/pause:3.9");
        assert_eq!(full("quay.io/x"), "quay.io/x:latest", "no library/ outside docker.io");
        assert_eq!(full("[::1]:5000/x"), "[::1]:5000/x:latest");
        assert_eq!(full("myhost:5000/x"), "myhost:5000/x:latest");
        // An uppercase first component is a domain (and a valid one).
        assert_eq!(full("Example/x"), "Example/x:latest");
        // Without '.', ':' or "localhost" the first component is a Hub path.
        assert_eq!(full("myhost/x"), "docker.io/myhost/x:latest");
        assert_eq!(Reference::parse("busybox").unwrap().registry_host(), "registry-1.docker.io");
    }

    #[test]
    fn invalid_domains() {
        for bad in ["-a.com/x", "a-.com/x", "a..com/x", "a.com:/x", "a.com:12a/x", "[zz]:5000/x", "[::1/x", "a_b.com/x"]
        {
            let e = Reference::parse(bad).unwrap_err();
            assert_eq!(e.kubelet_reason(), "InvalidImageName");
            assert!(matches!(e, ReferenceError::Format(_)), "{bad}: {e}");
        }
    }

    #[test]
    fn paths() {
        for ok in ["a", "a.b", "a_b", "a__b", "a-b", "a---b", "a0/b-c.d/e__f", "0"] {
            assert!(Reference::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["a___b", "a..b", "a._b", "-a", "a-", "_a", "a/", "/a", "a//b", "a b", "a+b", "", ":tag"] {
            assert!(Reference::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn uppercase_path_is_refused_by_name() {
        let e = Reference::parse("Busybox").unwrap_err();
        assert_eq!(e, ReferenceError::Uppercase("library/Busybox".into()));
        assert_eq!(e.to_string(), "invalid reference format: repository name (library/Busybox) must be lowercase");
        assert!(matches!(Reference::parse("quay.io/Team/app"), Err(ReferenceError::Uppercase(_))));
        // Tags may be uppercase.
        assert_eq!(full("busybox:V1"), "docker.io/library/busybox:V1");
    }

    #[test]
    fn tags() {
        let max = "a".repeat(128);
        assert!(Reference::parse(&format!("x:{max}")).is_ok());
        assert!(Reference::parse(&format!("x:{max}b")).is_err());
        for ok in ["_x", "1.0-rc.1", "A_b"] {
            assert!(is_tag(ok), "{ok}");
        }
        for bad in [".x", "-x", "", "a/b", "a+b", "é"] {
            assert!(!is_tag(bad), "{bad}");
            assert!(Reference::parse(&format!("x:{bad}")).is_err(), "{bad}");
        }
        assert!(Reference::parse("x:a:b").is_err());
    }

    #[test]
    fn name_length_limit_counts_the_domain() {
        // "docker.io/" is 10 characters: a 245-character path is the longest.
        let path = format!("a/{}", "b".repeat(243));
        assert!(Reference::parse(&path).is_ok());
        assert_eq!(Reference::parse(&format!("{path}b")).unwrap_err(), ReferenceError::NameTooLong);
        assert_eq!(
            Reference::parse(&format!("{path}b")).unwrap_err().to_string(),
            "repository name must not be more than 255 characters"
        );
    }

    #[test]
    fn a_bare_image_id_is_refused() {
        let e = Reference::parse(HEX).unwrap_err();
        assert!(matches!(e, ReferenceError::IdentifierOnly(_)));
        assert!(e.to_string().contains("cannot specify 64-byte hexadecimal strings"));
        // With a tag it is a name like any other.
        assert!(Reference::parse(&format!("{HEX}:1")).is_ok());
    }

    #[test]
    fn familiar_and_repo_digest() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.familiar(), "busybox:latest");
        assert_eq!(r.familiar_name(), "busybox");
        let d = Digest::parse(&format!("sha256:{HEX}")).unwrap();
        assert_eq!(r.repo_digest(&d), format!("docker.io/library/busybox@sha256:{HEX}"));
        assert_eq!(r.with_digest(d).to_string(), format!("docker.io/library/busybox:latest@sha256:{HEX}"));
        assert_eq!(Reference::parse("grafana/grafana:10").unwrap().familiar(), "grafana/grafana:10");
        assert_eq!(Reference::parse("library/a/b").unwrap().familiar_name(), "library/a/b");
        assert_eq!(Reference::parse("quay.io/x/y:1").unwrap().familiar(), "quay.io/x/y:1");
        assert_eq!(Reference::parse("localhost/x").unwrap().familiar(), "localhost/x:latest");
    }

    #[test]
    fn default_pull_policy_is_the_kubelets() {
        assert_eq!(Reference::parse("busybox").unwrap().default_pull_policy(), "Always");
        assert_eq!(Reference::parse("busybox:latest").unwrap().default_pull_policy(), "Always");
        assert_eq!(Reference::parse("busybox:1").unwrap().default_pull_policy(), "IfNotPresent");
        assert_eq!(Reference::parse_normalized("busybox").unwrap().tag(), None);
    }

    #[test]
    fn kubelet_message_names_the_image() {
        let e = Reference::parse("Bad").unwrap_err();
        assert_eq!(
            e.kubelet_message("Bad"),
            "Failed to apply default image tag \"Bad\": couldn't parse image name \"Bad\": invalid reference format: repository name (library/Bad) must be lowercase"
        );
        assert_eq!("busybox".parse::<Reference>().unwrap().to_string(), "docker.io/library/busybox:latest");
    }
}
