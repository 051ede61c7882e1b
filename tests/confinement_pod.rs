//! Issue 7: a pod's pause process must not be a way out of the pod. Pause is PID 1 of every
//! container of a pod with a shared PID namespace, so /proc/1/* is pause for them: its root
//! must be an empty read-only tmpfs in a mount namespace of its own (no host mount), with no
//! capabilities, no_new_privs, a seccomp filter, no environment, no open files and the command
//! line `/pause`. The same holds seen from the host, for hostPID pods and after the sandbox is
//! re-created. And no process the runtime starts inside the pod's PID namespace (container
//! inits after restarts, `runp pod exec`, exec probes) may be caught there with the host's root
//! or CAP_SYS_ADMIN.
//!
//! The probe is /tmp/<marker>, a unique name: containers try to write /proc/1/root/tmp/<marker>
//! (a host file afterwards is the escape), and the race test creates it on the host and looks
//! for any process through whose /proc/<pid>/root it opens. It is removed on drop.
//!
//! Pause is found from the host as the process named `pause` below the pod's supervisor.

mod common;
#[path = "common/pod.rs"]
mod pod_harness;

use common::HostMarker;
use pod_harness::*;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// helpers

/// The pod world, or None when not root (under CI=true the harness fails instead).
fn pod_env() -> Option<PodEnv> {
    PodEnv::new()
}

/// A shell script that looks at PID 1 of its PID namespace the way an attacker would and
/// prints `KEY=value` lines, then `END`; it tries to write `pwned` to
/// /proc/1/root/tmp/<marker>.
fn pid1_report_script(marker: &str) -> String {
    format!(
        r#"M={marker}
out=$(ls -a1 /proc/1/root/ 2>&1); rc=$?; echo "ROOT_LS="$out; echo "ROOT_RC=$rc"
( echo pwned > /proc/1/root/tmp/$M ) 2>/dev/null; echo "WRITE_RC=$?"
out=$(ls -a1 /proc/1/cwd/ 2>&1); rc=$?; echo "CWD_LS="$out; echo "CWD_RC=$rc"
echo "ROOT_ID=$(stat -L -c %d:%i /proc/1/root/ 2>/dev/null)"
echo "CWD_ID=$(stat -L -c %d:%i /proc/1/cwd/ 2>/dev/null)"
echo "CMDLINE=$(tr '\0' '@' < /proc/1/cmdline)"
echo "CMDLINE_BYTES=$(wc -c < /proc/1/cmdline)"
echo "COMM=$(cat /proc/1/comm)"
grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/1/status | tr -d ' \t' | sed 's/:/=/'
echo "ENVIRON_BYTES=$(wc -c 2>/dev/null < /proc/1/environ || echo unreadable)"
out=$(ls -a1 /proc/1/fd/ 2>&1); rc=$?; echo "FD_LS="$out; echo "FD_RC=$rc"
echo "MOUNTINFO_LINES=$(wc -l < /proc/1/mountinfo)"
echo END
"#
    )
}

/// The `KEY=value` lines of a log.
fn kv(log: &str) -> BTreeMap<String, String> {
    log.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect()
}

fn get<'a>(kv: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    kv.get(key).map(String::as_str).unwrap_or("<missing>")
}

/// Waits until the current instance of container `c` has logged a line `END`; returns the log.
fn wait_log_end(pe: &PodEnv, name: &str, c: &str, timeout: Duration) -> String {
    poll(&format!("END in the log of {name}/{c}"), timeout, || {
        let out = pe.runp(&["pod", "logs", name, "-c", c]);
        let log = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success() && log.lines().any(|l| l.trim() == "END")).then_some(log)
    })
}

const ZERO_CAPS: &str = "0000000000000000";
const CAP_LINES: [&str; 5] = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"];

