//! OCI hooks (docs/oci-cli.md#hooks): each kind runs at its moment with the state JSON on stdin, its
//! `env` as its whole environment, the bundle as cwd, and its args (argv[0] included); a
//! failing poststop only warns; a timeout kills the hook's process group.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Records one hook run into `$OUT/<name>.*`: its stdin, its initial environment and argv (from
/// /proc, so exactly what runp passed), its cwd, the init's command line at that moment, and
/// its name appended to `$OUT/order`.
const RECORDER: &str = r#"#!/bin/sh
name=$1
/bin/cat > "$OUT/$name.stdin"
/bin/cat /proc/$$/environ > "$OUT/$name.environ"
/bin/cat /proc/$$/cmdline > "$OUT/$name.cmdline"
pwd -P > "$OUT/$name.cwd"
pid=$(/bin/sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$OUT/$name.stdin")
if [ -n "$pid" ] && [ "$pid" != 0 ]; then
    /bin/cat /proc/$pid/cmdline > "$OUT/$name.initcmd" 2>/dev/null
fi
echo "$name" >> "$OUT/order"
"#;

struct Rec {
    script: PathBuf,
    out: PathBuf,
}

impl Rec {
    fn new(env: &Env) -> Rec {
        let script = env.scratch.path().join("recorder.sh");
        std::fs::write(&script, RECORDER).unwrap();
        let out = env.scratch.path().join("hook-out");
        std::fs::create_dir_all(&out).unwrap();
        Rec { script, out }
    }

    /// A hook entry that records under `name`: run through /bin/sh so that argv[0] is ours.
    fn hook(&self, name: &str) -> Value {
        json!({
            "path": "/bin/sh",
            "args": [format!("argv0-{name}"), self.script.to_str().unwrap(), name, "arg with space"],
            "env": [format!("OUT={}", self.out.display()), format!("HOOK_NAME={name}")],
        })
    }

    fn ran(&self, name: &str) -> bool {
        self.out.join(format!("{name}.stdin")).exists()
    }

    fn read(&self, name: &str, what: &str) -> String {
        std::fs::read_to_string(self.out.join(format!("{name}.{what}")))
            .unwrap_or_else(|e| panic!("{name}.{what}: {e}"))
    }

    fn state(&self, name: &str) -> Value {
        let text = self.read(name, "stdin");
        assert!(!text.ends_with('\n'), "state JSON on stdin has a trailing newline: {text:?}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} stdin {text:?}: {e}"))
    }

    fn order(&self) -> Vec<String> {
        std::fs::read_to_string(self.out.join("order")).unwrap_or_default().lines().map(str::to_string).collect()
    }

    fn nul_list(&self, name: &str, what: &str) -> Vec<String> {
        self.read(name, what).split('\0').filter(|s| !s.is_empty()).map(str::to_string).collect()
    }
}

/// runp with an extra variable in its environment (which no hook may see).
fn runp_with_env(env: &Env, args: &[&str]) -> std::process::Output {
    let out = tempfile::tempfile().unwrap();
    let err = tempfile::tempfile().unwrap();
    let status = env
        .cmd(args)
        .env("RUNP_TEST_LEAK", "must-not-reach-hooks")
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .status()
        .unwrap();
    use std::io::{Read, Seek};
    let read = |mut f: std::fs::File| {
        let mut v = Vec::new();
        f.rewind().unwrap();
        f.read_to_end(&mut v).unwrap();
        v
    };
    std::process::Output { status, stdout: read(out), stderr: read(err) }
}

