//! Where a pod's files live. Two directories, as runc and containerd split them:
//!
//! - data, `<data-root>/pods/<name>/` (persistent, default `/var/lib/runp`): the manifest
//!   (`pod.json`), `status.json`, `events.jsonl`, `logs/`, `volumes/` (disk emptyDirs),
//!   `containers/<c>/<n>/` (writable layers, termination-log), `etc/` (hosts, hostname,
//!   resolv.conf) and `supervisor.log`. Never holds a mount point.
//! - run, `<root>/pods/<name>/` (runtime, `--root`, a tmpfs): `supervisor.json` (a pid means
//!   nothing after a reboot), `control.sock`, and the mount points: `shm/`, `proc/` and
//!   `volumes/<v>/` of Memory emptyDirs.
//!
//! Container state dirs are `<root>/<id>/`; the id `pods` is refused, so no container id
//! reaches a pod directory. Both pod directories are 0700 (CVE-2021-41103). Pods recorded by
//! a runp from before the split have everything in `<root>/pods/<name>/`: such a "legacy"
//! pod is a `PodDir` whose data directory is its run directory, and works as before.

use crate::runtime::state::write_atomic;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The runtime state root (`--root`) and the persistent data root (`--data-root`).
#[derive(Debug, Clone)]
pub struct Roots {
    pub run: PathBuf,
    pub data: PathBuf,
}

pub const DEFAULT_DATA_ROOT: &str = "/var/lib/runp";

pub struct PodDir {
    pub name: String,
    data: PathBuf,
    run: PathBuf,
}

/// Who supervises the pod: pid plus start time, so a reused pid is never taken for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SupervisorRecord {
    pub pid: i32,
    pub start_time: u64,
}

fn pods_root(root: &Path) -> PathBuf {
    root.join("pods")
}

const MANIFEST: &str = "pod.json";

impl PodDir {
    /// The pod's directories; a pod recorded only under the run root (by an older runp) keeps
    /// all its files there.
    pub fn new(roots: &Roots, name: &str) -> Result<PodDir> {
        // DNS-1123 subdomain characters only: never a path separator or "..".
        if name.is_empty()
            || name.len() > 253
            || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            || name.starts_with('.')
        {
            bail!("invalid pod name {name:?}");
        }
        let run = pods_root(&roots.run).join(name);
        let mut data = pods_root(&roots.data).join(name);
        if !data.join(MANIFEST).exists() && run.join(MANIFEST).exists() {
            data = run.clone();
        }
        Ok(PodDir { name: name.to_string(), data, run })
    }

    /// Recorded by a runp that kept everything under `--root`.
    pub fn legacy(&self) -> bool {
        self.data == self.run
    }

