//! `create`: config.json → plan → cgroup → cloned init, parked before exec, and state on disk.
//! On any error everything made so far is undone: no process, cgroup or state dir survives.

use super::child_setup::{init_args, namespaces};
use super::hooks;
use super::state::{self, State, StateDir, Status};
use crate::linux::cgroup::{self, Cgroup};
use crate::linux::console::{self, Pty};
use crate::linux::spawn::{self, ChildError, Event, Spawned};
use crate::linux::sync::Step;
use crate::plan::{from_oci, ContainerPlan, IdMap, NsKind};
use crate::spec;
use anyhow::{anyhow, bail, Context, Result};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    /// `run`: no exec.fifo; the caller releases the init itself.
    pub no_gate: bool,
    /// `create` or `run -d`: runp exits while the container runs (so a tty needs a console socket).
    pub detach: bool,
    /// fds for the container's 0, 1, 2 (a pod's log pipes); None keeps runp's own stdio.
    pub stdio: Option<[RawFd; 3]>,
    /// Kill the container if the calling process dies (a pod supervisor).
    pub die_with_parent: bool,
    /// fds the plan's mounts refer to as /proc/self/fd/N (kept open in the child).
    pub keep_fds: Vec<RawFd>,
    /// Where a proc filesystem of the PID namespace the container joins is mounted on the host
    /// (a pod's, made by its pause): the container's /proc is a bind of it.
    pub pid_ns_proc: Option<PathBuf>,
}

/// A created container whose init is parked before exec.
pub struct Created {
    pub dir: StateDir,
    pub state: State,
    pub spawned: Spawned,
    /// The pty master when the caller relays the terminal itself (foreground run).
    pub pty_master: Option<OwnedFd>,
    pub plan: ContainerPlan,
}

/// Undoes a failed create. Dropped without `disarm` means failure.
struct Cleanup<'a> {
    dir: &'a StateDir,
    cgroup: Option<Cgroup>,
    pid: Option<i32>,
    armed: bool,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid {
            // Our own child: kill and reap it; its mount namespace goes with it.
            let p = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(p, nix::sys::signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(p, None);
        }
        if let Some(cg) = &self.cgroup {
            if let Err(e) = cg.destroy() {
                log::warn!("removing cgroup after failed create: {e:#}");
            }
            cg.prune_default_parent();
        }
        let _ = self.dir.remove();
    }
}

fn write_id_map(pid: i32, file: &str, maps: &[IdMap]) -> Result<()> {
    let text: String = maps.iter().map(|m| format!("{} {} {}\n", m.container, m.host, m.size)).collect();
    let path = format!("/proc/{pid}/{file}");
    std::fs::write(&path, text).with_context(|| format!("writing {path}"))
}

/// Turns a child's failure report into runc-style words clients recognise.
fn explain(e: anyhow::Error, spawned_args: &[String], op_names: &[String], candidates: &[String]) -> anyhow::Error {
    let Some(ce) = e.downcast_ref::<ChildError>() else { return e };
    let err = std::io::Error::from_raw_os_error(ce.errno);
    let text = err.to_string().to_lowercase();
    let text = text.split(" (os error").next().unwrap_or(&text).to_string();
    match ce.step {
        Step::Lookup => {
            let arg0 = spawned_args.first().cloned().unwrap_or_default();
            if arg0.contains('/') || candidates.len() <= 1 && arg0.contains('/') {
                anyhow!("unable to start container process: exec: {arg0:?}: stat {arg0}: {text}")
            } else if ce.errno == libc::EACCES {
                anyhow!("unable to start container process: exec: {arg0:?}: permission denied")
            } else {
                anyhow!("unable to start container process: exec: {arg0:?}: executable file not found in $PATH")
            }
        }
        Step::Op | Step::OpTarget | Step::OpRemount | Step::OpPropagation => {
            let what = op_names.get(ce.index as usize).cloned().unwrap_or_else(|| "mount".to_string());
            if ce.step == Step::Op {
                anyhow!("unable to start container process: {what}: {text}")
            } else {
                anyhow!("unable to start container process: {what}: {}: {text}", ce.step.describe())
            }
        }
        Step::Exec => anyhow!("unable to start container process: exec: {text}"),
        _ => anyhow!("unable to start container process: {}: {text}", ce.step.describe()),
    }
}

/// Validates the console flags the way runc does.
fn check_console(plan: &ContainerPlan, o: &CreateOptions) -> Result<()> {
    match (plan.process.terminal, &o.console_socket, o.detach) {
        (false, Some(_), _) | (true, Some(_), false) => {
            bail!("cannot use console socket if runp will not detach or allocate tty")
        }
        (true, None, true) => bail!("cannot allocate tty if runp will detach without setting console socket"),
        _ => Ok(()),
    }
}

