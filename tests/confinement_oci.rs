//! Issue 7, OCI side: a process the runtime puts into an existing container's PID namespace
//! (a container joining it by path, `runp exec`) must never be visible there while it still
//! has the host's root or CAP_SYS_ADMIN: a process of that container with CAP_SYS_PTRACE
//! could otherwise open /proc/<pid>/root and reach the host.
//!
//! The probe is /tmp/<marker>, a file that exists only on the host (removed on drop): any
//! process through whose /proc/<pid>/root/tmp/<marker> opens has the host's root.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// helpers

fn init_pid(env: &Env, id: &str) -> i32 {
    env.state(id)["pid"].as_i64().expect("state has no pid") as i32
}

fn add_caps(c: &mut Value, caps: &[&str]) {
    for set in ["bounding", "effective", "permitted"] {
        let v = c["process"]["capabilities"][set].as_array_mut().expect("process.capabilities");
        for cap in caps {
            v.push(json!(cap));
        }
    }
}

/// Deletes a container and reaps its init when dropped. A container in another's PID
/// namespace must go first, even when the test fails: until its init is reaped, the other's
/// init cannot finish exiting and its `delete` waits.
struct DeleteOnDrop<'a>(&'a Env, String);

impl Drop for DeleteOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.runp(&["delete", "--force", &self.1]);
        reap_zombies();
    }
}

/// Bit 21 of a hex capability mask.
fn has_sys_admin(hex: &str) -> bool {
    u64::from_str_radix(hex.trim(), 16).map(|m| m & (1 << 21) != 0).unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------
// a container joining another's PID namespace

/// createRuntime hook: records every host process in A's PID namespace at this moment (host
/// /proc): `PID root=host|other eff=HEX bnd=HEX cmd=...`, then `END`.
const PIDNS_SCAN_HOOK: &str = r#"#!/bin/sh
cat > "$OUT.state"
want=$(readlink /proc/$APID/ns/pid)
for d in $(ls -l /proc/[0-9]*/ns/pid 2>/dev/null | grep -F -- "-> $want" | sed 's|.* \(/proc/[0-9]*\)/ns/pid .*|\1|'); do
    [ "$(readlink $d/ns/pid 2>/dev/null)" = "$want" ] || continue
    if [ -e $d/root/tmp/$MARKER ]; then root=host; else root=other; fi
    eff=$(sed -n 's/^CapEff:[[:space:]]*//p' $d/status 2>/dev/null)
    bnd=$(sed -n 's/^CapBnd:[[:space:]]*//p' $d/status 2>/dev/null)
    cmd=$(tr '\0' ' ' < $d/cmdline 2>/dev/null)
    echo "${d#/proc/} root=$root eff=$eff bnd=$bnd cmd=$cmd" >> "$OUT"
done
echo END >> "$OUT"
"#;

/// Container B joins container A's PID namespace by path. While B's rootfs is being set up
/// (its createRuntime hook), no process in A's PID namespace has the host's root or
/// CAP_SYS_ADMIN, so nothing in A could reach the host through B. B then runs in A's
/// namespace (its /proc/1 is A's init) and both leave nothing behind.
#[test]
fn joining_a_pid_namespace_exposes_no_host_root() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let marker = HostMarker::present();
    let a = unique_id("conf-a");
    let ba = env.bundle(&a, |c| c["process"]["args"] = json!(["sleep", "1001"]));
    env.ok(&["run", "-d", "--bundle", ba.to_str().expect("utf8"), &a]);
    let apid = init_pid(&env, &a);

    let hook = env.scratch.path().join("pidns-scan.sh");
    std::fs::write(&hook, PIDNS_SCAN_HOOK).expect("writing the hook");
    let out = env.scratch.path().join("pidns-scan.out");
    let b = unique_id("conf-b");
    let hook_entry = json!({
        "path": "/bin/sh",
        "args": ["sh", hook.to_str().expect("utf8")],
        "env": [
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            format!("APID={apid}"),
            format!("MARKER={}", marker.name),
            format!("OUT={}", out.display()),
        ],
    });
    let bb = env.bundle(&b, move |c| {
        c["process"]["args"] = json!(["sleep", "1002"]);
        c["linux"]["namespaces"] = json!([
            {"type": "mount"},
            {"type": "network"},
            {"type": "ipc"},
            {"type": "uts"},
            {"type": "pid", "path": format!("/proc/{apid}/ns/pid")},
        ]);
        c["hooks"] = json!({"createRuntime": [hook_entry]});
    });
    let _delete_b_first = DeleteOnDrop(&env, b.clone());
    env.ok(&["create", "--bundle", bb.to_str().expect("utf8"), &b]);

    let scan = std::fs::read_to_string(&out)
        .unwrap_or_else(|e| panic!("the createRuntime hook left no {}: {e}", out.display()));
    assert!(scan.lines().any(|l| l == "END"), "the hook did not finish its scan:\n{scan}");
    let procs: Vec<&str> = scan.lines().filter(|l| *l != "END").collect();
    assert!(
        procs.iter().any(|l| l.contains("cmd=sleep 1001")),
        "the hook did not see A's init (pid {apid}) in A's PID namespace:\n{scan}"
    );
    let field = |l: &str, k: &str| -> String {
        l.split_whitespace().find_map(|f| f.strip_prefix(k).map(str::to_string)).unwrap_or_default()
    };
    let exposed: Vec<&&str> = procs
        .iter()
        .filter(|l| {
            field(l, "root=") != "other" || has_sys_admin(&field(l, "eff=")) || has_sys_admin(&field(l, "bnd="))
        })
        .collect();
    assert!(
        exposed.is_empty(),
        "while B was being created, processes in A's PID namespace had the host's root or CAP_SYS_ADMIN:\n  {}\nfull scan:\n{scan}",
        exposed.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("\n  ")
    );

    env.ok(&["start", &b]);
    assert_eq!(env.status(&b), "running");
    let cmdline = env.ok(&["exec", &b, "cat", "/proc/1/cmdline"]);
    assert_eq!(cmdline, "sleep\u{0}1001\u{0}", "B's PID 1 is not A's init");
    env.ok(&["delete", "--force", &b]);
    reap_zombies();
    assert_no_trace(&env, &b);
    assert_eq!(env.status(&a), "running");
    env.ok(&["delete", "--force", &a]);
    reap_zombies();
    assert_no_trace(&env, &a);
    for p in [env.scratch.path(), env.root()] {
        let m = host_mounts_with(p.to_str().expect("utf8"));
        assert!(m.is_empty(), "host mounts left under {}: {m:?}", p.display());
    }
}