    /// Creates both directories; fails if the pod exists.
    pub fn create(&self) -> Result<()> {
        if self.exists() {
            bail!("pod {:?} already exists", self.name);
        }
        create_parents(&self.data, 0o711)?;
        match std::fs::DirBuilder::new().mode(0o700).create(&self.data) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!("pod {:?} already exists", self.name),
            Err(e) => return Err(e).with_context(|| format!("creating {}", self.data.display())),
        }
        if self.legacy() {
            return Ok(()); // --data-root and --root are the same directory
        }
        let made = (|| {
            create_parents(&self.run, 0o700)?;
            // Left over by a pod of this name whose removal was interrupted: ours now.
            remove_tree(&self.run)?;
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&self.run)
                .with_context(|| format!("creating {}", self.run.display()))
        })();
        if made.is_err() {
            let _ = std::fs::remove_dir(&self.data);
        }
        made
    }

    /// The pod is recorded (its manifest is there).
    pub fn exists(&self) -> bool {
        self.manifest().exists()
    }

    /// Either directory is there (a pod being created or removed included).
    pub fn any_exists(&self) -> bool {
        self.data.exists() || self.run.exists()
    }

    /// Persistent: `<data-root>/pods/<name>`.
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// Runtime: `<root>/pods/<name>`.
    pub fn run(&self) -> &Path {
        &self.run
    }

    pub fn manifest(&self) -> PathBuf {
        self.data.join(MANIFEST)
    }

    pub fn status(&self) -> PathBuf {
        self.data.join("status.json")
    }

    pub fn logs(&self) -> PathBuf {
        self.data.join("logs")
    }

    /// The supervisor's stderr: kept with the data, to explain a pod after its supervisor
    /// (or the machine) is gone.
    pub fn supervisor_log(&self) -> PathBuf {
        self.data.join("supervisor.log")
    }

    /// The host directory of disk emptyDir `name`.
    pub fn volume(&self, name: &str) -> PathBuf {
        self.data.join("volumes").join(name)
    }

    /// The mount point of Memory emptyDir `name` (a tmpfs: runtime state).
    pub fn memory_volume(&self, name: &str) -> PathBuf {
        self.memory_volumes().join(name)
    }

    pub fn memory_volumes(&self) -> PathBuf {
        self.run.join("volumes")
    }

    /// Every instance's writable layer.
    pub fn containers(&self) -> PathBuf {
        self.data.join("containers")
    }

    /// Instance `n` of container `name`: `upper`, `work`, `rootfs`, `termination-log`.
    pub fn instance(&self, name: &str, n: u32) -> PathBuf {
        self.containers().join(name).join(n.to_string())
    }

    /// `etc/hosts`, `etc/hostname`, `etc/resolv.conf`.
    pub fn etc(&self, file: &str) -> PathBuf {
        self.data.join("etc").join(file)
    }

    /// The pod's /dev/shm (a tmpfs, or the host's under hostIPC).
    pub fn shm(&self) -> PathBuf {
        self.run.join("shm")
    }

    /// Pause's /proc, mounted for the containers that join its PID namespace.
    pub fn proc_dir(&self) -> PathBuf {
        self.run.join("proc")
    }

    pub fn control(&self) -> PathBuf {
        self.run.join("control.sock")
    }

    pub fn supervisor_record(&self) -> PathBuf {
        self.run.join("supervisor.json")
    }

    /// The directories the sandbox needs (volumes are made as they are set up).
    pub fn make_dirs(&self) -> Result<()> {
        let (etc, volumes) = (self.data.join("etc"), self.data.join("volumes"));
        for d in [self.logs(), volumes, etc, self.containers(), self.shm(), self.proc_dir()] {
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
        }
        Ok(())
    }

    pub fn write_json<T: Serialize>(&self, path: &Path, v: &T) -> Result<()> {
        write_atomic(path, &serde_json::to_vec(v)?, 0o600)
    }

    pub fn read_json<T: serde::de::DeserializeOwned>(&self, path: &Path) -> Result<T> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("pod {:?} not found", self.name),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Records the calling process as the pod's supervisor.
    pub fn record_supervisor(&self, rec: &SupervisorRecord) -> Result<()> {
        self.write_json(&self.supervisor_record(), rec)
    }

    /// SIGKILLs the supervisor (checked against pid reuse); its pause and containers die with
    /// it (parent-death signals).
    pub fn kill_supervisor(&self) -> anyhow::Result<()> {
        let r = self.read_json::<SupervisorRecord>(&self.supervisor_record())?;
        crate::linux::process::ProcessRef::open(r.pid, r.start_time)?.signal(libc::SIGKILL)
    }

    /// Is the supervisor still running?
    pub fn supervisor_alive(&self) -> bool {
        match self.read_json::<SupervisorRecord>(&self.supervisor_record()) {
            Ok(r) => crate::linux::process::alive(r.pid, r.start_time),
            Err(_) => false,
        }
    }

    /// Removes the run directory, then the data directory. Nothing is unmounted here and no
    /// mount is entered: a mount point still in the run directory stops the removal before
    /// the data goes, so the pod stays listed and `pod rm` can be run again.
    pub fn remove(&self) -> Result<()> {
        remove_tree(&self.run)?;
        if !self.legacy() {
            remove_tree(&self.data)?;
        }
        Ok(())
    }
}

