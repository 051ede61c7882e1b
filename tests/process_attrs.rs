//! config.json `process` (and a few `linux`) settings, checked from INSIDE the container:
//! args/env/cwd, user and groups, umask, capabilities, rlimits, no_new_privs, oom_score_adj,
//! seccomp, sysctls, hostname, and the terminal handed over a --console-socket.

mod common;
use common::*;

use serde_json::{json, Value};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Output;

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/// Runs a prepared runp Command to completion with stdout/stderr captured through files.
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts a container run succeeded; returns its stdout.
fn ok_out(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: container failed ({}): stdout={} stderr={}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A writable /tmp: the busybox root is read-only.
fn add_tmp(c: &mut Value) {
    c["mounts"].as_array_mut().expect("mounts array").push(json!({
        "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "mode=1777", "size=1m"]
    }));
}

fn drop_ns(c: &mut Value, kind: &str) {
    c["linux"]["namespaces"].as_array_mut().expect("namespaces array").retain(|n| n["type"] != kind);
}

/// Runs `edit`ed busybox config in the foreground with `script` as `sh -c`; returns stdout.
fn run_script(env: &Env, script: &str, edit: impl FnOnce(&mut Value)) -> String {
    let id = unique_id("pa");
    let script = script.to_string();
    let b = env.bundle(&id, move |c| {
        c["process"]["args"] = json!(["sh", "-c", script]);
        edit(c);
    });
    let out = env.run(&b, &id);
    let s = ok_out(&out, &id);
    assert_no_trace(env, &id);
    s
}

/// `create` of the edited config must fail; returns stderr and checks nothing is left behind.
fn create_fails(env: &Env, edit: impl FnOnce(&mut Value)) -> String {
    let id = unique_id("bad");
    let b = env.bundle(&id, edit);
    let err = env.fails(&["create", "--bundle", b.to_str().expect("utf8"), &id]);
    assert_no_trace(env, &id);
    err
}

/// The value of `Key:` in a /proc/<pid>/status text.
fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in status: {status}"))
        .trim()
        .to_string()
}

const DOCKER_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

// ---------------------------------------------------------------------------------------------
// args, env, cwd
// ---------------------------------------------------------------------------------------------

#[test]
fn env_is_exactly_process_env_and_nothing_from_runp() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let want = vec![
        "PATH=/usr/bin:/bin".to_string(),
        "FOO=bar".to_string(),
        "WITH_SPACE=a b  c".to_string(),
        "EMPTY=".to_string(),
        "EQUALS=x=y".to_string(),
    ];
    let id = unique_id("env");
    let w = want.clone();
    // `env` itself as the init (a shell would add PWD, SHLVL...).
    let b = env.bundle(&id, move |c| {
        c["process"]["args"] = json!(["env"]);
        c["process"]["env"] = json!(w);
    });
    let mut cmd = env.cmd(&["run", "--bundle", b.to_str().expect("utf8"), &id]);
    cmd.env("SECRET", "1")
        .env("NOTIFY_SOCKET", "x")
        .env("LISTEN_FDS", "3")
        .env("LISTEN_PID", "1")
        .env("RUST_LOG", "debug");
    let out = ok_out(&output_of(cmd), "env");
    let mut got: Vec<String> = out.lines().map(str::to_string).collect();
    got.sort();
    let mut want_sorted = want;
    want_sorted.sort();
    assert_eq!(got, want_sorted, "the container's environment must be exactly process.env");
    assert_no_trace(&env, &id);
}

#[test]
fn args_are_passed_verbatim() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("args");
    let b = env.bundle(&id, |c| {
        c["process"]["args"] = json!(["sh", "-c", "printf '[%s]' \"$0\" \"$@\"", "zero", "a b", "", "*", "$HOME"]);
    });
    let out = ok_out(&env.run(&b, &id), "args");
    assert_eq!(out, "[zero][a b][][*][$HOME]");
}

#[test]
fn cwd_is_applied() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    for dir in ["/", "/etc", "/usr/bin", "/etc/"] {
        let out = run_script(&env, "pwd", |c| c["process"]["cwd"] = json!(dir));
        let want = if dir.len() > 1 { dir.trim_end_matches('/') } else { dir };
        assert_eq!(out.trim(), want, "cwd {dir}");
    }
}

