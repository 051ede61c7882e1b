//! OCI hooks: the state JSON on stdin, the hook's `env` as its whole environment, the bundle as
//! its cwd, its output captured for the error, and a SIGKILL of its process group at `timeout`.

use crate::linux::command::clean_command;
use crate::plan::HookPlan;
use anyhow::{bail, Context, Result};
use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Keeps at most this much of a hook's stdout/stderr for the error message.
const OUTPUT_LIMIT: usize = 4096;

fn capture_file(name: &str) -> Result<std::fs::File> {
    let fd: OwnedFd = nix::sys::memfd::memfd_create(name, nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .context("creating a buffer for hook output")?;
    Ok(std::fs::File::from(fd))
}

fn read_back(mut f: std::fs::File) -> String {
    let mut s = String::new();
    let _ = f.rewind();
    let _ = Read::by_ref(&mut f).take(OUTPUT_LIMIT as u64).read_to_string(&mut s);
    s.trim_end().to_string()
}

/// Namespaces a hook joins: none for hooks that run on the host.
pub type Namespaces<'a> = &'a [(std::os::fd::RawFd, libc::c_int)];

/// Runs one hook to completion.
pub fn run_one(hook: &HookPlan, state_json: &str, cwd: &Path, ns: Namespaces) -> Result<()> {
    let out = capture_file("hook-stdout")?;
    let err = capture_file("hook-stderr")?;
    let mut cmd = clean_command(&hook.path, ns);
    if let Some(arg0) = hook.args.first() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, arg0);
    }
    cmd.args(hook.args.iter().skip(1))
        .env_clear()
        .envs(hook.env.iter().filter_map(|e| e.split_once('=')))
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(err.try_clone()?));
    let mut child = cmd.spawn().with_context(|| format!("starting hook {}", hook.path))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let pid = child.id() as i32;
    let status = match hook.timeout {
        None => child.wait().context("waiting for hook")?,
        Some(secs) => {
            let deadline = crate::time::deadline(Duration::from_secs(secs));
            let pidfd = crate::linux::sys::pidfd_open(pid).ok();
            loop {
                if let Some(st) = child.try_wait().context("waiting for hook")? {
                    break st;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    // The hook and everything it started (it leads its own process group).
                    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
                    let _ = child.wait();
                    bail!("hook ran past specified timeout of {secs}.0s");
                }
                wait_fd(pidfd.as_ref(), left);
            }
        }
    };
    if !status.success() {
        let code = match status.code() {
            Some(c) => format!("exit status {c}"),
            None => format!("signal: {}", std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)),
        };
        bail!("{code}, stdout: {}, stderr: {}", read_back(out), read_back(err));
    }
    Ok(())
}

/// Sleeps until the pidfd is readable (the process exited) or `max` passes.
fn wait_fd(pidfd: Option<&OwnedFd>, max: Duration) {
    let ms = max.as_millis().min(i32::MAX as u128) as i32;
    match pidfd {
        Some(fd) => {
            let mut fds = [nix::poll::PollFd::new(fd.as_fd(), nix::poll::PollFlags::POLLIN)];
            let _ =
                nix::poll::poll(&mut fds, nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX));
        }
        None => std::thread::sleep(max.min(Duration::from_millis(5))),
    }
}

/// Runs a list of hooks in order; the first failure stops the list.
pub fn run_all(kind: &str, hooks: &[HookPlan], state_json: &str, cwd: &Path) -> Result<()> {
    run_all_in(kind, hooks, state_json, cwd, &[])
}

/// Runs a list of hooks inside the given namespaces (createContainer, startContainer).
pub fn run_all_in(kind: &str, hooks: &[HookPlan], state_json: &str, cwd: &Path, ns: Namespaces) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, state_json, cwd, ns).with_context(|| format!("error running {kind} hook #{i}"))?;
    }
    Ok(())
}

/// Runs every hook even if some fail (poststop: failures are warnings only).
pub fn run_all_warn(kind: &str, hooks: &[HookPlan], state_json: &str, cwd: &Path) {
    for (i, h) in hooks.iter().enumerate() {
        if let Err(e) = run_one(h, state_json, cwd, &[]) {
            log::warn!("error running {kind} hook #{i}: {e:#}");
        }
    }
}

/// Opens the namespaces of `pid` that differ from ours, for hooks that run in the container.
/// The user namespace is left out: the hook keeps the runtime's privileges.
pub fn container_namespaces(pid: i32) -> Result<Vec<(std::os::fd::OwnedFd, libc::c_int)>> {
    use crate::linux::ns;
    use crate::plan::NsKind;
    let mut out = Vec::new();
    for kind in [NsKind::Ipc, NsKind::Uts, NsKind::Net, NsKind::Pid, NsKind::Cgroup, NsKind::Mount] {
        let Ok(theirs) = ns::inode(pid, kind) else { continue };
        if ns::inode(std::process::id() as i32, kind).ok() == Some(theirs) {
            continue;
        }
        let path = std::path::PathBuf::from(format!("/proc/{pid}/ns/{}", kind.proc_name()));
        out.push((ns::open_checked(&path, kind)?, kind.flag()));
    }
    Ok(out)
}

/// Raw (fd, type) pairs for `clean_command`, borrowing the owned fds.
pub fn raw(ns: &[(std::os::fd::OwnedFd, libc::c_int)]) -> Vec<(std::os::fd::RawFd, libc::c_int)> {
    use std::os::fd::AsRawFd;
    ns.iter().map(|(f, t)| (f.as_raw_fd(), *t)).collect()
}
