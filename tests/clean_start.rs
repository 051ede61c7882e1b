//! The container process starts clean: no signal dispositions or mask, no fds, no session and
//! no dumpable window inherited from runp or its caller
//! (docs/security.md#what-a-container-process-inherits, docs/security.md#the-runtime-binary).

mod common;
use common::*;

use serde_json::{json, Value};
use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/// Runs a prepared Command to completion with stdout/stderr captured through files.
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok_out(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}): stdout={} stderr={}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in status: {status}"))
        .trim()
        .to_string()
}

fn b(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// Makes `cmd` start with `files[i].0` opened (read-only, NOT close-on-exec) at fd `files[i].1`.
fn with_open_fds(cmd: &mut Command, files: Vec<(CString, i32)>) {
    // SAFETY: open/dup2/close are async-signal-safe; the CStrings are owned by the closure.
    unsafe {
        cmd.pre_exec(move || {
            for (path, target) in &files {
                let fd = libc::open(path.as_ptr(), libc::O_RDONLY);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if fd != *target {
                    if libc::dup2(fd, *target) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    libc::close(fd);
                }
            }
            Ok(())
        });
    }
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

/// (fd number, link target) of every open fd of `pid`.
fn fds_of(pid: i64) -> Vec<(i32, String)> {
    let mut v: Vec<(i32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("listing /proc/{pid}/fd: {e}"))
        .flatten()
        .filter_map(|e| {
            let n: i32 = e.file_name().to_string_lossy().parse().ok()?;
            let t = std::fs::read_link(e.path()).map(|p| p.display().to_string()).unwrap_or_default();
            Some((n, t))
        })
        .collect();
    v.sort();
    v
}

fn pid_of(env: &Env, id: &str) -> i64 {
    env.state(id)["pid"].as_i64().expect("pid in state")
}

/// Canary files in the scratch dir that the test leaks into runp.
fn canaries(env: &Env) -> (String, String) {
    let a = env.scratch.path().join("leak-canary-a");
    let b2 = env.scratch.path().join("leak-canary-b");
    std::fs::write(&a, "canary-A\n").expect("canary a");
    std::fs::write(&b2, "canary-B\n").expect("canary b");
    (a.display().to_string(), b2.display().to_string())
}

// ---------------------------------------------------------------------------------------------
// signals
// ---------------------------------------------------------------------------------------------

/// runp started with SIGPIPE and SIGHUP ignored and SIGTERM/SIGUSR1 blocked.
fn with_dirty_signals(cmd: &mut Command) {
    // SAFETY: signal and sigprocmask are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGUSR1);
            if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn signal_mask_and_dispositions_are_reset() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    // Control: a plain child of such a caller does inherit them (so the check can fail).
    let mut control = Command::new("/bin/grep");
    control.args(["-E", "SigBlk|SigIgn", "/proc/self/status"]);
    with_dirty_signals(&mut control);
    let out = ok_out(&output_of(control), "control");
    assert_ne!(status_field(&out, "SigBlk"), "0000000000000000", "control: {out}");
    assert_ne!(status_field(&out, "SigIgn"), "0000000000000000", "control: {out}");

    // Foreground run: the container's PID 1 (grep itself) looks at its own status.
    let id = unique_id("sig");
    let bundle = env.bundle(&id, |c| c["process"]["args"] = json!(["grep", "-E", "SigBlk|SigIgn", "/proc/1/status"]));
    let mut cmd = env.cmd(&["run", "--bundle", b(&bundle), &id]);
    with_dirty_signals(&mut cmd);
    let out = ok_out(&output_of(cmd), "run");
    assert_eq!(status_field(&out, "SigBlk"), "0000000000000000", "{out}");
    assert_eq!(status_field(&out, "SigIgn"), "0000000000000000", "{out}");
    assert_no_trace(&env, &id);

    // create + start (runp exits; a different code path), checked on the running init.
    let id = unique_id("sig");
    let bundle = env.bundle(&id, |c| c["process"]["args"] = json!(["sleep", "30"]));
    let mut cmd = env.cmd(&["create", "--bundle", b(&bundle), &id]);
    with_dirty_signals(&mut cmd);
    ok_out(&output_of(cmd), "create");
    let mut cmd = env.cmd(&["start", &id]);
    with_dirty_signals(&mut cmd);
    ok_out(&output_of(cmd), "start");
    let pid = pid_of(&env, &id);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("init status");
    assert_eq!(status_field(&status, "SigBlk"), "0000000000000000", "{status}");
    assert_eq!(status_field(&status, "SigIgn"), "0000000000000000", "{status}");
    // And an exec'd process too.
    let mut cmd = env.cmd(&["exec", &id, "grep", "-E", "SigBlk|SigIgn", "/proc/self/status"]);
    with_dirty_signals(&mut cmd);
    let out = ok_out(&output_of(cmd), "exec");
    assert_eq!(status_field(&out, "SigBlk"), "0000000000000000", "exec: {out}");
    assert_eq!(status_field(&out, "SigIgn"), "0000000000000000", "exec: {out}");
    env.ok(&["delete", "--force", &id]);
    assert_no_trace(&env, &id);
}

// ---------------------------------------------------------------------------------------------
// fds (CVE-2024-21626)
// ---------------------------------------------------------------------------------------------

/// Leaks fds 5..9 into runp: host `/`, two canary files, the scratch dir and a host binary.
fn leak_fds(env: &Env, cmd: &mut Command) {
    let (a, b2) = canaries(env);
    with_open_fds(
        cmd,
        vec![
            (cstr("/"), 5),
            (cstr(&a), 6),
            (cstr(&env.scratch.path().display().to_string()), 7),
            (cstr("/bin/busybox"), 8),
            (cstr(&b2), 9),
        ],
    );
}

#[test]
fn only_stdio_reaches_the_container() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let scratch = env.scratch.path().display().to_string();
    let leaked = |t: &str| t == "/" || t.contains("leak-canary") || t == scratch || t.ends_with("/busybox");

    // create: until start, the init may hold only stdio and runp's own sync fds.
    let id = unique_id("fds");
    let bundle = env.bundle(&id, |c| c["process"]["args"] = json!(["sleep", "30"]));
    let mut cmd = env.cmd(&["create", "--bundle", b(&bundle), &id]);
    leak_fds(&env, &mut cmd);
    ok_out(&output_of(cmd), "create");
    let pid = pid_of(&env, &id);
    let created = fds_of(pid);
    for (fd, target) in &created {
        let allowed = *fd <= 2
            || target.ends_with("/exec.fifo")
            || target.starts_with("socket:[")
            || target.starts_with("anon_inode:");
        assert!(allowed && !leaked(target), "created init holds fd {fd} -> {target}: {created:?}");
    }
    env.ok(&["start", &id]);
    let running = fds_of(pid);
    let nums: Vec<i32> = running.iter().map(|(n, _)| *n).collect();
    assert_eq!(nums, vec![0, 1, 2], "running init fds: {running:?}");
    env.ok(&["delete", "--force", &id]);
    assert_no_trace(&env, &id);

    // Foreground run, seen from inside: the shell (PID 1) has only 0, 1, 2.
    let id = unique_id("fds");
    let bundle = env.bundle(&id, |c| c["process"]["args"] = json!(["sh", "-c", "ls /proc/1/fd; true"]));
    let mut cmd = env.cmd(&["run", "--bundle", b(&bundle), &id]);
    leak_fds(&env, &mut cmd);
    let out = ok_out(&output_of(cmd), "run");
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), vec!["0", "1", "2"], "fds inside: {out}");
    assert_no_trace(&env, &id);

    // exec into a running container with the same leaks.
    let id = unique_id("fds");
    let bundle = env.bundle(&id, |c| c["process"]["args"] = json!(["sleep", "30"]));
    env.ok(&["run", "-d", "--bundle", b(&bundle), &id]);
    let mut cmd = env.cmd(&["exec", &id, "sh", "-c", "ls /proc/$$/fd; true"]);
    leak_fds(&env, &mut cmd);
    let out = ok_out(&output_of(cmd), "exec");
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), vec!["0", "1", "2"], "fds of exec: {out}");
    env.ok(&["delete", "--force", &id]);
    assert_no_trace(&env, &id);
}

