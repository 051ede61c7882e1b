//! Pod test harness: a private `--root`, `--data-root` and `--image-dir` per test, `busybox` and `nginx`
//! images imported from the busybox rootfs, helpers to run pods and poll their status, and
//! cleanup that runs even when a test fails (Drop) plus a check that nothing is left
//! (`PodEnv::check_clean`, called by the test itself).
//!
//! Declare it from a test file with
//! `mod common; #[path = "common/pod.rs"] mod pod_harness;`.
#![allow(dead_code)]

use crate::common::{self, cgroups_named, host_mounts_with, processes_with, reap_zombies, Env};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One test's pod world.
pub struct PodEnv {
    pub env: Env,
    /// `--data-root`: the pods' persistent files (`--root` holds their runtime state).
    pub data: tempfile::TempDir,
    pub images: tempfile::TempDir,
    /// RUNP_BACKOFF_INITIAL_MS / RUNP_BACKOFF_CAP_MS passed to `pod run`.
    pub backoff_ms: (u64, u64),
    uids: Mutex<Vec<String>>,
}

/// A pod name unique across concurrently running tests (a valid DNS-1123 label).
pub fn unique(prefix: &str) -> String {
    common::unique_id(prefix)
}

/// Removes the common leading indentation of a multi-line string (and the first empty line).
pub fn dedent(s: &str) -> String {
    let s = s.strip_prefix('\n').unwrap_or(s);
    let indent = s.lines().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    s.lines().map(|l| if l.len() >= indent { &l[indent..] } else { l.trim_start() }).collect::<Vec<_>>().join("\n")
        + "\n"
}

/// A Pod manifest named `@NAME@` (replaced by `run_pod`) with `spec` (YAML, any indentation).
pub fn pod_yaml(spec: &str) -> String {
    let body: String = dedent(spec).lines().map(|l| format!("  {l}\n")).collect();
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"@NAME@\"\nspec:\n{body}")
}

impl PodEnv {
    /// None (and a SKIP line) when not root.
    pub fn new() -> Option<PodEnv> {
        if !common::is_root() {
            return None;
        }
        let env = Env::new();
        let data = tempfile::Builder::new().prefix("runp-test-data").tempdir().expect("tempdir");
        let images = tempfile::Builder::new().prefix("runp-test-images").tempdir().expect("tempdir");
        let pe = PodEnv { env, data, images, backoff_ms: (200, 1000), uids: Mutex::new(Vec::new()) };
        let rootfs = common::base_bundle().join("rootfs");
        pe.ok(&["image", "import", "busybox", rootfs.to_str().expect("utf8")]);
        // nginx = the busybox rootfs with a document root, serving it with httpd on :80.
        let ng = pe.env.scratch.path().join("nginx-rootfs");
        let st = Command::new("cp").arg("-a").arg(&rootfs).arg(&ng).status().expect("cp");
        assert!(st.success(), "copying the rootfs");
        std::fs::create_dir_all(ng.join("usr/share/nginx/html")).expect("html dir");
        std::fs::write(ng.join("usr/share/nginx/html/index.html"), "nginx placeholder\n").expect("index");
        pe.ok(&[
            "image",
            "import",
            "nginx",
            ng.to_str().expect("utf8"),
            "--cmd",
            "httpd -f -p 80 -h /usr/share/nginx/html",
        ]);
        Some(pe)
    }

    /// The busybox rootfs plus /usr/share/nginx/html (the nginx image's source).
    pub fn nginx_rootfs(&self) -> PathBuf {
        self.scratch().join("nginx-rootfs")
    }

    pub fn root(&self) -> &Path {
        self.env.root()
    }

    /// `--data-root`.
    pub fn data_root(&self) -> &Path {
        self.data.path()
    }

    pub fn scratch(&self) -> &Path {
        self.env.scratch.path()
    }

