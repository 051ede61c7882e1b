//! Bad input gets one clear line naming the file and field and a non-zero exit, and leaves
//! nothing behind: no process, mount, cgroup or state directory (issue item 7; docs/security.md#input-validation).

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Exit code, stdout, stderr of one runp call. The code is None when runp died of a signal.
fn outcome(env: &Env, args: &[&str]) -> (Option<i32>, String, String) {
    let out = env.runp(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `create` (or `run`) must fail with exit 1 and exactly one line on stderr, no panic.
fn fails_one_line(env: &Env, args: &[&str]) -> String {
    let (code, _, err) = outcome(env, args);
    assert_eq!(code, Some(1), "runp {args:?}: want exit 1, got {code:?}; stderr: {err}");
    assert!(!err.contains("panicked"), "runp {args:?} panicked: {err}");
    let err = err.trim_end().to_string();
    assert!(!err.is_empty(), "runp {args:?}: empty stderr");
    assert_eq!(err.lines().count(), 1, "runp {args:?}: error must be one line: {err:?}");
    err
}

/// Nothing of `id` is left: state dir, cgroup, mounts, processes (a parked init is a clone of
/// runp, so its command line still names the id), and nothing else under --root.
fn assert_clean(env: &Env, id: &str) {
    reap_zombies();
    assert_no_trace(env, id);
    let procs = processes_with(id);
    assert!(procs.is_empty(), "processes of {id} left behind: {procs:?}");
    let left = env.ids();
    assert!(left.is_empty(), "entries left under --root: {left:?}");
}

fn create_args<'a>(b: &'a Path, id: &'a str) -> [&'a str; 4] {
    ["create", "--bundle", b.to_str().unwrap(), id]
}

#[test]
fn malformed_json_is_one_line_naming_config_json() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("badjson");
    let b = env.bundle(&id, |_| {});
    std::fs::write(b.join("config.json"), "{\"ociVersion\": \"1.0.2\",\n \"process\": {\n").unwrap();
    for verb in ["create", "run"] {
        let err = fails_one_line(&env, &[verb, "--bundle", b.to_str().unwrap(), &id]);
        assert!(err.contains("config.json"), "{err}");
        assert_clean(&env, &id);
    }
    // Not JSON at all, and an empty file.
    for text in ["this is not json", ""] {
        std::fs::write(b.join("config.json"), text).unwrap();
        let err = fails_one_line(&env, &create_args(&b, &id));
        assert!(err.contains("config.json"), "{err}");
        assert_clean(&env, &id);
    }
    // No config.json at all.
    std::fs::remove_file(b.join("config.json")).unwrap();
    let err = fails_one_line(&env, &create_args(&b, &id));
    assert!(err.contains("config.json"), "{err}");
    assert_clean(&env, &id);
}

#[test]
fn unknown_namespace_type_names_the_field() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("badns");
    let mut index = 0;
    let b = env.bundle(&id, |c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        index = ns.len();
        ns.push(json!({"type": "bogus"}));
    });
    let err = fails_one_line(&env, &create_args(&b, &id));
    assert!(err.contains("config.json"), "{err}");
    assert!(err.contains(&format!("linux.namespaces[{index}].type")), "{err}");
    assert!(err.contains("bogus"), "{err}");
    assert_clean(&env, &id);
}

#[test]
fn missing_rootfs_names_root_path() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("noroot");
    let b = env.bundle(&id, |c| c["root"]["path"] = json!("does-not-exist"));
    let err = fails_one_line(&env, &create_args(&b, &id));
    assert!(err.contains("root.path"), "{err}");
    assert!(err.contains("does-not-exist"), "{err}");
    assert_clean(&env, &id);

    // A rootfs that is a file, not a directory.
    std::fs::write(b.join("afile"), "x").unwrap();
    let b = env.bundle(&id, |c| c["root"]["path"] = json!("afile"));
    let err = fails_one_line(&env, &create_args(&b, &id));
    assert!(err.contains("root.path"), "{err}");
    assert_clean(&env, &id);
}