#[test]
fn relative_and_missing_cwd_fail_cleanly() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let err = create_fails(&env, |c| c["process"]["cwd"] = json!("etc"));
    assert!(err.contains("process.cwd"), "relative cwd: {err}");
    // The root is read-only and /nonexistent is not in it: the process cannot start there.
    let err = create_fails(&env, |c| c["process"]["cwd"] = json!("/nonexistent/dir"));
    assert!(err.contains("working directory") && err.contains("no such file"), "missing cwd: {err}");
    // A file is not a directory.
    let err = create_fails(&env, |c| c["process"]["cwd"] = json!("/etc/passwd"));
    assert!(err.contains("working directory"), "file cwd: {err}");
}

// ---------------------------------------------------------------------------------------------
// user, groups, umask
// ---------------------------------------------------------------------------------------------

#[test]
fn user_and_exact_groups_without_runp_groups() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let script = "id; grep -E '^(Uid|Gid|Groups):' /proc/self/status";
    let run_with_host_groups = |edit: &dyn Fn(&mut Value)| -> String {
        let id = unique_id("user");
        let b = env.bundle(&id, |c| {
            c["process"]["args"] = json!(["sh", "-c", script]);
            edit(c);
        });
        let mut cmd = env.cmd(&["run", "--bundle", b.to_str().expect("utf8"), &id]);
        // runp itself runs with supplementary groups 6 and 999: they must not leak (CVE-2022-36109).
        // SAFETY: setgroups is async-signal-safe; the array lives on the closure's stack.
        unsafe {
            cmd.pre_exec(|| {
                let groups: [libc::gid_t; 2] = [6, 999];
                if libc::setgroups(2, groups.as_ptr()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = ok_out(&output_of(cmd), &id);
        assert_no_trace(&env, &id);
        out
    };

    // root without additionalGids: no supplementary groups at all.
    let out = run_with_host_groups(&|_| {});
    assert_eq!(status_field(&out, "Uid"), "0\t0\t0\t0", "{out}");
    assert_eq!(status_field(&out, "Groups"), "", "root with no additionalGids must have no groups: {out}");

    // uid 1000, gid 1000, additionalGids [5]: exactly that.
    let out =
        run_with_host_groups(&|c| c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5]}));
    assert_eq!(status_field(&out, "Uid"), "1000\t1000\t1000\t1000", "{out}");
    assert_eq!(status_field(&out, "Gid"), "1000\t1000\t1000\t1000", "{out}");
    let groups: Vec<u32> = status_field(&out, "Groups").split_whitespace().map(|g| g.parse().expect("gid")).collect();
    assert_eq!(groups, vec![5], "Groups must be exactly additionalGids (no host 6/999): {out}");
    let id_line = out.lines().next().unwrap_or_default();
    assert!(id_line.starts_with("uid=1000(user) gid=1000(user) groups="), "{id_line}");
    assert!(id_line.contains("5(tty)") && !id_line.contains("999") && !id_line.contains("(6)"), "{id_line}");

    // duplicates collapse; several groups
    let out = run_with_host_groups(&|c| {
        c["process"]["user"] = json!({"uid": 65534, "gid": 65534, "additionalGids": [7, 5, 7]})
    });
    let groups: Vec<u32> = status_field(&out, "Groups").split_whitespace().map(|g| g.parse().expect("gid")).collect();
    assert_eq!(groups, vec![5, 7], "{out}");
    assert_eq!(status_field(&out, "Uid"), "65534\t65534\t65534\t65534", "{out}");
}

#[test]
fn umask_default_and_configured() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let script = "umask; touch /tmp/f; stat -c %a /tmp/f";
    let out = run_script(&env, script, add_tmp);
    assert_eq!(out, "0022\n644\n", "runc's default umask is 0022");
    let out = run_script(&env, script, |c| {
        add_tmp(c);
        c["process"]["user"]["umask"] = json!(0o077);
    });
    assert_eq!(out, "0077\n600\n", "configured umask 0077");
    let out = run_script(&env, script, |c| {
        add_tmp(c);
        c["process"]["user"]["umask"] = json!(0);
    });
    assert_eq!(out, "0000\n666\n", "umask 0 is a value, not 'unset'");
}

