//! Shared integration-test harness: a private state root, throwaway bundles over the busybox
//! rootfs, and cleanup that runs even when a test fails.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Once;

pub fn runp_bin() -> &'static str {
    env!("CARGO_BIN_EXE_runp")
}

/// The busybox bundle made by `make bundles` (RUNP_TEST_BUNDLE overrides).
pub fn base_bundle() -> PathBuf {
    let p = std::env::var_os("RUNP_TEST_BUNDLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("bundles/busybox"));
    assert!(p.join("rootfs/bin/busybox").exists(), "no busybox bundle at {}: run `make bundles`", p.display());
    p
}

/// Returns false (and prints SKIP) when not root: these tests need real namespaces. Under
/// `CI=true` a missing privilege is a failure, never a green skip.
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: this test needs root");
        eprintln!("SKIP: needs root");
    }
    root
}

static SUBREAPER: Once = Once::new();

/// Container inits outlive `runp create`; as a subreaper the test process adopts them, so
/// their exits are reaped here instead of piling up under a PID 1 that does not reap.
fn become_subreaper() {
    SUBREAPER.call_once(|| {
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    });
}

/// Reaps every exited child that is not a Command we still wait on (adopted inits).
pub fn reap_zombies() {
    loop {
        // SAFETY: waitpid with WNOHANG on any child.
        let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
        if r <= 0 {
            break;
        }
    }
}

/// A private `--root` plus a scratch dir; deletes every container left in it on drop.
pub struct Env {
    pub root: tempfile::TempDir,
    pub scratch: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        become_subreaper();
        Env {
            root: tempfile::Builder::new().prefix("runp-test-root").tempdir().expect("tempdir"),
            scratch: tempfile::Builder::new().prefix("runp-test").tempdir().expect("tempdir"),
        }
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// `runp --root <root> ARGS...`
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(runp_bin());
        c.arg("--root").arg(self.root()).args(args).stdin(Stdio::null());
        c
    }

    /// Runs runp to completion. Output goes through files, not pipes: a created container's
    /// init inherits runp's stdio (as with runc), so a pipe would not see EOF until it exits.
    pub fn runp(&self, args: &[&str]) -> Output {
        output_of(self.cmd(args))
    }

    /// Runs runp and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.runp(args);
        assert!(
            out.status.success(),
            "runp {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs runp and asserts failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.runp(args);
        assert!(
            !out.status.success(),
            "runp {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// A bundle in the scratch dir: the busybox config with `edit` applied, rootfs symlinked.
    pub fn bundle(&self, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
        let base = base_bundle();
        let dir = self.scratch.path().join(name);
        std::fs::create_dir_all(&dir).expect("bundle dir");
        let text = std::fs::read_to_string(base.join("config.json")).expect("base config");
        let mut cfg: Value = serde_json::from_str(&text).expect("base config json");
        cfg["root"]["path"] = Value::String(base.join("rootfs").display().to_string());
        edit(&mut cfg);
        std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(&cfg).expect("json"))
            .expect("write config");
        dir
    }

    /// A bundle whose process runs `sh -c script`.
    pub fn sh_bundle(&self, name: &str, script: &str) -> PathBuf {
        let script = script.to_string();
        self.bundle(name, move |c| c["process"]["args"] = serde_json::json!(["sh", "-c", script]))
    }

    /// `runp run --bundle B ID` in the foreground; returns the output.
    pub fn run(&self, bundle: &Path, id: &str) -> Output {
        self.runp(&["run", "--bundle", bundle.to_str().expect("utf8"), id])
    }

    /// Runs a script in a fresh container and returns its stdout, asserting exit 0.
    pub fn run_sh(&self, script: &str) -> String {
        let id = unique_id("sh");
        let b = self.sh_bundle(&id, script);
        let out = self.run(&b, &id);
        assert!(
            out.status.success(),
            "container script failed ({}): stdout={} stderr={}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `runp state ID` parsed.
    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).expect("state json")
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap_or_default().to_string()
    }

    /// Waits (bounded) until `id` reaches `status`.
    pub fn wait_status(&self, id: &str, status: &str) {
        for _ in 0..500 {
            if self.status(id) == status {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("container {id} never reached {status} (is {})", self.status(id));
    }

    pub fn ids(&self) -> Vec<String> {
        std::fs::read_dir(self.root())
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for id in self.ids() {
            let _ = self.runp(&["delete", "--force", &id]);
        }
        reap_zombies();
    }
}

/// Runs a command to completion with its output captured through files, not pipes: a created
/// container's init inherits the caller's stdio (as with runc), so a pipe would not see EOF.
pub fn output_of(mut c: Command) -> Output {
    let out = tempfile::tempfile().expect("stdout file");
    let err = tempfile::tempfile().expect("stderr file");
    let status = c
        .stdout(out.try_clone().expect("dup stdout"))
        .stderr(err.try_clone().expect("dup stderr"))
        .status()
        .expect("running the command");
    Output { status, stdout: read_all(out), stderr: read_all(err) }
}

fn read_all(mut f: std::fs::File) -> Vec<u8> {
    use std::io::{Read, Seek};
    let mut v = Vec::new();
    f.rewind().expect("rewind");
    f.read_to_end(&mut v).expect("read");
    v
}

/// A container id unique across concurrently running tests.
pub fn unique_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Every cgroup directory under the v1 memory (or v2) hierarchy whose name contains `needle`.
pub fn cgroups_named(needle: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for base in ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/freezer", "/sys/fs/cgroup/unified"] {
        let mut stack = vec![PathBuf::from(base)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    let p = e.path();
                    if p.to_string_lossy().contains(needle) {
                        out.push(p.clone());
                    }
                    stack.push(p);
                }
            }
        }
    }
    out
}