/// What is wrong with PID 1 as seen by a container through `pid1_report_script`.
/// `ptrace`: the container has CAP_SYS_PTRACE (so it may open pause's root, cwd, fd, environ).
fn pid1_violations(kv: &BTreeMap<String, String>, ptrace: bool) -> Vec<String> {
    let mut bad = Vec::new();
    let mut want = |key: &str, ok: bool, what: &str| {
        if !ok {
            bad.push(format!("{key}={} ({what})", get(kv, key)));
        }
    };
    want("WRITE_RC", get(kv, "WRITE_RC") != "0", "writing /proc/1/root/tmp/<marker> must fail");
    want("CMDLINE", get(kv, "CMDLINE") == "/pause@", "/proc/1/cmdline must be \"/pause\\0\"");
    want("CMDLINE_BYTES", get(kv, "CMDLINE_BYTES") == "7", "/proc/1/cmdline must be 7 bytes");
    want("COMM", get(kv, "COMM") == "pause", "/proc/1/comm");
    for c in CAP_LINES {
        want(c, get(kv, c) == ZERO_CAPS, "pause must hold no capability");
    }
    want("NoNewPrivs", get(kv, "NoNewPrivs") == "1", "pause must have no_new_privs");
    want("Seccomp", get(kv, "Seccomp") == "2", "pause must run under a seccomp filter");
    want("MOUNTINFO_LINES", get(kv, "MOUNTINFO_LINES") == "1", "pause's mount namespace must hold only its root");
    if ptrace {
        want("ROOT_RC", get(kv, "ROOT_RC") == "0", "/proc/1/root/ is listable with SYS_PTRACE");
        want("ROOT_LS", get(kv, "ROOT_LS") == ". ..", "pause's root must be empty");
        want("CWD_LS", get(kv, "CWD_LS") == ". ..", "pause's cwd must be its empty root");
        let id = get(kv, "ROOT_ID");
        want("CWD_ID", !id.is_empty() && get(kv, "CWD_ID") == id, "pause's cwd must be its root");
        want("ENVIRON_BYTES", get(kv, "ENVIRON_BYTES") == "0", "pause's environment must be empty");
        want("FD_RC", get(kv, "FD_RC") == "0", "/proc/1/fd/ is listable with SYS_PTRACE");
        want("FD_LS", get(kv, "FD_LS") == ". ..", "pause must hold no file descriptor");
    } else {
        want("ROOT_RC", get(kv, "ROOT_RC") != "0", "/proc/1/root/ must be refused without SYS_PTRACE");
        want(
            "ROOT_LS",
            get(kv, "ROOT_LS").contains("Permission denied"),
            "/proc/1/root/ must be refused without SYS_PTRACE",
        );
    }
    bad
}

/// The value of `Key:` in a /proc/<pid>/status text, blanks removed.
fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| "<missing>".to_string())
}

/// What is wrong with pause (host pid `pid`) seen from the host.
fn pause_violations_from_host(pid: i32) -> Vec<String> {
    let p = |f: &str| format!("/proc/{pid}/{f}");
    let mut bad = Vec::new();
    let names = |dir: &str| -> Result<Vec<String>, String> {
        std::fs::read_dir(dir)
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .map_err(|e| e.to_string())
    };
    match names(&p("root")) {
        Ok(v) if v.is_empty() => {}
        Ok(v) => bad.push(format!(
            "pause's root is not empty: {:?}{}",
            &v[..v.len().min(12)],
            if v.len() > 12 { " ..." } else { "" }
        )),
        Err(e) => bad.push(format!("{}: {e}", p("root"))),
    }
    match names(&p("cwd")) {
        Ok(v) if v.is_empty() => {}
        Ok(v) => bad.push(format!("pause's cwd is not empty: {:?}", &v[..v.len().min(12)])),
        Err(e) => bad.push(format!("{}: {e}", p("cwd"))),
    }
    match (std::fs::metadata(p("root")), std::fs::metadata(p("cwd"))) {
        (Ok(r), Ok(c)) if (r.dev(), r.ino()) == (c.dev(), c.ino()) => {}
        (r, c) => bad.push(format!(
            "pause's cwd is not its root: root {:?} cwd {:?}",
            r.map(|m| (m.dev(), m.ino())),
            c.map(|m| (m.dev(), m.ino()))
        )),
    }
    let mountinfo = std::fs::read_to_string(p("mountinfo")).unwrap_or_else(|e| format!("<{e}>"));
    let lines: Vec<&str> = mountinfo.lines().collect();
    if lines.len() != 1 {
        bad.push(format!("pause's mountinfo has {} lines, want 1 (first: {:?})", lines.len(), lines.first()));
    } else {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
        let f: Vec<&str> = lines[0].split_whitespace().collect();
        let fstype = f.iter().position(|x| *x == "-").and_then(|i| f.get(i + 1)).copied().unwrap_or("");
        let read_only = f.get(5).is_some_and(|o| o.split(',').any(|x| x == "ro"));
        if f.get(4) != Some(&"/") || fstype != "tmpfs" || !read_only {
            bad.push(format!("pause's only mount must be a read-only tmpfs on /: {}", lines[0]));
        }
    }
    match std::fs::read(p("cmdline")) {
        Ok(c) if c == b"/pause\0" => {}
        Ok(c) => bad.push(format!("pause's cmdline is {:?}, want \"/pause\\0\"", String::from_utf8_lossy(&c))),
        Err(e) => bad.push(format!("{}: {e}", p("cmdline"))),
    }
    let comm = std::fs::read_to_string(p("comm")).unwrap_or_default();
    if comm != "pause\n" {
        bad.push(format!("pause's comm is {comm:?}"));
    }
    match std::fs::read(p("environ")) {
        Ok(e) if e.is_empty() => {}
        Ok(e) => bad.push(format!("pause's environ has {} bytes, want 0", e.len())),
        Err(e) => bad.push(format!("{}: {e}", p("environ"))),
    }
    match names(&p("fd")) {
        Ok(v) if v.is_empty() => {}
        Ok(v) => bad.push(format!("pause holds fds {v:?}")),
        Err(e) => bad.push(format!("{}: {e}", p("fd"))),
    }
    let status = std::fs::read_to_string(p("status")).unwrap_or_default();
    for c in CAP_LINES {
        let v = status_field(&status, c);
        if v != ZERO_CAPS {
            bad.push(format!("pause's {c} is {v}, want {ZERO_CAPS}"));
        }
    }
    for (k, want) in [("NoNewPrivs", "1"), ("Seccomp", "2")] {
        let v = status_field(&status, k);
        if v != want {
            bad.push(format!("pause's {k} is {v}, want {want}"));
        }
    }
    bad
}

