//! The pod's lifecycle as a state machine with no I/O: what the kubelet would do next.
//!
//! The supervisor feeds it [`Input`]s (a container started or exited, a handler or probe
//! finished, the sandbox died, a stop was asked, time passed) with the time they happened
//! ([`Now`]), and carries out the [`Action`]s it returns (start a container, run a handler,
//! send a signal, start a probe check, record an event). Every action that can succeed or fail
//! comes back as an input. Timers are the machine's own: the supervisor sleeps until
//! [`Machine::next_deadline`] and then feeds [`Input::Tick`].
//!
//! The rules it follows are in docs/pod-lifecycle.md: init containers one at a time, sidecars
//! started in order before the app containers, app containers in order (each after its
//! postStart), restarts with CrashLoopBackOff, probes, termination (preStop, the stop signal,
//! SIGKILL when the grace ends, sidecars last in reverse order) and sandbox re-creation.
//!
//! Files: `container.rs` one container's state and what it is made from, `start.rs` starting
//! and restarting, `stop.rs` termination and sandbox loss, `probes.rs` probe results,
//! `timers.rs` the timers, `tests.rs` the rules, with a fake clock.

mod container;
mod images;
mod probes;
mod start;
mod stop;
mod timers;

#[cfg(test)]
mod tests;

pub use container::{Ctr, CtrSpec, HookKind, HookPlan};

use super::backoff::BackoffConfig;
use super::probe::worker::Verdict;
use super::status::{self, Conditions, ContainerStatus, Kind, Phase};
use crate::spec::pod::{Container, Pod, RestartPolicy};
use std::time::{Duration, Instant, SystemTime};

/// The time an input happened, on both clocks: timers use the monotonic one, the status shows
/// the wall clock. Tests make their own.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub mono: Instant,
    pub wall: SystemTime,
}

impl Now {
    pub fn real() -> Now {
        Now { mono: Instant::now(), wall: SystemTime::now() }
    }

    /// RFC 3339 in seconds, as the status shows times.
    pub fn stamp(&self) -> String {
        crate::time::rfc3339(self.wall)
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The sandbox (pause) exists: the first one, or the one [`Action::RecreateSandbox`] asked for.
    SandboxReady,
    /// Creating the sandbox failed.
    SandboxFailed(String),
    /// The pause process died.
    SandboxDied,
    /// [`Action::StartContainer`] worked: the container runs under this id.
    Started { ctr: usize, container_id: String },
    /// [`Action::StartContainer`] failed (the id, if one was given, is shown in the status).
    StartFailed { ctr: usize, container_id: String, message: String },
    /// A container's main process exited (128 + n when killed by signal n); `message` is its
    /// termination message.
    Exited { ctr: usize, exit_code: i32, oom_killed: bool, message: String },
    /// A postStart or preStop handler [`Action::RunHook`] started has finished.
    HookDone { ctr: usize, kind: HookKind, result: Result<(), String> },
    /// A probe check [`Action::StartProbe`] started has a verdict.
    ProbeDone { ctr: usize, probe: usize, verdict: Verdict },
    /// Terminate the pod (a deletion: `pod stop`, `pod rm`, SIGTERM), with this grace in
    /// seconds or the pod's terminationGracePeriodSeconds.
    Stop { grace: Option<i64> },
    /// Time passed: run the timers that are due.
    Tick,
    /// [`Action::StartContainer`] found no such image in the store.
    ImageMissing { ctr: usize },
    /// [`Action::StartContainer`]: `image:` is not a valid reference (InvalidImageName).
    ImageInvalid { ctr: usize, reason: String, message: String },
    /// [`Action::StartContainer`]: the container cannot be configured from its image
    /// (CreateContainerConfigError: runAsNonRoot, an unknown USER).
    ConfigError { ctr: usize, message: String },
    /// [`Action::PullImage`] worked: the image (`size` bytes) is in the store.
    Pulled { ctr: usize, size: u64 },
    /// [`Action::PullImage`] failed.
    PullFailed { ctr: usize, message: String },
}

/// What to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Record an event (`kubectl describe` shows them).
    Record(Note),
    /// Create and start an instance of container `.0`; answer with Started or StartFailed (or
    /// ImageMissing, ImageInvalid, ConfigError when it did not get as far as an instance).
    StartContainer(usize),
    /// Pull container `.0`'s image; answer with Pulled or PullFailed.
    PullImage(usize),
    /// Run container `.0`'s handler (exec, httpGet or tcpSocket; sleep handlers are timers
    /// here); answer with HookDone.
    RunHook(usize, HookKind),
    /// Drop container `.0`'s running handler without waiting for it.
    CancelHook(usize),
    /// Send this signal to container `.0`'s main process.
    Signal(usize, i32),
    /// SIGKILL every process of container `.0`.
    Kill(usize),
    /// Start a check of probe `probe` of container `ctr` (`late`: how long after its tick);
    /// answer with ProbeDone.
    StartProbe { ctr: usize, probe: usize, late: Duration },
    /// The check ran past timeoutSeconds: stop it and answer ProbeDone with a failure.
    ProbeTimedOut { ctr: usize, probe: usize },
    /// Drop every check in flight for container `.0` (its instance is gone).
    CancelProbes(usize),
    /// Make a new sandbox; answer with SandboxReady or SandboxFailed.
    RecreateSandbox,
    /// Stop the pause process: the pod is done.
    StopSandbox,
}

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: String,
    /// `spec.containers{name}`; empty for the pod itself.
    pub field_path: String,
    pub message: String,
}

