//! File operations on cgroupfs shared by cgroup v1 and v2. Every error names the path.
//!
//! Under `cfg(test)` a thread can switch on [`fake`]: the same functions then emulate the few
//! kernel behaviours the v2 code relies on inside a plain tempdir.

use anyhow::{bail, Context, Result};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn write_raw(path: &Path, value: &str) -> io::Result<()> {
    #[cfg(test)]
    if fake::on() {
        return fake::write(path, value);
    }
    // No O_CREAT: a missing control file means the controller is not there.
    let mut f = fs::OpenOptions::new().write(true).truncate(true).open(path)?;
    // cgroupfs parses each write(2) on its own, so the value must go in one call.
    let n = f.write(value.as_bytes())?;
    if n != value.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
    }
    Ok(())
}

/// Writes `value` to a control file. Display with `{:#}` to see the errno.
pub fn write(path: &Path, value: &str) -> Result<()> {
    write_raw(path, value).with_context(|| format!("writing {value:?} to {}", path.display()))
}

pub fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Like [`read`], but a missing file (or directory) is `None`.
pub fn read_opt(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The value of `key` in a flat-keyed file ("key value" lines), e.g. memory.events.
pub fn flat_key(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        if k == key {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}

/// Pids listed in `<dir>/cgroup.procs`; a missing directory is an empty cgroup.
pub fn procs(dir: &Path) -> Result<Vec<i32>> {
    let path = dir.join("cgroup.procs");
    let Some(text) = read_opt(&path)? else { return Ok(Vec::new()) };
    text.split_whitespace()
        .map(|s| s.parse::<i32>().with_context(|| format!("bad pid {s:?} in {}", path.display())))
        .collect()
}

/// Child cgroups of `dir` (sub-directories); a missing dir has none.
fn children(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let ty = entry.file_type().with_context(|| format!("stat {}", entry.path().display()))?;
        if ty.is_dir() {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// Pids of `dir` and of every cgroup below it.
pub fn procs_recursive(dir: &Path) -> Result<Vec<i32>> {
    let mut pids = procs(dir)?;
    for child in children(dir)? {
        pids.extend(procs_recursive(&child)?);
    }
    Ok(pids)
}

/// Sends `sig` to each pid; pids <= 0 are skipped (kill(0)/kill(-1) would hit the runtime's
/// own group or every process). Already-gone pids are fine.
pub fn kill_all(pids: &[i32], sig: i32) -> Result<()> {
    let mut failed = Vec::new();
    for &pid in pids.iter().filter(|&&p| p > 0) {
        // SAFETY: kill(2) takes no pointers; pid > 0 targets exactly one process.
        if unsafe { libc::kill(pid, sig) } != 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::ESRCH) {
                failed.push(format!("{pid}: {err}"));
            }
        }
    }
    if !failed.is_empty() {
        bail!("sending signal {sig} failed for {}", failed.join(", "));
    }
    Ok(())
}

/// mkdir -p of `dir` below `mountpoint`, appending each directory it makes to `created`
/// (top-down, as soon as it exists, so a later failure can still clean it up).
/// `before_mkdir(parent)` runs on each ancestor before the next level is made.
pub fn mkdir_below(
    mountpoint: &Path,
    dir: &Path,
    created: &mut Vec<PathBuf>,
    mut before_mkdir: impl FnMut(&Path) -> Result<()>,
) -> Result<()> {
    let rel = dir
        .strip_prefix(mountpoint)
        .with_context(|| format!("{} is not below {}", dir.display(), mountpoint.display()))?;
    // A parent can vanish between our mkdir steps when another runp prunes the empty default
    // parent (`/runp`) as its last container goes: then walk down again (bounded).
    let mut retries = 0;
    'walk: loop {
        let mut cur = mountpoint.to_path_buf();
        for comp in rel.components() {
            before_mkdir(&cur)?;
            cur.push(comp);
            match fs::create_dir(&cur) {
                Ok(()) => created.push(cur.clone()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound && retries < 20 => {
                    retries += 1;
                    continue 'walk;
                }
                Err(e) => return Err(e).with_context(|| format!("creating cgroup {}", cur.display())),
            }
            #[cfg(test)]
            if fake::on() {
                fake::populate(&cur).with_context(|| format!("faking {}", cur.display()))?;
            }
        }
        return Ok(());
    }
}

fn rmdir_raw(dir: &Path) -> io::Result<()> {
    #[cfg(test)]
    if fake::on() {
        fake::clear(dir)?;
    }
    fs::remove_dir(dir)
}

/// rmdir one cgroup, retrying EBUSY (tasks still exiting) until `deadline`. Missing is fine.
fn rmdir_retry(dir: &Path, deadline: Instant) -> Result<()> {
    loop {
        match rmdir_raw(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e).with_context(|| format!("removing cgroup {}", dir.display())),
        }
    }
}

/// Removes `dir` and every cgroup below it, deepest first.
pub fn remove_tree(dir: &Path, deadline: Instant) -> Result<()> {
    for child in children(dir)? {
        remove_tree(&child, deadline)?;
    }
    rmdir_retry(dir, deadline)
}

/// Removes the directories of `created` that contain no other cgroup, deepest first.
/// `leaf` (the container's own cgroup, if we made it) is removed with its sub-cgroups;
/// ancestors we made are only removed when empty: another container may live there now.
pub fn remove_created(leaf: &Path, created: &[PathBuf], deadline: Instant) -> Result<()> {
    if created.iter().any(|c| c == leaf) {
        remove_tree(leaf, deadline)?;
    }
    for dir in created.iter().rev().filter(|c| *c != leaf) {
        match rmdir_raw(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::ENOTEMPTY)) => {
                log::debug!("leaving shared cgroup {}: {e}", dir.display());
            }
            Err(e) => return Err(e).with_context(|| format!("removing cgroup {}", dir.display())),
        }
    }
    Ok(())
}

