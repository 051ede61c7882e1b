//! cgroup v2: one directory in the unified hierarchy
//! (kernel Documentation/admin-guide/cgroup-v2.rst).

use super::cgroup_fs as fs;
use crate::plan::resources::{
    cpu_max, cpu_weight_from_shares, io_weight_from_blkio, memory_swap_max, pids_max, v2_limit, CgroupResources,
};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct V2Cgroup {
    pub mountpoint: PathBuf,
    pub path: PathBuf,
    /// Directories `create` made, top-down; the only ones `destroy` removes.
    pub created: Vec<PathBuf>,
}

const TIMEOUT: Duration = Duration::from_secs(1);

/// Controllers we enable whenever the parent offers them, even with no limit set:
/// memory.events (OOM kills) and pids.current only exist with them.
const ACCOUNTING: [&str; 2] = ["memory", "pids"];

/// The controllers whose files `res` writes.
fn required_controllers(r: &CgroupResources) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |c: &str, on: bool| {
        if on && !out.iter().any(|o| o == c) {
            out.push(c.to_string());
        }
    };
    add("memory", r.memory_limit.is_some() || r.memory_reservation.is_some() || r.memory_swap.is_some());
    add("cpu", r.cpu_shares.is_some() || r.cpu_quota.is_some() || r.cpu_period.is_some());
    add("cpuset", r.cpuset_cpus.is_some() || r.cpuset_mems.is_some());
    add("pids", r.pids_limit.is_some());
    add("io", r.blkio_weight.is_some());
    add("hugetlb", !r.hugepage_limits.is_empty());
    for (key, _) in &r.unified {
        // "memory.high" needs memory; "cgroup.*" files are core and always there.
        let ctrl = key.split('.').next().unwrap_or("");
        add(ctrl, ctrl != "cgroup");
    }
    out
}

fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

/// Makes `required` (and, best-effort, the accounting controllers) available to `dir`'s
/// children through its cgroup.subtree_control. Only adds: what is on stays on.
/// "Only controllers which are listed in cgroup.controllers can be enabled", and a non-root
/// cgroup with processes refuses domain controllers (no internal process constraint).
fn enable_controllers(dir: &Path, required: &[String]) -> Result<()> {
    let available = fs::read(&dir.join("cgroup.controllers"))?;
    let control = dir.join("cgroup.subtree_control");
    let enabled = fs::read(&control)?;
    let (available, enabled) = (words(&available), words(&enabled));
    let mut missing = Vec::new();
    for c in required {
        if !available.contains(&c.as_str()) {
            bail!("cgroup controller {c} is not available in {}", dir.join("cgroup.controllers").display());
        }
        if !enabled.contains(&c.as_str()) {
            missing.push(format!("+{c}"));
        }
    }
    if !missing.is_empty() {
        fs::write(&control, &missing.join(" "))?;
    }
    for c in ACCOUNTING {
        if available.contains(&c) && !enabled.contains(&c) && !required.iter().any(|r| r == c) {
            if let Err(e) = fs::write(&control, &format!("+{c}")) {
                log::debug!("optional controller not enabled: {e:#}");
            }
        }
    }
    Ok(())
}

