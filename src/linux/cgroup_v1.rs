//! cgroup v1: one directory per mounted hierarchy.

use super::cgroup_fs as fs;
use crate::plan::resources::{pids_max, CgroupResources};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The container's directory in one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct V1Dir {
    pub controllers: Vec<String>,
    pub mountpoint: PathBuf,
    pub path: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct V1Cgroup {
    /// One per hierarchy, including named ones (name=systemd).
    pub dirs: Vec<V1Dir>,
    /// Directories `create` made, top-down per hierarchy; the only ones `destroy` removes.
    pub created: Vec<PathBuf>,
}

/// The time we give the freezer and rmdir, as runc does.
const TIMEOUT: Duration = Duration::from_secs(1);

impl V1Cgroup {
    /// The directory in the hierarchy that has `controller`.
    pub fn dir_for(&self, controller: &str) -> Option<&Path> {
        self.dirs.iter().find(|d| d.controllers.iter().any(|c| c == controller)).map(|d| d.path.as_path())
    }

    fn need(&self, controller: &str) -> Result<&Path> {
        self.dir_for(controller)
            .with_context(|| format!("the resources need the {controller} cgroup controller, which is not mounted"))
    }

    /// Freezer first: it is the hierarchy we stop processes with before listing them.
    pub fn main_dir(&self) -> &Path {
        self.dir_for("freezer").or_else(|| self.dirs.first().map(|d| d.path.as_path())).unwrap_or(Path::new("/"))
    }

    /// Fails before touching anything if a limit has no hierarchy to go to.
    fn check_controllers(&self, res: &CgroupResources) -> Result<()> {
        if !res.unified.is_empty() {
            bail!("linux.resources.unified needs cgroup v2; this host uses cgroup v1");
        }
        let r = res;
        let memory = r.memory_limit.is_some()
            || r.memory_reservation.is_some()
            || r.memory_swap.is_some()
            || r.memory_swappiness.is_some()
            || r.disable_oom_killer.is_some();
        let cpu = r.cpu_shares.is_some()
            || r.cpu_quota.is_some()
            || r.cpu_period.is_some()
            || r.cpu_rt_runtime.is_some()
            || r.cpu_rt_period.is_some();
        let wanted = [
            ("memory", memory),
            ("cpu", cpu),
            ("cpuset", r.cpuset_cpus.is_some() || r.cpuset_mems.is_some()),
            ("pids", r.pids_limit.is_some()),
            ("blkio", r.blkio_weight.is_some()),
            ("hugetlb", !r.hugepage_limits.is_empty()),
            ("devices", !r.devices.is_empty()),
        ];
        for (ctrl, _) in wanted.iter().filter(|(_, on)| *on) {
            self.need(ctrl)?;
        }
        Ok(())
    }

    pub(super) fn create(&mut self, res: &CgroupResources) -> Result<()> {
        self.check_controllers(res)?;
        for d in &self.dirs {
            let pids = fs::procs_recursive(&d.path)?;
            if !pids.is_empty() {
                bail!("cgroup {} is not empty: it has processes {pids:?}", d.path.display());
            }
        }
        let result = self.make_dirs().and_then(|()| self.set(res));
        if let Err(e) = result {
            if let Err(cleanup) = self.destroy() {
                log::warn!("removing cgroup after failed create: {cleanup:#}");
            }
            self.created.clear();
            return Err(e);
        }
        Ok(())
    }

    fn make_dirs(&mut self) -> Result<()> {
        for d in &self.dirs {
            fs::mkdir_below(&d.mountpoint, &d.path, &mut self.created, |_| Ok(()))?;
            if d.controllers.iter().any(|c| c == "cpuset") {
                inherit_cpuset(&d.mountpoint, &d.path)?;
            }
        }
        Ok(())
    }