// ---------------------------------------------------------------------------------------------
// runp exec

/// Compiles tests/data/confine_attacker.c (static) to `bin`.
fn build_attacker(bin: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/confine_attacker.c");
    let out = std::process::Command::new("cc")
        .args(["-static", "-O2", "-Wall", "-o"])
        .arg(bin)
        .arg(&src)
        .output()
        .expect("running cc (needed to build tests/data/confine_attacker.c)");
    assert!(out.status.success(), "cc -static {}: {}", src.display(), String::from_utf8_lossy(&out.stderr));
}

/// How long the attacker watches.
const ATTACK_SECONDS: u64 = 15;

/// A container with CAP_SYS_PTRACE watches its PID namespace while `runp exec A true` runs
/// again and again: no exec'd process may ever be seen there with the host's root (the marker
/// exists only on the host) or with CAP_SYS_ADMIN.
#[test]
fn exec_processes_are_never_reachable_in_the_container() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let marker = HostMarker::present();
    // A private rootfs with the attacker in it and /out for its report.
    let rootfs = env.scratch.path().join("attacker-rootfs");
    let st =
        std::process::Command::new("cp").arg("-a").arg(base_bundle().join("rootfs")).arg(&rootfs).status().expect("cp");
    assert!(st.success(), "cp -a of the busybox rootfs failed");
    build_attacker(&rootfs.join("attacker"));
    std::fs::create_dir_all(rootfs.join("out")).expect("mkdir out");
    let out = env.scratch.path().join("out");
    std::fs::create_dir_all(&out).expect("out dir");

    let a = unique_id("conf-exec");
    let script =
        format!("/attacker {ATTACK_SECONDS} {} > /out/log 2>&1; echo END >> /out/log; exec sleep 1000", marker.name);
    let (r, o) = (rootfs.display().to_string(), out.display().to_string());
    let b = env.bundle(&a, move |c| {
        c["root"]["path"] = json!(r);
        c["process"]["args"] = json!(["sh", "-c", script]);
        add_caps(c, &["CAP_SYS_PTRACE"]);
        c["mounts"]
            .as_array_mut()
            .expect("mounts")
            .push(json!({"destination": "/out", "type": "bind", "source": o, "options": ["rbind", "rw"]}));
    });
    env.ok(&["run", "-d", "--bundle", b.to_str().expect("utf8"), &a]);
    let log_path = out.join("log");
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let started = poll("the attacker's START", Duration::from_secs(20), || log().contains("START").then(Instant::now));
    let mut execs = 0;
    while execs < 300 && started.elapsed() < Duration::from_secs(ATTACK_SECONDS - 2) {
        let r = env.runp(&["exec", &a, "true"]);
        assert!(r.status.success(), "runp exec {a} true: {}", String::from_utf8_lossy(&r.stderr));
        execs += 1;
    }
    let text = poll("the attacker's END", Duration::from_secs(ATTACK_SECONDS + 20), || {
        let t = log();
        t.lines().any(|l| l == "END").then_some(t)
    });
    let found: Vec<&str> = text.lines().filter(|l| l.starts_with("FOUND")).collect();
    let pids: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("DONE "))
        .and_then(|d| d.split_whitespace().find_map(|f| f.strip_prefix("pids=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    env.ok(&["delete", "--force", &a]);
    reap_zombies();
    assert_no_trace(&env, &a);
    assert!(
        found.is_empty(),
        "exec'd processes reachable by a SYS_PTRACE process of the container ({execs} execs):\n  {}\nlog:\n{text}",
        found.join("\n  ")
    );
    assert!(
        pids >= 20,
        "the attacker saw only {pids} distinct pids in {execs} execs: it watched nothing; log:\n{text}"
    );
}