fn ok_env(env: &Env, args: &[&str]) {
    let out = runp_with_env(env, args);
    assert!(out.status.success(), "runp {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn canonical(p: &Path) -> String {
    p.canonicalize().unwrap().to_str().unwrap().to_string()
}

#[test]
fn every_hook_runs_at_its_moment_with_state_env_cwd_and_args() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let rec = Rec::new(&env);
    let id = unique_id("hooks");
    let b = env.bundle(&id, |c| {
        c["process"]["args"] = json!(["sleep", "30"]);
        c["annotations"] = json!({"org.example.hook": "yes"});
        c["hooks"] = json!({
            "prestart": [rec.hook("prestart")],
            "createRuntime": [rec.hook("createRuntime1"), rec.hook("createRuntime2")],
            "createContainer": [rec.hook("createContainer")],
            "poststart": [rec.hook("poststart")],
            "poststop": [rec.hook("poststop")],
        });
    });
    let bundle = canonical(&b);

    ok_env(&env, &["create", "--bundle", b.to_str().unwrap(), &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(rec.order(), ["prestart", "createRuntime1", "createRuntime2", "createContainer"]);
    assert!(!rec.ran("poststart") && !rec.ran("poststop"));
    for name in ["prestart", "createRuntime1", "createRuntime2", "createContainer"] {
        let st = rec.state(name);
        assert_eq!(st["status"], "creating", "{name}: {st}");
        assert_eq!(st["id"], id.as_str(), "{name}");
        assert_eq!(st["bundle"], bundle.as_str(), "{name}");
        assert_eq!(st["annotations"]["org.example.hook"], "yes", "{name}");
        assert!(st["ociVersion"].as_str().is_some_and(|v| v.starts_with("1.")), "{name}: {st}");
    }
    // prestart and createRuntime run in the runtime namespace: the host pid of the init, which
    // has not exec'd the user program yet.
    for name in ["prestart", "createRuntime1", "createRuntime2"] {
        assert_eq!(rec.state(name)["pid"], pid, "{name}");
        let init = rec.read(name, "initcmd");
        assert!(!init.starts_with("sleep\0"), "{name} ran after the exec: {init:?}");
    }

    ok_env(&env, &["start", &id]);
    assert_eq!(env.status(&id), "running");
    assert_eq!(rec.order().last().map(String::as_str), Some("poststart"));
    let st = rec.state("poststart");
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["pid"], pid);
    // poststart runs after the user program was exec'd.
    assert_eq!(rec.read("poststart", "initcmd"), "sleep\x0030\x00");
    assert!(!rec.ran("poststop"));

    env.ok(&["kill", &id, "KILL"]);
    env.wait_status(&id, "stopped");
    assert!(!rec.ran("poststop"));
    ok_env(&env, &["delete", &id]);
    let st = rec.state("poststop");
    assert_eq!(st["status"], "stopped", "{st}");
    assert!(st.get("pid").is_none() || st["pid"] == 0, "{st}");
    assert_eq!(st["id"], id.as_str());
    assert_no_trace(&env, &id);

    assert_eq!(
        rec.order(),
        ["prestart", "createRuntime1", "createRuntime2", "createContainer", "poststart", "poststop"]
    );
    for name in rec.order() {
        // The hook's environment is exactly its `env`: nothing from runp's.
        let mut envs = rec.nul_list(&name, "environ");
        envs.sort();
        assert_eq!(envs, [format!("HOOK_NAME={name}"), format!("OUT={}", rec.out.display())], "{name}");
        // argv as given, argv[0] included.
        assert_eq!(
            rec.nul_list(&name, "cmdline"),
            [format!("argv0-{name}"), rec.script.display().to_string(), name.clone(), "arg with space".to_string()],
            "{name}"
        );
        // cwd is the bundle for the hooks that run on the host. (createContainer joins the
        // container's mount namespace, which resets its cwd to that namespace's root.)
        if name != "createContainer" {
            assert_eq!(rec.read(&name, "cwd").trim_end(), bundle, "{name}");
        }
    }
}

#[test]
fn run_runs_the_hooks_in_order_too() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let rec = Rec::new(&env);
    let id = unique_id("runhooks");
    let b = env.bundle(&id, |c| {
        c["process"]["args"] = json!(["true"]);
        c["hooks"] = json!({
            "prestart": [rec.hook("prestart")],
            "createRuntime": [rec.hook("createRuntime")],
            "createContainer": [rec.hook("createContainer")],
            "poststart": [rec.hook("poststart")],
            "poststop": [rec.hook("poststop")],
        });
    });
    let out = runp_with_env(&env, &["run", "--bundle", b.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(rec.order(), ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]);
    assert_eq!(rec.state("createRuntime")["status"], "creating");
    assert_eq!(rec.state("poststart")["status"], "running");
    assert_eq!(rec.state("poststop")["status"], "stopped");
    assert_no_trace(&env, &id);
}

/// startContainer hooks run during `start`, inside the container (path and files resolve in
/// the container's mount namespace), before the user program is exec'd.
#[test]
fn start_container_hooks_run_in_the_container_during_start() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let out = env.scratch.path().join("in-container");
    std::fs::create_dir_all(&out).unwrap();
    let id = unique_id("starthook");
    let b = env.bundle(&id, |c| {
        c["process"]["args"] = json!(["sleep", "30"]);
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/hookout", "type": "bind", "source": out.to_str().unwrap(), "options": ["rbind", "rw"]
        }));
        c["hooks"] = json!({"startContainer": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", "cat > /hookout/state; cat /proc/1/cmdline > /hookout/init; echo in-container > /hookout/marker"],
        }]});
    });
    env.ok(&["create", "--bundle", b.to_str().unwrap(), &id]);
    assert!(!out.join("state").exists(), "startContainer ran during create");
    env.ok(&["start", &id]);
    let state: Value = serde_json::from_str(&std::fs::read_to_string(out.join("state")).unwrap()).unwrap();
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["status"], "created", "{state}");
    assert_eq!(std::fs::read_to_string(out.join("marker")).unwrap(), "in-container\n");
    // Before the exec of the user program: the init is not `sleep` yet.
    assert!(!std::fs::read_to_string(out.join("init")).unwrap().starts_with("sleep\0"));
    env.ok(&["delete", "--force", &id]);
    assert_no_trace(&env, &id);
}