#[test]
fn preserve_fds_passes_exactly_the_requested_fds() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let (a, b2) = canaries(&env);
    let files = vec![(cstr(&a), 3), (cstr(&b2), 4), (cstr(&a), 5), (cstr("/"), 6)];
    // No pipes or command substitutions: they would add fds to the shell (PID 1) itself.
    let script = "ls /proc/1/fd; echo ==; cat <&3; cat <&4; echo \"LISTEN_FDS=$LISTEN_FDS\"; cat <&5 2>/dev/null || echo no-fd-5";
    let id = unique_id("pfd");
    let bundle = env.bundle(&id, |c| {
        c["process"]["args"] = json!(["sh", "-c", script]);
        c["process"]["env"] = json!(["PATH=/bin:/usr/bin", "LISTEN_FDS=2", "LISTEN_PID=1"]);
    });
    let mut cmd = env.cmd(&["run", "--preserve-fds", "2", "--bundle", b(&bundle), &id]);
    with_open_fds(&mut cmd, files.clone());
    let out = ok_out(&output_of(cmd), "run --preserve-fds 2");
    assert_eq!(out, "0\n1\n2\n3\n4\n==\ncanary-A\ncanary-B\nLISTEN_FDS=2\nno-fd-5\n");
    assert_no_trace(&env, &id);

    // create --preserve-fds: the created init keeps them until exec, start passes them on.
    let id = unique_id("pfd");
    let bundle = env.bundle(&id, |c| c["process"]["args"] = json!(["sleep", "30"]));
    let mut cmd = env.cmd(&["create", "--preserve-fds", "2", "--bundle", b(&bundle), &id]);
    with_open_fds(&mut cmd, files.clone());
    ok_out(&output_of(cmd), "create --preserve-fds 2");
    env.ok(&["start", &id]);
    let pid = pid_of(&env, &id);
    let fds = fds_of(pid);
    let nums: Vec<i32> = fds.iter().map(|(n, _)| *n).collect();
    assert_eq!(nums, vec![0, 1, 2, 3, 4], "{fds:?}");
    assert_eq!(fds[3].1, a);
    assert_eq!(fds[4].1, b2);

    // exec --preserve-fds 1 into it.
    let mut cmd = env.cmd(&["exec", "--preserve-fds", "1", &id, "sh", "-c", "cat <&3; ls /proc/$$/fd; true"]);
    with_open_fds(&mut cmd, files);
    let out = ok_out(&output_of(cmd), "exec --preserve-fds 1");
    assert_eq!(out, "canary-A\n0\n1\n2\n3\n");
    env.ok(&["delete", "--force", &id]);
    assert_no_trace(&env, &id);
}