    /// Writes every limit that is set.
    fn set(&self, r: &CgroupResources) -> Result<()> {
        if let Some(dir) = self.dir_for("memory") {
            set_memory(dir, r)?;
        }
        if let Some(dir) = self.dir_for("cpu") {
            if let Some(shares) = r.cpu_shares.filter(|&s| s != 0) {
                let path = dir.join("cpu.shares");
                fs::write(&path, &shares.to_string())?;
                // The kernel clamps silently; a clamped value is not what was asked for.
                let got = fs::read(&path)?;
                if got.trim() != shares.to_string() {
                    bail!("{}: wrote {shares} but the kernel set {}", path.display(), got.trim());
                }
            }
            // Period before quota: the kernel checks quota against the period.
            if let Some(p) = r.cpu_period.filter(|&p| p != 0) {
                fs::write(&dir.join("cpu.cfs_period_us"), &p.to_string())?;
            }
            if let Some(q) = r.cpu_quota.filter(|&q| q != 0) {
                fs::write(&dir.join("cpu.cfs_quota_us"), &q.max(-1).to_string())?;
            }
            if let Some(p) = r.cpu_rt_period.filter(|&p| p != 0) {
                fs::write(&dir.join("cpu.rt_period_us"), &p.to_string())?;
            }
            if let Some(rt) = r.cpu_rt_runtime.filter(|&rt| rt != 0) {
                fs::write(&dir.join("cpu.rt_runtime_us"), &rt.to_string())?;
            }
        }
        if let Some(dir) = self.dir_for("cpuset") {
            if let Some(cpus) = &r.cpuset_cpus {
                fs::write(&dir.join("cpuset.cpus"), cpus)?;
            }
            if let Some(mems) = &r.cpuset_mems {
                fs::write(&dir.join("cpuset.mems"), mems)?;
            }
        }
        if let (Some(dir), Some(limit)) = (self.dir_for("pids"), r.pids_limit) {
            fs::write(&dir.join("pids.max"), &pids_max(limit))?;
        }
        if let (Some(dir), Some(w)) = (self.dir_for("blkio"), r.blkio_weight.filter(|&w| w != 0)) {
            // Kernels with BFQ only have blkio.bfq.weight (same range).
            let plain = dir.join("blkio.weight");
            let bfq = dir.join("blkio.bfq.weight");
            fs::write(if !plain.exists() && bfq.exists() { &bfq } else { &plain }, &w.to_string())?;
        }
        if let Some(dir) = self.dir_for("hugetlb") {
            for (size, limit) in &r.hugepage_limits {
                fs::write(&dir.join(format!("hugetlb.{size}.limit_in_bytes")), &limit.to_string())?;
            }
        }
        if let Some(dir) = self.dir_for("devices") {
            for rule in &r.devices {
                let file = if rule.allow { "devices.allow" } else { "devices.deny" };
                fs::write(&dir.join(file), &rule.to_v1_line())?;
            }
        }
        Ok(())
    }

    fn state_path(&self) -> Result<PathBuf> {
        Ok(self.dir_for("freezer").context("the freezer cgroup controller is not mounted")?.join("freezer.state"))
    }

    /// runc's loop: the v1 freezer can stay in FREEZING while tasks fork, so keep writing
    /// FROZEN, thaw briefly now and then, and give up (thawed) after about a second.
    pub(super) fn freeze(&self) -> Result<()> {
        let path = self.state_path()?;
        let deadline = Instant::now() + TIMEOUT;
        for i in 0u32.. {
            if Instant::now() >= deadline {
                break;
            }
            if i % 50 == 49 {
                fs::write(&path, "THAWED")?;
                std::thread::sleep(Duration::from_millis(10));
            }
            fs::write(&path, "FROZEN")?;
            if i % 25 == 24 {
                std::thread::sleep(Duration::from_micros(10));
            }
            match fs::read(&path)?.trim() {
                "FROZEN" => return Ok(()),
                "FREEZING" => continue,
                other => bail!("{}: unexpected state {other:?} while freezing", path.display()),
            }
        }
        // Stuck in FREEZING is worse than running: thaw back.
        fs::write(&path, "THAWED")?;
        bail!("{}: cgroup did not freeze within {TIMEOUT:?}", path.display())
    }