    /// `runp --root R --data-root D --image-dir I ARGS...` with the back-off knobs set.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(common::runp_bin());
        c.arg("--root")
            .arg(self.root())
            .arg("--data-root")
            .arg(self.data_root())
            .arg("--image-dir")
            .arg(self.images.path())
            .args(args)
            .stdin(Stdio::null());
        c.env("RUNP_BACKOFF_INITIAL_MS", self.backoff_ms.0.to_string());
        c.env("RUNP_BACKOFF_CAP_MS", self.backoff_ms.1.to_string());
        c
    }

    /// Runs runp to completion; output through files (a detached supervisor must never hold
    /// a pipe of ours open).
    pub fn runp(&self, args: &[&str]) -> Output {
        let out = tempfile::tempfile().expect("stdout file");
        let err = tempfile::tempfile().expect("stderr file");
        let status = self
            .cmd(args)
            .stdout(out.try_clone().expect("dup"))
            .stderr(err.try_clone().expect("dup"))
            .status()
            .expect("running runp");
        Output { status, stdout: read_all(out), stderr: read_all(err) }
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.runp(args);
        assert!(
            out.status.success(),
            "runp {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs runp expecting failure: (exit code, stderr).
    pub fn fails(&self, args: &[&str]) -> (i32, String) {
        let out = self.runp(args);
        assert!(
            !out.status.success(),
            "runp {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// Writes a manifest (with `@NAME@` replaced by a fresh unique name) to the scratch dir:
    /// (name, path).
    pub fn manifest(&self, yaml: &str) -> (String, PathBuf) {
        let name = if yaml.contains("@NAME@") { unique("pod") } else { manifest_name(yaml) };
        let text = yaml.replace("@NAME@", &name);
        let path = self.scratch().join(format!("{}-{}.yaml", name, unique("m")));
        std::fs::write(&path, text).expect("writing manifest");
        (name, path)
    }

    /// `pod run -d` of the manifest; returns the pod's name.
    pub fn run_pod(&self, yaml: &str) -> String {
        let (name, path) = self.manifest(yaml);
        let out = self.ok(&["pod", "run", "-d", path.to_str().expect("utf8")]);
        assert!(out.contains(&format!("pod/{name} created")), "pod run -d printed {out:?}");
        self.remember_uid(&name);
        name
    }

    /// `pod run -d` expecting failure: (exit code, stderr).
    pub fn run_pod_fails(&self, yaml: &str) -> (String, i32, String) {
        let (name, path) = self.manifest(yaml);
        let (code, err) = self.fails(&["pod", "run", "-d", path.to_str().expect("utf8")]);
        (name, code, err)
    }

    fn remember_uid(&self, name: &str) {
        if let Ok(text) = std::fs::read_to_string(self.pod_dir(name).join("status.json")) {
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                if let Some(uid) = v["metadata"]["uid"].as_str() {
                    self.uids.lock().expect("uids").push(uid.to_string());
                }
            }
        }
    }

    /// The pod's persistent files: `<data-root>/pods/<name>`.
    pub fn pod_dir(&self, name: &str) -> PathBuf {
        self.data_root().join("pods").join(name)
    }

    /// The pod's runtime files: `<root>/pods/<name>` (supervisor.json, control.sock, shm,
    /// proc, Memory emptyDirs).
    pub fn run_dir(&self, name: &str) -> PathBuf {
        self.root().join("pods").join(name)
    }

    /// `pod status NAME -o json`.
    pub fn status(&self, name: &str) -> Value {
        let out = self.ok(&["pod", "status", name, "-o", "json"]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("pod status {name}: {e}: {out}"))
    }

    /// Polls the status every 20 ms until `pred` holds; panics with the last status on timeout.
    pub fn wait_until(&self, name: &str, pred: impl Fn(&Value) -> bool, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let st = self.status(name);
            if pred(&st) {
                return st;
            }
            if Instant::now() > deadline {
                panic!(
                    "pod {name}: condition not reached within {timeout:?}; last status:\n{}\nevents:\n{}",
                    serde_json::to_string_pretty(&st["status"]).unwrap_or_default(),
                    self.runp(&["pod", "events", name]).stdout.iter().map(|&b| b as char).collect::<String>()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_phase(&self, name: &str, phase: &str, timeout: Duration) -> Value {
        self.wait_until(name, |s| s["status"]["phase"] == phase, timeout)
    }

    /// Waits until container `c` is running (and its postStart done).
    pub fn wait_running(&self, name: &str, c: &str, timeout: Duration) -> Value {
        let c = c.to_string();
        self.wait_until(name, move |s| ctr(s, &c)["state"]["running"].is_object(), timeout)
    }

    /// `pod events NAME -o json`.
    pub fn events(&self, name: &str) -> Vec<Value> {
        let out = self.ok(&["pod", "events", name, "-o", "json"]);
        // One JSON object per line (older runp: one array).
        if let Ok(Value::Array(a)) = serde_json::from_str::<Value>(&out) {
            return a;
        }
        out.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("events json: {e}: {l}")))
            .collect()
    }

    /// Events with this reason (and a message containing `msg`).
    pub fn events_with(&self, name: &str, reason: &str, msg: &str) -> Vec<Value> {
        self.events(name)
            .into_iter()
            .filter(|e| e["reason"] == reason && e["message"].as_str().unwrap_or("").contains(msg))
            .collect()
    }

    /// The `pod list` row of `name`: (READY, STATUS, RESTARTS).
    pub fn list_row(&self, name: &str) -> Option<(String, String, String)> {
        let out = self.ok(&["pod", "list"]);
        out.lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&name)).then(|| (f[1].to_string(), f[2].to_string(), f[3].to_string()))
        })
    }

    pub fn display(&self, name: &str) -> String {
        self.list_row(name).map(|r| r.1).unwrap_or_default()
    }

    /// `pod logs NAME ARGS...` (stdout).
    pub fn logs(&self, name: &str, args: &[&str]) -> String {
        let mut a = vec!["pod", "logs", name];
        a.extend_from_slice(args);
        self.ok(&a)
    }

    /// `pod exec NAME -c C -- CMD...`.
    pub fn exec(&self, name: &str, c: &str, cmd: &[&str]) -> Output {
        let mut a = vec!["pod", "exec", name, "-c", c, "--"];
        a.extend_from_slice(cmd);
        self.runp(&a)
    }

    /// `pod exec` expecting exit 0; returns stdout.
    pub fn exec_ok(&self, name: &str, c: &str, cmd: &[&str]) -> String {
        let out = self.exec(name, c, cmd);
        assert!(
            out.status.success(),
            "exec {cmd:?} in {name}/{c} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `pod stop NAME ARGS...`; returns how long it took.
    pub fn stop(&self, name: &str, args: &[&str]) -> Duration {
        let mut a = vec!["pod", "stop", name];
        a.extend_from_slice(args);
        let t = Instant::now();
        self.ok(&a);
        t.elapsed()
    }

    /// The supervisor's pid from `<root>/pods/<name>/supervisor.json`.
    pub fn supervisor_pid(&self, name: &str) -> i32 {
        let text = std::fs::read_to_string(self.run_dir(name).join("supervisor.json")).expect("supervisor.json");
        let v: Value = serde_json::from_str(&text).expect("supervisor json");
        v["pid"].as_i64().expect("pid") as i32
    }

    /// Live pause processes of this root: children (comm `pause`) of its supervisors, which
    /// are the processes whose command line mentions the root. Pause's own command line is
    /// just `/pause`.
    pub fn pause_pids(&self) -> Vec<i32> {
        let supervisors = processes_with(&self.root().to_string_lossy());
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() != "pause" {
                continue;
            }
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // pid (comm) state ppid ...: comm is "pause", so splitting after ')' is safe.
            let mut rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("").split_whitespace();
            let (state, ppid) = (rest.next(), rest.next().and_then(|p| p.parse::<i32>().ok()));
            if state != Some("Z") && ppid.is_some_and(|pp| supervisors.contains(&pp)) {
                out.push(pid);
            }
        }
        out
    }

    /// Names of the pods with a directory in the data root or the run root.
    pub fn pods(&self) -> Vec<String> {
        let names = |root: &Path| -> Vec<String> {
            std::fs::read_dir(root.join("pods"))
                .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
                .unwrap_or_default()
        };
        let mut v = names(self.data_root());
        v.extend(names(self.root()));
        v.sort();
        v.dedup();
        v
    }

    /// What is left of this root and data root on the host (empty = clean).
    pub fn leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        let root = self.root().to_string_lossy().into_owned();
        let data = self.data_root().to_string_lossy().into_owned();
        for p in self.pods() {
            if self.pod_dir(&p).exists() {
                left.push(format!("pod dir {p}"));
            }
            if self.run_dir(&p).exists() {
                left.push(format!("pod run dir {p}"));
            }
        }
        for e in std::fs::read_dir(self.root()).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n != "pods" {
                left.push(format!("state dir {n}"));
            }
        }
        for uid in self.uids.lock().expect("uids").iter() {
            for cg in cgroups_named(uid) {
                left.push(format!("cgroup {}", cg.display()));
            }
        }
        for m in host_mounts_with(&root).into_iter().chain(host_mounts_with(&data)) {
            left.push(format!("mount {m}"));
        }
        for p in processes_with(&root) {
            let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            left.push(format!("process {p}: {}", String::from_utf8_lossy(&cmd).replace('\0', " ")));
        }
        left
    }

    /// Removes every pod (`pod rm --force`), reaps the adopted supervisors and asserts that
    /// nothing is left: no pod or OCI state dir, cgroup, mount or process of this root.
    pub fn check_clean(&self) {
        for p in self.pods() {
            self.remember_uid(&p);
            let out = self.runp(&["pod", "rm", "--force", &p]);
            assert!(out.status.success(), "pod rm --force {p}: {}", String::from_utf8_lossy(&out.stderr));
        }
        reap_zombies();
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let left = self.leftovers();
            if left.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                panic!("left behind after pod rm:\n  {}", left.join("\n  "));
            }
            std::thread::sleep(Duration::from_millis(50));
            reap_zombies();
        }
    }
}

