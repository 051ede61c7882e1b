//! One container in the machine: what it is made from (its spec, reduced to what decisions
//! need) and where it is in its life.

use super::super::backoff::Backoff;
use super::super::probe::worker::{self, Kind as ProbeKind, Worker};
use super::super::status::{ContainerStatus, Kind, State};
use crate::spec::pod::PullPolicy;
use crate::spec::pod::{Action, Container, LifecycleHandler, Probe};
use std::time::{Duration, Instant};

/// Which handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    PostStart,
    PreStop,
}

/// How a handler runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookPlan {
    /// A sleep handler: a timer of the machine.
    Sleep(Duration),
    /// exec, httpGet or tcpSocket: the supervisor runs it.
    Run,
    /// A handler with no action: it fails when it runs.
    Invalid,
}

impl HookPlan {
    fn of(h: &LifecycleHandler) -> HookPlan {
        match h.action() {
            Some(Action::Sleep(s)) => HookPlan::Sleep(crate::time::secs(s.seconds)),
            Some(Action::Exec(_) | Action::HttpGet(_) | Action::TcpSocket(_)) => HookPlan::Run,
            _ => HookPlan::Invalid,
        }
    }
}

/// What the machine knows of a container's spec.
#[derive(Debug, Clone)]
pub struct CtrSpec {
    pub name: String,
    pub image: String,
    pub kind: Kind,
    /// `spec.initContainers{name}` or `spec.containers{name}`, for events.
    pub field_path: String,
    pub post_start: Option<HookPlan>,
    pub pre_stop: Option<HookPlan>,
    pub stop_signal: i32,
    pub probes: Vec<(ProbeKind, Probe)>,
    pub pull_policy: PullPolicy,
}

impl CtrSpec {
    pub fn new(c: &Container, kind: Kind, field_path: String, stop_signal: i32) -> CtrSpec {
        let lc = c.lifecycle.as_ref();
        CtrSpec {
            name: c.name.clone(),
            image: c.image.clone(),
            kind,
            field_path,
            post_start: lc.and_then(|l| l.post_start.as_ref()).map(HookPlan::of),
            pre_stop: lc.and_then(|l| l.pre_stop.as_ref()).map(HookPlan::of),
            stop_signal,
            probes: worker::probes_of(c),
            pull_policy: c
                .image_pull_policy
                .unwrap_or_else(|| crate::spec::pod::defaults::default_pull_policy(&c.image)),
        }
    }

    pub fn hook(&self, kind: HookKind) -> Option<&HookPlan> {
        match kind {
            HookKind::PostStart => self.post_start.as_ref(),
            HookKind::PreStop => self.pre_stop.as_ref(),
        }
    }
}

/// The current instance.
#[derive(Debug, Clone)]
pub(super) enum Live {
    /// StartContainer was asked; the answer has not come yet.
    Starting,
    Up {
        started_at: String,
    },
}

/// A handler in progress.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hook {
    pub kind: HookKind,
    /// A sleep handler's end; None while the supervisor runs it.
    pub until: Option<Instant>,
}

/// Stopping one container: the grace and where we are in it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stopping {
    /// Where the grace ends: the stop signal goes out then at the latest.
    pub deadline: Instant,
    pub signalled: bool,
    /// SIGKILL then.
    pub kill_at: Option<Instant>,
}

/// One container of the pod.
#[derive(Debug, Clone)]
pub struct Ctr {
    pub spec: CtrSpec,
    pub status: ContainerStatus,
    pub(super) live: Option<Live>,
    pub(super) backoff: Backoff,
    /// Instances started so far.
    pub(super) instances: u32,
    pub(super) hook: Option<Hook>,
    pub(super) stopping: Option<Stopping>,
    pub(super) restart_at: Option<Instant>,
    /// Finished for good (no more restarts).
    pub(super) done: bool,
    /// Run again in a new sandbox.
    pub(super) rerun: bool,
    /// Probe workers of the current instance.
    pub probes: Vec<Worker>,
    /// Waiting for the image (see `machine/images.rs`).
    pub(super) image: ImageWait,
}

/// Where a container is with its image.
#[derive(Debug, Clone, Default)]
pub(super) struct ImageWait {
    /// [`super::Action::PullImage`] was asked, at this time.
    pub pulling: Option<Instant>,
    /// Try to start again then (after a pull failure's back-off, or a resync).
    pub retry_at: Option<Instant>,
    /// ErrImagePull turns into ImagePullBackOff then.
    pub show_backoff_at: Option<Instant>,
    /// The pull back-off, separate from the restart back-off.
    pub backoff: Backoff,
    /// An attempt did not get as far as an instance: the container may start again although
    /// it has run before.
    pub retry: bool,
    /// The image was just pulled: no "already present" event for this start.
    pub pulled: bool,
}

impl Ctr {
    pub(super) fn new(spec: CtrSpec, waiting: &str) -> Ctr {
        Ctr {
            status: ContainerStatus::new(&spec.name, spec.kind, &spec.image, waiting),
            spec,
            live: None,
            backoff: Backoff::default(),
            instances: 0,
            hook: None,
            stopping: None,
            restart_at: None,
            done: false,
            rerun: false,
            probes: Vec::new(),
            image: ImageWait::default(),
        }
    }

    /// The number of the current (or last) instance: 0 for the first.
    pub fn instance(&self) -> u32 {
        self.instances.saturating_sub(1)
    }

    /// Has an instance (starting or running).
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// Has a running instance.
    pub fn is_up(&self) -> bool {
        matches!(self.live, Some(Live::Up { .. }))
    }

    pub(super) fn is_running_state(&self) -> bool {
        matches!(self.status.state, State::Running { .. })
    }

    /// May start now: not running, no restart pending, and never run (or to run again).
    pub(super) fn may_start(&self) -> bool {
        self.live.is_none()
            && self.restart_at.is_none()
            && self.image.pulling.is_none()
            && self.image.retry_at.is_none()
            && (self.instances == 0 || self.rerun || self.image.retry)
    }

    pub(super) fn has_startup_probe(&self) -> bool {
        self.probes.iter().any(|w| w.kind == ProbeKind::Startup)
    }
}