    pub(super) fn thaw(&self) -> Result<()> {
        fs::write(&self.state_path()?, "THAWED")
    }

    pub(super) fn is_frozen(&self) -> Result<bool> {
        let Some(dir) = self.dir_for("freezer") else { return Ok(false) };
        Ok(fs::read_opt(&dir.join("freezer.state"))?.is_some_and(|s| s.trim() == "FROZEN"))
    }

    /// Freeze, signal, thaw: frozen tasks cannot fork new ones or exit (so no pid is
    /// recycled under us), and the pending signal is delivered on thaw.
    pub(super) fn signal_all(&self, sig: i32) -> Result<()> {
        // An empty list would make main_dir "/", and walking that would find every process.
        if self.dirs.is_empty() {
            bail!("cgroup has no hierarchies");
        }
        if !self.main_dir().exists() {
            return Ok(());
        }
        let has_freezer = self.dir_for("freezer").is_some();
        let was_frozen = self.is_frozen().unwrap_or(false);
        if has_freezer {
            if let Err(e) = self.freeze() {
                log::warn!("signalling without freezing first: {e:#}");
            }
        }
        let result = fs::procs_recursive(self.main_dir()).and_then(|pids| fs::kill_all(&pids, sig));
        // A paused container stays paused, except that SIGKILL must be able to finish.
        if has_freezer && (!was_frozen || sig == libc::SIGKILL) {
            self.thaw()?;
        }
        result
    }

