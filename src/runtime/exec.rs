//! `exec`: a new process inside a running container: its namespaces (joined through the init's
//! /proc/<pid>/ns files, checked against pid reuse), its cgroup, and its config's security
//! settings (capabilities, user, no_new_privs, seccomp), with the caller's overrides.

use super::child_setup::process_args;
use super::create::write_pid_file;
use super::state::{StateDir, Status};
use crate::linux::{console, ns, process, spawn};
use crate::plan::{from_oci, NsKind, ProcessPlan};
use crate::spec;
use anyhow::{anyhow, bail, Context, Result};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone)]
pub struct ExecOptions {
    pub id: String,
    pub process_file: Option<PathBuf>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: Option<String>,
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub tty: bool,
    pub no_new_privs: bool,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
    /// fds for the process's 0, 1, 2 (None: runp's own).
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
}

/// Builds the process: the --process file as is, or the container's process with overrides.
fn build_process(o: &ExecOptions, base: &ProcessPlan, container_root: &Path) -> Result<ProcessPlan> {
    if let Some(f) = &o.process_file {
        let p = spec::oci::load_process(f)?;
        return from_oci::process_plan(&p, &f.display().to_string());
    }
    if o.args.is_empty() {
        bail!("exec: a command is required");
    }
    let mut plan = base.clone();
    plan.args = o.args.clone();
    plan.terminal = false;
    plan.console_size = None;
    for e in &o.env {
        let key = e.split('=').next().unwrap_or(e);
        plan.env.retain(|x| x.split('=').next() != Some(key));
        plan.env.push(e.clone());
    }
    if let Some(cwd) = &o.cwd {
        plan.cwd = cwd.clone();
    }
    if let Some(u) = &o.user {
        let parsed = spec::user::parse(u)?;
        let read = |f: &str| {
            crate::linux::sys::read_in_root(container_root, f, 1 << 20)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let (uid, gid) = spec::user::resolve(&parsed, &read("etc/passwd"), &read("etc/group"))?;
        plan.uid = uid;
        plan.gid = gid;
    }
    if !o.additional_gids.is_empty() {
        plan.additional_gids = o.additional_gids.clone();
    }
    if !o.caps.is_empty() {
        let m = crate::plan::caps::mask(o.caps.iter().map(String::as_str), "--cap")?;
        plan.caps.bounding |= m;
        plan.caps.effective |= m;
        plan.caps.permitted |= m;
    }
    plan.terminal = o.tty;
    plan.no_new_privileges |= o.no_new_privs;
    Ok(plan)
}

/// Runs the exec. Returns the process's exit code (0 when detached).
pub fn exec(root: &Path, o: &ExecOptions) -> Result<i32> {
    let target = Target::open(root, &o.id, o.ignore_paused)?;
    let (pid, pty) = target.start(o)?;
    if o.detach {
        return Ok(0);
    }
    super::foreground::wait(pid, pty.as_ref().map(|p| &p.master))
}

/// A running container made ready for exec: its process defaults, its namespaces (opened
/// once, checked against pid reuse) and its cgroup. A pod supervisor keeps one per container
/// instance, so an exec probe costs a clone and an exec rather than a re-read of the
/// container's state. Drop it when the container exits: its fds keep the namespaces alive.
pub struct Target {
    defaults: super::state::ExecDefaults,
    container_root: PathBuf,
    /// Every namespace of the init that differs from ours but the PID one, user first.
    joins: Vec<(OwnedFd, libc::c_int)>,
    /// The PID namespace, joined by the child once confined (see child::split_into_pid_ns).
    pid_ns: Option<OwnedFd>,
    cgroup: Option<crate::linux::cgroup::Cgroup>,
    /// cgroup.procs fds for direct spawns (opened on first use).
    cgroup_procs: std::cell::OnceCell<Vec<OwnedFd>>,
}

impl Target {
    pub fn open(root: &Path, id: &str, ignore_paused: bool) -> Result<Target> {
        let dir = StateDir::new(root, id)?;
        let st = dir.load()?;
        match st.status(&dir) {
            Status::Stopped => bail!("cannot exec in a stopped container"),
            Status::Paused if !ignore_paused => {
                bail!("cannot exec in a paused container (use --ignore-paused to override)")
            }
            _ => {}
        }
        let defaults: super::state::ExecDefaults = {
            let p = dir.path(super::state::EXEC_DEFAULTS);
            let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
            serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))?
        };
        let init = process::ProcessRef::open(st.pid, st.start_time)?;
        let mut joins = Vec::new();
        let mut pid_ns = None;
        for kind in NsKind::ALL {
            let theirs = match ns::inode(init.pid, kind) {
                Ok(i) => i,
                Err(_) => continue,
            };
            if ns::inode(std::process::id() as i32, kind).ok() == Some(theirs) {
                continue;
            }
            let fd = ns::open_checked(&PathBuf::from(format!("/proc/{}/ns/{}", init.pid, kind.proc_name())), kind)?;
            if kind == NsKind::Pid {
                pid_ns = Some(fd);
            } else {
                joins.push((fd, kind.flag()));
            }
        }
        // The fds must still be the init's namespaces, not a reused pid's
        // (docs/security.md#namespaces).
        if !process::alive(st.pid, st.start_time) {
            bail!("container not running");
        }
        Ok(Target {
            defaults,
            container_root: PathBuf::from(format!("/proc/{}/root", init.pid)),
            joins,
            pid_ns,
            cgroup: st.cgroup,
            cgroup_procs: std::cell::OnceCell::new(),
        })
    }

    /// The child's arguments for `o`, with our namespace fds duplicated into them.
    fn child_args(&self, o: &ExecOptions) -> Result<(ProcessPlan, crate::linux::child_args::ChildArgs)> {
        let mut plan = build_process(o, &self.defaults.process, &self.container_root)?;
        if o.process_file.is_some() && o.tty {
            plan.terminal = true;
        }
        let mut args = process_args(&plan, self.defaults.seccomp.clone(), o.preserve_fds)?;
        for (fd, flag) in &self.joins {
            args.joins.push((fd.try_clone().context("duplicating a namespace fd")?, *flag));
        }
        if let Some(stdio) = o.stdio {
            args.stdio = stdio;
        }
        Ok((plan, args))
    }

    /// Starts a process the caller reaps, returning once it has exec'd, without copying the
    /// caller's address space (see `spawn::spawn_direct`): what a pod supervisor's exec
    /// probes and hooks use. No tty, pid file or console socket.
    pub fn spawn(&self, o: &ExecOptions) -> Result<i32> {
        if o.tty || o.console_socket.is_some() || o.pid_file.is_some() {
            bail!("exec: a tty, console socket or pid file needs `runp exec`");
        }
        let (plan, mut args) = self.child_args(o)?;
        if let Some(cg) = &self.cgroup {
            let files = match self.cgroup_procs.get() {
                Some(f) => f,
                None => {
                    let f = cg.procs_files()?;
                    self.cgroup_procs.get_or_init(|| f)
                }
            };
            args.cgroup_procs = files.iter().map(|f| f.as_raw_fd()).collect();
        }
        // Forked into the PID namespace only once confined: see child::split_into_pid_ns.
        args.late_pid_ns = self.pid_ns.as_ref().map_or(-1, |f| f.as_raw_fd());
        spawn::spawn_direct(&mut args, None).map_err(|e| explain_exec(e, &plan))
    }

    /// Starts the process with the full handshake: attached to the cgroup by us, the pid file
    /// written and the pty master sent before it execs. `runp exec` uses this.
    fn start(&self, o: &ExecOptions) -> Result<(i32, Option<console::Pty>)> {
        let (plan, mut args) = self.child_args(o)?;
        match (plan.terminal, &o.console_socket, o.detach) {
            (false, Some(_), _) | (true, Some(_), false) => {
                bail!("cannot use console socket if runp will not detach or allocate tty")
            }
            (true, None, true) => bail!("cannot allocate tty if runp will detach without setting console socket"),
            _ => {}
        }
        let pty = if plan.terminal { Some(console::open_pty(plan.console_size)?) } else { None };
        if let Some(p) = &pty {
            args.console_fd = p.slave.as_raw_fd();
        }
        args.late_pid_ns = self.pid_ns.as_ref().map_or(-1, |f| f.as_raw_fd());
        let mut spawned = spawn::spawn(&mut args, 0, None)?;
        let mut setup = || -> Result<()> {
            if let Some(cg) = &self.cgroup {
                cg.attach(spawned.pid)?;
            }
            spawned.go()?;
            match spawned.next_event()? {
                spawn::Event::Ready => {}
                e => bail!("unexpected report from the exec process: {e:?}"),
            }
            if let Some(pf) = &o.pid_file {
                write_pid_file(pf, spawned.pid)?;
            }
            if let (Some(p), Some(sock)) = (&pty, &o.console_socket) {
                console::send_master(sock, &p.master)?;
            }
            spawned.go()?;
            match spawned.next_event()? {
                spawn::Event::Gone => Ok(()),
                e => bail!("unexpected report from the exec process: {e:?}"),
            }
        };
        if let Err(e) = setup() {
            let pid = nix::unistd::Pid::from_raw(spawned.pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
            return Err(explain_exec(e, &plan));
        }
        Ok((spawned.pid, pty))
    }
}

fn explain_exec(e: anyhow::Error, plan: &ProcessPlan) -> anyhow::Error {
    match e.downcast_ref::<spawn::ChildError>() {
        Some(ce) if ce.step == crate::linux::sync::Step::Lookup => {
            let arg0 = plan.args.first().cloned().unwrap_or_default();
            if arg0.contains('/') {
                anyhow!("exec failed: exec: {arg0:?}: stat {arg0}: no such file or directory")
            } else {
                anyhow!("exec failed: exec: {arg0:?}: executable file not found in $PATH")
            }
        }
        _ => anyhow!("exec failed: {e:#}"),
    }
}