#[test]
fn proc_self_fd_cwd_and_argv0_escapes_fail() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    // fds 5..9 leak host `/`, files, the scratch dir and host /bin/busybox (an ELF that would
    // run "inside" the container if execve could reach it through /proc/self/fd/8).
    for n in [3, 4, 5, 6, 7, 8, 9, 10, 20] {
        for kind in ["cwd", "argv0"] {
            let id = unique_id("esc");
            let bundle = env.bundle(&id, |c| {
                if kind == "cwd" {
                    c["process"]["cwd"] = json!(format!("/proc/self/fd/{n}/"));
                    c["process"]["args"] = json!(["sh", "-c", "echo ESCAPED; pwd"]);
                } else {
                    c["process"]["args"] = json!([format!("/proc/self/fd/{n}"), "echo", "ESCAPED"]);
                }
            });
            let mut cmd = env.cmd(&["create", "--bundle", b(&bundle), &id]);
            leak_fds(&env, &mut cmd);
            let out = output_of(cmd);
            assert!(
                !out.status.success(),
                "{kind} through /proc/self/fd/{n}: create must fail; stdout={} stderr={}",
                text(&out.stdout),
                text(&out.stderr)
            );
            assert_no_trace(&env, &id);
        }
    }

    // The same through exec --cwd and an exec argv[0].
    let id = unique_id("esc");
    let bundle = env.bundle(&id, |c| c["process"]["args"] = json!(["sleep", "30"]));
    env.ok(&["run", "-d", "--bundle", b(&bundle), &id]);
    for n in [5, 6, 7, 8, 9] {
        let cwd = format!("/proc/self/fd/{n}/");
        let mut cmd = env.cmd(&["exec", "--cwd", &cwd, &id, "pwd"]);
        leak_fds(&env, &mut cmd);
        let out = output_of(cmd);
        assert_eq!(
            out.status.code(),
            Some(255),
            "exec --cwd {cwd} must fail in runp: stdout={} stderr={}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let arg0 = format!("/proc/self/fd/{n}");
        let mut cmd = env.cmd(&["exec", &id, &arg0, "echo", "ESCAPED"]);
        leak_fds(&env, &mut cmd);
        let out = output_of(cmd);
        assert_eq!(
            out.status.code(),
            Some(255),
            "exec {arg0} must fail in runp: stdout={} stderr={}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    env.ok(&["delete", "--force", &id]);
    assert_no_trace(&env, &id);
}

// ---------------------------------------------------------------------------------------------
// non-dumpable until exec; CVE-2019-5736
// ---------------------------------------------------------------------------------------------

/// `readlink /proc/<pid>/exe` by a root helper WITHOUT CAP_SYS_PTRACE. For a process of the
/// same uid whose capabilities are a subset of the helper's, the kernel allows this exactly
/// when the target is dumpable (ptrace_may_access: a non-dumpable mm needs CAP_SYS_PTRACE).
fn readlink_exe_without_sys_ptrace(pid: i64) -> Option<String> {
    let mut cmd = Command::new("/bin/readlink");
    cmd.arg(format!("/proc/{pid}/exe")).stdin(Stdio::null());
    // SAFETY: prctl is async-signal-safe. Root's permitted set after execve is the bounding set.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_CAPBSET_DROP, 19 as libc::c_ulong /* CAP_SYS_PTRACE */, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = output_of(cmd);
    out.status.success().then(|| text(&out.stdout).trim().to_string())
}

#[test]
fn init_is_not_dumpable_until_exec() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    // Control: the helper can read the exe of an ordinary (dumpable) root process.
    // (Its capabilities must be a subset of the helper's, as the container's are.)
    let mut sleeper = Command::new("/bin/sleep");
    sleeper.arg("10");
    // SAFETY: prctl is async-signal-safe.
    unsafe {
        sleeper.pre_exec(|| {
            libc::prctl(libc::PR_CAPBSET_DROP, 19 as libc::c_ulong, 0, 0, 0);
            Ok(())
        });
    }
    let mut sleeper = sleeper.spawn().expect("sleep");
    let control = readlink_exe_without_sys_ptrace(sleeper.id() as i64);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(
        control.is_some_and(|t| t.contains("sleep") || t.contains("coreutils")),
        "control helper could not read a dumpable exe"
    );

    let id = unique_id("dump");
    let bundle = env.bundle(&id, |c| c["process"]["args"] = json!(["sleep", "30"]));
    env.ok(&["create", "--bundle", b(&bundle), &id]);
    let pid = pid_of(&env, &id);
    // As root, the host sees that the created init is still the runp binary...
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("root reads exe");
    assert!(exe.to_string_lossy().contains("runp"), "created init should still be runp: {}", exe.display());
    // ...but it is not dumpable, so nobody without CAP_SYS_PTRACE can reach it.
    let seen = readlink_exe_without_sys_ptrace(pid);
    assert_eq!(seen, None, "the created (pre-exec) init is dumpable: PR_SET_DUMPABLE(0) missing");
    // After exec it is an ordinary (dumpable) process running the container's binary.
    env.ok(&["start", &id]);
    let seen = readlink_exe_without_sys_ptrace(pid);
    assert!(seen.as_deref().is_some_and(|t| !t.contains("runp")), "after start: {seen:?}");
    env.ok(&["delete", "--force", &id]);
    assert_no_trace(&env, &id);
}

/// CVE-2019-5736 (docs/security.md#the-runtime-binary), against a COPY of runp (a successful attack
/// must not break the binary other tests use). A container process keeps opening the exe of
/// every process it can see and, once it gets a runp binary, tries to write it after it exits.
/// runp is then made to execute a `#!/proc/self/exe` script inside the container through
/// `exec` and as the entrypoint of a second container in the same PID namespace.
#[test]
fn host_runp_binary_cannot_be_overwritten_from_a_container() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let scratch = env.scratch.path();
    let original = std::fs::read(runp_bin()).expect("read runp");
    let copy = scratch.join("runp-copy");
    std::fs::write(&copy, &original).expect("copy runp");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let attack = scratch.join("attack");
    std::fs::create_dir(&attack).expect("attack dir");
    std::fs::write(attack.join("evil"), "#!/proc/self/exe\n").expect("evil");
    std::fs::write(
        attack.join("attack.sh"),
        r#"end=$(( $(date +%s) + 20 ))
echo attacker-running
while [ $(date +%s) -lt $end ]; do
  for e in /proc/[0-9]*/exe; do
    case $e in /proc/1/exe|/proc/$$/exe) continue;; esac
    ( exec 3<"$e" || exit 0
      t=$(readlink /proc/self/fd/3)
      case "$t" in *runp*) ;; *) exit 0;; esac
      echo "OPENED $e -> $t"
      j=0
      while [ $j -lt 100 ]; do
        if echo PWNED 2>/dev/null >/proc/self/fd/3; then echo WROTE; exit 0; fi
        j=$((j+1)); usleep 5000
      done ) 2>/dev/null
  done