/// Creates the parents of `dir` that are missing: the root with `root_mode`, `pods` 0700.
fn create_parents(dir: &Path, root_mode: u32) -> Result<()> {
    let Some(pods) = dir.parent() else { return Ok(()) };
    if let Some(root) = pods.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(root_mode)
            .create(root)
            .with_context(|| format!("creating {}", root.display()))?;
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(pods)
        .with_context(|| format!("creating {}", pods.display()))
}

/// Removes a tree of pod files without crossing a mount point (see
/// [`crate::linux::fs::remove_tree_same_fs`]); an error names what was left and why.
pub fn remove_tree(path: &Path) -> Result<()> {
    let r = crate::linux::fs::remove_tree_same_fs(path).with_context(|| format!("removing {}", path.display()))?;
    if r.complete() {
        return Ok(());
    }
    let mut parts = Vec::new();
    if !r.skipped.is_empty() {
        let list: Vec<String> = r.skipped.iter().map(|p| p.display().to_string()).collect();
        parts.push(format!("left mount point(s) in place: {} (unmount them and try again)", list.join(", ")));
    }
    for (p, e) in r.failed.iter().take(3) {
        parts.push(format!("{}: {e}", p.display()));
    }
    if r.failed.len() > 3 {
        parts.push(format!("and {} more", r.failed.len() - 3));
    }
    bail!("removing {}: {}", path.display(), parts.join("; "))
}

/// Names of all pods: recorded under the data root, and legacy ones under the run root.
pub fn list(roots: &Roots) -> Vec<String> {
    let names = |root: &Path| -> Vec<String> {
        std::fs::read_dir(pods_root(root))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join(MANIFEST).exists())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    let mut v = names(&roots.data);
    v.extend(names(&roots.run));
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_and_run_are_split_and_legacy_pods_are_found() {
        let t = tempfile::tempdir().unwrap();
        let roots = Roots { run: t.path().join("run"), data: t.path().join("data") };
        let d = PodDir::new(&roots, "web").unwrap();
        assert!(!d.legacy());
        d.create().unwrap();
        d.write_json(&d.manifest(), &serde_json::json!({})).unwrap();
        assert!(PodDir::new(&roots, "web").unwrap().create().unwrap_err().to_string().contains("already exists"));
        assert_eq!(d.manifest(), roots.data.join("pods/web/pod.json"));
        assert_eq!(d.status(), roots.data.join("pods/web/status.json"));
        assert_eq!(d.instance("app", 2), roots.data.join("pods/web/containers/app/2"));
        assert_eq!(d.volume("v"), roots.data.join("pods/web/volumes/v"));
        assert_eq!(d.memory_volume("v"), roots.run.join("pods/web/volumes/v"));
        assert_eq!(d.shm(), roots.run.join("pods/web/shm"));
        assert_eq!(d.control(), roots.run.join("pods/web/control.sock"));
        assert_eq!(d.supervisor_record(), roots.run.join("pods/web/supervisor.json"));
        // A pod of an older runp: everything under the run root.
        let old = roots.run.join("pods/old");
        std::fs::create_dir_all(old.join("logs")).unwrap();
        std::fs::write(old.join("pod.json"), "{}").unwrap();
        let o = PodDir::new(&roots, "old").unwrap();
        assert!(o.legacy() && o.exists());
        assert_eq!(o.logs(), old.join("logs"));
        assert_eq!(o.shm(), old.join("shm"));
        assert!(o.create().is_err(), "a legacy pod's name is taken");
        assert_eq!(list(&roots), ["old", "web"]);
        o.remove().unwrap();
        assert!(!old.exists());
        d.remove().unwrap();
        assert!(!roots.data.join("pods/web").exists() && !roots.run.join("pods/web").exists());
        assert!(list(&roots).is_empty());
        assert!(PodDir::new(&roots, "../x").is_err());
    }
}
