//! The create/start/state/kill/delete contract real clients (conmon, containerd's shim) rely on.

mod common;
use common::*;

#[test]
fn run_prints_and_exits_with_the_container_status() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let out = env.run_sh("echo hello from runp; hostname");
    assert_eq!(out, "hello from runp\nrunp\n");
    // Without a PID namespace the shell is not PID 1, so it can signal itself.
    for (script, code) in [("exit 0", 0), ("exit 3", 3), ("kill -KILL $$", 137), ("kill -TERM $$", 143)] {
        let id = unique_id("code");
        let b = env.bundle(&id, |c| {
            c["process"]["args"] = serde_json::json!(["sh", "-c", script]);
            let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "pid");
        });
        let out = env.run(&b, &id);
        assert_eq!(out.status.code(), Some(code), "{script}: {}", String::from_utf8_lossy(&out.stderr));
        assert_no_trace(&env, &id);
    }
}

#[test]
fn create_start_delete_split() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("split");
    let b = env.sh_bundle(&id, "echo started > /dev/null; sleep 30");
    let pid_file = env.scratch.path().join("init.pid");
    env.ok(&["create", "--bundle", b.to_str().unwrap(), "--pid-file", pid_file.to_str().unwrap(), &id]);
    // create returns only when the init exists and the pid file is written.
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    let st = env.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"], pid);
    assert_eq!(st["id"], id.as_str());
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    // a second create of the same id fails without touching the first
    let err = env.fails(&["create", "--bundle", b.to_str().unwrap(), &id]);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(env.status(&id), "created");

    env.ok(&["start", &id]);
    assert_eq!(env.status(&id), "running");
    let err = env.fails(&["start", &id]);
    assert!(err.contains("cannot start an already running container"), "{err}");
    let err = env.fails(&["delete", &id]);
    assert!(err.contains("is not stopped: running"), "{err}");

    env.ok(&["kill", &id, "KILL"]);
    env.wait_status(&id, "stopped");
    assert_eq!(env.state(&id)["pid"], 0);
    let err = env.fails(&["kill", &id, "TERM"]);
    assert!(err.contains("container not running"), "{err}");
    env.ok(&["delete", &id]);
    assert_no_trace(&env, &id);
    let err = env.fails(&["state", &id]);
    assert!(err.contains("container does not exist"), "{err}");
    // delete --force of an unknown id succeeds (containerd's cleanup depends on it)
    env.ok(&["delete", "--force", &id]);
}

#[test]
fn delete_of_a_created_container_kills_it() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("created");
    let b = env.sh_bundle(&id, "sleep 30");
    env.ok(&["create", "--bundle", b.to_str().unwrap(), &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    env.ok(&["delete", &id]);
    reap_zombies();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
    );
    assert_no_trace(&env, &id);
}

#[test]
fn kill_accepts_names_and_numbers() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    for sig in ["9", "KILL", "SIGKILL", "kill"] {
        let id = unique_id("kill");
        let b = env.sh_bundle(&id, "sleep 30");
        env.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
        assert_eq!(env.status(&id), "running");
        env.ok(&["kill", &id, sig]);
        env.wait_status(&id, "stopped");
        env.ok(&["delete", &id]);
    }
}

#[test]
fn pause_and_resume_freeze_the_container() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("pause");
    let b = env.sh_bundle(&id, "sleep 30");
    env.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    env.ok(&["pause", &id]);
    assert_eq!(env.status(&id), "paused");
    let err = env.fails(&["exec", &id, "true"]);
    assert!(err.contains("paused"), "{err}");
    env.ok(&["resume", &id]);
    assert_eq!(env.status(&id), "running");
    // SIGKILL reaches a paused container too
    env.ok(&["pause", &id]);
    env.ok(&["kill", &id, "KILL"]);
    env.wait_status(&id, "stopped");
    env.ok(&["delete", &id]);
    assert_no_trace(&env, &id);
}

#[test]
fn list_and_ps_formats() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    assert_eq!(env.ok(&["list", "--format", "json"]).trim(), "null");
    let id = unique_id("list");
    let b = env.sh_bundle(&id, "sleep 30");
    env.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(v[0]["id"], id.as_str());
    assert_eq!(v[0]["status"], "running");
    assert_eq!(v[0]["owner"], "root");
    assert_eq!(env.ok(&["list", "-q"]).trim(), id);
    let table = env.ok(&["list"]);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains(&id) && table.contains("running"));
    let pids: Vec<i32> = serde_json::from_str(&env.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(pids, vec![env.state(&id)["pid"].as_i64().unwrap() as i32]);
    env.ok(&["delete", "--force", &id]);
    assert_no_trace(&env, &id);
}

#[test]
fn state_json_has_the_runc_shape() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("shape");
    let b = env.bundle(&id, |c| {
        c["process"]["args"] = serde_json::json!(["sleep", "30"]);
        c["annotations"] = serde_json::json!({"org.example.key": "v1"});
    });
    env.ok(&["create", "--bundle", b.to_str().unwrap(), &id]);
    let text = env.ok(&["state", &id]);
    assert!(!text.ends_with('\n'), "runc prints no trailing newline");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for key in ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"] {
        assert!(v.get(key).is_some(), "missing {key}: {text}");
    }
    assert_eq!(v["annotations"]["org.example.key"], "v1");
    assert_eq!(v["bundle"], b.canonicalize().unwrap().to_str().unwrap());
    assert!(v["created"].as_str().unwrap().ends_with('Z'));
    env.ok(&["delete", "--force", &id]);
}

#[test]
fn version_and_features() {
    let out = std::process::Command::new(runp_bin()).arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("runp version "), "{text}");
    assert!(text.lines().any(|l| l.starts_with("spec: ")));
    let out = std::process::Command::new(runp_bin()).arg("features").output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ociVersionMin"], "1.0.0");
    assert!(v["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n == "pid"));
    assert!(v["hooks"].as_array().unwrap().iter().any(|n| n == "createRuntime"));
}

#[test]
fn spec_writes_a_secure_default_config() {
    let dir = tempfile::tempdir().unwrap();
    let st = std::process::Command::new(runp_bin()).args(["spec", "--bundle"]).arg(dir.path()).status().unwrap();
    assert!(st.success());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(v["process"]["noNewPrivileges"], true);
    assert_eq!(v["root"]["readonly"], true);
    assert!(v["process"]["capabilities"]["bounding"].as_array().unwrap().len() <= 3);
    assert!(v["linux"]["maskedPaths"].as_array().unwrap().iter().any(|p| p == "/proc/kcore"));
    // a second spec refuses to overwrite
    let st = std::process::Command::new(runp_bin()).args(["spec", "--bundle"]).arg(dir.path()).status().unwrap();
    assert!(!st.success());
}