// ---------------------------------------------------------------------------------------------
// capabilities
// ---------------------------------------------------------------------------------------------

fn caps_of(env: &Env, edit: impl FnOnce(&mut Value)) -> String {
    run_script(env, "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status", edit)
}

fn assert_caps(out: &str, inh: &str, prm: &str, eff: &str, bnd: &str, amb: &str) {
    for (key, want) in [("CapInh", inh), ("CapPrm", prm), ("CapEff", eff), ("CapBnd", bnd), ("CapAmb", amb)] {
        assert_eq!(status_field(out, key), want, "{key} in\n{out}");
    }
}

#[test]
fn capabilities_default_bundle_and_docker_set() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    // The bundle's 3 caps: AUDIT_WRITE(29) KILL(5) NET_BIND_SERVICE(10); no inheritable/ambient.
    let out = caps_of(&env, |_| {});
    assert_caps(
        &out,
        "0000000000000000",
        "0000000020000420",
        "0000000020000420",
        "0000000020000420",
        "0000000000000000",
    );
    // Docker's 14 default caps (docs/security.md#pod-containers): a80425fb; inheritable and ambient stay empty.
    let out = caps_of(&env, |c| {
        c["process"]["capabilities"] =
            json!({"bounding": DOCKER_CAPS, "permitted": DOCKER_CAPS, "effective": DOCKER_CAPS});
    });
    assert_caps(
        &out,
        "0000000000000000",
        "00000000a80425fb",
        "00000000a80425fb",
        "00000000a80425fb",
        "0000000000000000",
    );
    // No capabilities object at all: nothing.
    let out = caps_of(&env, |c| {
        c["process"].as_object_mut().expect("process").remove("capabilities");
    });
    assert_caps(
        &out,
        "0000000000000000",
        "0000000000000000",
        "0000000000000000",
        "0000000000000000",
        "0000000000000000",
    );
    // Sets differ from each other: bounding wider than permitted. (For uid 0 the kernel makes
    // effective = permitted at execve, whatever the effective list says.)
    let out = caps_of(&env, |c| {
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"],
            "permitted": ["CAP_KILL", "CAP_CHOWN"],
            "effective": ["CAP_KILL"],
        });
    });
    assert_caps(
        &out,
        "0000000000000000",
        "0000000000000021",
        "0000000000000021",
        "0000000000002021",
        "0000000000000000",
    );
}

#[test]
fn ambient_capabilities_need_inheritable_and_permitted() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let nbs = ["CAP_NET_BIND_SERVICE"];
    // In all five sets: raised.
    let out = caps_of(&env, |c| {
        c["process"]["capabilities"] =
            json!({"bounding": nbs, "permitted": nbs, "effective": nbs, "inheritable": nbs, "ambient": nbs});
    });
    assert_caps(
        &out,
        "0000000000000400",
        "0000000000000400",
        "0000000000000400",
        "0000000000000400",
        "0000000000000400",
    );
    // Ambient but not inheritable: ignored (runc warns and drops it), the rest applies.
    let out = caps_of(&env, |c| {
        c["process"]["capabilities"] = json!({"bounding": nbs, "permitted": nbs, "effective": nbs, "ambient": nbs});
    });
    assert_caps(
        &out,
        "0000000000000000",
        "0000000000000400",
        "0000000000000400",
        "0000000000000400",
        "0000000000000000",
    );
}

#[test]
fn non_root_user_capabilities() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let two = ["CAP_KILL", "CAP_NET_BIND_SERVICE"];
    // uid 1000 with caps in ambient: they survive execve as a non-root user.
    let out = caps_of(&env, |c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["capabilities"] =
            json!({"bounding": two, "permitted": two, "effective": two, "inheritable": two, "ambient": two});
    });
    assert_caps(
        &out,
        "0000000000000420",
        "0000000000000420",
        "0000000000000420",
        "0000000000000420",
        "0000000000000420",
    );
    // Without ambient, a non-root process loses permitted/effective at execve (kernel rules);
    // the bounding set is still the configured one.
    let out = caps_of(&env, |c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["capabilities"] = json!({"bounding": two, "permitted": two, "effective": two});
    });
    assert_caps(
        &out,
        "0000000000000000",
        "0000000000000000",
        "0000000000000000",
        "0000000000000420",
        "0000000000000000",
    );
    // And the uid really is 1000 with those caps: CAP_KILL lets it signal a root process.
    let out = run_script(&env, "sleep 10 & kill $! && echo killed; id -u", |c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["capabilities"] =
            json!({"bounding": two, "permitted": two, "effective": two, "inheritable": two, "ambient": two});
    });
    assert_eq!(out, "killed\n1000\n");
}