/// runc refuses a rootfs that is a symlink ("invalid rootfs: not an absolute path, or a
/// symlink", libcontainer/configs/validate); runp does the same for a root.path whose last
/// component is a symlink (here one pointing out of the bundle).
#[test]
fn symlinked_rootfs_out_of_the_bundle_is_refused() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("linkroot");
    let b = env.bundle(&id, |c| {
        c["root"]["path"] = json!("rootfs");
        c["process"]["args"] = json!(["true"]);
    });
    std::os::unix::fs::symlink(base_bundle().join("rootfs"), b.join("rootfs")).unwrap();
    for verb in ["create", "run"] {
        let err = fails_one_line(&env, &[verb, "--bundle", b.to_str().unwrap(), &id]);
        assert!(err.contains("root.path") && err.contains("symlink"), "{err}");
        assert_clean(&env, &id);
    }
    // An absolute root.path that is a symlink too.
    let b2 = env.bundle(&format!("{id}-abs"), |c| {
        c["root"]["path"] = json!(b.join("rootfs").to_str().unwrap());
        c["process"]["args"] = json!(["true"]);
    });
    let err = fails_one_line(&env, &create_args(&b2, &id));
    assert!(err.contains("root.path") && err.contains("symlink"), "{err}");
    assert_clean(&env, &id);
}

#[test]
fn missing_executable_gives_the_words_podman_maps_to_127() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let cases = [
        ("x", r#"exec: "x": executable file not found in $PATH"#),
        ("/nonexistent", r#"exec: "/nonexistent": stat /nonexistent: no such file or directory"#),
    ];
    for (arg0, want) in cases {
        for verb in ["create", "run"] {
            let id = unique_id("noexe");
            let b = env.bundle(&id, |c| c["process"]["args"] = json!([arg0]));
            let err = fails_one_line(&env, &[verb, "--bundle", b.to_str().unwrap(), &id]);
            assert!(err.contains(want), "{verb} {arg0}: {err}");
            assert!(err.starts_with(&format!("runp {verb} failed: ")), "{err}");
            assert_clean(&env, &id);
        }
    }
}

#[test]
fn an_existing_id_is_refused_and_the_first_container_is_untouched() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("dup");
    let b = env.sh_bundle(&id, "sleep 30");
    env.ok(&["create", "--bundle", b.to_str().unwrap(), &id]);
    let before = env.state(&id);
    let cgs = cgroups_named(&id);
    assert!(!cgs.is_empty());
    let other = env.sh_bundle(&format!("{id}-other"), "sleep 30");
    for verb in ["create", "run"] {
        let err = fails_one_line(&env, &[verb, "--bundle", other.to_str().unwrap(), &id]);
        assert!(err.contains("container with given ID already exists"), "{err}");
    }
    let after = env.state(&id);
    assert_eq!(after["status"], "created");
    assert_eq!(after["pid"], before["pid"]);
    assert_eq!(after["bundle"], before["bundle"]);
    assert_eq!(cgroups_named(&id), cgs);
    env.ok(&["delete", "--force", &id]);
    assert_clean(&env, &id);
}

#[test]
fn invalid_ids_are_refused_before_touching_the_state_root() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let b = env.sh_bundle("valid-bundle", "true");
    let escape = unique_id("escape");
    let dotdot = format!("../{escape}");
    let long = "x".repeat(1025);
    let ids = ["", ".", "..", "a/b", dotdot.as_str(), "x y", "x\ny", ".\u{e9}", long.as_str()];
    for id in ids {
        for args in [
            vec!["create", "--bundle", b.to_str().unwrap(), id],
            vec!["run", "--bundle", b.to_str().unwrap(), id],
            vec!["state", id],
            vec!["start", id],
            vec!["kill", id, "KILL"],
            vec!["delete", "--force", id],
            vec!["exec", id, "true"],
        ] {
            let (code, _, err) = outcome(&env, &args);
            assert!(code.is_some_and(|c| c != 0), "{args:?}: want failure, got {code:?}");
            assert!(err.contains("invalid container ID format"), "{args:?}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err:?}");
        }
        let left = env.ids();
        assert!(left.is_empty(), "id {id:?} left {left:?} under --root");
    }
    let parent = env.root().parent().unwrap().join(&escape);
    assert!(!parent.exists(), "{} was created outside --root", parent.display());
    assert!(cgroups_named(&escape).is_empty());
    // 1024 characters pass the id check (runc's limit) but make no valid file or cgroup
    // name: a clean error all the same. 200 characters work.
    let max = "y".repeat(1024);
    let b = env.sh_bundle("max-bundle", "true");
    let err = fails_one_line(&env, &["run", "--bundle", b.to_str().unwrap(), &max]);
    assert!(!err.contains("invalid container ID format"), "{err}");
    assert_clean(&env, &max);
    let long_ok = "z".repeat(200);
    let out = env.run(&b, &long_ok);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_clean(&env, &long_ok);
}

