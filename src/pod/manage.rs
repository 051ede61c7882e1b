//! Managing pods from outside their supervisor, for the CLI: creating a pod's directory and
//! starting a detached supervisor, reading a pod's record (as what is true when its
//! supervisor died), listing pods, stopping them over the control socket, removing them with
//! whatever a dead supervisor left behind, waiting for a condition, and finding a container's
//! log. The CLI parses argv, calls these and prints.

use super::images::Images;
use super::record::{self, PodRecord};
use super::store::{self, PodDir, Roots};
use super::{control, logs};
use crate::spec::pod::Pod;
use anyhow::{anyhow, bail, Context, Result};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The pod's directory; it must be recorded.
pub fn open(roots: &Roots, name: &str) -> Result<PodDir> {
    let dir = PodDir::new(roots, name)?;
    if !dir.exists() {
        bail!("pod {name:?} not found");
    }
    Ok(dir)
}

/// The pod's directory while any of it is there (a pod being created or removed included).
pub fn open_any(roots: &Roots, name: &str) -> Result<PodDir> {
    let dir = PodDir::new(roots, name)?;
    if !dir.any_exists() {
        bail!("pod {name:?} not found");
    }
    Ok(dir)
}

/// The pod's record. A supervisor that died leaves a record that claims life: it is reported
/// as what is true (Failed, SupervisorLost, STATUS Unknown).
pub fn load(roots: &Roots, name: &str) -> Result<(PodDir, PodRecord)> {
    let dir = open(roots, name)?;
    let mut rec: PodRecord = dir.read_json(&dir.status())?;
    // (A final phase needs no look at the supervisor.)
    if !rec.status.phase.is_terminal() && rec.supervisor_lost(dir.supervisor_alive()) {
        rec.mark_supervisor_lost();
    }
    Ok((dir, rec))
}

/// A pod of `pod list`.
pub struct Listed {
    pub record: PodRecord,
    /// kubectl's AGE column.
    pub age: String,
}

/// Every pod whose record can be read, by name.
pub fn list(roots: &Roots) -> Vec<Listed> {
    store::list(roots)
        .iter()
        .filter_map(|name| load(roots, name).ok())
        .map(|(dir, record)| Listed { record, age: age(&dir.manifest()) })
        .collect()
}

/// kubectl's AGE column, from the modification time of a file written at creation.
pub fn age(created_file: &Path) -> String {
    let created = std::fs::metadata(created_file).ok().and_then(|m| m.modified().ok());
    record::format_age(created.and_then(|c| c.elapsed().ok()).map(|d| d.as_secs()).unwrap_or(0))
}

/// Records the pod: its directories and manifest. Images are the supervisor's business (a
/// missing one is pulled or waits, as the pull policy says).
pub fn create(roots: &Roots, image_dir: &Path, pod: &Pod) -> Result<PodDir> {
    Images::open(image_dir)?;
    let dir = PodDir::new(roots, &pod.metadata.name)?;
    dir.create()?;
    if let Err(e) = dir.write_json(&dir.manifest(), pod) {
        let _ = dir.remove();
        return Err(e);
    }
    Ok(dir)
}