impl Drop for PodEnv {
    fn drop(&mut self) {
        for p in self.pods() {
            let _ = self.runp(&["pod", "rm", "--force", &p]);
        }
        reap_zombies();
        // The temporary directories are removed next, recursively: never into a mount (a
        // bind of the host's /dev/shm) a failed test may have left in them.
        for dir in [self.root().to_path_buf(), self.data_root().to_path_buf()] {
            common::unmount_under(&dir);
        }
    }
}

fn read_all(mut f: std::fs::File) -> Vec<u8> {
    use std::io::{Read, Seek};
    let mut v = Vec::new();
    f.rewind().expect("rewind");
    f.read_to_end(&mut v).expect("read");
    v
}

fn manifest_name(yaml: &str) -> String {
    let v: Value = yaml_serde::from_str(yaml).unwrap_or(Value::Null);
    v["metadata"]["name"].as_str().unwrap_or("").to_string()
}

/// A container's status entry (init or app) by name; Null when absent.
pub fn ctr<'a>(st: &'a Value, name: &str) -> &'a Value {
    for key in ["initContainerStatuses", "containerStatuses"] {
        if let Some(c) = st["status"][key].as_array().and_then(|l| l.iter().find(|c| c["name"] == name)) {
            return c;
        }
    }
    &Value::Null
}