#[test]
fn a_failing_create_hook_leaves_nothing() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let id = unique_id("hookfail");
        let b = env.bundle(&id, |c| {
            c["process"]["args"] = json!(["sleep", "30"]);
            c["hooks"] = json!({ kind: [
                {"path": "/bin/sh", "args": ["sh", "-c", "exit 0"]},
                {"path": "/bin/sh", "args": ["sh", "-c", "echo hook-out; echo hook-err >&2; exit 3"]},
            ]});
        });
        for verb in ["create", "run"] {
            let err = fails_one_line(&env, &[verb, "--bundle", b.to_str().unwrap(), &id]);
            assert!(err.contains(&format!("{kind} hook #1")), "{err}");
            assert!(err.contains("exit status 3") && err.contains("hook-out") && err.contains("hook-err"), "{err}");
            assert_clean(&env, &id);
        }
    }
    // A hook path that does not exist.
    let id = unique_id("hookmissing");
    let b = env.bundle(&id, |c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/nonexistent/hook"}]});
    });
    let err = fails_one_line(&env, &create_args(&b, &id));
    assert!(err.contains("createRuntime hook #0") && err.contains("/nonexistent/hook"), "{err}");
    assert_clean(&env, &id);
}

#[test]
fn a_hook_timeout_fails_create_quickly_and_leaves_nothing() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("hooktimeout");
    let b = env.bundle(&id, |c| {
        c["process"]["args"] = json!(["sleep", "30"]);
        c["hooks"] = json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "sleep 60"], "timeout": 1}]});
    });
    let t = Instant::now();
    let err = fails_one_line(&env, &create_args(&b, &id));
    assert!(t.elapsed() < Duration::from_secs(10), "took {:?}", t.elapsed());
    assert!(err.contains("prestart hook #0") && err.contains("hook ran past specified timeout of 1.0s"), "{err}");
    assert_clean(&env, &id);
}