/// `create` from a bundle's config.json.
pub fn create(root: &Path, o: &CreateOptions) -> Result<Created> {
    StateDir::new(root, &o.id)?;
    let bundle = std::fs::canonicalize(&o.bundle).with_context(|| format!("bundle {}", o.bundle.display()))?;
    let spec = spec::oci::load(&bundle)?;
    let plan = from_oci::build(&spec, &bundle)?;
    crate::time::mark("config parsed");
    create_plan(root, plan, o)
}

/// Creates a container from a plan (from config.json, or from a Pod manifest). `o.bundle` is
/// not read: `plan.bundle` is where hooks run.
pub fn create_plan(root: &Path, plan: ContainerPlan, o: &CreateOptions) -> Result<Created> {
    let dir = StateDir::new(root, &o.id)?;
    let bundle = plan.bundle.clone();
    check_console(&plan, o)?;
    let ns = namespaces(&plan)?;

    dir.create()?;
    let mut cleanup = Cleanup { dir: &dir, cgroup: None, pid: None, armed: true };

    let layout = cgroup::detect_host()?;
    let mut cg = cgroup::resolve(&layout, plan.cgroups_path.as_deref(), &o.id)?;
    cg.create(&plan.resources)?;
    cleanup.cgroup = Some(cg.clone());
    crate::time::mark("cgroup created");

    let pty: Option<Pty> =
        if plan.process.terminal { Some(console::open_pty(plan.process.console_size)?) } else { None };
    let clone_flags = ns.clone_flags;
    let pid_ns = ns.pid_ns.as_ref().map(|f| f.try_clone()).transpose()?;
    let mut args = init_args(&plan, ns, Some(&cg), o.no_pivot, o.preserve_fds)?;
    if let Some(p) = &pty {
        args.console_fd = p.slave.as_raw_fd();
    }
    if let Some(stdio) = o.stdio {
        args.stdio = stdio;
    }
    if o.die_with_parent {
        args.die_with_parent = Some(std::process::id() as i32);
    }
    if o.keep_fds.len() > 40 {
        bail!("too many mount source fds ({})", o.keep_fds.len());
    }
    args.keep_fds = o.keep_fds.clone();
    // The start gate: a fifo the init holds open read-write and reads one byte from.
    let fifo = if o.no_gate {
        None
    } else {
        let path = dir.path(state::FIFO);
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o622))
            .with_context(|| format!("creating {}", path.display()))?;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        args.gate_fd = f.as_raw_fd();
        Some(f)
    };
    let op_names = args.rootfs.as_ref().map(|r| r.op_names.clone()).unwrap_or_default();
    // Joining a PID namespace other processes live in: the init is forked into it only once
    // confined (child::split_into_pid_ns), with its /proc made for that namespace here.
    let proc_mounts = match &pid_ns {
        Some(ns) if !plan.has_ns(NsKind::User) => late_proc_mounts(&mut args, ns, o.pid_ns_proc.as_deref())?,
        _ => None,
    };
    let late = proc_mounts.is_some();
    let mut spawned = if late {
        args.late_pid_ns = pid_ns.as_ref().map_or(-1, |f| f.as_raw_fd());
        spawn::spawn(&mut args, clone_flags, None)?
    } else {
        spawn::spawn(&mut args, clone_flags, pid_ns.as_ref())?
    };
    drop(proc_mounts);
    drop(fifo);
    cleanup.pid = Some(spawned.pid);
    crate::time::mark("cloned");

    let mut state = State {
        id: o.id.clone(),
        pid: spawned.pid,
        start_time: 0,
        bundle: bundle.clone(),
        rootfs: plan.rootfs.clone(),
        created: crate::time::now_nanos(),
        owner: String::new(),
        annotations: plan.annotations.clone(),
        cgroup: Some(cg.clone()),
        hooks: plan.hooks.clone(),
        own_pid_ns: plan.has_new(NsKind::Pid),
        boot_id: state::boot_id(),
    };

    let mut setup = || -> Result<()> {
        if plan.has_new(NsKind::User) {
            write_id_map(spawned.pid, "uid_map", &plan.uid_mappings)?;
            write_id_map(spawned.pid, "gid_map", &plan.gid_mappings)?;
        }
        cg.attach(spawned.pid)?;
        if let Some(adj) = plan.process.oom_score_adj {
            let p = format!("/proc/{}/oom_score_adj", spawned.pid);
            std::fs::write(&p, adj.to_string()).with_context(|| format!("writing {p}"))?;
        }
        spawned.go()?;
        loop {
            match spawned.next_event()? {
                Event::Ready => return Ok(()),
                Event::Hooks => {
                    let creating = state.oci_json(Status::Creating, "");
                    let json = creating.to_string();
                    hooks::run_all("prestart", &plan.hooks.prestart, &json, &bundle)?;
                    hooks::run_all("createRuntime", &plan.hooks.create_runtime, &json, &bundle)?;
                    if !plan.hooks.create_container.is_empty() {
                        let ns = hooks::container_namespaces(spawned.pid)?;
                        hooks::run_all_in(
                            "createContainer",
                            &plan.hooks.create_container,
                            &json,
                            &bundle,
                            &hooks::raw(&ns),
                        )?;
                    }
                    spawned.go()?;
                }
                Event::Gone => bail!("container init exited during setup"),
            }
        }
    };
    let result = setup();
    // A first stage that forked the init into the PID namespace has been replaced by it.
    cleanup.pid = Some(spawned.pid);
    let candidates = plan.process.exec_candidates();
    result.map_err(|e| explain(e, &plan.process.args, &op_names, &candidates))?;
    crate::time::mark("container set up");
    state.pid = spawned.pid;
    state.start_time = crate::linux::process::stat(spawned.pid).map(|s| s.start_time).unwrap_or(0);

    let defaults = state::ExecDefaults { process: plan.process.clone(), seccomp: plan.seccomp.clone() };
    state::write_atomic(&dir.path(state::EXEC_DEFAULTS), &serde_json::to_vec(&defaults)?, 0o600)?;
    state.owner = String::new();
    dir.save(&state)?;
    if let Some(pf) = &o.pid_file {
        write_pid_file(pf, spawned.pid)?;
    }
    let mut pty_master = None;
    if let Some(p) = pty {
        match &o.console_socket {
            Some(sock) => console::send_master(sock, &p.master)?,
            None => pty_master = Some(p.master),
        }
    }
    cleanup.armed = false;
    drop(cleanup);
    Ok(Created { dir, state, spawned, pty_master, plan })
}