pub fn phase(st: &Value) -> String {
    st["status"]["phase"].as_str().unwrap_or("").to_string()
}

/// A pod condition by type; Null when absent.
pub fn cond<'a>(st: &'a Value, kind: &str) -> &'a Value {
    st["status"]["conditions"].as_array().and_then(|l| l.iter().find(|c| c["type"] == kind)).unwrap_or(&Value::Null)
}

/// "waiting", "running" or "terminated".
pub fn state_of(c: &Value) -> String {
    c["state"].as_object().and_then(|o| o.keys().next().cloned()).unwrap_or_default()
}

pub fn restarts(c: &Value) -> u64 {
    c["restartCount"].as_u64().unwrap_or(0)
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp (`2026-11-21T08:08:10Z`, fraction
/// ignored).
pub fn epoch(ts: &str) -> i64 {
    let p = |a: usize, b: usize| -> i64 {
        ts.get(a..b).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("bad timestamp {ts:?}"))
    };
    let (y, m, d) = (p(0, 4), p(5, 7), p(8, 10));
    let (hh, mm, ss) = (p(11, 13), p(14, 16), p(17, 19));
    // days_from_civil (Howard Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hh * 3600 + mm * 60 + ss
}

/// The host's /proc/uptime (seconds, 10 ms resolution): the clock containers can read too.
pub fn uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .expect("uptime")
        .split_whitespace()
        .next()
        .expect("uptime")
        .parse()
        .expect("uptime")
}

/// Numbers found in a file of lines `<tag> <uptime>` with this tag.
pub fn times(path: &Path, tag: &str) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix(tag).and_then(|r| r.trim().parse().ok()))
        .collect()
}

/// Shell snippet appending `<tag> <uptime>` to `file`.
pub fn stamp(tag: &str, file: &str) -> String {
    format!("read u _ < /proc/uptime; echo {tag} $u >> {file}")
}

/// A YAML (JSON) double-quoted scalar for any string: scripts go into manifests with it.
pub fn q(s: &str) -> String {
    serde_json::to_string(s).expect("json string")
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// ---- Helpers added for tests/pod_probes.rs ----

/// A runp command left running in the background (`pod wait`, `pod events -f`): stdout and
/// stderr go to files in the scratch dir; it is killed (and reaped) on drop.
pub struct Bg {
    pub child: std::process::Child,
    pub out: PathBuf,
    pub err: PathBuf,
}

impl Bg {
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Still running?
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits at most `timeout` for it to exit: None when it is still running (it is then
    /// killed).
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl PodEnv {
    /// Starts `runp ARGS...` in the background.
    pub fn spawn(&self, args: &[&str]) -> Bg {
        let base = self.scratch().join(unique("bg"));
        let (out, err) = (base.with_extension("out"), base.with_extension("err"));
        let child = self
            .cmd(args)
            .stdout(std::fs::File::create(&out).expect("bg stdout"))
            .stderr(std::fs::File::create(&err).expect("bg stderr"))
            .spawn()
            .expect("spawning runp");
        Bg { child, out, err }
    }

    /// The host directory of (disk) emptyDir volume `vol` of pod `name`.
    pub fn volume(&self, name: &str, vol: &str) -> PathBuf {
        self.pod_dir(name).join("volumes").join(vol)
    }

    /// The host directory (a tmpfs mount point) of Memory emptyDir volume `vol`.
    pub fn memory_volume(&self, name: &str, vol: &str) -> PathBuf {
        self.run_dir(name).join("volumes").join(vol)
    }
}

#[allow(unused_imports)]
pub use crate::common::poll;