#[test]
fn unknown_capability_is_rejected_naming_the_field() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let err = create_fails(&env, |c| c["process"]["capabilities"]["effective"] = json!(["CAP_NOT_A_CAP"]));
    assert!(err.contains("process.capabilities.effective"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// rlimits, no_new_privs, oom_score_adj
// ---------------------------------------------------------------------------------------------

#[test]
fn rlimit_nofile_is_applied() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let script =
        "ulimit -n; ulimit -Hn; grep 'Max open files' /proc/self/limits; grep 'Max core file size' /proc/self/limits";
    let out = run_script(&env, script, |c| {
        c["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
        ]);
    });
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..2], &["512", "1000"], "{out}");
    let cols: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(cols, vec!["Max", "open", "files", "512", "1000", "files"], "{out}");
    let cols: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(cols, vec!["Max", "core", "file", "size", "0", "4096", "bytes"], "{out}");
}

#[test]
fn bad_rlimits_are_rejected_at_create() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let err = create_fails(&env, |c| {
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}]);
    });
    assert!(err.contains("process.rlimits[0]") && err.contains("soft"), "soft > hard: {err}");
    let err = create_fails(&env, |c| {
        c["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
            {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
        ]);
    });
    assert!(err.contains("process.rlimits[2]") && err.contains("duplicate"), "duplicate: {err}");
    let err = create_fails(&env, |c| {
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]);
    });
    assert!(err.contains("RLIMIT_BOGUS") || err.contains("rlimits"), "unknown type: {err}");
}

#[test]
fn no_new_privileges_on_and_off() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let script = "grep '^NoNewPrivs:' /proc/self/status";
    let out = run_script(&env, script, |c| c["process"]["noNewPrivileges"] = json!(true));
    assert_eq!(out.trim(), "NoNewPrivs:\t1");
    let out = run_script(&env, script, |c| c["process"]["noNewPrivileges"] = json!(false));
    assert_eq!(out.trim(), "NoNewPrivs:\t0");
    let out = run_script(&env, script, |c| {
        c["process"].as_object_mut().expect("process").remove("noNewPrivileges");
    });
    assert_eq!(out.trim(), "NoNewPrivs:\t0", "absent means false");
}

#[test]
fn oom_score_adj_applied_and_validated() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let out = run_script(&env, "cat /proc/self/oom_score_adj", |c| c["process"]["oomScoreAdj"] = json!(500));
    assert_eq!(out.trim(), "500");
    let out = run_script(&env, "cat /proc/self/oom_score_adj", |c| c["process"]["oomScoreAdj"] = json!(1000));
    assert_eq!(out.trim(), "1000");
    // Unset: the runtime-spec says the runtime MUST NOT change it, so the caller's value stays.
    let id = unique_id("oom");
    let b = env.bundle(&id, |c| c["process"]["args"] = json!(["cat", "/proc/self/oom_score_adj"]));
    let mut cmd = env.cmd(&["run", "--bundle", b.to_str().expect("utf8"), &id]);
    // SAFETY: open/write/close are async-signal-safe; raising one's own score needs no privilege.
    unsafe {
        cmd.pre_exec(|| {
            let fd = libc::open(c"/proc/self/oom_score_adj".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 || libc::write(fd, b"123".as_ptr().cast(), 3) != 3 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(fd);
            Ok(())
        });
    }
    assert_eq!(ok_out(&output_of(cmd), "oom unset").trim(), "123");
    for bad in [1001, -1001] {
        let err = create_fails(&env, |c| c["process"]["oomScoreAdj"] = json!(bad));
        assert!(err.contains("process.oomScoreAdj"), "{bad}: {err}");
    }
}