/// What one input led to.
#[derive(Debug, Default)]
pub struct Step {
    pub actions: Vec<Action>,
    /// Something the status shows may have changed. Probe ticks and results that do not move
    /// a stored result leave it false: they are frequent and change nothing visible.
    pub changed: bool,
}

/// The pod-level settings the machine decides with.
#[derive(Debug, Clone)]
pub struct Config {
    pub restart_policy: RestartPolicy,
    /// terminationGracePeriodSeconds.
    pub grace_seconds: i64,
    pub active_deadline_seconds: Option<i64>,
    pub backoff: BackoffConfig,
    /// The image pull back-off (the kubelet's: 10 s doubling to 300 s).
    pub image_backoff: BackoffConfig,
    /// `name_namespace(uid)`, as kubelet messages name the pod.
    pub pod_ref: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sandbox {
    /// Not made yet.
    Absent,
    Ready,
    /// Pause died: the containers are being killed before a new one is made.
    Draining,
    /// [`Action::RecreateSandbox`] was asked.
    Creating,
    /// Gone for good (the pod is finishing or finished).
    Gone,
}

/// One pod's lifecycle state.
pub struct Machine {
    cfg: Config,
    pub ctrs: Vec<Ctr>,
    pub phase: Phase,
    /// The pod's status reason and message (DeadlineExceeded).
    pub reason: String,
    pub message: String,
    pub conds: Conditions,
    /// metadata.creationTimestamp and status.startTime.
    pub created: String,
    /// status.startTime as a monotonic instant: activeDeadlineSeconds counts from it.
    started: Instant,
    /// The pod is terminating, with this grace for containers started meanwhile.
    terminating: Option<Duration>,
    pub deletion_timestamp: Option<String>,
    /// Everything has stopped: the supervisor tears down and exits.
    pub finished: bool,
    /// An app container has been started (the pod is initialized from then on).
    pub app_started: bool,
    sandbox: Sandbox,
    out: Vec<Action>,
    changed: bool,
}

impl Machine {
    /// `stop_signal` gives a container's stop signal (lifecycle.stopSignal, else the image's,
    /// else SIGTERM).
    pub fn new(pod: &Pod, backoff: BackoffConfig, stop_signal: &dyn Fn(&Container) -> i32, now: Now) -> Machine {
        let s = &pod.spec;
        let has_init = !s.init_containers.is_empty();
        let mut ctrs = Vec::new();
        for c in &s.init_containers {
            let kind = if c.is_sidecar() { Kind::Sidecar } else { Kind::Init };
            let field = format!("spec.initContainers{{{}}}", c.name);
            ctrs.push(Ctr::new(CtrSpec::new(c, kind, field, stop_signal(c)), status::INITIALIZING));
        }
        for c in &s.containers {
            let waiting = if has_init { status::INITIALIZING } else { status::CREATING };
            let field = format!("spec.containers{{{}}}", c.name);
            ctrs.push(Ctr::new(CtrSpec::new(c, Kind::App, field, stop_signal(c)), waiting));
        }
        let m = &pod.metadata;
        let cfg = Config {
            restart_policy: s.restart_policy,
            grace_seconds: s.termination_grace_period_seconds,
            active_deadline_seconds: s.active_deadline_seconds,
            backoff,
            image_backoff: BackoffConfig::default(),
            pod_ref: format!("{}_{}({})", m.name, m.namespace, m.uid),
        };
        let mut machine = Machine {
            cfg,
            ctrs,
            phase: Phase::Pending,
            reason: String::new(),
            message: String::new(),
            conds: Conditions::default(),
            created: now.stamp(),
            started: now.mono,
            terminating: None,
            deletion_timestamp: None,
            finished: false,
            app_started: false,
            sandbox: Sandbox::Absent,
            out: Vec::new(),
            changed: false,
        };
        machine.refresh(now);
        machine
    }

