//! The per-pod supervisor: one process, one thread, one poll loop over a signalfd (child exits,
//! SIGTERM/SIGINT), the control socket, the containers' log pipes and running handlers and
//! probe checks, with the machine's next timer as the poll timeout. It owns the pause process
//! and every container of the pod.
//!
//! What to do is decided by the [`Machine`] (pure, in `machine/`); this file is the loop that
//! turns what happens into its inputs and its actions into work: `containers.rs` (start,
//! exit, signals), `checks.rs` (handlers and probes), `sandbox.rs` (pause, volumes, teardown).

use super::backoff::BackoffConfig;
use super::control;
use super::events::Events;
use super::handlers::Run;
use super::images::Images;
use super::logs::{LogWriter, Stream};
use super::machine::{Action, HookKind, Input, Machine, Now};
use super::probe::worker::Check;
use super::record::{self, PodRecord};
use super::status::{self, ContainerStatus, Kind, Phase};
use super::store::{PodDir, SupervisorRecord};
use crate::linux::pause::Pause;
use crate::spec::pod::{Container, Pod};
use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::collections::{BTreeMap, VecDeque};
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

pub struct Supervisor {
    pub opts: Options,
    pub pod: Pod,
    pub dir: PodDir,
    pub images: Images,
    /// What the kubelet would do: the pod's lifecycle state.
    pub machine: Machine,
    /// The containers' specs, init containers first (the machine's order).
    pub specs: Vec<Container>,
    pub pause: Option<Pause>,
    /// Each container's live instance.
    pub insts: Vec<Option<Instance>>,
    /// Each container's running handler (exec, httpGet, tcpSocket).
    pub hooks: Vec<Option<(HookKind, Run)>>,
    /// Each container's probe checks in flight, by probe.
    pub checks: Vec<Vec<Option<Check>>>,
    pub events: Events,
    pub cgroup_parent: String,
    pub volumes: BTreeMap<String, PathBuf>,
    pub share_pid: bool,
    /// The node's address (hostIP) and the pod's (podIP: the host's with hostNetwork).
    pub host_ip: String,
    pub pod_ip: String,
    listener: Option<UnixListener>,
    last_status: String,
    /// RUNP_PROBE_TRACE's file, kept open (bench/probes.sh).
    pub probe_trace: Option<std::fs::File>,
    /// /dev/null, for the stdin of containers and exec probes.
    pub devnull: std::fs::File,
    /// Inputs waiting for the machine (answers to its actions come back here).
    inputs: VecDeque<Input>,
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
        let images = Images::open(&opts.image_dir)?;
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
        // lifecycle.stopSignal, else the image's STOPSIGNAL, else SIGTERM.
        let stop_signal = |c: &Container| {
            let name = c.lifecycle.as_ref().and_then(|l| l.stop_signal.clone()).or_else(|| {
                images.get(&c.image).ok().and_then(|r| r.config.exec().stop_signal).filter(|s| !s.is_empty())
            });
            name.and_then(|n| crate::spec::signal::parse(&n).ok()).unwrap_or(libc::SIGTERM)
        };
        let machine = Machine::new(&pod, opts.backoff, &stop_signal, Now::real());
        let specs: Vec<Container> = pod.spec.all_containers().cloned().collect();
        let n = specs.len();
        Ok(Supervisor {
            opts,
            pod,
            dir,
            images,
            machine,
            specs,
            pause: None,
            insts: (0..n).map(|_| None).collect(),
            hooks: (0..n).map(|_| None).collect(),
            checks: (0..n).map(|_| Vec::new()).collect(),
            events: Events::default(),
            cgroup_parent,
            volumes: BTreeMap::new(),
            share_pid,
            host_ip,
            pod_ip,
            listener: None,
            last_status: String::new(),
            probe_trace,
            devnull,
            inputs: VecDeque::new(),
        })
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