/// (ppid, comm, zombie) of a host process.
fn proc_stat(pid: i32) -> Option<(i32, String, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, tail) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let f: Vec<&str> = tail.split_whitespace().collect();
    Some((f.get(1)?.parse().ok()?, comm, f.first() == Some(&"Z")))
}

/// Live processes named `pause` descending from the pod's supervisor. (Found through the
/// process tree, not the command line: a confined pause's command line is just `/pause`.)
fn pause_pids_of(pe: &PodEnv, name: &str) -> Vec<i32> {
    let sup = pe.supervisor_pid(name);
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Some((mut ppid, comm, zombie)) = proc_stat(pid) else {
            continue;
        };
        if comm != "pause" || zombie {
            continue;
        }
        for _ in 0..8 {
            if ppid == sup {
                out.push(pid);
                break;
            }
            match proc_stat(ppid) {
                Some((pp, _, _)) if ppid > 1 => ppid = pp,
                _ => break,
            }
        }
    }
    out
}

/// The pod's one pause process (waits for it).
fn pause_of(pe: &PodEnv, name: &str) -> i32 {
    poll(&format!("the pause process of {name}"), secs(10), || match pause_pids_of(pe, name)[..] {
        [p] => Some(p),
        _ => None,
    })
}

/// A busybox container spec (YAML list item) running `script` through sh.
fn container(name: &str, script: &str, extra: &str) -> String {
    let mut s = format!("- name: {name}\n  image: busybox\n  command: [sh, -c, {}]\n", q(script));
    for l in dedent(extra).lines().filter(|l| !l.trim().is_empty()) {
        s.push_str("  ");
        s.push_str(l);
        s.push('\n');
    }
    s
}

const SYS_PTRACE: &str = "securityContext: {capabilities: {add: [SYS_PTRACE]}}";

// ---------------------------------------------------------------------------------------------
// PID 1 seen from a container

/// The reproduction of issue 7: with SYS_PTRACE, a container writes through /proc/1/root
/// (pause's root). Nothing may reach the host, and pause, seen from the container and from
/// the host, is an empty, capability-less, filtered process.
#[test]
fn sys_ptrace_container_cannot_write_to_the_host_through_pause() {
    let Some(pe) = pod_env() else { return };
    let marker = HostMarker::absent();
    let script = format!("{}exec sleep 3600\n", pid1_report_script(&marker.name));
    let name =
        pe.run_pod(&pod_yaml(&format!("restartPolicy: Never\ncontainers:\n{}", container("app", &script, SYS_PTRACE))));
    let log = wait_log_end(&pe, &name, "app", secs(20));
    let leaked = marker.exists().then(|| marker.content());
    marker.remove();
    let seen = kv(&log);
    let from_host = pause_violations_from_host(pause_of(&pe, &name));

    assert_eq!(
        leaked,
        None,
        "the container created {} on the host through /proc/1/root; its log:\n{log}",
        marker.path.display()
    );
    let bad = pid1_violations(&seen, true);
    assert!(bad.is_empty(), "PID 1 seen from a SYS_PTRACE container:\n  {}\nlog:\n{log}", bad.join("\n  "));
    assert!(from_host.is_empty(), "pause seen from the host:\n  {}", from_host.join("\n  "));
    pe.check_clean();
}

