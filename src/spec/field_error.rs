//! API-server style field errors (`spec.containers[0].name: Invalid value: "Web_1": ...`) and
//! the Kubernetes name formats (RFC 1123 labels and subdomains, qualified names, label values,
//! IANA service names, environment variable names). Messages follow upstream apimachinery.

use std::fmt;

/// What is wrong with a field (upstream `field.ErrorType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// `Required value`.
    Required,
    /// `Invalid value: <value>`.
    Invalid(String),
    /// `Duplicate value: <value>`.
    Duplicate(String),
    /// `Not found: <value>`.
    NotFound(String),
    /// `Unsupported value: <value>`; the detail lists the supported values.
    NotSupported(String),
    /// `Forbidden`.
    Forbidden,
    /// `Too long`.
    TooLong,
}

/// One validation error: the field path as written in the manifest, the kind, and a detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub kind: ErrorKind,
    pub detail: String,
}

/// Renders a value the way the API server quotes it: strings in double quotes, numbers bare.
pub trait ShowValue {
    fn show(&self) -> String;
}
/// Longer values are cut in messages (a 5 MB name must not make a 5 MB error line).
const MAX_SHOWN: usize = 256;

impl ShowValue for str {
    fn show(&self) -> String {
        if self.len() <= MAX_SHOWN {
            return format!("{self:?}");
        }
        let mut end = MAX_SHOWN;
        while !self.is_char_boundary(end) {
            end -= 1;
        }
        format!("{:?}... ({} bytes)", &self[..end], self.len())
    }
}
impl ShowValue for String {
    fn show(&self) -> String {
        self.as_str().show()
    }
}
macro_rules! show_plain {
    ($($t:ty),*) => { $(impl ShowValue for $t { fn show(&self) -> String { self.to_string() } })* };
}
show_plain!(i32, i64, u64, bool);

impl FieldError {
    pub fn required(path: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { path: path.into(), kind: ErrorKind::Required, detail: detail.into() }
    }
    pub fn invalid<V: ShowValue + ?Sized>(path: impl Into<String>, value: &V, detail: impl Into<String>) -> Self {
        FieldError { path: path.into(), kind: ErrorKind::Invalid(value.show()), detail: detail.into() }
    }
    pub fn duplicate<V: ShowValue + ?Sized>(path: impl Into<String>, value: &V) -> Self {
        FieldError { path: path.into(), kind: ErrorKind::Duplicate(value.show()), detail: String::new() }
    }
    pub fn not_found<V: ShowValue + ?Sized>(path: impl Into<String>, value: &V) -> Self {
        FieldError { path: path.into(), kind: ErrorKind::NotFound(value.show()), detail: String::new() }
    }
    pub fn not_supported<V: ShowValue + ?Sized>(path: impl Into<String>, value: &V, supported: &[&str]) -> Self {
        let detail = format!("supported values: {}", super::pod::quoted(supported));
        FieldError { path: path.into(), kind: ErrorKind::NotSupported(value.show()), detail }
    }
    pub fn forbidden(path: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { path: path.into(), kind: ErrorKind::Forbidden, detail: detail.into() }
    }
    pub fn too_long(path: impl Into<String>, max: usize) -> Self {
        FieldError { path: path.into(), kind: ErrorKind::TooLong, detail: format!("must have at most {max} bytes") }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path)?;
        match &self.kind {
            ErrorKind::Required => f.write_str("Required value")?,
            ErrorKind::Invalid(v) => write!(f, "Invalid value: {v}")?,
            ErrorKind::Duplicate(v) => write!(f, "Duplicate value: {v}")?,
            ErrorKind::NotFound(v) => write!(f, "Not found: {v}")?,
            ErrorKind::NotSupported(v) => write!(f, "Unsupported value: {v}")?,
            ErrorKind::Forbidden => f.write_str("Forbidden")?,
            ErrorKind::TooLong => f.write_str("Too long")?,
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// A manifest that parsed but failed validation; every error, on one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {}", summary(.errors))]
pub struct InvalidPod {
    /// The file name (or other label) the manifest came from.
    pub origin: String,
    pub errors: Vec<FieldError>,
}

/// At most 20 errors, `; `-separated, then how many were left out.
fn summary(errors: &[FieldError]) -> String {
    let mut s = errors.iter().take(20).map(|e| e.to_string()).collect::<Vec<_>>().join("; ");
    if errors.len() > 20 {
        s.push_str(&format!("; and {} more errors", errors.len() - 20));
    }
    s
}

const DNS1123_LABEL_FMT: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN_FMT: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const QUALIFIED_NAME_FMT: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_FMT: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

fn is_label_body(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
            alnum(f) && alnum(l) && b.iter().all(|c| alnum(c) || *c == b'-')
        }
        _ => false,
    }
}

