//! Pod manifests from text: JSON (first non-space character `{`) or YAML, with the failing
//! field's path in every error (`pod.yaml: spec.containers[1].lifecycle.preStop.httpGet.port:
//! ...`, always one line), then defaults, then validation.

use super::defaults as pod_defaults;
use super::validate::{self as pod_validate, Paths};
use super::{ObjectMeta, Pod, PodSpec};
use crate::spec::field_error::{FieldError, InvalidPod};
use anyhow::Result;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Messages quoting huge keys or values are cut to this many bytes.
const MAX_MESSAGE: usize = 1024;

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Levenshtein distance, for "did you mean" hints (field names are short).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// serde's "unknown field `livenesProbe`, expected one of `name`, ..." becomes
/// "unknown field `livenesProbe`, did you mean `livenessProbe`?" when one name is close.
fn suggest(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    let (field, expected) = rest.split_once('`')?;
    let tail = expected.find(" at line ").map_or("", |i| &expected[i..]);
    let best = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|cand| (distance(&field.to_ascii_lowercase(), &cand.to_ascii_lowercase()), cand))
        .min()?;
    (best.0 <= 2 && field.len() > 2).then(|| format!("unknown field `{field}`, did you mean `{}`?{tail}", best.1))
}

fn fail(source: &str, path: &str, msg: &str) -> anyhow::Error {
    let mut msg = one_line(msg);
    // yaml_serde prefixes its own copy of the path (the node's, or its parent's); keep ours.
    if let Some((head, rest)) = msg.split_once(": ") {
        if head == path || path.starts_with(&format!("{head}.")) || path.starts_with(&format!("{head}[")) {
            msg = rest.to_string();
        }
    }
    let mut msg = suggest(&msg).unwrap_or(msg);
    if msg.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !msg.is_char_boundary(end) {
            end -= 1;
        }
        msg.truncate(end);
        msg.push_str("...");
    }
    if path.is_empty() || path == "." || path == "?" {
        anyhow::anyhow!("{source}: {msg}")
    } else {
        anyhow::anyhow!("{source}: {path}: {msg}")
    }
}

/// Deserializes `text` (JSON or YAML) into `T`, naming the failing field.
fn from_text<T: DeserializeOwned>(text: &str, source: &str) -> Result<T> {
    let body = text.trim_start_matches('\u{feff}');
    if !body.trim_start().starts_with('{') {
        return from_yaml(body, source);
    }
    let de = &mut serde_json::Deserializer::from_str(body);
    let (path, err) = match serde_path_to_error::deserialize(&mut *de) {
        Ok(v) => match de.end() {
            Ok(()) => return Ok(v),
            Err(e) => (String::new(), e),
        },
        Err(e) => (e.path().to_string(), e.into_inner()),
    };
    // Not JSON after all? A YAML flow mapping (`{apiVersion: v1, ...}`) also starts with `{`.
    if err.is_syntax() {
        if let Ok(v) = from_yaml(body, source) {
            return Ok(v);
        }
    }
    Err(fail(source, &path, &err.to_string()))
}

fn from_yaml<T: DeserializeOwned>(body: &str, source: &str) -> Result<T> {
    // The crate's single YAML entry point: switching YAML libraries is a one-line change.
    let de = yaml_serde::Deserializer::from_str(body);
    serde_path_to_error::deserialize(de).map_err(|e| fail(source, &e.path().to_string(), &e.inner().to_string()))
}

/// `apiVersion` and `kind`, read first to pick the type to decode.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeMeta {
    #[serde(default)]
    api_version: Option<serde_json::Value>,
    #[serde(default)]
    kind: Option<serde_json::Value>,
}

fn type_meta(text: &str, source: &str) -> Result<(String, String)> {
    let tm: TypeMeta = from_text(text, source)?;
    let s = |v: Option<serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    Ok((s(tm.api_version), s(tm.kind)))
}

fn check_type(source: &str, (api, kind): &(String, String), want_api: &str, kinds: &[&str]) -> Result<()> {
    let mut errors = Vec::new();
    if kind.is_empty() {
        errors.push(FieldError::required("kind", ""));
    } else if !kinds.contains(&kind.as_str()) {
        errors.push(FieldError::not_supported("kind", kind, kinds));
    }
    if api.is_empty() {
        errors.push(FieldError::required("apiVersion", ""));
    } else if api != want_api {
        errors.push(FieldError::not_supported("apiVersion", api, &[want_api]));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(InvalidPod { origin: source.to_string(), errors }.into())
    }
}

/// Decodes a Pod without defaulting or validating it (for tools and tests).
pub fn decode(text: &str, source: &str) -> Result<Pod> {
    from_text(text, source)
}

fn finish(mut pod: Pod, source: &str, paths: Paths<'_>) -> Result<Pod> {
    pod.status = None;
    pod_defaults::apply(&mut pod, &pod_defaults::entropy());
    let errors = pod_validate::validate(&pod, paths);
    if errors.is_empty() {
        Ok(pod)
    } else {
        Err(InvalidPod { origin: source.to_string(), errors }.into())
    }
}

/// Parses a `kind: Pod` manifest, applies the Kubernetes defaults and validates it. `source`
/// (usually the file name) starts every error message. Validation failures are an
/// [`InvalidPod`] inside the `anyhow::Error` (use `downcast_ref`).
pub fn parse(text: &str, source: &str) -> Result<Pod> {
    let tm = type_meta(text, source)?;
    check_type(source, &tm, "v1", &["Pod"])?;
    finish(decode(text, source)?, source, Paths::POD)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Deployment {
    #[serde(default)]
    metadata: ObjectMeta,
    spec: DeploymentSpec,
}

/// Lenient: `replicas`, `selector`, `strategy`, ... only matter to a controller.
#[derive(Deserialize)]
struct DeploymentSpec {
    template: PodTemplateSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PodTemplateSpec {
    #[serde(default)]
    metadata: ObjectMeta,
    spec: PodSpec,
}

/// Like [`parse`], but also accepts `kind: Deployment` (`apps/v1`): the result is the pod its
/// template describes, named after the Deployment and in its namespace. Errors in the
/// template name their full path (`spec.template.spec.containers[0]...`).
pub fn parse_any(text: &str, source: &str) -> Result<Pod> {
    let tm = type_meta(text, source)?;
    if tm.1 != "Deployment" {
        return parse(text, source);
    }
    check_type(source, &tm, "apps/v1", &["Pod", "Deployment"])?;
    let d: Deployment = from_text(text, source)?;
    let template = d.spec.template;
    let pod = Pod {
        api_version: "v1".into(),
        kind: "Pod".into(),
        metadata: ObjectMeta {
            name: d.metadata.name,
            generate_name: None,
            namespace: d.metadata.namespace,
            uid: String::new(),
            labels: template.metadata.labels,
            annotations: template.metadata.annotations,
        },
        spec: template.spec,
        status: None,
    };
    finish(pod, source, Paths::TEMPLATE)
}