impl V2Cgroup {
    pub(super) fn create(&mut self, res: &CgroupResources) -> Result<()> {
        if res.cpu_rt_runtime.is_some() || res.cpu_rt_period.is_some() {
            bail!("realtime cpu limits (cpu.rt_*) are not supported on cgroup v2");
        }
        if res.memory_swappiness.is_some() {
            log::warn!("memory swappiness is not supported on cgroup v2: ignored");
        }
        if res.disable_oom_killer.is_some() {
            log::warn!("disabling the OOM killer is not supported on cgroup v2: ignored");
        }
        let pids = fs::procs_recursive(&self.path)?;
        if !pids.is_empty() {
            bail!("cgroup {} is not empty: it has processes {pids:?}", self.path.display());
        }
        let required = required_controllers(res);
        // Top-down constraint: each level can only enable what its parent enabled.
        let result = fs::mkdir_below(&self.mountpoint, &self.path, &mut self.created, |parent| {
            enable_controllers(parent, &required)
        })
        .and_then(|()| self.set(res));
        if let Err(e) = result {
            if let Err(cleanup) = self.destroy() {
                log::warn!("removing cgroup after failed create: {cleanup:#}");
            }
            self.created.clear();
            return Err(e);
        }
        Ok(())
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes every limit that is set, converted from the OCI (v1) units.
    fn set(&self, r: &CgroupResources) -> Result<()> {
        if let Some(v) = r.memory_reservation {
            fs::write(&self.file("memory.low"), &v2_limit(v))?;
        }
        if let Some(v) = r.memory_limit.filter(|&l| l != 0) {
            fs::write(&self.file("memory.max"), &v2_limit(v))?;
        }
        if let Some(swap) = memory_swap_max(r.memory_swap, r.memory_limit)? {
            let path = self.file("memory.swap.max");
            // Without swap accounting the file is absent; "max" then asks for nothing.
            if swap != "max" || path.exists() {
                fs::write(&path, &swap)?;
            }
        }
        if let Some(w) = r.cpu_shares.and_then(cpu_weight_from_shares) {
            fs::write(&self.file("cpu.weight"), &w.to_string())?;
        }
        if let Some(max) = cpu_max(r.cpu_quota, r.cpu_period) {
            fs::write(&self.file("cpu.max"), &max)?;
        }
        if let Some(cpus) = &r.cpuset_cpus {
            fs::write(&self.file("cpuset.cpus"), cpus)?;
        }
        if let Some(mems) = &r.cpuset_mems {
            fs::write(&self.file("cpuset.mems"), mems)?;
        }
        if let Some(limit) = r.pids_limit {
            fs::write(&self.file("pids.max"), &pids_max(limit))?;
        }
        if let Some(w) = r.blkio_weight.filter(|&w| w != 0) {
            // BFQ takes the v1 range as is; otherwise convert for io.weight (runc).
            let bfq = self.file("io.bfq.weight");
            match io_weight_from_blkio(w) {
                _ if bfq.exists() => fs::write(&bfq, &w.to_string())?,
                Some(v) => fs::write(&self.file("io.weight"), &v.to_string())?,
                None => {}
            }
        }
        for (size, limit) in &r.hugepage_limits {
            fs::write(&self.file(&format!("hugetlb.{size}.max")), &limit.to_string())?;
        }
        if !r.devices.is_empty() {
            // TODO: v2 has no devices files; rules need a BPF_CGROUP_DEVICE program.
            log::warn!("cgroup v2 device rules need eBPF and are not applied ({} rules)", r.devices.len());
        }
        // Last, so that explicit unified values win over the converted ones.
        for (key, value) in &r.unified {
            fs::write(&self.file(key), value)?;
        }
        Ok(())
    }

    fn frozen_now(&self) -> Result<Option<bool>> {
        let events = fs::read_opt(&self.file("cgroup.events"))?;
        Ok(events.map(|e| fs::flat_key(&e, "frozen") == Some(1)))
    }

    /// Freezing "may take some time"; cgroup.events says "frozen 1" when done.
    pub(super) fn freeze(&self) -> Result<()> {
        fs::write(&self.file("cgroup.freeze"), "1")?;
        if fs::wait_until(TIMEOUT, || Ok(self.frozen_now()? == Some(true)))? {
            return Ok(());
        }
        fs::write(&self.file("cgroup.freeze"), "0")?;
        bail!("{}: cgroup did not freeze within {TIMEOUT:?}", self.path.display())
    }

    pub(super) fn thaw(&self) -> Result<()> {
        fs::write(&self.file("cgroup.freeze"), "0")
    }

    pub(super) fn is_frozen(&self) -> Result<bool> {
        Ok(self.frozen_now()?.unwrap_or(false))
    }

    /// SIGKILL goes through cgroup.kill (Linux 5.14+), which handles forks and migrations
    /// itself; other signals (or older kernels) freeze, signal each pid, and thaw.
    pub(super) fn signal_all(&self, sig: i32) -> Result<()> {
        if !self.path.exists() {
            return Ok(());
        }
        let kill_file = self.file("cgroup.kill");
        if sig == libc::SIGKILL && kill_file.exists() {
            return fs::write(&kill_file, "1");
        }
        let was_frozen = self.is_frozen().unwrap_or(false);
        if let Err(e) = self.freeze() {
            log::warn!("signalling without freezing first: {e:#}");
        }
        let result = fs::procs_recursive(&self.path).and_then(|pids| fs::kill_all(&pids, sig));
        if !was_frozen || sig == libc::SIGKILL {
            self.thaw()?;
        }
        result
    }

    pub(super) fn destroy(&self) -> Result<()> {
        fs::remove_created(&self.path, &self.created, Instant::now() + TIMEOUT)
    }

    pub(super) fn oom_kill_count(&self) -> Result<u64> {
        let text = fs::read_opt(&self.file("memory.events"))?.unwrap_or_default();
        Ok(fs::flat_key(&text, "oom_kill").unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linux::cgroup::{parse_mountinfo, Cgroup, Layout};
    use crate::linux::cgroup_fs::fake;
    use crate::plan::resources::default_device_rules;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Child, Command};

    /// A fake cgroup2 root in a tempdir, laid out as the kernel shows a root cgroup.
    fn fake_root(controllers: &str) -> tempfile::TempDir {
        fake::enable();
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in [
            ("cgroup.controllers", controllers),
            ("cgroup.subtree_control", ""),
            ("cgroup.procs", ""),
            ("cgroup.max.depth", "max\n"),
        ] {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        dir
    }

    fn cg(root: &Path, rel: &str) -> Cgroup {
        let layout = Layout::V2 { mountpoint: root.to_path_buf() };
        crate::linux::cgroup::resolve_with(&layout, Some(rel), "x", "").unwrap()
    }

    fn read(p: PathBuf) -> String {
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    const ALL: &str = "cpuset cpu io memory hugetlb pids rdma misc\n";

    #[test]
    fn create_writes_v2_files() {
        let root = fake_root(ALL);
        let r = root.path();
        let mut c = cg(r, "/runp/c1");
        let res = CgroupResources {
            memory_limit: Some(64 << 20),
            memory_swap: Some(96 << 20),
            memory_reservation: Some(-1),
            cpu_shares: Some(512),
            cpu_quota: Some(50_000),
            pids_limit: Some(0),
            blkio_weight: Some(500),
            cpuset_cpus: Some("0".into()),
            hugepage_limits: vec![("2MB".into(), 4 << 20)],
            devices: default_device_rules(),
            unified: vec![("memory.high".into(), "50000000".into())],
            ..Default::default()
        };
        c.create(&res).unwrap();
        let leaf = r.join("runp/c1");
        assert_eq!(read(leaf.join("memory.max")), (64 << 20).to_string());
        assert_eq!(read(leaf.join("memory.swap.max")), (32 << 20).to_string());
        assert_eq!(read(leaf.join("memory.low")), "max");
        assert_eq!(read(leaf.join("memory.high")), "50000000");
        assert_eq!(read(leaf.join("cpu.weight")), "20");
        assert_eq!(read(leaf.join("cpu.max")), "50000 100000");
        assert_eq!(read(leaf.join("pids.max")), "max");
        assert_eq!(read(leaf.join("io.weight")), (1 + 490 * 9999 / 990).to_string());
        assert_eq!(read(leaf.join("hugetlb.2MB.max")), (4 << 20).to_string());
        assert_eq!(read(leaf.join("cpuset.cpus")), "0");
        // Enabled top-down, only what is used (+ memory/pids), never in the leaf itself.
        for dir in [r.to_path_buf(), r.join("runp")] {
            let on = read(dir.join("cgroup.subtree_control"));
            assert_eq!(on, "memory cpu cpuset pids io hugetlb", "{}", dir.display());
        }
        assert_eq!(read(leaf.join("cgroup.subtree_control")), "");
        let Cgroup::V2(v2) = &c else { panic!() };
        assert_eq!(v2.created, [r.join("runp"), leaf.clone()]);

        std::fs::write(leaf.join("memory.events"), "low 0\nhigh 2\nmax 9\noom 1\noom_kill 3\n").unwrap();
        assert_eq!(c.oom_kill_count().unwrap(), 3);
        c.freeze().unwrap();
        assert!(c.is_frozen().unwrap());
        c.thaw().unwrap();
        assert!(!c.is_frozen().unwrap());
        // No processes: signals nobody, leaves it thawed.
        c.signal_all(libc::SIGKILL).unwrap();
        assert!(!c.is_frozen().unwrap());

        std::fs::create_dir(leaf.join("sub")).unwrap();
        c.destroy().unwrap();
        assert!(!r.join("runp").exists());
        assert!(r.join("cgroup.procs").exists());
        assert_eq!(c.procs().unwrap(), Vec::<i32>::new());
        assert_eq!(c.oom_kill_count().unwrap(), 0);
        c.destroy().unwrap();
    }

    #[test]
    fn only_created_dirs_are_removed() {
        let root = fake_root("memory pids\n");
        let r = root.path();
        // kubepods exists already, with our controllers on.
        std::fs::create_dir(r.join("kubepods")).unwrap();
        fake::populate(&r.join("kubepods")).unwrap();
        std::fs::write(r.join("kubepods/cgroup.controllers"), "memory pids").unwrap();
        std::fs::write(r.join("kubepods/cgroup.subtree_control"), "memory").unwrap();
        let mut c = cg(r, "/kubepods/pod1/c2");
        c.create(&CgroupResources { pids_limit: Some(10), ..Default::default() }).unwrap();
        assert_eq!(read(r.join("kubepods/cgroup.subtree_control")), "memory pids");
        assert_eq!(read(r.join("kubepods/pod1/c2/pids.max")), "10");
        // Another container shares pod1: destroying c2 must leave it.
        let mut other = cg(r, "/kubepods/pod1/c3");
        other.create(&CgroupResources::default()).unwrap();
        c.destroy().unwrap();
        assert!(!r.join("kubepods/pod1/c2").exists());
        assert!(r.join("kubepods/pod1/c3").exists());
        other.destroy().unwrap();
        // pod1 was c2's to remove, and it was busy then: it stays (runc leaves parents too).
        assert!(!r.join("kubepods/pod1/c3").exists() && r.join("kubepods/pod1").exists());
    }

    #[test]
    fn create_failures() {
        let root = fake_root("memory pids\n");
        let r = root.path();
        let mut c = cg(r, "/runp/c1");
        let res = CgroupResources { hugepage_limits: vec![("2MB".into(), 1 << 21)], ..Default::default() };
        let err = format!("{:#}", c.create(&res).unwrap_err());
        assert!(err.contains("hugetlb is not available in") && err.contains("cgroup.controllers"), "{err}");
        assert!(!r.join("runp").exists());
        let Cgroup::V2(v2) = &c else { panic!() };
        assert!(v2.created.is_empty());

        let res = CgroupResources { cpu_rt_runtime: Some(1000), ..Default::default() };
        assert!(c.create(&res).is_err());
        let res = CgroupResources { memory_swap: Some(1 << 20), ..Default::default() };
        assert!(format!("{:#}", c.create(&res).unwrap_err()).contains("needs a memory limit"));
        let res = CgroupResources { unified: vec![("cgroup.procs".into(), "1".into())], ..Default::default() };
        assert!(c.create(&res).is_err());
        assert!(!r.join("runp").exists());

        // An existing cgroup with processes (recursively) is refused, and kept
        // (docs/security.md#cgroups-and-devices).
        std::fs::create_dir_all(r.join("busy/inner")).unwrap();
        std::fs::write(r.join("busy/inner/cgroup.procs"), "4242\n").unwrap();
        let mut busy = cg(r, "/busy");
        let err = format!("{:#}", busy.create(&CgroupResources::default()).unwrap_err());
        assert!(err.contains("is not empty"), "{err}");
        assert!(r.join("busy/inner").exists());
    }

    /// The real cgroup2 mount (pure v2, or /sys/fs/cgroup/unified on a hybrid host).
    fn real_v2_mount() -> Option<PathBuf> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let line = text.lines().find(|l| l.contains(" - cgroup2 "))?;
        let Ok(Layout::V2 { mountpoint }) = parse_mountinfo(line) else { return None };
        Some(mountpoint)
    }

    struct Guard(PathBuf, Vec<Child>);

    impl Drop for Guard {
        fn drop(&mut self) {
            for c in &mut self.1 {
                let _ = std::fs::write(self.0.join("c1/cgroup.freeze"), "0");
                let _ = c.kill();
                let _ = c.wait();
            }
            let _ = fs::remove_tree(&self.0, Instant::now() + TIMEOUT);
        }
    }

    #[test]
    fn real_cgroup2_lifecycle() {
        let Some(mnt) = real_v2_mount() else {
            eprintln!("skipped: needs root and a cgroup2 mount");
            return;
        };
        let top = mnt.join(format!("runp-test-{}-v2", std::process::id()));
        let mut g = Guard(top.clone(), Vec::new());
        let mut c = Cgroup::V2(V2Cgroup { mountpoint: mnt.clone(), path: top.join("c1"), created: Vec::new() });
        c.create(&CgroupResources::default()).unwrap();

        for sig in [libc::SIGTERM, libc::SIGKILL] {
            g.1.push(Command::new("sleep").arg("30").spawn().unwrap());
            let pid = g.1[0].id() as i32;
            c.attach(pid).unwrap();
            let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
            assert!(own.contains(&format!("0::/runp-test-{}-v2/c1\n", std::process::id())), "{own}");
            assert_eq!(c.procs().unwrap(), [pid]);
            c.freeze().unwrap();
            assert!(c.is_frozen().unwrap());
            c.thaw().unwrap();
            assert!(!c.is_frozen().unwrap());
            c.signal_all(sig).unwrap();
            let status = g.1.remove(0).wait().unwrap();
            assert_eq!(status.signal(), Some(sig));
        }
        assert_eq!(c.oom_kill_count().unwrap(), 0);
        c.destroy().unwrap();
        assert!(!top.exists());
    }
}