#[test]
fn a_failing_poststop_only_warns_and_later_poststop_hooks_still_run() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let rec = Rec::new(&env);
    let id = unique_id("poststopfail");
    let b = env.bundle(&id, |c| {
        c["process"]["args"] = json!(["sleep", "30"]);
        c["hooks"] = json!({"poststop": [
            rec.hook("first"),
            {"path": "/bin/sh", "args": ["sh", "-c", "echo broken-hook >&2; exit 4"]},
            {"path": "/nonexistent/hook"},
            rec.hook("last"),
        ]});
    });
    env.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    let out = env.runp(&["delete", "--force", &id]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "delete failed because of a poststop hook: {stderr}");
    assert!(stderr.contains("poststop hook #1") && stderr.contains("broken-hook"), "{stderr}");
    assert!(stderr.contains("poststop hook #2"), "{stderr}");
    assert_eq!(rec.order(), ["first", "last"]);
    assert_no_trace(&env, &id);
}

#[test]
fn a_failing_poststart_fails_start_and_stops_the_container() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("poststartfail");
    let b = env.bundle(&id, |c| {
        c["process"]["args"] = json!(["sleep", "30"]);
        c["hooks"] = json!({"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 5"]}]});
    });
    env.ok(&["create", "--bundle", b.to_str().unwrap(), &id]);
    let err = env.fails(&["start", &id]);
    assert!(err.contains("poststart hook #0") && err.contains("exit status 5"), "{err}");
    env.wait_status(&id, "stopped");
    env.ok(&["delete", &id]);
    assert_no_trace(&env, &id);

    // `run` cleans up by itself.
    let out = env.run(&b, &id);
    assert_eq!(out.status.code(), Some(1));
    assert_no_trace(&env, &id);
    assert!(processes_with(&id).is_empty());
}

/// At the timeout the hook's whole process group is killed, not only the hook.
#[test]
fn a_hook_timeout_kills_the_hooks_process_group() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let bgpid = env.scratch.path().join("bgpid");
    let id = unique_id("hookpg");
    let script = format!("sleep 60 & echo $! > {}; sleep 60", bgpid.display());
    let b = env.bundle(&id, |c| {
        c["process"]["args"] = json!(["sleep", "30"]);
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", script], "timeout": 1}]});
    });
    let t = Instant::now();
    let err = env.fails(&["create", "--bundle", b.to_str().unwrap(), &id]);
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(10), "took {took:?}");
    assert!(err.contains("hook ran past specified timeout of 1.0s"), "{err}");
    let pid: i32 = std::fs::read_to_string(&bgpid).unwrap().trim().parse().unwrap();
    // The background sleep was killed with the group (it may linger as our zombie briefly).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        reap_zombies();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z ") {
            break;
        }
        assert!(Instant::now() < deadline, "the hook's background `sleep 60` (pid {pid}) survived: {stat}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_no_trace(&env, &id);
    assert!(processes_with(&id).is_empty());
}

#[test]
fn hooks_without_env_get_an_empty_environment() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let out = env.scratch.path().join("environ");
    let id = unique_id("noenv");
    let script = format!("/bin/cat /proc/$$/environ > {}", out.display());
    let b = env.bundle(&id, |c| {
        c["process"]["args"] = json!(["true"]);
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]});
    });
    let o = runp_with_env(&env, &["run", "--bundle", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), b"", "the hook inherited an environment");
    assert_no_trace(&env, &id);
}

#[test]
fn a_failing_start_container_hook_fails_start_and_stops_the_container() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("startfail");
    let b = env.bundle(&id, |c| {
        c["process"]["args"] = json!(["sleep", "30"]);
        c["hooks"] = json!({"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 6"]}]});
    });
    env.ok(&["create", "--bundle", b.to_str().unwrap(), &id]);
    let err = env.fails(&["start", &id]);
    assert!(err.contains("startContainer hook #0") && err.contains("exit status 6") && err.contains("nope"), "{err}");
    env.wait_status(&id, "stopped");
    env.ok(&["delete", &id]);
    assert_no_trace(&env, &id);
}