// ---------------------------------------------------------------------------------------------
// seccomp
// ---------------------------------------------------------------------------------------------

fn deny_mkdir_profile() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    })
}

/// What busybox sh, mkdir, touch, grep and cat need; mkdir/mkdirat are deliberately absent.
const ALLOWED: &[&str] = &[
    "access",
    "arch_prctl",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "clock_gettime",
    "clock_nanosleep",
    "clone",
    "clone3",
    "close",
    "close_range",
    "dup",
    "dup2",
    "dup3",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchownat",
    "fcntl",
    "fork",
    "fstat",
    "fstatfs",
    "futex",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "geteuid",
    "getgid",
    "getgroups",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getrandom",
    "getresgid",
    "getresuid",
    "getrlimit",
    "getsid",
    "gettid",
    "gettimeofday",
    "getuid",
    "ioctl",
    "kill",
    "lseek",
    "lstat",
    "madvise",
    "mmap",
    "mprotect",
    "mremap",
    "munmap",
    "nanosleep",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "pipe",
    "pipe2",
    "poll",
    "ppoll",
    "prctl",
    "pread64",
    "prlimit64",
    "pselect6",
    "read",
    "readlink",
    "readlinkat",
    "readv",
    "rseq",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigsuspend",
    "select",
    "set_robust_list",
    "set_tid_address",
    "setpgid",
    "setsid",
    "sigaltstack",
    "stat",
    "statfs",
    "statx",
    "sysinfo",
    "tgkill",
    "time",
    "umask",
    "uname",
    "utimensat",
    "vfork",
    "wait4",
    "waitid",
    "write",
    "writev",
];

#[test]
fn seccomp_denylist_errno_eperm() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let out = run_script(
        &env,
        "grep '^Seccomp:' /proc/self/status; mkdir /tmp/x 2>&1; echo mkdir=$?; touch /tmp/y && echo touch-ok; ls -d /tmp/x 2>&1 || true",
        |c| {
            add_tmp(c);
            c["linux"]["seccomp"] = deny_mkdir_profile();
        },
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Seccomp:\t2", "{out}");
    assert!(lines[1].contains("Operation not permitted"), "mkdir must fail with EPERM: {out}");
    assert_eq!(lines[2], "mkdir=1", "{out}");
    assert_eq!(lines[3], "touch-ok", "other syscalls still work: {out}");
    assert!(lines[4].contains("No such file"), "the directory must not exist: {out}");
    // The control: without the profile the same mkdir works (the test can tell the difference).
    let out = run_script(&env, "grep '^Seccomp:' /proc/self/status; mkdir /tmp/x && echo mkdir-ok", add_tmp);
    assert_eq!(out, "Seccomp:\t0\nmkdir-ok\n");
}

#[test]
fn seccomp_allowlist_default_errno_enosys() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let out = run_script(
        &env,
        "grep '^Seccomp:' /proc/self/status; mkdir /tmp/x 2>&1; echo mkdir=$?; touch /tmp/y && echo touch-ok",
        |c| {
            add_tmp(c);
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": 38,
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ALLOWED, "action": "SCMP_ACT_ALLOW"}]
            });
        },
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"Seccomp:\t2"), "{out}");
    assert!(
        lines.get(1).is_some_and(|l| l.contains("Function not implemented")),
        "mkdir must fail with ENOSYS (38): {out}"
    );
    assert_eq!(lines.get(2), Some(&"mkdir=1"), "{out}");
    assert_eq!(lines.get(3), Some(&"touch-ok"), "{out}");
}