done
echo attacker-done
"#,
    )
    .expect("attack.sh");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(attack.join("evil"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let attack_dir = attack.display().to_string();
    let with_attack = move |c: &mut Value| {
        c["mounts"].as_array_mut().expect("mounts").push(json!({
            "destination": "/tmp", "type": "bind", "source": attack_dir, "options": ["rbind", "ro"]
        }));
    };
    let runp_copy = |args: &[&str]| {
        let mut c = Command::new(&copy);
        c.arg("--root").arg(env.root()).args(args).stdin(Stdio::null());
        c
    };

    // Container A: the attacker, as PID 1 of its PID namespace.
    let a = unique_id("cve5736a");
    let wa = with_attack.clone();
    let bundle_a = env.bundle(&a, move |c| {
        c["process"]["args"] = json!(["sh", "/tmp/attack.sh"]);
        wa(c);
    });
    let log = std::fs::File::create(scratch.join("attack.log")).expect("log");
    let st = runp_copy(&["run", "-d", "--bundle", b(&bundle_a), &a])
        .stdout(log.try_clone().expect("dup"))
        .stderr(log)
        .status()
        .expect("run attacker");
    assert!(st.success(), "attacker container did not start");
    let pid_a = pid_of(&env, &a);
    for _ in 0..200 {
        if std::fs::read_to_string(scratch.join("attack.log")).unwrap_or_default().contains("attacker-running") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }

    let intact = || std::fs::read(&copy).is_ok_and(|now| now == original);
    for _ in 0..5 {
        if !intact() {
            break;
        }
        // exec of the hostile script: the exec'd process becomes runp-copy inside the container.
        // (Spawning fails once the copy has been overwritten: ENOEXEC.)
        let _ = runp_copy(&["exec", &a, "/tmp/evil"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
        // a second container in A's PID namespace whose entrypoint is the hostile script.
        let b_id = unique_id("cve5736b");
        let wb = with_attack.clone();
        let bundle_b = env.bundle(&b_id, move |c| {
            c["process"]["args"] = json!(["/tmp/evil"]);
            for n in c["linux"]["namespaces"].as_array_mut().expect("ns") {
                if n["type"] == "pid" {
                    n["path"] = json!(format!("/proc/{pid_a}/ns/pid"));
                }
            }
            wb(c);
        });
        let _ =
            runp_copy(&["run", "--bundle", b(&bundle_b), &b_id]).stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = env.runp(&["delete", "--force", &b_id]);
        // Give the attacker time to write once the runp processes are gone.
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    // Clean up with the real binary (the copy may be destroyed).
    env.ok(&["delete", "--force", &a]);
    let log = std::fs::read_to_string(scratch.join("attack.log")).unwrap_or_default();
    let now = std::fs::read(&copy).expect("read copy");
    assert!(now == original, "the runp binary was overwritten from inside the container; attacker log:\n{log}");
    assert!(!log.contains("WROTE"), "{log}");
    // A re-executed runp inside the container can be opened (it is dumpable again), but what
    // it runs must be a read-only copy (a detached overlay or a sealed memfd), never the host file.
    let host = copy.display().to_string();
    for line in log.lines().filter(|l| l.starts_with("OPENED")) {
        assert!(
            !line.ends_with(&format!("-> {host}")),
            "a container process opened the host runp binary: {line}\n{log}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// setsid
// ---------------------------------------------------------------------------------------------

/// Fields after the comm of /proc/<pid>/stat (index 0 = state, 3 = session, 4 = tty_nr).
fn stat_fields(stat: &str) -> Vec<String> {
    let rest = &stat[stat.rfind(')').expect("comm end") + 2..];
    rest.split_whitespace().map(str::to_string).collect()
}

#[test]
fn container_has_its_own_session_and_no_controlling_tty() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    // runp's stdin is a pty that is runp's controlling terminal (as in an interactive shell).
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave = {
        use std::os::fd::AsRawFd;
        pty.slave.as_raw_fd()
    };
    let with_ctty = |cmd: &mut Command| {
        // SAFETY: setsid/ioctl/dup2 are async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 || libc::ioctl(slave, libc::TIOCSCTTY, 1) < 0 || libc::dup2(slave, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    };
    // SAFETY: getsid(0) cannot fail for ourselves.
    let our_sid = unsafe { libc::getsid(0) };

    let id = unique_id("sid");
    let bundle =
        env.bundle(&id, |c| c["process"]["args"] = json!(["sh", "-c", "cat /proc/self/stat; cat /proc/1/stat"]));
    let mut cmd = env.cmd(&["run", "--bundle", b(&bundle), &id]);
    with_ctty(&mut cmd);
    let out = ok_out(&output_of(cmd), "run");
    let mut lines = out.lines();
    let cat = stat_fields(lines.next().expect("cat stat"));
    let init = stat_fields(lines.next().expect("init stat"));
    assert_eq!(init[3], "1", "the init (PID 1) leads its own session: {out}");
    assert_eq!(cat[3], "1", "its children stay in that session: {out}");
    assert_eq!(init[4], "0", "no controlling terminal inside: {out}");
    assert_no_trace(&env, &id);

    // From the host: session id = the init's host pid, not ours, and no controlling tty.
    let id = unique_id("sid");
    let bundle = env.bundle(&id, |c| c["process"]["args"] = json!(["sleep", "30"]));
    let mut cmd = env.cmd(&["run", "-d", "--bundle", b(&bundle), &id]);
    with_ctty(&mut cmd);
    ok_out(&output_of(cmd), "run -d");
    let pid = pid_of(&env, &id);
    let f = stat_fields(&std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat"));
    assert_eq!(f[3], pid.to_string(), "init must be a session leader");
    assert_ne!(f[3], our_sid.to_string());
    assert_eq!(f[4], "0", "init must have no controlling terminal");
    // exec'd processes get their own session as well.
    let mut cmd = env.cmd(&["exec", &id, "sh", "-c", "cat /proc/self/stat"]);
    with_ctty(&mut cmd);
    let out = ok_out(&output_of(cmd), "exec");
    let f = stat_fields(&out);
    let own_pid = out.split_whitespace().next().unwrap_or_default();
    assert_eq!(f[3], own_pid, "exec must lead a session of its own: {out}");
    assert_ne!(f[3], "1", "exec must not join the init's session: {out}");
    assert_eq!(f[4], "0", "exec must have no controlling terminal: {out}");
    env.ok(&["delete", "--force", &id]);
    assert_no_trace(&env, &id);
}

/// Whether runp re-executes from a read-only copy of itself is asked of the kernel, never of
/// the environment: a runp started with runp's old internal marker variable set (as anything
/// a runp starts, a hook, used to inherit it) still leaves the created container waiting in a
/// process whose exe cannot be opened for writing (EROFS: a read-only copy, where the host
/// binary itself would give ETXTBSY).
#[test]
fn created_init_runs_from_a_read_only_copy_whatever_the_environment() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("sealenv");
    let bundle = env.bundle(&id, |c| c["process"]["args"] = json!(["true"]));
    let mut c = env.cmd(&["create", "--bundle", bundle.to_str().unwrap(), &id]);
    c.env("_RUNP_SEALED", "1");
    let out = output_of(c);
    assert!(out.status.success(), "create failed: {}", String::from_utf8_lossy(&out.stderr));
    let pid = env.state(&id)["pid"].as_i64().expect("pid");
    let exe = format!("/proc/{pid}/exe");
    let err = std::fs::OpenOptions::new().write(true).open(&exe).expect_err("the init's exe opened for writing");
    let target = std::fs::read_link(&exe).unwrap_or_default();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{exe} -> {}: {err}", target.display());
    env.ok(&["delete", "--force", &id]);
    assert_no_trace(&env, &id);
}