    /// Feeds the machine `input` and everything its actions answer; writes the status when
    /// something it shows changed.
    fn feed(&mut self, input: Input) {
        self.inputs.push_back(input);
        let mut changed = false;
        while let Some(input) = self.inputs.pop_front() {
            let step = self.machine.handle(input, Now::real());
            changed |= step.changed;
            for a in step.actions {
                if let Some(answer) = self.act(a) {
                    self.inputs.push_back(answer);
                }
            }
        }
        if changed {
            self.write_status();
        }
    }

    /// Carries out one action; the answer, when it has one now.
    fn act(&mut self, a: Action) -> Option<Input> {
        match a {
            Action::Record(n) => {
                self.event(if n.warning { "Warning" } else { "Normal" }, &n.reason, &n.field_path, &n.message);
                None
            }
            Action::StartContainer(i) => Some(self.start_container(i)),
            // Until runp has a registry client, every pull fails (an imported image is found
            // without one).
            Action::PullImage(i) => Some(self.pull_image(i)),
            Action::RunHook(i, kind) => self.run_hook(i, kind),
            Action::CancelHook(i) => {
                self.hooks[i] = None;
                None
            }
            Action::Signal(i, sig) => {
                self.signal_container(i, sig);
                None
            }
            Action::Kill(i) => {
                self.kill_container(i);
                None
            }
            Action::StartProbe { ctr, probe, late } => self.start_probe(ctr, probe, late),
            Action::ProbeTimedOut { ctr, probe } => Some(self.probe_timed_out(ctr, probe)),
            Action::CancelProbes(i) => {
                self.checks[i].clear();
                None
            }
            Action::RecreateSandbox => Some(match self.spawn_pause() {
                Ok(p) => {
                    self.pause = Some(p);
                    Input::SandboxReady
                }
                Err(e) => Input::SandboxFailed(format!("{e:#}")),
            }),
            Action::StopSandbox => {
                if let Some(p) = self.pause.take() {
                    p.stop(Duration::from_secs(2));
                }
                None
            }
        }
    }

    /// Pulls container `i`'s image from its registry, the answer for the machine. Pulls are
    /// serial and block the loop while they run, as the kubelet's default
    /// (serializeImagePulls) serializes them.
    fn pull_image(&mut self, i: usize) -> Input {
        use crate::image::registry;
        let image = self.specs[i].image.clone();
        let result = (|| {
            let r = crate::image::reference::Reference::parse(&image)
                .map_err(|e| anyhow::anyhow!("{}", e.kubelet_message(&image)))?;
            let opts = registry::PullOptions {
                auth: registry::auth::AuthFile::discover(None)?,
                progress: registry::progress::Mode::Quiet,
                ..registry::PullOptions::default()
            };
            registry::pull(self.images.store(), &r, &opts)
        })();
        match result {
            Ok(p) => Input::Pulled { ctr: i, size: p.size },
            Err(e) => Input::PullFailed { ctr: i, message: format!("{e:#}") },
        }
    }

    /// Writes status.json atomically when it changed.
    pub fn write_status(&mut self) {
        let text = self.record().to_json_text();
        if text != self.last_status {
            if let Err(e) = crate::runtime::state::write_atomic(&self.dir.status(), text.as_bytes(), 0o600) {
                log::warn!("writing pod status: {e:#}");
            }
            self.last_status = text;
        }
    }