/// Without SYS_PTRACE pause's root is refused outright, and what any container can read of
/// PID 1 (cmdline, status, mountinfo) shows the confined pause.
#[test]
fn container_without_sys_ptrace_is_refused_pause_root() {
    let Some(pe) = pod_env() else { return };
    let marker = HostMarker::absent();
    let name = pe.run_pod(&pod_yaml(&format!(
        "restartPolicy: Never\ncontainers:\n{}",
        container("app", &format!("{}exec sleep 3600\n", pid1_report_script(&marker.name)), "")
    )));
    let log = wait_log_end(&pe, &name, "app", secs(20));
    let leaked = marker.exists();
    marker.remove();
    assert!(!leaked, "the container created {} on the host; its log:\n{log}", marker.path.display());
    let bad = pid1_violations(&kv(&log), false);
    assert!(bad.is_empty(), "PID 1 seen from a container without SYS_PTRACE:\n  {}\nlog:\n{log}", bad.join("\n  "));
    pe.check_clean();
}

/// Capability names by bit number (CAP_CHOWN = 0 .. CAP_CHECKPOINT_RESTORE = 40).
#[rustfmt::skip]
const CAP_NAMES: [&str; 41] = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT",
    "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
    "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
    "PERFMON", "BPF", "CHECKPOINT_RESTORE",
];

/// The names of the capabilities in this process's bounding set that the kernel knows.
fn host_capabilities() -> (Vec<&'static str>, Vec<&'static str>) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let bnd = u64::from_str_radix(&status_field(&status, "CapBnd"), 16).expect("CapBnd");
    let last: usize =
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(40);
    let known = CAP_NAMES.iter().enumerate().take(last + 1);
    let have = known.clone().filter(|(i, _)| bnd & (1 << i) != 0).map(|(_, n)| *n).collect();
    let lack = known.filter(|(i, _)| bnd & (1 << i) == 0).map(|(_, n)| *n).collect();
    (have, lack)
}

/// A privileged container has every capability runp has, yet pause's root is empty and
/// read-only and nothing reaches the host. A container given explicitly every capability the
/// host has (SYS_ADMIN, SYS_PTRACE, DAC_READ_SEARCH...) is checked too. (This host's bounding
/// set lacks CAP_SYS_RESOURCE: privileged gets the capabilities runp has, as under CRI.)
#[test]
fn privileged_container_cannot_write_to_the_host_through_pause() {
    let Some(pe) = pod_env() else { return };
    let (have, _lack) = host_capabilities();
    let (m_all, m_priv) = (HostMarker::absent(), HostMarker::absent());
    let script = |m: &HostMarker| format!("{}exec sleep 3600\n", pid1_report_script(&m.name));
    let spec = format!(
        "restartPolicy: Never\ncontainers:\n{}{}",
        container(
            "allcaps",
            &script(&m_all),
            &format!("securityContext: {{capabilities: {{add: [{}]}}}}", have.join(", "))
        ),
        container("priv", &script(&m_priv), "securityContext: {privileged: true}")
    );
    let name = pe.run_pod(&pod_yaml(&spec));
    for (c, marker) in [("allcaps", &m_all), ("priv", &m_priv)] {
        let log = wait_log_end(&pe, &name, c, secs(20));
        let leaked = marker.exists().then(|| marker.content());
        marker.remove();
        let seen = kv(&log);
        assert_eq!(leaked, None, "container {c} created {} on the host; its log:\n{log}", marker.path.display());
        assert_ne!(get(&seen, "WRITE_RC"), "0", "{c}: writing through /proc/1/root succeeded; log:\n{log}");
        assert_eq!(get(&seen, "ROOT_LS"), ". ..", "{c}: pause's root is not empty; log:\n{log}");
        assert_eq!(get(&seen, "CMDLINE"), "/pause@", "{c}: log:\n{log}");
    }
    pe.check_clean();
}

