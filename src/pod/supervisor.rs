//! The per-pod supervisor: one process, one thread, one poll loop over a signalfd (child exits,
//! SIGTERM/SIGINT), the control socket, the containers' log pipes and running handlers, with
//! timers as the poll timeout. It owns the pause process and every container of the pod.
//! Container logic lives in `lifecycle.rs`; this file is the loop and the bookkeeping.

use super::backoff::{Backoff, BackoffConfig};
use super::control;
use super::events::Events;
use super::handlers::Run;
use super::images::Images;
use super::logs::{LogWriter, Stream};
use super::status::{self, Conditions, ContainerStatus, Kind, Phase};
use super::store::{PodDir, SupervisorRecord};
use crate::linux::pause::Pause;
use crate::spec::pod::{Container, Pod};
use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use serde_json::json;
use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct Options {
    pub root: PathBuf,
    pub image_dir: PathBuf,
    pub backoff: BackoffConfig,
    /// containerLogMaxSize / containerLogMaxFiles.
    pub log_rotation: super::logs::Rotation,
    /// Print events on stdout as they happen (foreground `pod run`).
    pub print_events: bool,
}

/// A live container instance.
pub struct Instance {
    pub oci_id: String,
    pub pid: i32,
    pub started: Instant,
    pub started_at: String,
    pub dir: PathBuf,
    pub termination_file: PathBuf,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    pub log: LogWriter,
    pub log_path: PathBuf,
    /// What exec probes and hooks need to enter it, resolved on first use; dropped with the
    /// instance (it holds the container's namespaces open).
    pub exec: Option<crate::runtime::exec::Target>,
}

/// Which handler is running for a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    PostStart,
    PreStop,
}

/// Stopping one container: the grace and where we are in it.
pub struct Stopping {
    pub deadline: Instant,
    pub signalled: bool,
    pub kill_at: Option<Instant>,
    /// Restart afterwards (liveness, failed postStart) rather than leave it stopped.
    pub restart: bool,
}

pub struct Ctr {
    pub spec: Container,
    pub kind: Kind,
    pub field_path: String,
    pub status: ContainerStatus,
    pub inst: Option<Instance>,
    pub backoff: Backoff,
    pub instances: u32,
    pub hook: Option<(HookKind, Run)>,
    pub stopping: Option<Stopping>,
    pub restart_at: Option<Instant>,
    /// The pod-level reason this container finished for good (no more restarts).
    pub done: bool,
    /// Probe workers of the current instance.
    pub probes: Vec<super::probe::worker::Worker>,
    /// Start again in the new sandbox (after the old one died).
    pub rerun: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    Restart(usize),
    HookSleep(usize),
    Grace(usize),
    Kill(usize),
    Deadline,
    ProbeTick(usize, usize),
    ProbeTimeout(usize, usize),
}

pub struct Supervisor {
    pub opts: Options,
    pub pod: Pod,
    pub dir: PodDir,
    pub images: Images,
    pub pause: Option<Pause>,
    pub ctrs: Vec<Ctr>,
    pub events: Events,
    pub conds: Conditions,
    pub created: String,
    pub start_time: String,
    pub phase: Phase,
    pub reason: String,
    pub message: String,
    /// Pod termination: (started, grace).
    pub terminating: Option<(Instant, Duration)>,
    pub deletion_timestamp: Option<String>,
    pub finished: bool,
    pub app_started: bool,
    pub cgroup_parent: String,
    pub volumes: BTreeMap<String, PathBuf>,
    pub share_pid: bool,
    /// The node's address (hostIP) and the pod's (podIP: the host's with hostNetwork).
    pub host_ip: String,
    pub pod_ip: String,
    listener: Option<UnixListener>,
    last_status: String,
    /// A probe changed something the status shows (a stored result, a kill): probe activity
    /// alone (ticks, output, exits of probe processes) does not re-decide or rewrite anything.
    pub probe_changed: bool,
    /// RUNP_PROBE_TRACE's file, kept open (bench/probes.sh).
    pub probe_trace: Option<std::fs::File>,
    /// /dev/null, for the stdin of exec probes.
    pub devnull: std::fs::File,
    /// status.startTime as a monotonic instant: activeDeadlineSeconds counts from it.
    started: Instant,
    /// The sandbox died: its containers are being stopped before a new one is made.
    pub resandbox: bool,
}