    /// Takes one input and says what to do.
    pub fn handle(&mut self, input: Input, now: Now) -> Step {
        self.changed = false;
        if !self.finished {
            match input {
                Input::SandboxReady => self.on_sandbox_ready(),
                Input::SandboxFailed(message) => self.on_sandbox_failed(&message, now),
                Input::SandboxDied => self.on_sandbox_died(now),
                Input::Started { ctr, container_id } => self.on_started(ctr, container_id, now),
                Input::StartFailed { ctr, container_id, message } => {
                    self.on_start_failed(ctr, container_id, message, now)
                }
                Input::Exited { ctr, exit_code, oom_killed, message } => {
                    self.on_exited(ctr, exit_code, oom_killed, message, now)
                }
                Input::HookDone { ctr, kind, result } => self.hook_done(ctr, Some(kind), result, now),
                Input::ProbeDone { ctr, probe, verdict } => self.probe_done(ctr, probe, verdict, now),
                Input::Stop { grace } => {
                    self.changed = true;
                    self.request_stop(grace, true, now);
                }
                Input::Tick => self.run_timers(now),
                Input::ImageMissing { ctr } => self.on_image_missing(ctr, now),
                Input::ImageInvalid { ctr, reason, message } => self.on_image_invalid(ctr, reason, message, now),
                Input::ConfigError { ctr, message } => self.on_config_error(ctr, message, now),
                Input::Pulled { ctr, size } => self.on_pulled(ctr, size, now),
                Input::PullFailed { ctr, message } => self.on_pull_failed(ctr, message, now),
            }
            if self.changed {
                self.advance(now);
            }
        }
        if self.changed {
            self.refresh(now);
        }
        Step { actions: std::mem::take(&mut self.out), changed: self.changed }
    }

    /// The sandbox is up for containers to join.
    pub fn sandbox_ready(&self) -> bool {
        self.sandbox == Sandbox::Ready
    }

    /// Deletion asked and not yet done (kubectl shows Terminating).
    pub fn deleting(&self) -> bool {
        self.deletion_timestamp.is_some() && !self.finished
    }

    /// The Initialized condition.
    pub fn initialized(&self) -> bool {
        self.conds.get("Initialized").is_some_and(|c| c.status)
    }

    /// Container statuses, init (and sidecar) containers first, in spec order.
    pub fn statuses(&self) -> Vec<ContainerStatus> {
        self.ctrs.iter().map(|c| c.status.clone()).collect()
    }

    fn note(&mut self, warning: bool, reason: &str, field_path: &str, message: String) {
        self.out.push(Action::Record(Note {
            warning,
            reason: reason.to_string(),
            field_path: field_path.to_string(),
            message,
        }));
    }

    /// Phase and conditions from the container states (the kubelet's getPhase and condition
    /// rules); a terminal phase sticks.
    fn refresh(&mut self, now: Now) {
        let records = self.statuses();
        if !self.phase.is_terminal() {
            self.phase = status::phase(&records, self.cfg.restart_policy.as_str(), self.finished, self.app_started);
        }
        let stamp = now.stamp();
        status::update_conditions(&mut self.conds, &records, self.phase, self.app_started, &stamp);
        let sandbox_ready = self.sandbox == Sandbox::Ready && !self.finished;
        self.conds.set("PodReadyToStartContainers", sandbox_ready, "", "", &stamp);
        let created = self.created.clone();
        self.conds.set("PodScheduled", true, "", "", &created);
    }

    fn on_sandbox_ready(&mut self) {
        self.changed = true;
        match self.sandbox {
            Sandbox::Absent => self.sandbox = Sandbox::Ready,
            Sandbox::Creating => {
                self.sandbox = Sandbox::Ready;
                self.rerun_all();
            }
            _ => {}
        }
    }

    fn on_sandbox_failed(&mut self, message: &str, now: Now) {
        self.changed = true;
        self.note(true, "FailedCreatePodSandBox", "", format!("Failed to create pod sandbox: {message}"));
        if self.sandbox == Sandbox::Absent {
            // Nothing ever ran: the pod fails as it is.
            self.sandbox = Sandbox::Gone;
            self.phase = Phase::Failed;
            self.finished = true;
            return;
        }
        self.sandbox = Sandbox::Gone;
        self.request_stop(Some(0), false, now);
    }
}
