//! Container environment and `$(VAR)` expansion with the kubelet's rules.
//!
//! * `command`/`args` are expanded from the container's resolved env ([`resolve_env`]).
//! * exec **probe** commands are expanded from the *static* env only ([`static_env`]).
//! * postStart/preStop exec commands are **not** expanded at all: callers simply do not call
//!   [`expand`] for them.
//!
//! See docs/pod-lifecycle.md#command-args-and-variable-expansion.

use super::Container;

/// Expands `$(VAR)` references in `s` from `env` (the last entry of a name wins).
///
/// Kubelet semantics (`third_party/forked/golang/expansion`): `$(VAR)` is replaced when VAR is
/// defined; an unknown `$(VAR)` is left as is; `$$` becomes `$`, so `$$(VAR)` gives the
/// literal `$(VAR)`; a `$` followed by anything else, an unclosed `$(`, or a final `$` are kept.
pub fn expand(s: &str, env: &[(String, String)]) -> String {
    let lookup = |name: &str| env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let mut chars = after.chars();
        match chars.next() {
            None => {
                out.push('$');
                rest = after;
            }
            Some('$') => {
                out.push('$');
                rest = chars.as_str();
            }
            Some('(') => {
                let inner = chars.as_str();
                match inner.find(')') {
                    Some(end) => {
                        let name = &inner[..end];
                        match lookup(name) {
                            Some(v) => out.push_str(v),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        rest = &inner[end + 1..];
                    }
                    None => {
                        out.push_str("$(");
                        rest = inner;
                    }
                }
            }
            Some(c) => {
                out.push('$');
                out.push(c);
                rest = chars.as_str();
            }
        }
    }
    out.push_str(rest);
    out
}

/// Expands every element (command or args).
pub fn expand_all(v: &[String], env: &[(String, String)]) -> Vec<String> {
    v.iter().map(|s| expand(s, env)).collect()
}

/// The env an exec probe's command is expanded from: every entry's literal `value`, not
/// expanded further. Entries with `valueFrom` map to the empty string, as upstream
/// (`ExpandContainerCommandOnlyStatic` → `V1EnvVarsToMap`).
pub fn static_env(c: &Container) -> Vec<(String, String)> {
    c.env.iter().map(|e| (e.name.clone(), e.value.clone().unwrap_or_default())).collect()
}

/// The container's environment as the kubelet builds it: in order, each `value` expanded
/// from the entries before it, each `fieldRef` filled in by `field` (given the field path,
/// e.g. `metadata.name`; `None` → empty). A repeated name keeps its first position and
/// takes the later value.
pub fn resolve_env(c: &Container, field: &dyn Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(c.env.len());
    for e in &c.env {
        let value = match (&e.value, &e.value_from) {
            (Some(v), _) if !v.is_empty() || e.value_from.is_none() => expand(v, &out),
            (_, Some(from)) => from.field_ref.as_ref().and_then(|f| field(&f.field_path)).unwrap_or_default(),
            _ => String::new(),
        };
        match out.iter_mut().find(|(k, _)| *k == e.name) {
            Some(slot) => slot.1 = value,
            None => out.push((e.name.clone(), value)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::pod::{EnvVar, EnvVarSource, ObjectFieldSelector};

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn expansion_rules() {
        let e = env(&[("FOO", "bar"), ("N", "1"), ("FOO", "baz")]);
        for (input, want) in [
            ("$(FOO)", "baz"),
            ("x$(N)y$(N)", "x1y1"),
            ("$(UNKNOWN)", "$(UNKNOWN)"),
            ("$$(FOO)", "$(FOO)"),
            ("$$$(FOO)", "$baz"),
            ("$$", "$"),
            ("$FOO", "$FOO"),
            ("$", "$"),
            ("a$", "a$"),
            ("$(FOO", "$(FOO"),
            ("$()", "$()"),
            ("$(FOO)$(", "baz$("),
            ("$é$(N)", "$é1"),
            ("no refs", "no refs"),
            ("", ""),
        ] {
            assert_eq!(expand(input, &e), want, "{input}");
        }
    }

    #[test]
    fn expand_never_panics() {
        let alphabet = ['$', '(', ')', 'A', 'é', '字', ' '];
        let e = env(&[("A", "$(A)")]);
        let mut seed: u64 = 7;
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = (seed >> 60) as usize;
            let s: String = (0..len).map(|i| alphabet[((seed >> (i * 3)) % 7) as usize]).collect();
            let _ = expand(&s, &e);
        }
    }

    #[test]
    fn env_resolution_in_order() {
        let var = |name: &str, value: &str| EnvVar { name: name.into(), value: Some(value.into()), value_from: None };
        let c = Container {
            env: vec![
                var("A", "x"),
                var("B", "$(A)-$(C)"),
                var("C", "c"),
                EnvVar {
                    name: "POD".into(),
                    value: None,
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector { field_path: "metadata.name".into(), api_version: None }),
                        ..Default::default()
                    }),
                },
                var("D", "$(POD)"),
                var("A", "y"),
            ],
            ..Default::default()
        };
        let field = |p: &str| (p == "metadata.name").then(|| "web".to_string());
        assert_eq!(
            resolve_env(&c, &field),
            env(&[("A", "y"), ("B", "x-$(C)"), ("C", "c"), ("POD", "web"), ("D", "web")])
        );
        assert_eq!(static_env(&c)[3], ("POD".to_string(), String::new()));
        // A probe's exec argv is expanded from the static env; hooks are not expanded.
        let argv = vec!["test".to_string(), "$(A)".into(), "=".into(), "y".into()];
        assert_eq!(expand_all(&argv, &static_env(&c)), ["test", "y", "=", "y"]);
    }
}
