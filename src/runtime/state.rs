//! The state directory `<root>/<id>/`: state.json (written atomically), exec.fifo while the
//! container is `created`, and a copy of config.json for exec and delete.

use crate::linux::cgroup::Cgroup;
use crate::linux::process;
use crate::plan::HooksPlan;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const FIFO: &str = "exec.fifo";
/// What `exec` starts from: the container's process and seccomp filter.
pub const EXEC_DEFAULTS: &str = "process.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecDefaults {
    pub process: crate::plan::ProcessPlan,
    pub seccomp: Option<crate::plan::seccomp::BpfProgram>,
}

/// runc's id rule: `[A-Za-z0-9_+.-]`, not `.` or `..`, at most 1024 bytes. Checked before any
/// filesystem call (docs/security.md#state-directories).
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+.-".contains(&b));
    if !ok {
        bail!("invalid container ID format: {id:?}");
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// What runp remembers about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    pub pid: i32,
    /// The init's start time (clock ticks since boot): a pid with another start time is not ours.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub cgroup: Option<Cgroup>,
    #[serde(default)]
    pub hooks: HooksPlan,
    /// The init has its own PID namespace: killing it kills everything in the container.
    #[serde(default)]
    pub own_pid_ns: bool,
    /// /proc/sys/kernel/random/boot_id at create: pids from another boot are never signalled.
    #[serde(default)]
    pub boot_id: String,
}

pub fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// A container's state directory.
pub struct StateDir {
    pub dir: PathBuf,
    pub id: String,
}

impl StateDir {
    pub fn new(root: &Path, id: &str) -> Result<Self> {
        validate_id(id)?;
        Ok(StateDir { dir: root.join(id), id: id.to_string() })
    }

    /// Makes the directory; fails if the id is taken. Exactly one of many racing creates wins.
    pub fn create(&self) -> Result<()> {
        // <root>/pods holds the pods' runtime directories (pod::store; the whole records of
        // pods from before --data-root): no container may take that name.
        if self.id == "pods" {
            bail!("container ID {:?} is reserved for runp's pod records", self.id);
        }
        if let Some(root) = self.dir.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .with_context(|| format!("creating state root {}", root.display()))?;
        }
        match fs::DirBuilder::new().mode(0o700).create(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!("container with given ID already exists"),
            Err(e) => Err(e).with_context(|| format!("creating state directory {}", self.dir.display())),
        }
    }

    pub fn exists(&self) -> bool {
        self.dir.is_dir()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Loads state.json; a missing directory is "container does not exist" (clients match it).
    pub fn load(&self) -> Result<State> {
        let p = self.path(STATE_FILE);
        let text = match fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("container does not exist"),
            Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
        };
        serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))
    }

    pub fn save(&self, state: &State) -> Result<()> {
        let data = serde_json::to_vec(state).context("serialising state")?;
        write_atomic(&self.path(STATE_FILE), &data, 0o600)
    }

    /// Removes the directory and everything in it.
    /// Removes the state directory: the files runp puts there (and their temporary copies),
    /// then the directory. Never recursive: a directory holding anything else (pod data under
    /// `<root>/pods`, a mount) is not a container's and is left alone with an error.
    pub fn remove(&self) -> Result<()> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.dir.display())),
        };
        let mut ours = Vec::new();
        for e in entries {
            let e = e.with_context(|| format!("reading {}", self.dir.display()))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let is_file = e.file_type().is_ok_and(|t| !t.is_dir());
            if !is_file || !is_state_file_name(&name) {
                bail!("{} is not a container's state directory ({name:?} in it): left alone", self.dir.display());
            }
            ours.push(e.path());
        }
        for p in ours {
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", p.display())),
            }
        }
        match fs::remove_dir(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {}", self.dir.display())),
        }
    }

    /// Takes an exclusive lock held until the returned value drops (serialises start/kill/delete).
    pub fn lock(&self) -> Result<nix::fcntl::Flock<fs::File>> {
        let f = fs::File::open(&self.dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => anyhow::anyhow!("container does not exist"),
            _ => anyhow::anyhow!("opening {}: {e}", self.dir.display()),
        })?;
        nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| anyhow::anyhow!("locking {}: {e}", self.dir.display()))
    }
}