/// shareProcessNamespace: false: the container is its own PID 1, so /proc/1/root is its own
/// root: the write lands in the container's /tmp, not the host's.
#[test]
fn own_pid_namespace_writes_its_own_tmp() {
    let Some(pe) = pod_env() else { return };
    let marker = HostMarker::absent();
    let script = format!(
        r#"M={}
( echo pwned > /proc/1/root/tmp/$M ) 2>/dev/null; echo "WRITE_RC=$?"
echo "READBACK=$(cat /tmp/$M 2>&1)"
echo "CMDLINE=$(tr '\0' ' ' < /proc/1/cmdline)"
echo END
exec sleep 3600
"#,
        marker.name
    );
    let name = pe.run_pod(&pod_yaml(&format!(
        "restartPolicy: Never\nshareProcessNamespace: false\ncontainers:\n{}",
        container("app", &script, SYS_PTRACE)
    )));
    let log = wait_log_end(&pe, &name, "app", secs(20));
    let leaked = marker.exists();
    marker.remove();
    let seen = kv(&log);
    assert!(!leaked, "the container created {} on the host; its log:\n{log}", marker.path.display());
    assert!(get(&seen, "CMDLINE").starts_with("sh -c M="), "PID 1 is not the container's own process; log:\n{log}");
    assert_eq!(get(&seen, "WRITE_RC"), "0", "log:\n{log}");
    assert_eq!(
        get(&seen, "READBACK"),
        "pwned",
        "the write through /proc/1/root did not land in the container's /tmp; log:\n{log}"
    );
    let from_host = pause_violations_from_host(pause_of(&pe, &name));
    assert!(from_host.is_empty(), "pause seen from the host:\n  {}", from_host.join("\n  "));
    pe.check_clean();
}

// ---------------------------------------------------------------------------------------------
// pause seen from the host

/// hostPID: true: the containers share the host's PID namespace (their /proc/1 is the host's
/// init, which this test leaves alone); pause, which still holds the pod's other namespaces,
/// is confined all the same.
#[test]
fn host_pid_pod_has_a_confined_pause() {
    let Some(pe) = pod_env() else { return };
    let name =
        pe.run_pod(&pod_yaml(&format!("hostPID: true\ncontainers:\n{}", container("app", "exec sleep 3600", ""))));
    let st = pe.wait_running(&name, "app", secs(10));
    assert_eq!(phase(&st), "Running");
    let pause = pause_of(&pe, &name);
    let bad = pause_violations_from_host(pause);
    assert!(bad.is_empty(), "pause ({pause}) of a hostPID pod, seen from the host:\n  {}", bad.join("\n  "));
    pe.check_clean();
}

/// Pause killed under Always: the re-created pause is as confined as the first one, and the
/// restarted container cannot reach the host through it.
#[test]
fn recreated_sandbox_has_a_confined_pause() {
    let Some(pe) = pod_env() else { return };
    let marker = HostMarker::absent();
    let script = format!("{}exec sleep 3600\n", pid1_report_script(&marker.name));
    let name = pe.run_pod(&pod_yaml(&format!(
        "restartPolicy: Always\nterminationGracePeriodSeconds: 2\ncontainers:\n{}",
        container("app", &script, SYS_PTRACE)
    )));
    wait_log_end(&pe, &name, "app", secs(20));
    let first_leak = marker.exists();
    marker.remove();
    let old = pause_of(&pe, &name);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(old), nix::sys::signal::Signal::SIGKILL).expect("killing pause");
    pe.wait_until(&name, |s| restarts(ctr(s, "app")) >= 1 && state_of(ctr(s, "app")) == "running", secs(20));
    assert!(
        !pe.events_with(&name, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.").is_empty(),
        "no SandboxChanged event"
    );
    let new = poll("a new pause", secs(10), || match pause_pids_of(&pe, &name)[..] {
        [p] if p != old => Some(p),
        _ => None,
    });
    let log = wait_log_end(&pe, &name, "app", secs(20));
    let second_leak = marker.exists().then(|| marker.content());
    marker.remove();
    let from_host = pause_violations_from_host(new);

    assert_eq!(
        second_leak,
        None,
        "the restarted container created {} on the host through the new pause; log:\n{log}",
        marker.path.display()
    );
    let bad = pid1_violations(&kv(&log), true);
    assert!(bad.is_empty(), "the new PID 1 seen from the restarted container:\n  {}\nlog:\n{log}", bad.join("\n  "));
    assert!(from_host.is_empty(), "the new pause ({new}) seen from the host:\n  {}", from_host.join("\n  "));
    assert!(!first_leak, "the first container instance created {} on the host", marker.path.display());
    pe.check_clean();
}