/// Blocks the signals the loop reads, returning the signalfd. Call before any child exists.
pub fn signal_fd() -> Result<SignalFd> {
    let mut set = SigSet::empty();
    for s in [Signal::SIGCHLD, Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block().context("blocking signals")?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).context("signalfd")
}

impl Supervisor {
    pub fn new(opts: Options, pod: Pod, dir: PodDir) -> Result<Supervisor> {
        let images = Images::new(&opts.image_dir);
        let mut ctrs = Vec::new();
        let has_init = !pod.spec.init_containers.is_empty();
        for c in &pod.spec.init_containers {
            let kind = if c.is_sidecar() { Kind::Sidecar } else { Kind::Init };
            ctrs.push(Ctr::new(c, kind, format!("spec.initContainers{{{}}}", c.name), status::INITIALIZING));
        }
        for c in &pod.spec.containers {
            let reason = if has_init { status::INITIALIZING } else { status::CREATING };
            ctrs.push(Ctr::new(c, Kind::App, format!("spec.containers{{{}}}", c.name), reason));
        }
        let now = crate::time::rfc3339(std::time::SystemTime::now());
        let cgroup_parent = format!("/runp/pod_{}", pod.metadata.uid);
        // runp's default: one PID namespace for the pod, pause as PID 1 (shareProcessNamespace
        // false gives each container its own).
        let share_pid = pod.spec.share_process_namespace.unwrap_or(true);
        // Asked now, in the host's network namespace (the supervisor later joins the pod's).
        let host_ip = crate::linux::node::ip().to_string();
        let pod_ip = if pod.spec.host_network { host_ip.clone() } else { "127.0.0.1".to_string() };
        let mut pod = pod;
        // Bound to this node, as the scheduler would (the downward API's spec.nodeName).
        pod.spec.node_name.get_or_insert_with(crate::linux::node::name);
        let devnull = std::fs::File::open("/dev/null").context("opening /dev/null")?;
        let probe_trace = std::env::var_os("RUNP_PROBE_TRACE")
            .and_then(|p| std::fs::OpenOptions::new().create(true).append(true).open(p).ok());
        Ok(Supervisor {
            opts,
            pod,
            dir,
            images,
            pause: None,
            ctrs,
            events: Events::default(),
            conds: Conditions::default(),
            created: now.clone(),
            start_time: now,
            phase: Phase::Pending,
            reason: String::new(),
            message: String::new(),
            terminating: None,
            deletion_timestamp: None,
            finished: false,
            app_started: false,
            cgroup_parent,
            volumes: BTreeMap::new(),
            share_pid,
            host_ip,
            pod_ip,
            listener: None,
            last_status: String::new(),
            probe_changed: false,
            probe_trace,
            devnull,
            started: Instant::now(),
            resandbox: false,
        })
    }

    /// Starts `args` inside container `i` (exec probes and hooks) with the given stdio; the
    /// process is ours to reap.
    pub fn exec_spawn(&mut self, i: usize, args: Vec<String>, stdio: [std::os::fd::RawFd; 3]) -> Result<i32> {
        let inst = self.ctrs[i].inst.as_mut().ok_or_else(|| anyhow::anyhow!("container is not running"))?;
        let target = match &mut inst.exec {
            Some(t) => t,
            slot @ None => slot.insert(crate::runtime::exec::Target::open(&self.opts.root, &inst.oci_id, false)?),
        };
        let opts = crate::runtime::exec::ExecOptions { args, detach: true, stdio: Some(stdio), ..Default::default() };
        target.spawn(&opts)
    }

    /// Records an event (and prints it in the foreground).
    pub fn event(&mut self, kind: &str, reason: &str, field_path: &str, message: &str) {
        let e = self.events.record(kind, reason, field_path, message);
        if self.opts.print_events {
            let obj =
                if field_path.is_empty() { format!("pod/{}", self.pod.metadata.name) } else { field_path.to_string() };
            println!("{} {:<7} {:<20} {}: {}", e.last_timestamp, e.kind, e.reason, obj, e.message);
        }
        if let Err(e2) = self.events.persist(self.dir.data(), &e) {
            log::warn!("recording an event: {e2:#}");
        }
    }