/// RFC 1123 label (container, volume and port-less names): problems, empty when valid.
pub fn dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !is_label_body(s) {
        errs.push(DNS1123_LABEL_FMT.to_string());
    }
    errs
}

/// RFC 1123 subdomain (pod names, label key prefixes).
pub fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if !s.split('.').all(is_label_body) {
        errs.push(DNS1123_SUBDOMAIN_FMT.to_string());
    }
    errs
}

fn is_qualified_body(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Qualified name (label and annotation keys): optional `prefix/` (a DNS subdomain) + name.
pub fn qualified_name(s: &str) -> Vec<String> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    let mut errs = Vec::new();
    if name.contains('/') {
        errs.push(format!("a qualified name {QUALIFIED_NAME_FMT} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"));
        return errs;
    }
    if let Some(p) = prefix {
        if p.is_empty() {
            errs.push("prefix part must be non-empty".to_string());
        } else {
            errs.extend(dns1123_subdomain(p).into_iter().map(|e| format!("prefix part {e}")));
        }
    }
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else {
        if name.len() > 63 {
            errs.push("name part must be no more than 63 characters".to_string());
        }
        if !is_qualified_body(name) {
            errs.push(QUALIFIED_NAME_FMT.to_string());
        }
    }
    errs
}

/// Label value: empty, or ≤ 63 characters of the qualified-name alphabet.
pub fn label_value(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !s.is_empty() && !is_qualified_body(s) {
        errs.push(LABEL_VALUE_FMT.to_string());
    }
    errs
}

/// IANA_SVC_NAME (port names): ≤ 15 characters of `[-a-z0-9]`, at least one letter, no `--`,
/// no leading or trailing `-`.
pub fn iana_svc_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 15 {
        errs.push("must be no more than 15 characters".to_string());
    }
    if !s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string());
    }
    if s.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if !s.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if s.starts_with('-') || s.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// Environment variable names (relaxed rule, on by default upstream since 1.32): printable
/// ASCII except `=`.
pub fn env_var_name(s: &str) -> Vec<String> {
    if !s.is_empty() && s.bytes().all(|c| (b' '..=b'~').contains(&c) && c != b'=') {
        Vec::new()
    } else {
        vec!["a valid environment variable name must consist only of printable ASCII characters other than '='"
            .to_string()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_subdomains() {
        assert!(dns1123_label("web-1").is_empty());
        assert!(!dns1123_label("Web_1").is_empty());
        assert!(!dns1123_label("-a").is_empty());
        assert!(!dns1123_label("").is_empty());
        assert_eq!(dns1123_label(&"a".repeat(64)), vec!["must be no more than 63 characters"]);
        assert!(dns1123_subdomain("my.pod-1").is_empty());
        assert!(!dns1123_subdomain("my..pod").is_empty());
        assert!(!dns1123_subdomain(&"a".repeat(254)).is_empty());
    }

    #[test]
    fn qualified_names_and_values() {
        for ok in ["app", "app.kubernetes.io/name", "A_b.c", "example.com/X"] {
            assert!(qualified_name(ok).is_empty(), "{ok}");
        }
        for bad in ["", "/x", "Ex.com/x", "a/b/c", "-x", "x/"] {
            assert!(!qualified_name(bad).is_empty(), "{bad}");
        }
        assert!(label_value("").is_empty());
        assert!(label_value("v1.2_x").is_empty());
        assert!(!label_value("a b").is_empty());
    }

    #[test]
    fn port_and_env_names() {
        assert!(iana_svc_name("http").is_empty());
        assert!(iana_svc_name("web-8080").is_empty());
        for bad in ["80", "HTTP", "a--b", "-web", "abcdefghijklmnop", ""] {
            assert!(!iana_svc_name(bad).is_empty(), "{bad}");
        }
        assert!(env_var_name("FOO_1").is_empty());
        assert!(env_var_name("my.var-1 x").is_empty());
        assert!(!env_var_name("A=B").is_empty());
        assert!(!env_var_name("").is_empty());
        assert!(!env_var_name("tab\there").is_empty());
    }

    #[test]
    fn display_like_the_api_server() {
        let e = FieldError::invalid("spec.containers[0].name", "Web_1", "bad");
        assert_eq!(e.to_string(), r#"spec.containers[0].name: Invalid value: "Web_1": bad"#);
        let e = FieldError::not_supported("spec.restartPolicy", "Sometimes", &["Always", "Never"]);
        assert_eq!(
            e.to_string(),
            r#"spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never""#
        );
        assert_eq!(FieldError::required("spec.containers", "").to_string(), "spec.containers: Required value");
        let long = "é".repeat(1000);
        let shown = FieldError::invalid("p", long.as_str(), "x").to_string();
        assert!(shown.len() < 400 && shown.ends_with("... (2000 bytes): x"), "{shown}");
    }
}