/// Mount points at or below `dir` (from /proc/self/mountinfo; octal escapes decoded).
pub fn mount_points_under(dir: &Path) -> Vec<PathBuf> {
    let unescape = |s: &str| -> PathBuf {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' && i + 3 < b.len() {
                if let Some(v) = std::str::from_utf8(&b[i + 1..i + 4]).ok().and_then(|o| u8::from_str_radix(o, 8).ok())
                {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(out))
    };
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(unescape))
        .filter(|m| m.starts_with(dir))
        .collect()
}

/// Detaches every mount at or below `dir`, deepest first (test cleanup: the directory is
/// about to be removed recursively).
pub fn unmount_under(dir: &Path) {
    let mut points = mount_points_under(dir);
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in points {
        let Ok(c) = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str())) else { continue };
        // SAFETY: umount2 with a NUL-terminated path.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Mount lines of the host that mention `needle`.
pub fn host_mounts_with(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// Processes whose command line contains `needle`.
pub fn processes_with(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if String::from_utf8_lossy(&cmd).contains(needle) && !state.contains(") Z ") {
            out.push(pid);
        }
    }
    out
}

/// Asserts that nothing of container `id` is left on the host: state dir, cgroup, mounts.
pub fn assert_no_trace(env: &Env, id: &str) {
    assert!(!env.root().join(id).exists(), "state dir of {id} left behind");
    let cgs = cgroups_named(id);
    assert!(cgs.is_empty(), "cgroups of {id} left behind: {cgs:?}");
    let m = host_mounts_with(id);
    assert!(m.is_empty(), "mounts of {id} left behind: {m:?}");
}

/// Polls `f` every 20 ms until it returns Some; panics with `what` after `timeout`.
pub fn poll<T>(what: &str, timeout: std::time::Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// /tmp/<unique name> on the host: a file a container must never create (absent) or never
/// see through some process's /proc/<pid>/root (present). Removed on drop, even when the
/// test fails.
pub struct HostMarker {
    pub name: String,
    pub path: PathBuf,
}

impl HostMarker {
    /// A fresh name whose host file does not exist.
    pub fn absent() -> HostMarker {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let name = format!("runp-confine-{}-{nanos}", unique_id("m"));
        let path = Path::new("/tmp").join(&name);
        let _ = std::fs::remove_file(&path);
        HostMarker { name, path }
    }

    /// A marker that exists on the host (and only there).
    pub fn present() -> HostMarker {
        let m = HostMarker::absent();
        std::fs::write(&m.path, "host\n").unwrap_or_else(|e| panic!("creating {}: {e}", m.path.display()));
        m
    }

    pub fn exists(&self) -> bool {
        std::fs::symlink_metadata(&self.path).is_ok()
    }

    /// What a container wrote there (empty if nothing).
    pub fn content(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap_or_default()
    }

    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for HostMarker {
    fn drop(&mut self) {
        self.remove();
    }
}
