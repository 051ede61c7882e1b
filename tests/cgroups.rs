//! linux.resources and linux.cgroupsPath on this host's cgroup v1 hierarchies, checked from the
//! host (the control files) and from inside the container (its own cgroup, bind-mounted at
//! /sys/fs/cgroup/<controller>). The v2 code is unit-tested against a fake cgroupfs in
//! src/linux/cgroup*.rs.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const V1: &str = "/sys/fs/cgroup";

/// The v1 hierarchies mounted under /sys/fs/cgroup: (directory name, the controller that names
/// it in /proc/<pid>/cgroup). A hybrid host's cgroup2 (unified) is not used by runp.
fn hierarchies() -> Vec<(String, String)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(sep) = f.iter().position(|x| *x == "-") else { continue };
        if f.get(sep + 1) != Some(&"cgroup") {
            continue;
        }
        let Some(dir) = f[4].strip_prefix("/sys/fs/cgroup/") else { continue };
        let known = [
            "cpu",
            "cpuacct",
            "cpuset",
            "memory",
            "devices",
            "freezer",
            "blkio",
            "pids",
            "hugetlb",
            "net_cls",
            "net_prio",
            "perf_event",
            "rdma",
            "misc",
        ];
        let ctrl = f[sep + 3].split(',').find(|o| known.contains(o) || o.starts_with("name="));
        if let Some(ctrl) = ctrl {
            out.push((dir.to_string(), ctrl.to_string()));
        }
    }
    out
}

/// True on a cgroup v1 (or hybrid) host; prints SKIP otherwise.
fn is_v1() -> bool {
    let v1 = Path::new(V1).join("memory/cgroup.procs").exists();
    if !v1 {
        eprintln!("SKIP: needs cgroup v1 controllers under {V1}");
    }
    v1
}

fn read(p: impl AsRef<Path>) -> String {
    let p = p.as_ref();
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display())).trim().to_string()
}

fn script(c: &mut Value, s: &str) {
    c["process"]["args"] = json!(["sh", "-c", s]);
}

fn init_pid(env: &Env, id: &str) -> i32 {
    env.state(id)["pid"].as_i64().expect("pid") as i32
}

/// The cgroup of `pid` in the hierarchy with `controller` (from /proc/<pid>/cgroup).
fn cgroup_of(pid: &str, controller: &str) -> String {
    let text = read(format!("/proc/{pid}/cgroup"));
    text.lines()
        .find_map(|l| {
            let mut it = l.splitn(3, ':');
            let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
            ctrls.split(',').any(|c| c == controller).then(|| path.to_string())
        })
        .unwrap_or_else(|| panic!("no {controller} line in /proc/{pid}/cgroup: {text}"))
}

/// A top-level cgroup name the test owns in every hierarchy; on drop, whatever is left below
/// it is emptied (processes killed) and removed, so a failed test leaves no cgroup behind.
struct CgTop {
    name: String,
    /// Where it lives below each hierarchy's root ("" = the root; a relative cgroupsPath
    /// lives below runp's own cgroup).
    below: Vec<(String, String)>,
}

impl CgTop {
    fn new(prefix: &str) -> CgTop {
        CgTop { name: unique_id(prefix), below: hierarchies().into_iter().map(|(h, _)| (h, String::new())).collect() }
    }

    /// Below our own cgroup in each hierarchy (for relative cgroupsPaths).
    fn relative(prefix: &str) -> CgTop {
        let below = hierarchies()
            .into_iter()
            .map(|(h, ctrl)| (h, cgroup_of("self", &ctrl).trim_start_matches('/').to_string()))
            .collect();
        CgTop { name: unique_id(prefix), below }
    }

    fn dir(&self, hierarchy: &str) -> PathBuf {
        let (_, below) = self.below.iter().find(|(h, _)| h == hierarchy).expect("hierarchy");
        Path::new(V1).join(hierarchy).join(below).join(&self.name)
    }

    fn existing(&self) -> Vec<PathBuf> {
        self.below.iter().map(|(h, _)| self.dir(h)).filter(|d| d.exists()).collect()
    }
}

impl Drop for CgTop {
    fn drop(&mut self) {
        for (h, _) in &self.below {
            remove_tree(&self.dir(h));
        }
    }
}