/// Starts `runp pod supervise NAME` in its own session and waits until it accepted the pod;
/// when it did not, removes the pod and says why.
pub fn spawn_supervisor(roots: &Roots, image_dir: &Path, dir: &PodDir) -> Result<()> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::empty()).context("pipe")?;
    // Our own (read-only, sealed) image: its path may not exist in the mount table.
    let exe = PathBuf::from("/proc/self/exe");
    let log = std::fs::File::create(dir.supervisor_log()).context("creating supervisor.log")?;
    let mut cmd = crate::linux::command::clean_command(&exe.to_string_lossy(), &[]);
    cmd.arg("--root")
        .arg(&roots.run)
        .arg("--data-root")
        .arg(&roots.data)
        .arg("--image-dir")
        .arg(image_dir)
        .args(["pod", "supervise", &dir.name, "--ready-fd", &w.as_raw_fd().to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().context("starting the pod supervisor")?;
    drop(w);
    let mut msg = String::new();
    let mut f = std::fs::File::from(r);
    let _ = std::io::Read::read_to_string(&mut f, &mut msg);
    if msg.trim() == "ok" {
        drop(child);
        return Ok(());
    }
    // It failed: let it finish its teardown (it still writes into the pod dir) first.
    let mut child = child;
    let _ = child.wait();
    let log = std::fs::read_to_string(dir.supervisor_log()).unwrap_or_default();
    let _ = dir.remove();
    if msg.trim().is_empty() {
        let last = log.lines().last().unwrap_or("").trim().trim_start_matches("runp: ");
        bail!(
            "the pod supervisor exited before accepting the pod: {}",
            if last.is_empty() { "(no message)" } else { last }
        );
    }
    bail!("{}", msg.trim())
}

/// Asks the supervisor to stop the pod and waits until it has.
pub fn stop(roots: &Roots, name: &str, grace: Option<i64>, force: bool) -> Result<()> {
    let dir = open(roots, name)?;
    if !dir.supervisor_alive() {
        cleanup_orphans(roots, &dir);
        return Ok(());
    }
    if let Err(e) = control::call(&dir.control(), &control::Request::Stop { grace, force }, Duration::from_secs(10)) {
        // The pod may have ended on its own since the check above (socket gone, or the
        // connection reset as the supervisor exited): then it is stopped.
        wait_supervisor_gone(&dir, Duration::from_secs(5));
        if dir.supervisor_alive() {
            return Err(e);
        }
        return Ok(());
    }
    let spec_grace: i64 =
        dir.read_json::<Pod>(&dir.manifest()).map(|p| p.spec.termination_grace_period_seconds).unwrap_or(30);
    let g = if force { 1 } else { grace.unwrap_or(spec_grace).max(1) };
    let deadline = crate::time::deadline(crate::time::secs(g).saturating_add(Duration::from_secs(15)));
    while dir.supervisor_alive() {
        if Instant::now() > deadline {
            bail!("pod {name:?} did not stop in time");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

fn wait_supervisor_gone(dir: &PodDir, limit: Duration) {
    let deadline = Instant::now() + limit;
    while dir.supervisor_alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Removes a stopped pod; `force` stops it first, and kills a supervisor that does not stop.
pub fn rm(roots: &Roots, image_dir: &Path, name: &str, force: bool) -> Result<()> {
    let dir = open_any(roots, name)?;
    if dir.supervisor_alive() {
        if !force {
            bail!("pod {name:?} is running: stop it first, or use --force");
        }
        if let Err(e) = stop(roots, name, Some(0), true) {
            // Forced: a supervisor that does not stop is killed, and what it leaves is removed.
            log::warn!("pod {name:?}: {e:#}; killing its supervisor");
            let _ = dir.kill_supervisor();
            wait_supervisor_gone(&dir, Duration::from_secs(5));
        }
    }
    cleanup_orphans(roots, &dir);
    // The image store's in-use markers of its containers (a lost supervisor left them).
    if let Ok(rec) = dir.read_json::<PodRecord>(&dir.status()) {
        if !rec.metadata.meta.uid.is_empty() {
            match Images::open(image_dir) {
                Ok(images) => {
                    if let Err(e) = images.release_pod(&rec.metadata.meta.uid) {
                        log::warn!("pod {name:?}: {e:#}");
                    }
                }
                Err(e) => log::warn!("pod {name:?}: {e:#}"),
            }
        }
    }
    dir.remove()
}

/// After a supervisor died: kill and remove whatever of the pod is left (its OCI containers,
/// cgroup directories and mounts).
fn cleanup_orphans(roots: &Roots, dir: &PodDir) {
    if let Ok(rec) = dir.read_json::<PodRecord>(&dir.status()) {
        for c in &rec.runp.container_ids {
            let _ = crate::runtime::delete::delete(&roots.run, &c.id, true);
        }
        if !rec.metadata.meta.uid.is_empty() {
            super::volumes::remove_cgroup_dirs(&format!("/runp/pod_{}", rec.metadata.meta.uid));
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir.memory_volumes()) {
        for e in entries.flatten() {
            crate::linux::mounts::detach(&e.path());
        }
    }
    crate::linux::mounts::detach(&dir.shm());
    crate::linux::mounts::detach(&dir.proc_dir());
}

/// What `pod wait --for` waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitFor {
    /// `condition=TYPE[=true|false]` (TYPE case-insensitive).
    Condition { kind: String, status: bool },
    /// `phase=PHASE` (case-insensitive).
    Phase(String),
    /// `delete`: the pod is gone.
    Delete,
}

impl WaitFor {
    pub fn parse(s: &str) -> Result<WaitFor> {
        if let Some(c) = s.strip_prefix("condition=") {
            let (kind, want) = c.split_once('=').unwrap_or((c, "True"));
            return Ok(WaitFor::Condition { kind: kind.to_string(), status: want.eq_ignore_ascii_case("true") });
        }
        if let Some(p) = s.strip_prefix("phase=") {
            return Ok(WaitFor::Phase(p.to_string()));
        }
        if s == "delete" {
            return Ok(WaitFor::Delete);
        }
        bail!("--for must be condition=NAME[=true|false], phase=PHASE or delete")
    }

    /// The record shows what is waited for.
    pub fn holds(&self, rec: &PodRecord) -> bool {
        match self {
            WaitFor::Condition { kind, status } => rec.condition_is(kind, *status),
            WaitFor::Phase(p) => rec.status.phase.as_str().eq_ignore_ascii_case(p),
            WaitFor::Delete => false,
        }
    }
}

/// "30s", "500ms", "2m", "1h" or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let (num, unit) = s.trim().split_at(s.trim().find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.trim().len()));
    let n: f64 = num.parse().map_err(|_| anyhow!("invalid duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("invalid duration {s:?}"),
    };
    if !(0.0..1e9).contains(&secs) {
        bail!("invalid duration {s:?}");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `kubectl wait`: returns when `cond` (a `--for` value) holds, an error at the timeout. An
/// unknown `--for` is reported once the pod is found.
pub fn wait(roots: &Roots, name: &str, cond: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let want = WaitFor::parse(cond);
    loop {
        let state = load(roots, name);
        match (&want, state) {
            (Ok(WaitFor::Delete), Err(_)) => return Ok(()),
            (Ok(WaitFor::Delete), Ok(_)) => {}
            (Ok(w), Ok((_, rec))) => {
                if w.holds(&rec) {
                    return Ok(());
                }
            }
            (Err(e), Ok(_)) => bail!("{e}"),
            (_, Err(e)) => bail!("{e:#}"),
        }
        if Instant::now() >= deadline {
            bail!("timed out waiting for the condition on pods/{name}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The log `pod logs` reads: container `name`'s current instance, or the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    pub container: String,
    pub instance: u32,
    pub path: PathBuf,
}

/// Container `container`'s log (kubectl's default container without one); `previous`: the
/// instance before the current one.
pub fn log_target(dir: &PodDir, rec: &PodRecord, container: Option<&str>, previous: bool) -> Result<LogTarget> {
    let c = rec.container(container)?;
    let instance = match (previous, c.restart_count) {
        (true, 0) => bail!("previous terminated container {:?} in pod {:?} not found", c.name, dir.name),
        (true, n) => n - 1,
        (false, n) => n,
    };
    Ok(LogTarget { container: c.name.clone(), instance, path: logs::path(&dir.logs(), &c.name, instance) })
}

impl LogTarget {
    /// `pod logs -f` goes on: the pod is not done and this instance still runs.
    pub fn still_running(&self, rec: &PodRecord) -> bool {
        rec.container(Some(&self.container))
            .map(|c| c.restart_count == self.instance && c.state.running.is_some())
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_for_and_durations() {
        assert_eq!(
            WaitFor::parse("condition=Ready").unwrap(),
            WaitFor::Condition { kind: "Ready".into(), status: true }
        );
        assert_eq!(
            WaitFor::parse("condition=ready=FALSE").unwrap(),
            WaitFor::Condition { kind: "ready".into(), status: false }
        );
        assert_eq!(WaitFor::parse("phase=succeeded").unwrap(), WaitFor::Phase("succeeded".into()));
        assert_eq!(WaitFor::parse("delete").unwrap(), WaitFor::Delete);
        assert!(WaitFor::parse("ready").unwrap_err().to_string().starts_with("--for must be"));
        let mut rec = PodRecord::default();
        rec.status.phase = crate::pod::status::Phase::Succeeded;
        assert!(WaitFor::Phase("SUCCEEDED".into()).holds(&rec));
        assert!(!WaitFor::Condition { kind: "Ready".into(), status: true }.holds(&rec));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        for bad in ["", "x", "3d", "-1s", "1e10"] {
            assert_eq!(parse_duration(bad).unwrap_err().to_string(), format!("invalid duration {bad:?}"));
        }
    }

    #[test]
    fn log_targets() {
        let t = tempfile::tempdir().unwrap();
        let roots = Roots { run: t.path().join("run"), data: t.path().join("data") };
        let dir = PodDir::new(&roots, "web").unwrap();
        let rec: PodRecord = serde_json::from_str(
            r#"{"spec":{"containers":[{"name":"app","image":"busybox"}]},
               "status":{"phase":"Running","containerStatuses":[{"name":"app","restartCount":2,"state":{"running":{"startedAt":"T"}}}]}}"#,
        )
        .unwrap();
        let now = log_target(&dir, &rec, None, false).unwrap();
        assert_eq!((now.container.as_str(), now.instance), ("app", 2));
        assert_eq!(now.path, logs::path(&dir.logs(), "app", 2));
        assert!(now.still_running(&rec));
        let prev = log_target(&dir, &rec, Some("app"), true).unwrap();
        assert_eq!(prev.instance, 1);
        assert!(!prev.still_running(&rec));
        let mut fresh = rec.clone();
        fresh.status.container_statuses[0].restart_count = 0;
        assert_eq!(
            log_target(&dir, &fresh, None, true).unwrap_err().to_string(),
            "previous terminated container \"app\" in pod \"web\" not found"
        );
    }
}