#[test]
fn a_json_log_has_only_json_lines_and_the_error_last() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("jsonlog");
    let b = env.bundle(&id, |c| c["process"]["args"] = json!(["/nonexistent"]));
    let log = env.scratch.path().join("log.json");
    let logs = log.to_str().unwrap();
    let (code, _, stderr) =
        outcome(&env, &["--log", logs, "--log-format", "json", "create", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(code, Some(1));
    // Also the `--log-format=json` form podman uses, for a `state` of an unknown id.
    let (code2, _, stderr2) = outcome(&env, &["--log-format=json", "--log", logs, "state", &id]);
    assert_eq!(code2, Some(1));
    let text = std::fs::read_to_string(&log).unwrap();
    let mut errors = Vec::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("non-JSON log line {line:?}: {e}"));
        let obj = v.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["level", "msg", "time"], "{line}");
        assert!(v["time"].as_str().unwrap().ends_with('Z'), "{line}");
        if v["level"] == "error" {
            errors.push(v["msg"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(errors.len(), 2, "{text}");
    // containerd's getLastRuntimeError shows the last error's msg; stderr gets the bare message.
    assert!(errors[0].contains(r#"exec: "/nonexistent": stat /nonexistent: no such file or directory"#), "{errors:?}");
    assert_eq!(stderr.trim_end(), errors[0]);
    assert_eq!(errors[1], "container does not exist");
    assert_eq!(stderr2.trim_end(), "container does not exist");
    assert_clean(&env, &id);

    // One failing command with no warnings writes exactly one line: podman parses the whole
    // file as one object.
    let log2 = env.scratch.path().join("log2.json");
    let (code, _, _) = outcome(
        &env,
        &["--log", log2.to_str().unwrap(), "--log-format", "json", "create", "--bundle", b.to_str().unwrap(), &id],
    );
    assert_eq!(code, Some(1));
    let text = std::fs::read_to_string(&log2).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("log is not one JSON object {text:?}: {e}"));
    assert_eq!(v["level"], "error");
    assert_clean(&env, &id);

    // Without --log, --log-format json puts the JSON line on stderr.
    let (code, _, stderr) = outcome(&env, &["--log-format", "json", "state", &id]);
    assert_eq!(code, Some(1));
    let v: Value = serde_json::from_str(stderr.trim_end()).unwrap_or_else(|e| panic!("{stderr:?}: {e}"));
    assert_eq!(v["msg"], "container does not exist");
}

#[test]
fn an_unknown_log_format_fails() {
    let env = Env::new();
    for args in [vec!["--log-format", "bogus", "list"], vec!["--log-format=bogus", "state", "x"]] {
        let (code, out, err) = outcome(&env, &args);
        assert_eq!(code, Some(1), "{args:?}");
        assert!(out.is_empty(), "{out}");
        assert!(err.contains("invalid log-format") && err.contains("bogus"), "{err}");
    }
}

#[test]
fn deep_nesting_gives_a_clean_error_not_a_crash() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("deep");
    let b = env.bundle(&id, |_| {});
    let good = std::fs::read_to_string(b.join("config.json")).unwrap();
    let arrays = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let objects = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let unterminated = "[".repeat(10_000);
    let body = good.trim_end().strip_suffix('}').unwrap();
    assert!(good.contains("\"args\": [") && good.contains("\"linux\": {"));
    let docs = [
        arrays.clone(),
        objects.clone(),
        unterminated.clone(),
        format!("{body}, \"annotations\": {{\"k\": {arrays}}}}}"),
        good.replacen("\"args\": [", &format!("\"args\": [{arrays}, "), 1),
        good.replacen("\"linux\": {", &format!("\"linux\": {{\"sysctl\": {{\"k\": {objects}}}, "), 1),
        format!("{body}, \"x-unknown\": {unterminated}"),
    ];
    for (i, doc) in docs.iter().enumerate() {
        std::fs::write(b.join("config.json"), doc).unwrap();
        let err = fails_one_line(&env, &create_args(&b, &id));
        assert!(err.contains("config.json"), "doc {i}: {err}");
        assert_clean(&env, &id);
    }
    // Deep nesting under an unknown key is ignored (runtime-spec: unknown properties are
    // ignored); it must not crash either.
    std::fs::write(b.join("config.json"), format!("{body}, \"x-unknown\": {arrays}}}")).unwrap();
    let (code, _, err) = outcome(&env, &["run", "--bundle", b.to_str().unwrap(), &id]);
    assert!(code.is_some(), "runp died of a signal: {err}");
    assert!(!err.contains("panicked"), "{err}");
    env.runp(&["delete", "--force", &id]);
    assert_clean(&env, &id);
}

#[test]
fn nul_bytes_give_a_clean_error() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("nul");
    type Edit = Box<dyn Fn(&mut Value)>;
    let edits: Vec<(&str, Edit)> = vec![
        ("mounts[0]", Box::new(|c: &mut Value| c["mounts"][0]["source"] = json!("pro\u{0}c"))),
        ("mounts[1]", Box::new(|c: &mut Value| c["mounts"][1]["destination"] = json!("/de\u{0}v"))),
        ("process.env[0]", Box::new(|c: &mut Value| c["process"]["env"][0] = json!("A=b\u{0}c"))),
        ("hostname", Box::new(|c: &mut Value| c["hostname"] = json!("h\u{0}x"))),
    ];
    for (field, edit) in edits {
        let b = env.bundle(&id, |c| edit(c));
        let err = fails_one_line(&env, &create_args(&b, &id));
        assert!(err.contains(field), "{field}: {err}");
        assert!(err.to_lowercase().contains("nul"), "{field}: {err}");
        assert_clean(&env, &id);
    }
    // A NUL in process.args would reach execve.
    let b = env.bundle(&id, |c| c["process"]["args"] = json!(["echo", "x\u{0}y"]));
    let err = fails_one_line(&env, &create_args(&b, &id));
    assert!(err.contains("process.args[1]") && err.contains("NUL"), "{err}");
    assert_clean(&env, &id);
}

/// Durations and counts at the top of their types never abort runp: a hook timeout of
/// i64::MAX is just "no practical limit", `--preserve-fds 4294967295` is a clean error.
#[test]
fn huge_hook_timeout_and_preserve_fds_are_bounded() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("hugehook");
    let b = env.bundle(&id, |c| {
        c["process"]["args"] = json!(["true"]);
        c["hooks"] = json!({"prestart": [{"path": "/bin/true", "timeout": i64::MAX}]});
    });
    let (code, _, err) = outcome(&env, &["run", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(code, Some(0), "run with a hook timeout of i64::MAX: {err}");
    assert_clean(&env, &id);
    for n in ["4294967295", "4294967293", "100000000"] {
        let err = fails_one_line(&env, &["run", "--preserve-fds", n, "--bundle", b.to_str().unwrap(), &id]);
        assert!(err.contains("--preserve-fds") && err.contains(n), "{err}");
        assert_clean(&env, &id);
    }
}