    pub(super) fn destroy(&self) -> Result<()> {
        let deadline = Instant::now() + TIMEOUT;
        let mut first_err = None;
        for d in &self.dirs {
            let mine: Vec<PathBuf> = self.created.iter().filter(|c| c.starts_with(&d.mountpoint)).cloned().collect();
            if let Err(e) = fs::remove_created(&d.path, &mine, deadline) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    pub(super) fn oom_kill_count(&self) -> Result<u64> {
        let Some(dir) = self.dir_for("memory") else { return Ok(0) };
        let text = fs::read_opt(&dir.join("memory.oom_control"))?.unwrap_or_default();
        Ok(fs::flat_key(&text, "oom_kill").unwrap_or(0))
    }
}

/// A new cpuset cgroup starts with empty cpus/mems and the kernel refuses to attach tasks
/// until they are set: copy them from the parent, top-down below the mountpoint.
fn inherit_cpuset(mountpoint: &Path, dir: &Path) -> Result<()> {
    let rel = dir.strip_prefix(mountpoint).unwrap_or(Path::new(""));
    let mut cur = mountpoint.to_path_buf();
    for comp in rel.components() {
        let parent = cur.clone();
        cur.push(comp);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if fs::read(&cur.join(file))?.trim().is_empty() {
                fs::write(&cur.join(file), fs::read(&parent.join(file))?.trim())?;
            }
        }
    }
    Ok(())
}

/// memory.limit_in_bytes must stay <= memory.memsw.limit_in_bytes at every step, so the
/// write order depends on the current limit (runc's setMemoryAndSwap).
fn set_memory(dir: &Path, r: &CgroupResources) -> Result<()> {
    let limit_path = dir.join("memory.limit_in_bytes");
    let swap_path = dir.join("memory.memsw.limit_in_bytes");
    if let Some(v) = r.memory_reservation {
        fs::write(&dir.join("memory.soft_limit_in_bytes"), &v.to_string())?;
    }
    let limit = r.memory_limit.filter(|&l| l != 0);
    let mut swap = r.memory_swap.filter(|&s| s != 0);
    // Unlimited memory with swap unset means unlimited swap too (when swap is accounted).
    if limit == Some(-1) && swap.is_none() && swap_path.exists() {
        swap = Some(-1);
    }
    let swap_first = match (limit, swap) {
        (Some(_), Some(s)) => {
            let cur: i64 = fs::read(&limit_path)?.trim().parse().unwrap_or(i64::MAX);
            s == -1 || cur < s
        }
        _ => false,
    };
    let write_limit = || limit.map_or(Ok(()), |l| fs::write(&limit_path, &l.to_string()));
    let write_swap = || swap.map_or(Ok(()), |s| fs::write(&swap_path, &s.to_string()));
    if swap_first {
        write_swap()?;
        write_limit()?;
    } else {
        write_limit()?;
        write_swap()?;
    }
    if let Some(v) = r.memory_swappiness {
        fs::write(&dir.join("memory.swappiness"), &v.to_string())?;
    }
    if let Some(disable) = r.disable_oom_killer {
        fs::write(&dir.join("memory.oom_control"), if disable { "1" } else { "0" })?;
    }
    Ok(())
}

/// Against the host's real cgroup v1 hierarchies; skipped unless root on a v1/hybrid host.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::linux::cgroup::{detect_host, resolve, Cgroup, Layout};
    use crate::plan::resources::default_device_rules;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Child, Command};

    /// Kills the child and removes every test cgroup, even when an assertion failed.
    struct Guard {
        cg: V1Cgroup,
        top: String,
        child: Option<Child>,
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            if let Some(mut c) = self.child.take() {
                let _ = self.cg.thaw();
                let _ = c.kill();
                let _ = c.wait();
            }
            let deadline = Instant::now() + TIMEOUT;
            for d in &self.cg.dirs {
                let _ = fs::remove_tree(&d.mountpoint.join(self.top.trim_start_matches('/')), deadline);
            }
        }
    }

    /// A fresh cgroup `/runp-test-<pid>-<name>/c1` (not created yet).
    fn setup(name: &str) -> Option<Guard> {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let layout = detect_host().ok().filter(|l| matches!(l, Layout::V1 { .. }));
        if !root || layout.is_none() {
            eprintln!("skipped: needs root and cgroup v1");
            return None;
        }
        let top = format!("/runp-test-{}-{name}", std::process::id());
        let Ok(Cgroup::V1(cg)) = resolve(&layout?, Some(&format!("{top}/c1")), "x") else { panic!() };
        Some(Guard { cg, top, child: None })
    }

    fn read_in(g: &Guard, ctrl: &str, file: &str) -> String {
        fs::read(&g.cg.dir_for(ctrl).unwrap().join(file)).unwrap().trim().to_string()
    }

    #[test]
    fn full_lifecycle() {
        let Some(mut g) = setup("life") else { return };
        let res = CgroupResources {
            memory_limit: Some(64 << 20),
            memory_swap: Some(128 << 20),
            memory_reservation: Some(32 << 20),
            pids_limit: Some(100),
            cpu_shares: Some(512),
            cpu_quota: Some(50_000),
            cpu_period: Some(100_000),
            devices: default_device_rules(),
            ..Default::default()
        };
        let mut cg = Cgroup::V1(g.cg.clone());
        cg.create(&res).unwrap();
        let Cgroup::V1(inner) = &cg else { panic!() };
        g.cg = inner.clone();
        assert_eq!(read_in(&g, "memory", "memory.limit_in_bytes"), (64u64 << 20).to_string());
        assert_eq!(read_in(&g, "memory", "memory.memsw.limit_in_bytes"), (128u64 << 20).to_string());
        assert_eq!(read_in(&g, "pids", "pids.max"), "100");
        assert_eq!(read_in(&g, "cpu", "cpu.shares"), "512");
        assert_eq!(read_in(&g, "cpu", "cpu.cfs_quota_us"), "50000");
        assert!(!read_in(&g, "cpuset", "cpuset.cpus").is_empty());
        let devices = read_in(&g, "devices", "devices.list");
        assert!(devices.contains("c 1:3 rwm") && devices.contains("c 136:* rwm"), "{devices}");
        assert!(!devices.contains("a *:*"), "{devices}");
        // Top dir and leaf, in each of the 9 hierarchies.
        assert_eq!(g.cg.created.len(), 2 * g.cg.dirs.len());

        let child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id() as i32;
        g.child = Some(child);
        cg.attach(pid).unwrap();
        let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let want = format!(":memory:{}/c1\n", g.top);
        assert!(own.contains(&want), "{own}");
        assert!(own.contains(&format!(":name=systemd:{}/c1\n", g.top)), "{own}");
        assert_eq!(cg.procs().unwrap(), [pid]);

        cg.freeze().unwrap();
        assert!(cg.is_frozen().unwrap());
        cg.thaw().unwrap();
        assert!(!cg.is_frozen().unwrap());

        // The container's own sub-cgroup must go too.
        let sub = g.cg.dir_for("pids").unwrap().join("sub");
        std::fs::create_dir(&sub).unwrap();
        cg.signal_all(libc::SIGKILL).unwrap();
        let status = g.child.take().unwrap().wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert!(!cg.is_frozen().unwrap());
        assert_eq!(cg.oom_kill_count().unwrap(), 0);

        // Survives a trip through state.json.
        let cg: Cgroup = serde_json::from_str(&serde_json::to_string(&cg).unwrap()).unwrap();
        cg.destroy().unwrap();
        for d in &g.cg.dirs {
            assert!(!d.path.exists(), "{}", d.path.display());
            assert!(!d.mountpoint.join(&g.top[1..]).exists());
        }
        assert_eq!(cg.procs().unwrap(), Vec::<i32>::new());
        assert!(!cg.is_frozen().unwrap());
        cg.destroy().unwrap();
    }

    #[test]
    fn failed_write_cleans_up_and_keeps_parent() {
        let Some(g) = setup("fail") else { return };
        // The parent exists before: it must survive.
        for d in &g.cg.dirs {
            std::fs::create_dir_all(d.path.parent().unwrap()).unwrap();
        }
        let mut cg = Cgroup::V1(g.cg.clone());
        let res = CgroupResources { pids_limit: Some(5), cpuset_cpus: Some("abc".into()), ..Default::default() };
        let err = format!("{:#}", cg.create(&res).unwrap_err());
        let file = g.cg.dir_for("cpuset").unwrap().join("cpuset.cpus");
        assert!(err.starts_with(&format!("writing \"abc\" to {}: ", file.display())), "{err}");
        for d in &g.cg.dirs {
            assert!(!d.path.exists(), "{}", d.path.display());
            assert!(d.path.parent().unwrap().exists());
        }
        // And destroy after that removes nothing of the parent either.
        cg.destroy().unwrap();
        assert!(g.cg.dirs[0].path.parent().unwrap().exists());
    }

    #[test]
    fn refuses_busy_cgroup_and_bad_resources() {
        let Some(mut g) = setup("busy") else { return };
        let mut cg = Cgroup::V1(g.cg.clone());
        cg.create(&CgroupResources::default()).unwrap();
        let Cgroup::V1(inner) = &cg else { panic!() };
        g.cg = inner.clone();
        let child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id() as i32;
        g.child = Some(child);
        cg.attach(pid).unwrap();
        // A second container given the same cgroup (docs/security.md#cgroups-and-devices).
        let mut again = Cgroup::V1(V1Cgroup { created: Vec::new(), ..g.cg.clone() });
        let err = format!("{:#}", again.create(&CgroupResources::default()).unwrap_err());
        assert!(err.contains("is not empty"), "{err}");
        let unified = CgroupResources { unified: vec![("memory.high".into(), "1".into())], ..Default::default() };
        assert!(again.create(&unified).is_err());
        assert_eq!(cg.procs().unwrap(), [pid]);
    }
}