/// Kills every process below `dir` and removes the cgroups, deepest first.
fn remove_tree(dir: &Path) {
    if !dir.exists() {
        return;
    }
    let subs: Vec<PathBuf> =
        std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    for s in subs {
        remove_tree(&s);
    }
    for _ in 0..100 {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.split_whitespace().filter_map(|p| p.parse::<i32>().ok()).filter(|p| *p > 0) {
            // SAFETY: kill with integer arguments; pid > 0.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        reap_zombies();
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn memory_cpu_and_pids_limits_from_host_and_inside() {
    if !is_root() || !is_v1() {
        return;
    }
    let env = Env::new();
    let top = CgTop::new("runp-test-lim");
    let id = unique_id("limits");
    let cg_path = format!("/{}/c", top.name);
    let b = env.bundle(&id, |c| {
        c["linux"]["cgroupsPath"] = json!(cg_path);
        c["linux"]["resources"]["memory"] = json!({"limit": 64 << 20, "reservation": 32 << 20});
        c["linux"]["resources"]["cpu"] = json!({"shares": 512, "quota": 50000, "period": 100000});
        c["linux"]["resources"]["pids"] = json!({"limit": 32});
        c["process"]["args"] = json!(["sleep", "30"]);
    });
    env.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    let pid = init_pid(&env, &id).to_string();
    let files = [
        ("memory", "memory.limit_in_bytes", (64u64 << 20).to_string()),
        ("memory", "memory.soft_limit_in_bytes", (32u64 << 20).to_string()),
        ("cpu", "cpu.shares", "512".to_string()),
        ("cpu", "cpu.cfs_quota_us", "50000".to_string()),
        ("cpu", "cpu.cfs_period_us", "100000".to_string()),
        ("pids", "pids.max", "32".to_string()),
    ];
    for (h, file, want) in &files {
        let host_dir = top.dir(h).join("c");
        assert_eq!(read(host_dir.join(file)), *want, "host {h}/{file}");
        assert!(
            read(host_dir.join("cgroup.procs")).split_whitespace().any(|p| p == pid),
            "init not in {}",
            host_dir.display()
        );
        // Inside, the container's own cgroup is mounted at /sys/fs/cgroup/<hierarchy>.
        let inside = env.ok(&["exec", &id, "cat", &format!("/sys/fs/cgroup/{h}/{file}")]);
        assert_eq!(inside.trim(), want, "inside {h}/{file}");
    }
    for (h, ctrl) in hierarchies() {
        assert_eq!(cgroup_of(&pid, &ctrl), cg_path, "{h}");
    }
    env.ok(&["delete", "--force", &id]);
    reap_zombies();
    assert_no_trace(&env, &id);
    // runp made /<top> too, so it removes it.
    assert!(top.existing().is_empty(), "left behind: {:?}", top.existing());
}

#[test]
fn pids_limit_is_enforced() {
    if !is_root() || !is_v1() {
        return;
    }
    let env = Env::new();
    let id = unique_id("pids");
    let b = env.bundle(&id, |c| {
        c["linux"]["resources"]["pids"] = json!({"limit": 5});
        script(c, "cat /sys/fs/cgroup/pids/pids.max; for i in $(seq 1 20); do sleep 5 & done; echo all-forked");
    });
    let out = env.run(&b, &id);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("5\n"), "{stdout}");
    assert!(!stdout.contains("all-forked"), "20 forks under pids.max 5: {stdout}");
    assert!(stderr.contains("can't fork") || stderr.contains("Resource temporarily unavailable"), "{stderr}");
    assert!(!out.status.success());
    reap_zombies();
    assert_no_trace(&env, &id);
}

#[test]
fn absolute_and_relative_cgroups_paths() {
    if !is_root() || !is_v1() {
        return;
    }
    let env = Env::new();
    for relative in [false, true] {
        let top = if relative { CgTop::relative("runp-test-rel") } else { CgTop::new("runp-test-abs") };
        let id = unique_id("cgpath");
        let path = if relative { format!("{}/x", top.name) } else { format!("/{}/x", top.name) };
        let p = path.clone();
        let b = env.bundle(&id, move |c| {
            c["linux"]["cgroupsPath"] = json!(p);
            c["process"]["args"] = json!(["sleep", "30"]);
        });
        env.ok(&["create", "--bundle", b.to_str().unwrap(), &id]);
        let pid = init_pid(&env, &id).to_string();
        for (h, ctrl) in hierarchies() {
            let dir = top.dir(&h).join("x");
            assert!(dir.is_dir(), "{relative}: {} missing", dir.display());
            assert_eq!(read(dir.join("cgroup.procs")), pid, "{}", dir.display());
            let want = format!("/{}", dir.strip_prefix(Path::new(V1).join(&h)).unwrap().display());
            assert_eq!(cgroup_of(&pid, &ctrl), want);
        }
        env.ok(&["delete", &id]);
        reap_zombies();
        assert_no_trace(&env, &id);
        assert!(top.existing().is_empty(), "{relative}: left behind {:?}", top.existing());
    }
}

/// A cgroupsPath that climbs out of its hierarchy is refused before anything is made.
#[test]
fn cgroups_path_with_dot_dot_is_rejected() {
    if !is_root() || !is_v1() {
        return;
    }
    let env = Env::new();
    let top = CgTop::new("runp-test-dots");
    let t = &top.name;
    for bad in [
        format!("/{t}/../{t}-esc"),
        format!("../../{t}-esc"),
        format!("{t}/../../{t}-esc"),
        format!("/{t}/./x"),
        "/".to_string(),
    ] {
        let id = unique_id("dots");
        let p = bad.clone();
        let b = env.bundle(&id, move |c| c["linux"]["cgroupsPath"] = json!(p));
        let err = env.fails(&["create", "--bundle", b.to_str().unwrap(), &id]);
        assert!(err.contains("cgroupsPath"), "{bad}: {err}");
        assert_no_trace(&env, &id);
        assert!(top.existing().is_empty(), "{bad}: created {:?}", top.existing());
        assert!(cgroups_named(&format!("{t}-esc")).is_empty(), "{bad}: escaped");
    }
}

/// Kills and reaps a helper process on drop.
struct Proc(std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An existing cgroup that holds a process is refused, and left exactly as it was.
#[test]
fn existing_non_empty_cgroup_is_refused() {
    if !is_root() || !is_v1() {
        return;
    }
    let env = Env::new();
    let top = CgTop::new("runp-test-busy");
    let mem = top.dir("memory");
    std::fs::create_dir(&mem).unwrap();
    let sleeper = Proc(std::process::Command::new("sleep").arg("30").spawn().unwrap());
    let spid = sleeper.0.id().to_string();
    std::fs::write(mem.join("cgroup.procs"), &spid).unwrap();
    std::fs::write(mem.join("memory.limit_in_bytes"), (256u64 << 20).to_string()).unwrap();

    let id = unique_id("busy");
    let path = format!("/{}", top.name);
    let b = env.bundle(&id, |c| {
        c["linux"]["cgroupsPath"] = json!(path);
        c["linux"]["resources"]["memory"] = json!({"limit": 64 << 20});
    });
    let err = env.fails(&["create", "--bundle", b.to_str().unwrap(), &id]);
    assert!(err.contains("not empty"), "{err}");
    assert_no_trace(&env, &id);
    // Untouched: the process, its cgroup, the limit; nothing made in the other hierarchies.
    assert!(mem.is_dir());
    assert_eq!(read(mem.join("cgroup.procs")), spid);
    assert_eq!(read(mem.join("memory.limit_in_bytes")), (256u64 << 20).to_string());
    assert_eq!(cgroup_of(&spid, "memory"), path);
    assert!(std::fs::read_to_string(format!("/proc/{spid}/stat")).unwrap().contains(") S "));
    assert_eq!(top.existing(), std::slice::from_ref(&mem));
    drop(sleeper);
    drop(top);
    assert!(!mem.exists());
}

#[test]
fn oom_kills_the_container_and_is_counted() {
    if !is_root() || !is_v1() {
        return;
    }
    let env = Env::new();
    let top = CgTop::new("runp-test-oom");
    let id = unique_id("oom");
    let path = format!("/{}/c", top.name);
    let b = env.bundle(&id, |c| {
        c["linux"]["cgroupsPath"] = json!(path);
        c["linux"]["resources"]["memory"] = json!({"limit": 16 << 20});
        // dd allocates (and fills) a 100 MiB buffer; as the init, its death ends the container.
        script(c, "exec dd if=/dev/zero of=/dev/null bs=100M count=1");
    });
    env.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    env.wait_status(&id, "stopped");
    let oom = read(top.dir("memory").join("c/memory.oom_control"));
    let kills: u64 = oom
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .unwrap_or_else(|| panic!("no oom_kill in {oom}"))
        .parse()
        .unwrap();
    assert!(kills >= 1, "{oom}");
    assert_eq!(read(top.dir("memory").join("c/memory.limit_in_bytes")), (16u64 << 20).to_string());
    env.ok(&["delete", &id]);
    reap_zombies();
    assert_no_trace(&env, &id);
    assert!(top.existing().is_empty(), "left behind: {:?}", top.existing());

    // The same run in the foreground reports the SIGKILL (128 + 9).
    let id = unique_id("oom-fg");
    let top2 = CgTop::new("runp-test-oom");
    let path = format!("/{}/c", top2.name);
    let b = env.bundle(&id, |c| {
        c["linux"]["cgroupsPath"] = json!(path);
        c["linux"]["resources"]["memory"] = json!({"limit": 16 << 20});
        script(c, "exec dd if=/dev/zero of=/dev/null bs=100M count=1");
    });
    assert_eq!(env.run(&b, &id).status.code(), Some(137));
    assert_no_trace(&env, &id);
    assert!(top2.existing().is_empty());
}

#[test]
fn cgroups_removed_after_delete_and_after_failed_create() {
    if !is_root() || !is_v1() {
        return;
    }
    let env = Env::new();
    // The default path /runp/<id>, in every hierarchy, while it runs; gone after delete.
    let id = unique_id("cgdel");
    let b = env.sh_bundle(&id, "sleep 30");
    env.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    let all = hierarchies();
    assert!(all.len() >= 3, "{all:?}");
    for (h, _) in &all {
        assert!(Path::new(V1).join(h).join("runp").join(&id).is_dir(), "{h}");
    }
    env.ok(&["delete", "--force", &id]);
    reap_zombies();
    assert_no_trace(&env, &id);
    for (h, _) in &all {
        assert!(!Path::new(V1).join(h).join("runp").join(&id).exists(), "{h}");
    }

    // Failures after the cgroup was made (a missing bind source), after the init was attached
    // (a mount the kernel refuses), and while writing limits (a quota below the 1 ms minimum).
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: [(&str, Edit, &str); 2] = [
        (
            "missing bind source",
            Box::new(|c: &mut Value| {
                c["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"destination": "/tmp", "source": "/runp-test-no-such-dir", "options": ["bind"]}));
            }),
            "/runp-test-no-such-dir",
        ),
        (
            "bad fstype",
            Box::new(|c: &mut Value| {
                c["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"destination": "/tmp", "type": "runp-no-such-fs", "source": "x"}));
            }),
            "/tmp",
        ),
    ];
    for (what, edit, needle) in cases {
        let top = CgTop::new("runp-test-fail");
        let id = unique_id("cgfail");
        let path = format!("/{}/c", top.name);
        let b = env.bundle(&id, |c| {
            c["linux"]["cgroupsPath"] = json!(path);
            edit(c);
        });
        let err = env.fails(&["create", "--bundle", b.to_str().unwrap(), &id]);
        assert!(err.contains(needle), "{what}: {err}");
        reap_zombies();
        assert_no_trace(&env, &id);
        assert!(top.existing().is_empty(), "{what}: left behind {:?}", top.existing());
    }
    let top = CgTop::new("runp-test-fail");
    let id = unique_id("cgfail");
    let path = format!("/{}/c", top.name);
    let b = env.bundle(&id, |c| {
        c["linux"]["cgroupsPath"] = json!(path);
        c["linux"]["resources"]["cpu"] = json!({"quota": 500, "period": 100000});
    });
    let err = env.fails(&["create", "--bundle", b.to_str().unwrap(), &id]);
    assert!(err.contains("cpu.cfs_quota_us"), "{err}");
    assert_no_trace(&env, &id);
    assert!(top.existing().is_empty(), "left behind {:?}", top.existing());
}