    /// Recomputes phase and conditions and writes status.json atomically.
    pub fn write_status(&mut self) {
        let records: Vec<ContainerStatus> = self.ctrs.iter().map(|c| c.status.clone()).collect();
        let initialized = self.app_started;
        let policy = self.pod.spec.restart_policy.as_str();
        let new = status::phase(&records, policy, self.finished, initialized);
        // A terminal phase is sticky.
        if !self.phase.is_terminal() {
            self.phase = new;
        }
        let now = crate::time::rfc3339(std::time::SystemTime::now());
        status::update_conditions(&mut self.conds, &records, self.phase, self.app_started, &now);
        let sandbox_ready = self.pause.is_some() && !self.finished;
        self.conds.set("PodReadyToStartContainers", sandbox_ready, "", "", &now);
        let created = self.created.clone();
        self.conds.set("PodScheduled", true, "", "", &created);
        let mut records = records;
        status::cap_messages(&mut records);
        let init: Vec<serde_json::Value> =
            records.iter().filter(|c| c.kind != Kind::App).map(|c| c.to_json()).collect();
        let mut apps: Vec<&ContainerStatus> = records.iter().filter(|c| c.kind == Kind::App).collect();
        apps.sort_by(|a, b| a.name.cmp(&b.name));
        let apps: Vec<serde_json::Value> = apps.iter().map(|c| c.to_json()).collect();
        let mut st = json!({
            "phase": self.phase.as_str(),
            "conditions": self.conds.to_json(),
            "hostIP": self.host_ip,
            "hostIPs": [{"ip": self.host_ip}],
            "podIP": self.pod_ip,
            "podIPs": [{"ip": self.pod_ip}],
            "startTime": self.start_time,
            "qosClass": qos_class(&self.pod),
            "containerStatuses": apps,
        });
        if !init.is_empty() {
            st["initContainerStatuses"] = json!(init);
        }
        if !self.reason.is_empty() {
            st["reason"] = json!(self.reason);
            st["message"] = json!(self.message);
        }
        let mut meta = serde_json::to_value(&self.pod.metadata).unwrap_or_else(|_| json!({}));
        meta["creationTimestamp"] = json!(self.created);
        if let Some(d) = &self.deletion_timestamp {
            meta["deletionTimestamp"] = json!(d);
        }
        let ready = records.iter().filter(|c| c.kind == Kind::App && c.ready).count();
        let restarts: u32 = records.iter().map(|c| c.restart_count).sum();
        let display = status::display_status(
            self.phase,
            &self.reason,
            &records,
            self.deletion_timestamp.is_some() && !self.finished,
        );
        let doc = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": self.pod.spec,
            "status": st,
            "runp": {
                "display": display,
                "ready": format!("{ready}/{}", self.pod.spec.containers.len()),
                "restarts": restarts,
                "supervisor": !self.finished,
                "containerIDs": self.ctrs.iter().filter_map(|c| c.inst.as_ref().map(|i| json!({"name": c.spec.name, "id": i.oci_id}))).collect::<Vec<_>>(),
            },
        });
        // Written only when it changed: log lines wake the loop far more often than states change.
        let text = doc.to_string();
        if text != self.last_status {
            if let Err(e) = crate::runtime::state::write_atomic(&self.dir.status(), text.as_bytes(), 0o600) {
                log::warn!("writing pod status: {e:#}");
            }
            self.last_status = text;
        }
    }

    /// The loop. Returns the final phase.
    pub fn run(&mut self, sfd: &SignalFd, ready: Option<OwnedFd>) -> Result<Phase> {
        // Orphans of hook processes come to us to be reaped.
        crate::linux::process::become_subreaper();
        // Non-dumpable: our /proc entries (the fds into every container's namespaces) are
        // root's alone. Exec probes' CLONE_VM children would set it on our shared mm anyway.
        crate::linux::process::make_non_dumpable();
        let rec = SupervisorRecord {
            pid: std::process::id() as i32,
            start_time: crate::linux::process::stat(std::process::id() as i32).map(|s| s.start_time).unwrap_or(0),
        };
        self.dir.record_supervisor(&rec)?;
        self.listener = Some(control::listen(&self.dir.control())?);
        self.event(
            "Normal",
            "Scheduled",
            "",
            &format!(
                "Successfully assigned {}/{} to {}",
                self.pod.metadata.namespace,
                self.pod.metadata.name,
                self.pod.spec.node_name.as_deref().unwrap_or_default()
            ),
        );
        self.write_status();
        let setup = self.create_sandbox();
        if let Some(fd) = ready {
            let msg = match &setup {
                Ok(()) => "ok\n".to_string(),
                Err(e) => format!("{e:#}\n"),
            };
            let _ = nix::unistd::write(&fd, msg.as_bytes());
        }
        if let Err(e) = setup {
            self.event("Warning", "FailedCreatePodSandBox", "", &format!("Failed to create pod sandbox: {e:#}"));
            self.phase = Phase::Failed;
            self.finished = true;
            self.write_status();
            self.teardown();
            return Err(e);
        }
        self.advance();
        self.write_status();
        while !self.finished {
            // Log output wakes the loop far more often than anything changes: only the rest
            // is worth re-deciding and re-writing the status for.
            if self.poll_once(sfd)? {
                self.advance();
                self.write_status();
            }
        }
        self.teardown();
        self.write_status();
        Ok(self.phase)
    }

    fn next_timer(&self) -> Option<(Instant, Timer)> {
        // Among timers due at the same instant, an exec probe goes last: starting it holds the
        // loop until its process has exec'd, while the others only start a connect.
        let mut best: Option<(Instant, bool, Timer)> = None;
        let mut consider = |t: Instant, slow: bool, k: Timer| {
            if best.is_none_or(|(b, bslow, _)| (t, slow) < (b, bslow)) {
                best = Some((t, slow, k));
            }
        };
        for (i, c) in self.ctrs.iter().enumerate() {
            if let Some(t) = c.restart_at {
                consider(t, false, Timer::Restart(i));
            }
            if let Some((_, Run::Sleep { until })) = &c.hook {
                consider(*until, false, Timer::HookSleep(i));
            }
            if c.inst.is_some() {
                for (w, p) in c.probes.iter().enumerate() {
                    match &p.running {
                        Some(r) => consider(r.deadline, false, Timer::ProbeTimeout(i, w)),
                        None if !p.on_hold => {
                            let exec = matches!(p.probe.action(), Some(crate::spec::pod::Action::Exec(_)));
                            consider(p.next, exec, Timer::ProbeTick(i, w))
                        }
                        None => {}
                    }
                }
            }
            if let Some(s) = &c.stopping {
                if !s.signalled {
                    consider(s.deadline, false, Timer::Grace(i));
                }
                if let Some(k) = s.kill_at {
                    consider(k, false, Timer::Kill(i));
                }
            }
        }
        if let (Some(d), false) = (self.pod.spec.active_deadline_seconds, self.terminating.is_some()) {
            if d >= 0 {
                consider(crate::time::after(self.started_instant(), crate::time::secs(d)), false, Timer::Deadline);
            }
        }
        best.map(|(t, _, k)| (t, k))
    }

    fn started_instant(&self) -> Instant {
        self.started
    }

    /// Waits for and handles the next events; false when they were only log output.
    fn poll_once(&mut self, sfd: &SignalFd) -> Result<bool> {
        let timer = self.next_timer();
        let now = Instant::now();
        if let Some((t, k)) = timer {
            if t <= now {
                self.on_timer(k);
                let probe = matches!(k, Timer::ProbeTick(..) | Timer::ProbeTimeout(..));
                return Ok(!probe || std::mem::take(&mut self.probe_changed));
            }
        }
        let timeout = timer.map(|(t, _)| t.saturating_duration_since(now)).unwrap_or(Duration::from_secs(3600));
        // What each poll slot is.
        enum Slot {
            Signal,
            Listener,
            Log(usize, Stream),
            Hook(usize),
            Probe(usize, usize),
        }
        let mut slots: Vec<Slot> = vec![Slot::Signal];
        let mut fds = vec![nix::poll::PollFd::new(sfd.as_fd(), nix::poll::PollFlags::POLLIN)];
        if let Some(l) = &self.listener {
            slots.push(Slot::Listener);
            fds.push(nix::poll::PollFd::new(l.as_fd(), nix::poll::PollFlags::POLLIN));
        }
        for (i, c) in self.ctrs.iter().enumerate() {
            if let Some(inst) = &c.inst {
                if let Some(fd) = &inst.stdout {
                    slots.push(Slot::Log(i, Stream::Stdout));
                    fds.push(nix::poll::PollFd::new(fd.as_fd(), nix::poll::PollFlags::POLLIN));
                }
                if let Some(fd) = &inst.stderr {
                    slots.push(Slot::Log(i, Stream::Stderr));
                    fds.push(nix::poll::PollFd::new(fd.as_fd(), nix::poll::PollFlags::POLLIN));
                }
            }
            if let Some((_, run)) = &c.hook {
                if let Some((fd, ev)) = run.poll_fd() {
                    slots.push(Slot::Hook(i));
                    fds.push(nix::poll::PollFd::new(fd, ev));
                }
            }
            for (w, p) in c.probes.iter().enumerate() {
                if let Some((fd, ev)) = p.poll_fd() {
                    slots.push(Slot::Probe(i, w));
                    fds.push(nix::poll::PollFd::new(fd, ev));
                }
            }
        }
        let ms = timeout.as_millis().clamp(1, 3_600_000) as i32;
        let n = match nix::poll::poll(
            &mut fds,
            nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX),
        ) {
            Err(nix::errno::Errno::EINTR) => return Ok(false),
            r => r.context("poll")?,
        };
        if n == 0 {
            // A timer is due: the next call runs it.
            return Ok(false);
        }
        let ready: Vec<usize> = fds
            .iter()
            .enumerate()
            .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
            .map(|(i, _)| i)
            .collect();
        drop(fds);
        let mut changed = false;
        for i in ready {
            match slots[i] {
                Slot::Log(c, s) => self.on_log(c, s),
                Slot::Signal => changed |= self.on_signals(sfd),
                Slot::Listener => {
                    self.on_control();
                    changed = true;
                }
                Slot::Hook(c) => {
                    self.on_hook_io(c);
                    changed = true;
                }
                Slot::Probe(c, w) => self.probe_io(c, w),
            }
        }
        Ok(changed || std::mem::take(&mut self.probe_changed))
    }

    /// Handles pending signals; false when all they did was end probe processes.
    fn on_signals(&mut self, sfd: &SignalFd) -> bool {
        let mut changed = false;
        while let Ok(Some(info)) = sfd.read_signal() {
            match info.ssi_signo as i32 {
                libc::SIGCHLD => changed |= self.reap(),
                libc::SIGTERM | libc::SIGINT | libc::SIGHUP => {
                    let grace = self.pod.spec.termination_grace_period_seconds;
                    self.request_stop(grace, true);
                    changed = true;
                }
                _ => {}
            }
        }
        // A SIGCHLD may merge with others: always reap.
        changed | self.reap()
    }

    /// Reaps every exited child: containers, hook processes, pause, probe processes. True
    /// when something other than a probe process (or an orphan it left) ended.
    fn reap(&mut self) -> bool {
        use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
        let mut changed = false;
        loop {
            let (pid, code) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(p, c)) => (p.as_raw(), c),
                Ok(WaitStatus::Signaled(p, s, _)) => (p.as_raw(), 128 + s as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => return changed,
                Ok(_) => continue,
            };
            if self.pause.as_ref().is_some_and(|p| p.pid == pid) {
                self.on_pause_exit();
                changed = true;
                continue;
            }
            if let Some(i) = self.ctrs.iter().position(|c| c.inst.as_ref().is_some_and(|x| x.pid == pid)) {
                self.on_exit(i, code);
                changed = true;
                continue;
            }
            let probe = self.ctrs.iter().enumerate().find_map(|(i, c)| {
                c.probes.iter().position(|w| matches!(w.running.as_ref().map(|r| &r.check), Some(super::probe::worker::Check::Exec { pid: p, .. }) if *p == pid)).map(|w| (i, w))
            });
            if let Some((i, w)) = probe {
                self.probe_exited(i, w, code);
                continue;
            }
            if let Some(i) =
                self.ctrs.iter().position(|c| matches!(c.hook, Some((_, Run::Exec { pid: p }))  if p == pid))
            {
                let result = if code == 0 { Ok(()) } else { Err(anyhow::anyhow!("command exited with {code}")) };
                self.on_hook_done(i, result);
                changed = true;
            }
        }
    }

    fn on_log(&mut self, i: usize, s: Stream) {
        let Some(inst) = self.ctrs[i].inst.as_mut() else { return };
        let fd = match s {
            Stream::Stdout => &mut inst.stdout,
            Stream::Stderr => &mut inst.stderr,
        };
        let Some(f) = fd.as_ref() else { return };
        let mut buf = [0u8; 65536];
        // Drain what is there now; never block (the pipe is non-blocking).
        for _ in 0..16 {
            match nix::unistd::read(f, &mut buf) {
                Ok(0) => {
                    let _ = inst.log.finish(s);
                    *fd = None;
                    return;
                }
                Ok(n) => {
                    if let Err(e) = inst.log.write(s, &buf[..n]) {
                        log::warn!("writing log: {e:#}");
                    }
                }
                Err(nix::errno::Errno::EAGAIN) => return,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => {
                    *fd = None;
                    return;
                }
            }
        }
    }

    fn on_control(&mut self) {
        loop {
            let Some(Ok((s, _))) = self.listener.as_ref().map(|l| l.accept()) else { return };
            let _ = s.set_nonblocking(false);
            if !control::peer_allowed(&s) {
                let _ = control::write_reply(&s, &control::Reply { ok: false, error: "permission denied".into() });
                continue;
            }
            let reply = match control::read_request(&s) {
                Ok(control::Request::Ping) => control::Reply { ok: true, error: String::new() },
                Ok(control::Request::Stop { grace, force }) => {
                    let g = if force { 0 } else { grace.unwrap_or(self.pod.spec.termination_grace_period_seconds) };
                    self.request_stop(g, true);
                    control::Reply { ok: true, error: String::new() }
                }
                Err(e) => control::Reply { ok: false, error: format!("{e:#}") },
            };
            let _ = control::write_reply(&s, &reply);
        }
    }

    fn on_timer(&mut self, t: Timer) {
        match t {
            Timer::Restart(i) => {
                // The back-off ran out: the kubelet's doBackOff doubles the delay as it restarts.
                if let (Some(at), Some(d)) = (self.ctrs[i].restart_at.take(), self.ctrs[i].backoff.current()) {
                    let _ = self.ctrs[i].backoff.decide(&self.opts.backoff, at - d, Instant::now());
                }
                if self.terminating.is_none() {
                    self.start_container(i);
                }
            }
            Timer::HookSleep(i) => self.on_hook_done(i, Ok(())),
            Timer::Grace(i) => self.grace_expired(i),
            Timer::Kill(i) => self.kill_now(i),
            Timer::ProbeTick(i, w) => self.probe_tick(i, w),
            Timer::ProbeTimeout(i, w) => self.probe_timeout(i, w),
            Timer::Deadline => {
                self.reason = "DeadlineExceeded".into();
                self.message = "Pod was active on the node longer than the specified deadline".into();
                self.event(
                    "Normal",
                    "DeadlineExceeded",
                    "",
                    "Pod was active on the node longer than the specified deadline",
                );
                self.phase = Phase::Failed;
                let g = self.pod.spec.termination_grace_period_seconds;
                self.request_stop(g, false);
            }
        }
    }

    fn on_hook_io(&mut self, i: usize) {
        let result = match &mut self.ctrs[i].hook {
            Some((_, run)) => run.progress(),
            None => None,
        };
        if let Some(r) = result {
            self.on_hook_done(i, r);
        }
    }

    fn on_pause_exit(&mut self) {
        self.pause = None;
        if self.terminating.is_some() || self.finished {
            return;
        }
        self.event("Normal", "SandboxChanged", "", "Pod sandbox changed, it will be killed and re-created.");
        // Under Never, once containers have run, the kubelet does not build a new sandbox (L-35).
        if self.pod.spec.restart_policy == crate::spec::pod::RestartPolicy::Never
            && self.ctrs.iter().any(|c| c.instances > 0)
        {
            self.request_stop(0, false);
            return;
        }
        // Stop everything, then a new sandbox and the init containers from the first (L-34).
        self.resandbox = true;
        for i in 0..self.ctrs.len() {
            self.ctrs[i].restart_at = None;
            self.ctrs[i].hook = None;
            if self.ctrs[i].inst.is_some() {
                self.kill_now(i);
            }
        }
        self.recreate_sandbox();
    }
}

/// Guaranteed / Burstable / BestEffort.
fn qos_class(pod: &Pod) -> &'static str {
    let all: Vec<&Container> = pod.spec.all_containers().collect();
    if all.iter().all(|c| c.resources.limits.is_empty() && c.resources.requests.is_empty()) {
        return "BestEffort";
    }
    let guaranteed = all.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| {
            let l = c.resources.limits.get(*r);
            l.is_some() && c.resources.requests.get(*r).map(|q| q.milli_value()) == l.map(|q| q.milli_value())
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

impl Ctr {
    fn new(c: &Container, kind: Kind, field_path: String, waiting: &str) -> Ctr {
        Ctr {
            spec: c.clone(),
            kind,
            field_path,
            status: ContainerStatus::new(&c.name, kind, &c.image, waiting),
            inst: None,
            backoff: Backoff::default(),
            instances: 0,
            hook: None,
            stopping: None,
            restart_at: None,
            done: false,
            probes: Vec::new(),
            rerun: false,
        }
    }
}