/// Polls `done` every few ms until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> Result<bool>) -> Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        if done()? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A tiny cgroup2 emulation for tests: mkdir fills in the core files, subtree_control
/// keeps "+x -y" semantics, cgroup.freeze updates cgroup.events, writes create files.
#[cfg(test)]
pub mod fake {
    use std::cell::Cell;
    use std::fs;
    use std::io;
    use std::path::Path;

    thread_local!(static ON: Cell<bool> = const { Cell::new(false) });

    /// Switches the emulation on for the calling thread (each test has its own thread).
    pub fn enable() {
        ON.with(|c| c.set(true));
    }

    pub fn on() -> bool {
        ON.with(|c| c.get())
    }

    pub fn populate(dir: &Path) -> io::Result<()> {
        let parent = dir.parent().unwrap_or(dir);
        let available = fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap_or_default();
        fs::write(dir.join("cgroup.controllers"), available)?;
        fs::write(dir.join("cgroup.subtree_control"), "")?;
        fs::write(dir.join("cgroup.procs"), "")?;
        fs::write(dir.join("cgroup.freeze"), "0\n")?;
        fs::write(dir.join("cgroup.events"), "populated 0\nfrozen 0\n")
    }

    pub fn write(path: &Path, value: &str) -> io::Result<()> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let dir = path.parent().unwrap_or(path);
        match name {
            "cgroup.subtree_control" => {
                let available = fs::read_to_string(dir.join("cgroup.controllers"))?;
                let mut on: Vec<String> = fs::read_to_string(path)?.split_whitespace().map(String::from).collect();
                for op in value.split_whitespace() {
                    let (sign, ctrl) = op.split_at(1);
                    if !available.split_whitespace().any(|a| a == ctrl) {
                        return Err(io::Error::from_raw_os_error(libc::ENOENT));
                    }
                    on.retain(|c| c != ctrl);
                    if sign == "+" {
                        on.push(ctrl.to_string());
                    }
                }
                fs::write(path, on.join(" "))
            }
            "cgroup.freeze" => {
                fs::write(path, value)?;
                let frozen = value.trim() == "1";
                fs::write(dir.join("cgroup.events"), format!("populated 0\nfrozen {}\n", u8::from(frozen)))
            }
            _ => fs::write(path, value),
        }
    }

    /// Real cgroupfs lets rmdir succeed with interface files inside; a tempdir does not.
    /// Leaves a directory with sub-cgroups alone, so the kernel-like rmdir error follows.
    pub fn clear(dir: &Path) -> io::Result<()> {
        let entries = fs::read_dir(dir)?.collect::<io::Result<Vec<_>>>()?;
        if entries.iter().any(|e| e.path().is_dir()) {
            return Ok(());
        }
        for entry in entries {
            fs::remove_file(entry.path())?;
        }
        Ok(())
    }
}