    /// The pod record as it stands.
    pub fn record(&self) -> PodRecord {
        let m = &self.machine;
        let mut records: Vec<ContainerStatus> = m.statuses();
        status::cap_messages(&mut records);
        let (init, apps) = record::container_statuses(&records);
        let ready = records.iter().filter(|c| c.kind == Kind::App && c.ready).count();
        let restarts: u32 = records.iter().map(|c| c.restart_count).sum();
        let display = status::display_status(m.phase, &m.reason, &records, m.deleting(), m.initialized());
        let reason = (!m.reason.is_empty()).then(|| m.reason.clone());
        PodRecord {
            api_version: "v1".to_string(),
            kind: "Pod".to_string(),
            metadata: record::Metadata {
                meta: self.pod.metadata.clone(),
                creation_timestamp: m.created.clone(),
                deletion_timestamp: m.deletion_timestamp.clone(),
            },
            spec: self.pod.spec.clone(),
            status: record::PodStatus {
                phase: m.phase,
                conditions: record::conditions(&m.conds),
                host_ip: self.host_ip.clone(),
                host_ips: vec![record::Ip { ip: self.host_ip.clone() }],
                pod_ip: self.pod_ip.clone(),
                pod_ips: vec![record::Ip { ip: self.pod_ip.clone() }],
                start_time: m.created.clone(),
                qos_class: qos_class(&self.pod).to_string(),
                message: reason.as_ref().map(|_| m.message.clone()),
                reason,
                init_container_statuses: init,
                container_statuses: apps,
            },
            runp: record::Runp {
                display,
                ready: format!("{ready}/{}", self.pod.spec.containers.len()),
                restarts,
                supervisor: !m.finished,
                container_ids: self
                    .specs
                    .iter()
                    .zip(&self.insts)
                    .filter_map(|(c, i)| {
                        i.as_ref().map(|i| record::ContainerId { name: c.name.clone(), id: i.oci_id.clone() })
                    })
                    .collect(),
            },
        }
    }

    /// The loop. Returns the final phase.
    pub fn run(&mut self, sfd: &SignalFd, ready: Option<OwnedFd>) -> Result<Phase> {
        // Orphans of handler processes come to us to be reaped.
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
        let node = self.pod.spec.node_name.clone().unwrap_or_default();
        let m = &self.pod.metadata;
        let msg = format!("Successfully assigned {}/{} to {node}", m.namespace, m.name);
        self.event("Normal", "Scheduled", "", &msg);
        self.write_status();
        let setup = self.create_sandbox();
        if let Some(fd) = ready {
            let msg = match &setup {
                Ok(()) => "ok\n".to_string(),
                Err(e) => format!("{e:#}\n"),
            };
            let _ = nix::unistd::write(&fd, msg.as_bytes());
        }
        match &setup {
            Ok(()) => self.feed(Input::SandboxReady),
            Err(e) => self.feed(Input::SandboxFailed(format!("{e:#}"))),
        }
        if let Err(e) = setup {
            self.teardown();
            return Err(e);
        }
        while !self.machine.finished {
            self.poll_once(sfd)?;
        }
        self.teardown();
        self.write_status();
        Ok(self.machine.phase)
    }

