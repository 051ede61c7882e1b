//! config.json: loading with field paths in every error. The only module (with plan::from_oci)
//! that names oci-spec types.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Process, Spec};
use std::path::Path;

/// The OCI versions runp understands (major 1).
fn version_supported(v: &str) -> bool {
    v.split('.').next() == Some("1")
}

/// Parses JSON into `T`, reporting the failing field as a JSON path (`linux.namespaces[1].type`).
pub fn parse_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path == "?" || path.is_empty() {
            anyhow::anyhow!("{what}: {inner}")
        } else {
            anyhow::anyhow!("{what}: {path}: {inner}")
        }
    })
}

/// Reads and parses `<bundle>/config.json`.
pub fn load(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    // read_to_string + from_str: an unbuffered from_reader costs one read(2) per byte.
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let spec: Spec = parse_json(&text, &path.display().to_string())?;
    if !version_supported(spec.version()) {
        bail!("{}: ociVersion: unsupported version {:?}", path.display(), spec.version());
    }
    Ok(spec)
}

/// Parses an `exec --process` file (an OCI Process object).
pub fn load_process(path: &Path) -> Result<Process> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_json(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field() {
        let text = r#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0}},
            "linux":{"namespaces":[{"type":"pid"},{"type":"bogus"}]}}"#;
        let err = parse_json::<Spec>(text, "config.json").unwrap_err().to_string();
        assert!(err.starts_with("config.json: linux.namespaces[1].type: unknown variant"), "{err}");
    }

    #[test]
    fn malformed_json_is_one_line() {
        let err = parse_json::<Spec>("{\"ociVersion\": ", "config.json").unwrap_err().to_string();
        assert!(err.starts_with("config.json: "), "{err}");
        assert!(!err.contains('\n'));
    }
}