/// The files of a container's state directory, and `write_atomic`'s temporaries of them
/// (`.NAME.PID`).
fn is_state_file_name(name: &str) -> bool {
    let known = |n: &str| [STATE_FILE, FIFO, EXEC_DEFAULTS].contains(&n);
    known(name)
        || name
            .strip_prefix('.')
            .and_then(|rest| rest.rsplit_once('.'))
            .is_some_and(|(base, pid)| known(base) && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// Writes `data` to `<dir>/.<name>.<pid>` and renames it over `path`, so readers never see a
/// partial file, even when runp is killed half-way (docs/security.md#state-directories).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}", std::process::id()));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(data).with_context(|| format!("writing {}", tmp.display()))?;
    drop(f);
    fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

impl State {
    /// The status, derived from the kernel rather than stored: a dead or reused pid is stopped,
    /// a frozen cgroup is paused, an existing exec.fifo means not started yet.
    pub fn status(&self, dir: &StateDir) -> Status {
        if self.pid <= 0 || (!self.boot_id.is_empty() && self.boot_id != boot_id()) {
            return Status::Stopped;
        }
        if !process::alive(self.pid, self.start_time) {
            return Status::Stopped;
        }
        if let Some(cg) = &self.cgroup {
            if cg.is_frozen().unwrap_or(false) {
                return Status::Paused;
            }
        }
        if dir.path(FIFO).exists() {
            Status::Created
        } else {
            Status::Running
        }
    }

    /// The OCI state object (`runp state`, hooks' stdin, `list --format json`).
    pub fn oci_json(&self, status: Status, owner: &str) -> OciState<'_> {
        OciState {
            oci_version: crate::OCI_VERSION,
            id: &self.id,
            pid: if status == Status::Stopped { 0 } else { self.pid },
            status: status.as_str(),
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            annotations: &self.annotations,
            owner: owner.to_string(),
        }
    }
}

/// The runtime-spec state, with runc's field order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState<'a> {
    pub oci_version: &'static str,
    pub id: &'a str,
    pub pid: i32,
    pub status: &'static str,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: &'a BTreeMap<String, String>,
    pub owner: String,
}

/// Compact JSON (what hooks get on stdin).
impl std::fmt::Display for OciState<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string(self).map_err(|_| std::fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "abc-1_2+3.4", "x".repeat(1024).as_str()] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        let long = "x".repeat(1025);
        for bad in ["", ".", "..", "a/b", "../x", "x y", "x\n", "é", long.as_str()] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn atomic_write_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state.json");
        write_atomic(&p, b"one", 0o600).unwrap();
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn remove_deletes_only_a_container_state_directory() {
        let root = tempfile::tempdir().unwrap();
        let c = StateDir::new(root.path(), "c1").unwrap();
        c.create().unwrap();
        for f in [STATE_FILE, FIFO, EXEC_DEFAULTS, ".process.json.1234"] {
            fs::write(c.path(f), "x").unwrap();
        }
        c.remove().unwrap();
        assert!(!c.exists());
        // A pod store (or anything else) under the root is not a container: left whole.
        let pods = StateDir::new(root.path(), "pods").unwrap();
        fs::create_dir_all(pods.path("web/logs")).unwrap();
        fs::write(pods.path("web/pod.json"), "{}").unwrap();
        let err = pods.remove().unwrap_err().to_string();
        assert!(err.contains("not a container's state directory"), "{err}");
        assert!(pods.path("web/pod.json").exists());
        for name in [".state.json.x", "state.json.1", "other"] {
            assert!(!is_state_file_name(name), "{name}");
        }
        assert!(StateDir::new(root.path(), "gone").unwrap().remove().is_ok());
    }
}