    /// Waits for the next thing to happen and handles it.
    fn poll_once(&mut self, sfd: &SignalFd) -> Result<()> {
        let timer = self.machine.next_deadline();
        let now = Instant::now();
        if timer.is_some_and(|t| t <= now) {
            self.feed(Input::Tick);
            return Ok(());
        }
        let timeout = timer.map(|t| t.saturating_duration_since(now)).unwrap_or(Duration::from_secs(3600));
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
        for (i, inst) in self.insts.iter().enumerate() {
            if let Some(inst) = inst {
                for (fd, s) in [(&inst.stdout, Stream::Stdout), (&inst.stderr, Stream::Stderr)] {
                    if let Some(fd) = fd {
                        slots.push(Slot::Log(i, s));
                        fds.push(nix::poll::PollFd::new(fd.as_fd(), nix::poll::PollFlags::POLLIN));
                    }
                }
            }
            if let Some((fd, ev)) = self.hooks[i].as_ref().and_then(|(_, r)| r.poll_fd()) {
                slots.push(Slot::Hook(i));
                fds.push(nix::poll::PollFd::new(fd, ev));
            }
            for (w, c) in self.checks[i].iter().enumerate() {
                if let Some((fd, ev)) = c.as_ref().and_then(|c| c.poll_fd()) {
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
            Err(nix::errno::Errno::EINTR) => return Ok(()),
            r => r.context("poll")?,
        };
        if n == 0 {
            // A timer is due: the next call runs it.
            return Ok(());
        }
        let ready: Vec<usize> = fds
            .iter()
            .enumerate()
            .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
            .map(|(i, _)| i)
            .collect();
        drop(fds);
        for i in ready {
            let input = match slots[i] {
                Slot::Log(c, s) => {
                    self.on_log(c, s);
                    None
                }
                Slot::Signal => {
                    self.on_signals(sfd);
                    None
                }
                Slot::Listener => {
                    self.on_control();
                    None
                }
                Slot::Hook(c) => self.hook_io(c),
                Slot::Probe(c, w) => self.probe_io(c, w),
            };
            if let Some(input) = input {
                self.feed(input);
            }
        }
        Ok(())
    }

    /// Handles pending signals.
    fn on_signals(&mut self, sfd: &SignalFd) {
        while let Ok(Some(info)) = sfd.read_signal() {
            match info.ssi_signo as i32 {
                libc::SIGCHLD => self.reap(),
                libc::SIGTERM | libc::SIGINT | libc::SIGHUP => self.feed(Input::Stop { grace: None }),
                _ => {}
            }
        }
        // A SIGCHLD may merge with others: always reap.
        self.reap();
    }

    /// Reaps every exited child: containers, handler processes, pause, probe processes (and
    /// orphans of any of them, as we are a subreaper). What ended together is seen together,
    /// the sandbox first: killing pause kills its PID namespace, and the pod must see a lost
    /// sandbox, not containers that merely exited. Pause, as that namespace's init, cannot be
    /// reaped before its containers are: when containers exit while pause is exiting, the
    /// sandbox is lost now (its own exit, reaped later, then means nothing).
    fn reap(&mut self) {
        use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
        let mut inputs = Vec::new();
        loop {
            let (pid, code) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(p, c)) => (p.as_raw(), c),
                Ok(WaitStatus::Signaled(p, s, _)) => (p.as_raw(), 128 + s as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            };
            inputs.extend(self.exited(pid, code));
        }
        let containers_ended = inputs.iter().any(|i| matches!(i, Input::Exited { .. }));
        if containers_ended && self.pause.as_ref().is_some_and(|p| crate::linux::process::is_exiting(p.pid)) {
            self.pause = None;
            inputs.push(Input::SandboxDied);
        }
        inputs.sort_by_key(|i| !matches!(i, Input::SandboxDied));
        for input in inputs {
            self.feed(input);
        }
    }

    /// Whose process `pid` was, and what its end means.
    fn exited(&mut self, pid: i32, code: i32) -> Option<Input> {
        if self.pause.as_ref().is_some_and(|p| p.pid == pid) {
            self.pause = None;
            return Some(Input::SandboxDied);
        }
        if let Some(i) = self.insts.iter().position(|x| x.as_ref().is_some_and(|x| x.pid == pid)) {
            return self.collect_exit(i, code);
        }
        for i in 0..self.checks.len() {
            let w = self.checks[i].iter().position(|c| matches!(c, Some(Check::Exec { pid: p, .. }) if *p == pid));
            if let Some(w) = w {
                return self.probe_exited(i, w, code);
            }
        }
        let i = self.hooks.iter().position(|h| matches!(h, Some((_, Run::Exec { pid: p })) if *p == pid))?;
        let (kind, _) = self.hooks[i].take()?;
        let result = if code == 0 { Ok(()) } else { Err(format!("command exited with {code}")) };
        Some(Input::HookDone { ctr: i, kind, result })
    }

    fn on_log(&mut self, i: usize, s: Stream) {
        let Some(inst) = self.insts[i].as_mut() else { return };
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
                    self.feed(Input::Stop { grace: if force { Some(0) } else { grace } });
                    control::Reply { ok: true, error: String::new() }
                }
                Err(e) => control::Reply { ok: false, error: format!("{e:#}") },
            };
            let _ = control::write_reply(&s, &reply);
        }
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