#[test]
fn exec_gets_the_same_security_settings_as_init() {
    if !is_root() {
        return;
    }
    // Caps dropped, NNP, seccomp and uid 1000: `runp exec` has the same.
    let env = Env::new();
    let id = unique_id("s49");
    let b = env.bundle(&id, |c| {
        add_tmp(c);
        c["process"]["args"] = json!(["sleep", "30"]);
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5]});
        c["process"]["noNewPrivileges"] = json!(true);
        c["process"]["capabilities"] =
            json!({"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"], "effective": ["CAP_KILL"]});
        c["linux"]["seccomp"] = deny_mkdir_profile();
    });
    env.ok(&["run", "-d", "--bundle", b.to_str().expect("utf8"), &id]);
    let pid = env.state(&id)["pid"].as_i64().expect("pid");
    let init = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("init status");
    let init_cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("init cgroup");
    let out = env.ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cat /proc/self/status; echo ==; cat /proc/self/cgroup; echo ==; mkdir /tmp/x 2>&1; true",
    ]);
    let mut parts = out.split("==\n");
    let exec_status = parts.next().expect("status part");
    let exec_cg = parts.next().expect("cgroup part");
    let mkdir = parts.next().expect("mkdir part");
    for key in ["Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"] {
        assert_eq!(status_field(exec_status, key), status_field(&init, key), "{key}: exec differs from init");
    }
    assert_eq!(status_field(exec_status, "Seccomp"), "2");
    assert_eq!(status_field(exec_status, "NoNewPrivs"), "1");
    assert_eq!(status_field(exec_status, "Uid"), "1000\t1000\t1000\t1000");
    assert_eq!(exec_cg, init_cg, "exec must join the init's cgroups");
    assert!(mkdir.contains("Operation not permitted"), "seccomp applies to exec: {mkdir}");
    env.ok(&["delete", "--force", &id]);
    assert_no_trace(&env, &id);
}

// ---------------------------------------------------------------------------------------------
// sysctl, hostname
// ---------------------------------------------------------------------------------------------

#[test]
fn namespaced_sysctls_are_applied_inside_only() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let host_fwd = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").expect("host ip_forward");
    let host_msgmax = std::fs::read_to_string("/proc/sys/kernel/msgmax").expect("host msgmax");
    let want_msgmax = if host_msgmax.trim() == "4096" { "4097" } else { "4096" };
    let want_fwd = if host_fwd.trim() == "1" { "0" } else { "1" };
    let out = run_script(&env, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax", |c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": want_fwd, "kernel/msgmax": want_msgmax});
    });
    assert_eq!(out, format!("{want_fwd}\n{want_msgmax}\n"));
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").expect("host"),
        host_fwd,
        "host ip_forward changed"
    );
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/msgmax").expect("host"), host_msgmax, "host msgmax changed");
}

#[test]
fn unsafe_sysctls_are_rejected_and_leave_nothing() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let core_pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").expect("core_pattern");
    let cases: Vec<(&str, &str, Option<&str>)> = vec![
        ("kernel.msgmax", "4096", Some("ipc")),
        ("net.ipv4.ip_forward", "1", Some("network")),
        ("net.ipv4.ping_group_range", "0 0", Some("network")),
        ("kernel.hostname", "evil", None),
        ("kernel.core_pattern", "|/evil", None),
        ("net.ipv4/../../kernel/core_pattern", "|/evil", None),
        ("net/ipv4/../../../kernel/core_pattern", "|/evil", None),
        ("vm.overcommit_memory", "1", None),
        ("", "1", None),
    ];
    for (key, value, drop) in cases {
        let err = create_fails(&env, |c| {
            if let Some(ns) = drop {
                drop_ns(c, ns);
            }
            c["linux"]["sysctl"] = json!({ key: value });
        });
        assert!(err.contains("linux.sysctl"), "{key}: error must name linux.sysctl: {err}");
    }
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/core_pattern").expect("core_pattern"), core_pattern);
}

