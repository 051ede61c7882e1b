//! `runp exec`: exit status and stdio pass through; --env/--cwd/--user/--additional-gids;
//! --process FILE; -d --pid-file; the exec'd process shares the init's namespaces, cgroup and
//! security settings; runtime errors exit 255; user names are resolved inside the container
//! only; `-u 1` is uid 1 gid 0 (docs/oci-cli.md#exec).

mod common;
use common::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A running container (`sleep 60`) with a writable /tmp, deleted on drop.
struct Running<'a> {
    env: &'a Env,
    id: String,
    pid: i32,
}

impl<'a> Running<'a> {
    fn start(env: &'a Env, prefix: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Running<'a> {
        let id = unique_id(prefix);
        let b = env.bundle(&id, |c| {
            c["process"]["args"] = json!(["sleep", "60"]);
            c["mounts"].as_array_mut().unwrap().push(json!({
                "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "size=1m"]
            }));
            edit(c);
        });
        env.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
        let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
        Running { env, id, pid }
    }

    /// `runp exec [flags] ID args...` → (exit code, stdout, stderr).
    fn exec(&self, flags: &[&str], args: &[&str]) -> (Option<i32>, String, String) {
        let mut v: Vec<&str> = vec!["exec"];
        v.extend_from_slice(flags);
        v.push(&self.id);
        v.extend_from_slice(args);
        let out = self.env.runp(&v);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs an exec that must succeed; returns its stdout.
    fn out(&self, flags: &[&str], args: &[&str]) -> String {
        let (code, out, err) = self.exec(flags, args);
        assert_eq!(code, Some(0), "exec {flags:?} {args:?}: {err}");
        out
    }
}

/// Kills every process of container `id` and reaps the ones we adopted. A detached exec's
/// process is reparented to us (the subreaper), and a dying PID-namespace init waits until
/// every process of its namespace is reaped: without this, `delete --force` would wait for a
/// zombie only we can reap.
fn kill_and_reap(env: &Env, id: &str) {
    let out = env.runp(&["ps", "--format", "json", id]);
    let pids: Vec<i32> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    for &p in &pids {
        // SAFETY: kill with a positive pid read from the container's cgroup.
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        reap_zombies();
        let alive = pids.iter().any(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            !stat.is_empty() && !stat.contains(") Z ")
        });
        if !alive {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        kill_and_reap(self.env, &self.id);
        let _ = self.env.runp(&["delete", "--force", &self.id]);
        reap_zombies();
        if !std::thread::panicking() {
            assert_no_trace(self.env, &self.id);
        }
    }
}

fn status_lines(text: &str, keys: &[&str]) -> Vec<String> {
    text.lines()
        .filter(|l| keys.iter().any(|k| l.starts_with(&format!("{k}:"))))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn ns_of(pid: i32) -> Vec<(String, String)> {
    ["mnt", "pid", "net", "ipc", "uts", "cgroup", "user"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                std::fs::read_link(format!("/proc/{pid}/ns/{n}")).map(|p| p.display().to_string()).unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn exit_status_and_stdio_pass_through() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let c = Running::start(&env, "exstatus", |_| {});
    let (code, out, err) = c.exec(&[], &["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 7"]);
    assert_eq!(code, Some(7));
    assert_eq!(out, "to-stdout\n");
    assert_eq!(err, "to-stderr\n");
    assert_eq!(c.exec(&[], &["true"]).0, Some(0));
    assert_eq!(c.exec(&[], &["false"]).0, Some(1));
    // Flags of the command after the id are the command's.
    assert_eq!(c.out(&[], &["echo", "-n", "--env", "x"]), "--env x");
    // Killed by a signal: 128+N. (A process that is not the PID namespace's init can signal itself.)
    assert_eq!(c.exec(&[], &["sh", "-c", "kill -KILL $$"]).0, Some(137));
    // The container keeps running.
    assert_eq!(env.status(&c.id), "running");
}

#[test]
fn env_and_cwd() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let c = Running::start(&env, "exenv", |_| {});
    let out = c.out(
        &["--env", "FOO=bar", "-e", "TERM=dumb", "--cwd", "/etc"],
        &["sh", "-c", "echo $FOO; pwd; env | grep -c '^TERM='; echo $TERM"],
    );
    assert_eq!(out, "bar\n/etc\n1\ndumb\n");
    // The config's environment is kept.
    assert!(c.out(&[], &["env"]).lines().any(|l| l.starts_with("PATH=/usr/local/sbin")));
    let (code, _, err) = c.exec(&["--cwd", "/nonexistent-dir"], &["true"]);
    assert_eq!(code, Some(255), "{err}");
    assert!(err.to_lowercase().contains("no such file or directory"), "{err}");
}

#[test]
fn user_and_additional_gids() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let c = Running::start(&env, "exuser", |_| {});
    let ids = |flags: &[&str]| c.out(flags, &["sh", "-c", "echo $(id -u) $(id -g); grep Groups /proc/self/status"]);
    assert_eq!(ids(&[]).lines().next(), Some("0 0"));
    assert_eq!(ids(&["--user", "1000:1000"]).lines().next(), Some("1000 1000"));
    // A name from the container's /etc/passwd (user = 1000:1000 in the busybox rootfs).
    assert_eq!(ids(&["-u", "user"]).lines().next(), Some("1000 1000"));
    assert_eq!(ids(&["-u", "user:tty"]).lines().next(), Some("1000 5"));
    // A bare uid gets gid 0, as with runc.
    assert_eq!(ids(&["-u", "1"]).lines().next(), Some("1 0"));
    assert_eq!(ids(&["-u", "1:2"]).lines().next(), Some("1 2"));
    // Supplementary groups are exactly the ones asked for.
    let out = ids(&["-u", "1000:1000", "--additional-gids", "5", "-g", "7"]);
    assert_eq!(
        out.lines().nth(1).map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")),
        Some("Groups: 5 7".to_string()),
        "{out}"
    );
    let out = ids(&["-u", "1000:1000"]);
    assert_eq!(out.lines().nth(1).map(|l| l.trim_end()), Some("Groups:"), "{out}");
    for bad in ["nosuchuser", "user:nosuchgroup", "-1", "0x10", "1:"] {
        let flag = format!("--user={bad}");
        let (code, out, err) = c.exec(&[&flag], &["id", "-u"]);
        assert_eq!(code, Some(255), "-u {bad}: {out} {err}");
        assert!(out.is_empty(), "-u {bad} ran: {out}");
    }
}

#[test]
fn process_file() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let c = Running::start(&env, "exproc", |_| {});
    let pf = env.scratch.path().join("process.json");
    std::fs::write(
        &pf,
        json!({
            "args": ["sh", "-c", "echo $FOO; id -u; id -g; pwd; exit 3"],
            "env": ["FOO=from-file", "PATH=/bin"],
            "cwd": "/etc",
            "user": {"uid": 1000, "gid": 1000},
            "terminal": false
        })
        .to_string(),
    )
    .unwrap();
    let (code, out, err) = c.exec(&["--process", pf.to_str().unwrap()], &[]);
    assert_eq!(code, Some(3), "{err}");
    assert_eq!(out, "from-file\n1000\n1000\n/etc\n");
    // A broken file: 255 and the file is named.
    std::fs::write(&pf, "{\"args\": [").unwrap();
    let (code, _, err) = c.exec(&["-p", pf.to_str().unwrap()], &[]);
    assert_eq!(code, Some(255));
    assert!(err.contains("process.json"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn detached_exec_writes_the_pid_file_and_joins_the_container() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let c = Running::start(&env, "exdetach", |_| {});
    let pf = env.scratch.path().join("exec.pid");
    let t = Instant::now();
    c.out(&["-d", "--pid-file", pf.to_str().unwrap()], &["sleep", "50"]);
    assert!(t.elapsed() < Duration::from_secs(5), "exec -d waited {:?}", t.elapsed());
    let p: i32 = std::fs::read_to_string(&pf).unwrap().trim().parse().unwrap();
    assert_ne!(p, c.pid);
    assert_eq!(std::fs::read(format!("/proc/{p}/cmdline")).unwrap(), b"sleep\x0050\x00");
    assert_eq!(ns_of(p), ns_of(c.pid));
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap(),
        std::fs::read_to_string(format!("/proc/{}/cgroup", c.pid)).unwrap()
    );
    let pids: Vec<i32> = serde_json::from_str(&env.ok(&["ps", "--format", "json", &c.id])).unwrap();
    assert!(pids.contains(&p) && pids.contains(&c.pid), "{pids:?}");
    // A relative pid file is relative to runp's cwd.
    // (No pipes: the detached process keeps runp's stdio, so a pipe would stay open.)
    let st = env
        .cmd(&["exec", "-d", "--pid-file", "rel.pid", &c.id, "sleep", "51"])
        .current_dir(env.scratch.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let p2: i32 = std::fs::read_to_string(env.scratch.path().join("rel.pid")).unwrap().trim().parse().unwrap();
    assert_eq!(ns_of(p2), ns_of(c.pid));
}

#[test]
fn exec_in_a_stopped_or_unknown_container_fails_with_255() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("exstopped");
    let b = env.sh_bundle(&id, "true");
    env.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    env.wait_status(&id, "stopped");
    let out = env.runp(&["exec", &id, "true"]);
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot exec in a stopped container"), "{err}");
    env.ok(&["delete", &id]);
    assert_no_trace(&env, &id);
    let out = env.runp(&["exec", &id, "true"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&out.stderr).contains("container does not exist"));
    // Neither a command nor --process.
    let out = env.runp(&["exec", &id]);
    assert_ne!(out.status.code(), Some(0));
}

#[test]
fn exec_of_a_missing_binary_fails_with_255_and_leaves_nothing() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let c = Running::start(&env, "exmissing", |_| {});
    let (code, out, err) = c.exec(&[], &["no-such-binary", "arg"]);
    assert_eq!(code, Some(255), "{out} {err}");
    assert!(err.contains(r#"exec: "no-such-binary": executable file not found in $PATH"#), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let (code, _, err) = c.exec(&[], &["/no/such/binary"]);
    assert_eq!(code, Some(255));
    assert!(err.contains(r#"exec: "/no/such/binary": stat /no/such/binary: no such file or directory"#), "{err}");
    // The failed exec left no process in the container, and the container runs on.
    let pids: Vec<i32> = serde_json::from_str(&env.ok(&["ps", "--format", "json", &c.id])).unwrap();
    assert_eq!(pids, vec![c.pid]);
    assert_eq!(env.status(&c.id), "running");
}

/// An exec'd process has the init's capabilities, no_new_privs, seccomp filter, user and
/// cgroup.
#[test]
fn exec_has_the_same_security_settings_as_init() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let c = Running::start(&env, "exsec", |c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5]});
        c["process"]["noNewPrivileges"] = json!(true);
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
            "inheritable": [], "ambient": []
        });
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
    });
    let keys = ["Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"];
    let init = std::fs::read_to_string(format!("/proc/{}/status", c.pid)).unwrap();
    let init_lines = status_lines(&init, &keys);
    assert_eq!(init_lines.len(), keys.len(), "{init}");
    assert!(init_lines.contains(&"Seccomp: 2".to_string()), "{init_lines:?}");
    assert!(init_lines.contains(&"NoNewPrivs: 1".to_string()), "{init_lines:?}");
    let exec = c.out(&[], &["cat", "/proc/self/status"]);
    assert_eq!(status_lines(&exec, &keys), init_lines);
    let cg = c.out(&[], &["cat", "/proc/self/cgroup"]);
    assert_eq!(cg, std::fs::read_to_string(format!("/proc/{}/cgroup", c.pid)).unwrap());
    // The filter works in the exec'd process too.
    let (code, _, err) = c.exec(&[], &["mkdir", "/tmp/x"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("Operation not permitted"), "{err}");
    // A detached exec too.
    let pf = env.scratch.path().join("sec.pid");
    c.out(&["-d", "--pid-file", pf.to_str().unwrap()], &["sleep", "40"]);
    let p: i32 = std::fs::read_to_string(&pf).unwrap().trim().parse().unwrap();
    let st = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap();
    assert_eq!(status_lines(&st, &keys), init_lines);
}

