//! A pod's directory under `<root>/pods/<name>/`: the manifest, the status the supervisor
//! writes (atomically, at every change), events, logs, volumes, per-instance layers and the
//! control socket. The directory is 0700 (CVE-2021-41103).

use crate::runtime::state::write_atomic;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub struct PodDir {
    pub name: String,
    pub dir: PathBuf,
}

/// Who supervises the pod: pid plus start time, so a reused pid is never taken for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SupervisorRecord {
    pub pid: i32,
    pub start_time: u64,
}

pub fn pods_root(root: &Path) -> PathBuf {
    root.join("pods")
}

impl PodDir {
    pub fn new(root: &Path, name: &str) -> Result<PodDir> {
        // DNS-1123 subdomain characters only: never a path separator or "..".
        if name.is_empty()
            || name.len() > 253
            || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            || name.starts_with('.')
        {
            bail!("invalid pod name {name:?}");
        }
        Ok(PodDir { name: name.to_string(), dir: pods_root(root).join(name) })
    }

    /// Creates the directory; fails if the pod exists.
    pub fn create(&self) -> Result<()> {
        if let Some(parent) = self.dir.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        match std::fs::DirBuilder::new().mode(0o700).create(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!("pod {:?} already exists", self.name),
            Err(e) => Err(e).with_context(|| format!("creating {}", self.dir.display())),
        }
    }

    pub fn exists(&self) -> bool {
        self.dir.join("pod.json").exists()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    pub fn control(&self) -> PathBuf {
        self.dir.join("control.sock")
    }

    pub fn write_json<T: Serialize>(&self, rel: &str, v: &T) -> Result<()> {
        write_atomic(&self.path(rel), &serde_json::to_vec(v)?, 0o600)
    }

    pub fn read_json<T: serde::de::DeserializeOwned>(&self, rel: &str) -> Result<T> {
        let p = self.path(rel);
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("pod {:?} not found", self.name),
            Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
        };
        serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))
    }

    /// SIGKILLs the supervisor (checked against pid reuse); its pause and containers die with
    /// it (parent-death signals).
    pub fn kill_supervisor(&self) -> anyhow::Result<()> {
        let r = self.read_json::<SupervisorRecord>("supervisor.json")?;
        crate::linux::process::ProcessRef::open(r.pid, r.start_time)?.signal(libc::SIGKILL)
    }

    /// Is the supervisor still running?
    pub fn supervisor_alive(&self) -> bool {
        match self.read_json::<SupervisorRecord>("supervisor.json") {
            Ok(r) => crate::linux::process::alive(r.pid, r.start_time),
            Err(_) => false,
        }
    }
}

/// Names of all pods under root.
pub fn list(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(pods_root(root))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("pod.json").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