/// Gives every proc mount of the rootfs setup a proc filesystem of the PID namespace `pid_ns`,
/// which the child mounts before it is in that namespace: a bind of `bind_from` (a pod's), or
/// a detached proc made here with proc's `pidns` option (Linux 6.18), kept open by the caller
/// until the child is cloned. None when neither is possible: the init then joins the namespace
/// at clone time, as before.
fn late_proc_mounts(
    args: &mut crate::linux::child_args::ChildArgs,
    pid_ns: &OwnedFd,
    bind_from: Option<&Path>,
) -> Result<Option<Vec<OwnedFd>>> {
    use crate::linux::child_args::{cstr, RootOp};
    let mut made = Vec::new();
    let Some(rootfs) = args.rootfs.as_mut() else { return Ok(Some(made)) };
    for op in rootfs.ops.iter_mut() {
        let RootOp::Mount { source, fstype, flags, data, from_fd, remount_flags, .. } = op else { continue };
        if fstype.as_ref().is_none_or(|t| t.as_bytes() != b"proc") {
            continue;
        }
        if let Some(path) = bind_from {
            *source = cstr(&path.to_string_lossy())?;
            *fstype = None;
            *remount_flags = *flags & !(libc::MS_BIND | libc::MS_REC) as libc::c_ulong;
            *flags = (libc::MS_BIND | libc::MS_REC) as libc::c_ulong;
            *data = None;
            continue;
        }
        match crate::linux::ns::proc_for_pid_ns(pid_ns.as_raw_fd(), *flags, data.as_deref()) {
            Ok(fd) => {
                *from_fd = fd.as_raw_fd();
                made.push(fd);
            }
            Err(e) => {
                log::debug!("proc for a joined PID namespace: {e}; the init joins it at clone time");
                for op in rootfs.ops.iter_mut() {
                    if let RootOp::Mount { from_fd, .. } = op {
                        *from_fd = -1;
                    }
                }
                return Ok(None);
            }
        }
    }
    args.keep_fds.extend(made.iter().map(|f| f.as_raw_fd()));
    Ok(Some(made))
}

/// Writes the pid file atomically (`.name` then rename), relative to the caller's cwd.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let abs = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir()?.join(path) };
    state::write_atomic(&abs, pid.to_string().as_bytes(), 0o644)
}