/// User names are looked up in the container's own files. An /etc/passwd that is an
/// absolute symlink to a host file must not be followed on the host.
#[test]
fn exec_user_names_never_come_from_host_files() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let rootfs = env.scratch.path().join("rootfs-copy");
    let st =
        std::process::Command::new("cp").arg("-a").arg(base_bundle().join("rootfs")).arg(&rootfs).status().unwrap();
    assert!(st.success());
    let canary = env.scratch.path().join("canary");
    std::fs::create_dir_all(&canary).unwrap();
    let canary_passwd = canary.join("passwd");
    std::fs::write(&canary_passwd, "root:x:0:0:root:/root:/bin/sh\ncanary:x:4242:4242::/:/bin/sh\n").unwrap();
    std::fs::write(canary.join("group"), "root:x:0:\ncanary:x:4242:\n").unwrap();
    let link = |name: &str| {
        let p: PathBuf = rootfs.join("etc").join(name);
        std::fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink(canary.join(name), &p).unwrap();
    };
    link("passwd");
    link("group");
    assert!(Path::new(&canary_passwd).exists());
    let r = rootfs.to_str().unwrap().to_string();
    let c = Running::start(&env, "excanary", |c| c["root"]["path"] = json!(r));
    for u in ["canary", "canary:canary", "root:canary"] {
        let (code, out, err) = c.exec(&["-u", u], &["id", "-u"]);
        assert_eq!(code, Some(255), "-u {u}: {out} {err}");
        assert!(!out.contains("4242"), "-u {u} ran as the host file's user: {out}");
        assert!(err.contains("unable to find"), "-u {u}: {err}");
    }
    // Numeric ids need no lookup.
    assert_eq!(c.out(&["-u", "4242:4242"], &["id", "-u"]), "4242\n");
    drop(c);
    assert_eq!(
        std::fs::read_to_string(&canary_passwd).unwrap(),
        "root:x:0:0:root:/root:/bin/sh\ncanary:x:4242:4242::/:/bin/sh\n"
    );
}