#[test]
fn hostname_and_domainname() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let out = run_script(&env, "hostname; cat /proc/sys/kernel/domainname", |c| {
        c["hostname"] = json!("box-1");
        c["domainname"] = json!("example.test");
    });
    assert_eq!(out, "box-1\nexample.test\n");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("host hostname");
    assert_ne!(host.trim(), "box-1");
    let err = create_fails(&env, |c| {
        drop_ns(c, "uts");
        c["hostname"] = json!("box-1");
    });
    assert!(err.contains("hostname") && err.contains("UTS"), "{err}");
    let err = create_fails(&env, |c| {
        drop_ns(c, "uts");
        c.as_object_mut().expect("config").remove("hostname");
        c["domainname"] = json!("example.test");
    });
    assert!(err.contains("domainname"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// terminal
// ---------------------------------------------------------------------------------------------

/// Accepts one connection on `listener` and returns (data, every fd received).
fn receive_console(listener: &std::os::unix::net::UnixListener) -> (Vec<u8>, Vec<OwnedFd>) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    listener.set_nonblocking(true).expect("nonblocking");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("no connection on the console socket: {e}"),
        }
    };
    stream.set_nonblocking(false).expect("blocking");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).expect("timeout");
    let mut data = Vec::new();
    let mut fds = Vec::new();
    loop {
        let mut buf = [0u8; 4096];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 8]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
            .expect("recvmsg on the console socket");
        let n = msg.bytes;
        for c in msg.cmsgs().expect("cmsgs") {
            if let ControlMessageOwned::ScmRights(v) = c {
                // SAFETY: the kernel just installed these fds in our table; we own them.
                fds.extend(v.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
            } else {
                panic!("unexpected control message {c:?}");
            }
        }
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
    }
    (data, fds)
}

/// Reads the pty master until the slave side is gone (EIO) or 5 s pass.
fn read_master(master: &OwnedFd) -> String {
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let mut pfd = libc::pollfd { fd: master.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one pollfd on the stack.
        let r = unsafe { libc::poll(&mut pfd, 1, 100) };
        if r > 0 {
            let mut buf = [0u8; 4096];
            // SAFETY: reading into a stack buffer.
            let n = unsafe { libc::read(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break; // EIO: every slave fd is closed
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
        assert!(std::time::Instant::now() < deadline, "container output never ended: {}", text(&out));
    }
    text(&out).replace('\r', "")
}

#[test]
fn terminal_over_console_socket() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("tty");
    let b = env.bundle(&id, |c| {
        c["process"]["terminal"] = json!(true);
        c["process"]["consoleSize"] = json!({"height": 33, "width": 101});
        c["process"]["args"] = json!(["sh", "-c",
            "tty; [ -t 0 ] && echo stdin-tty; [ -t 1 ] && echo stdout-tty; stty size; ls -l /dev/console | cut -c1; echo hi"]);
    });
    let sock = env.scratch.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind console socket");
    env.ok(&["create", "--console-socket", sock.to_str().expect("utf8"), "--bundle", b.to_str().expect("utf8"), &id]);
    let (data, mut fds) = receive_console(&listener);
    assert_eq!(fds.len(), 1, "exactly one fd (the pty master) must arrive, got {}", fds.len());
    assert!(!data.is_empty() && data.len() < 4096, "the message carries the pty name: {data:?}");
    let master = fds.pop().expect("master");
    // It is a pty master: TIOCGPTN works on it.
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes an unsigned int.
    assert_eq!(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) }, 0, "not a pty master");
    env.ok(&["start", &id]);
    let out = read_master(&master);
    let lines: Vec<&str> = out.lines().collect();
    let tty = lines.first().copied().unwrap_or_default();
    assert!(
        tty == "/dev/console" || (tty.starts_with("/dev/pts/") && tty[9..].parse::<u32>().is_ok()),
        "tty must be /dev/console or /dev/pts/N: {out}"
    );
    assert_eq!(&lines[1..], &["stdin-tty", "stdout-tty", "33 101", "c", "hi"], "{out}");
    env.wait_status(&id, "stopped");
    env.ok(&["delete", &id]);
    assert_no_trace(&env, &id);
}

#[test]
fn terminal_flags_are_validated() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let err = create_fails(&env, |c| c["process"]["terminal"] = json!(true));
    assert!(err.contains("cannot allocate tty if runp will detach without setting console socket"), "{err}");
    // A console socket without a terminal is an error too.
    let id = unique_id("sock");
    let b = env.bundle(&id, |_| {});
    let sock = env.scratch.path().join("unused.sock");
    let err = env.fails(&[
        "create",
        "--console-socket",
        sock.to_str().expect("utf8"),
        "--bundle",
        b.to_str().expect("utf8"),
        &id,
    ]);
    assert!(err.contains("cannot use console socket"), "{err}");
    assert_no_trace(&env, &id);
    assert!(!Path::new(&sock).exists());
}