// ---------------------------------------------------------------------------------------------
// processes the runtime starts inside the pod's PID namespace

/// Compiles tests/data/confine_attacker.c (static) into `dir`/attacker.
pub fn build_attacker(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/confine_attacker.c");
    let bin = dir.join("attacker");
    let out = std::process::Command::new("cc")
        .args(["-static", "-O2", "-Wall", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("running cc (needed to build tests/data/confine_attacker.c)");
    assert!(out.status.success(), "cc -static {}: {}", src.display(), String::from_utf8_lossy(&out.stderr));
    bin
}

/// The FOUND lines of an attacker's output, and its DONE line's `pids=` count.
fn attacker_result(log: &str) -> (Vec<String>, u64) {
    let found = log.lines().filter(|l| l.starts_with("FOUND")).map(str::to_string).collect();
    let pids = log
        .lines()
        .find_map(|l| l.strip_prefix("DONE "))
        .and_then(|d| d.split_whitespace().find_map(|f| f.strip_prefix("pids=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (found, pids)
}

/// How long the attacker watches.
const ATTACK_SECONDS: u64 = 15;

/// A SYS_PTRACE container watches the pod's PID namespace while the runtime keeps starting
/// processes in it: exec readiness probes every second, a container that exits every 0.3 s
/// (its init re-created each restart), and `runp pod exec`s. None of them may ever be seen
/// there with the host's root (the marker exists only on the host) or with CAP_SYS_ADMIN.
#[test]
fn no_runtime_process_in_the_pod_pid_namespace_is_reachable() {
    let Some(pe) = pod_env() else { return };
    let tools = pe.scratch().join("tools");
    std::fs::create_dir_all(&tools).expect("tools dir");
    build_attacker(&tools);
    let marker = HostMarker::present();
    let attacker = format!("/tools/attacker {ATTACK_SECONDS} {}; echo END; exec sleep 3600", marker.name);
    let spec = format!(
        "restartPolicy: Always\nterminationGracePeriodSeconds: 1\nvolumes:\n- name: tools\n  hostPath: {{path: {}, type: Directory}}\ncontainers:\n{}{}{}",
        q(&tools.to_string_lossy()),
        container(
            "attacker",
            &attacker,
            "securityContext: {capabilities: {add: [SYS_PTRACE]}}\nvolumeMounts: [{name: tools, mountPath: /tools, readOnly: true}]"
        ),
        container("target", "exec sleep 3600", "readinessProbe: {exec: {command: [\"true\"]}, periodSeconds: 1}"),
        container("crasher", "usleep 300000", ""),
    );
    let name = pe.run_pod(&pod_yaml(&spec));
    let started = poll("the attacker's START", secs(20), || {
        let out = pe.runp(&["pod", "logs", &name, "-c", "attacker"]);
        String::from_utf8_lossy(&out.stdout).contains("START").then(Instant::now)
    });
    pe.wait_running(&name, "target", secs(10));
    // Drive `pod exec`s for most of the attacker's watch (bounded in count and time).
    let mut execs = 0;
    while execs < 300 && started.elapsed() < Duration::from_secs(ATTACK_SECONDS - 2) {
        let out = pe.exec(&name, "target", &["true"]);
        assert!(out.status.success(), "pod exec true: {}", String::from_utf8_lossy(&out.stderr));
        execs += 1;
    }
    let log = wait_log_end(&pe, &name, "attacker", secs(ATTACK_SECONDS + 20));
    let st = pe.status(&name);
    let (found, pids) = attacker_result(&log);
    assert!(
        found.is_empty(),
        "processes in the pod's PID namespace reachable by a SYS_PTRACE container ({execs} execs):\n  {}\nlog:\n{log}",
        found.join("\n  ")
    );
    // The watch really saw the churn: the pod exec'd processes, probes and crasher inits.
    assert!(restarts(ctr(&st, "crasher")) >= 3, "the crasher did not restart: {:#}", ctr(&st, "crasher"));
    assert!(pids >= 20, "the attacker saw only {pids} distinct pids ({execs} execs); log:\n{log}");
    pe.check_clean();
}
