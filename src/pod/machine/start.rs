//! Starting containers: what may start now, what a start or an exit leads to (restart now,
//! CrashLoopBackOff, done for good), and postStart.

use super::super::backoff::{go_duration, Decision};
use super::super::probe::worker::Worker;
use super::super::status::{self, Kind, State, Terminated};
use super::container::{Hook, HookKind, HookPlan, Live};
use super::{Action, Machine, Now};
use crate::spec::pod::RestartPolicy;

impl Machine {
    /// Starts whatever may start now; finishes the pod when it is done.
    pub(super) fn advance(&mut self, now: Now) {
        if self.finished {
            return;
        }
        if self.terminating.is_some() {
            self.advance_termination(now);
            return;
        }
        if self.phase.is_terminal() {
            // Succeeded or Failed: stop whatever still runs (sidecars), then finish.
            self.request_stop(None, false, now);
            return;
        }
        if !self.sandbox_ready() {
            return;
        }
        // Init containers and sidecars, one at a time, in order, until the pod is initialized;
        // after that a sidecar that is down (restarting, or waiting for its startup probe)
        // holds nothing back.
        let initializing = !self.app_started || self.ctrs.iter().any(|c| c.rerun);
        for i in 0..self.ctrs.len() {
            let c = &self.ctrs[i];
            match c.spec.kind {
                Kind::App => break,
                Kind::Init if matches!(c.status.state, State::Terminated(ref t) if t.exit_code == 0) => continue,
                Kind::Sidecar if c.status.started => continue,
                Kind::Init | Kind::Sidecar => {
                    if c.may_start() {
                        self.start(i);
                    }
                    if initializing {
                        return;
                    }
                }
            }
        }
        // App containers in order, each after the previous one's postStart returned.
        for i in 0..self.ctrs.len() {
            let c = &self.ctrs[i];
            if c.spec.kind != Kind::App {
                continue;
            }
            if c.may_start() {
                self.start(i);
            }
            let c = &self.ctrs[i];
            let post_start_pending = c.spec.post_start.is_some() && matches!(c.live, Some(Live::Starting))
                || matches!(c.hook, Some(Hook { kind: HookKind::PostStart, .. }));
            if post_start_pending {
                return;
            }
        }
        // Never/OnFailure: once every app container is done for good, the pod completes
        // (sidecars are stopped; the phase comes from the app containers).
        let apps_done = self.ctrs.iter().filter(|c| c.spec.kind == Kind::App).all(|c| c.done);
        if apps_done && self.cfg.restart_policy != RestartPolicy::Always {
            self.request_stop(None, false, now);
        }
    }

    /// Asks for a new instance of container `i`.
    pub(super) fn start(&mut self, i: usize) {
        self.changed = true;
        let c = &mut self.ctrs[i];
        let n = c.instances;
        c.instances += 1;
        c.rerun = false;
        c.live = Some(Live::Starting);
        if n > 0 {
            c.status.restart_count += 1;
            if let State::Terminated(t) = &c.status.state {
                c.status.last_state = Some(t.clone());
            }
        }
        self.out.push(Action::StartContainer(i));
    }

    pub(super) fn on_started(&mut self, i: usize, container_id: String, now: Now) {
        let Some(c) = self.ctrs.get_mut(i) else { return };
        if !matches!(c.live, Some(Live::Starting)) {
            return;
        }
        self.changed = true;
        c.status.container_id = container_id;
        c.live = Some(Live::Up { started_at: now.stamp() });
        c.image.retry = false;
        let pulled = std::mem::take(&mut c.image.pulled);
        c.probes = c.spec.probes.iter().map(|(k, p)| Worker::new(*k, p, now.mono)).collect();
        let (fp, name, image) = (c.spec.field_path.clone(), c.spec.name.clone(), c.spec.image.clone());
        if !pulled {
            self.note(false, "Pulled", &fp, format!("Container image \"{image}\" already present on machine"));
        }
        self.note(false, "Created", &fp, format!("Created container: {name}"));
        self.note(false, "Started", &fp, format!("Started container {name}"));
        if self.ctrs[i].spec.kind == Kind::App {
            self.app_started = true;
        }
        if let Some(grace) = self.terminating {
            // A stop came while it was starting: it stops at once.
            self.mark_running(i);
            self.stop_container(i, grace, &format!("Stopping container {name}"), now);
            return;
        }
        if self.ctrs[i].spec.post_start.is_some() {
            self.start_hook(i, HookKind::PostStart, now);
        } else {
            self.mark_running(i);
        }
    }

    pub(super) fn on_start_failed(&mut self, i: usize, container_id: String, message: String, now: Now) {
        let Some(c) = self.ctrs.get_mut(i) else { return };
        if !matches!(c.live, Some(Live::Starting)) {
            return;
        }
        self.changed = true;
        c.live = None;
        c.image.retry = false;
        c.image.pulled = false;
        // A start that failed before it had an id keeps the last instance's.
        if !container_id.is_empty() {
            c.status.container_id = container_id;
        }
        let container_id = c.status.container_id.clone();
        let fp = c.spec.field_path.clone();
        self.note(true, "Failed", &fp, format!("Error: {message}"));
        let stamp = now.stamp();
        let t = Terminated {
            exit_code: 128,
            reason: "StartError".into(),
            message,
            started_at: stamp.clone(),
            finished_at: stamp,
            container_id,
        };
        self.after_exit(i, t, now);
    }

    pub(super) fn on_exited(&mut self, i: usize, code: i32, oom_killed: bool, message: String, now: Now) {
        let Some(c) = self.ctrs.get_mut(i) else { return };
        let Some(Live::Up { started_at }) = &c.live else { return };
        let started_at = started_at.clone();
        c.live = None;
        self.changed = true;
        let reason = if oom_killed && code != 0 {
            "OOMKilled"
        } else if code == 0 {
            "Completed"
        } else {
            "Error"
        };
        let t = Terminated {
            exit_code: code,
            reason: reason.into(),
            message,
            started_at,
            finished_at: now.stamp(),
            container_id: c.status.container_id.clone(),
        };
        self.after_exit(i, t, now);
    }

    /// Records a terminated instance and decides about a restart.
    fn after_exit(&mut self, i: usize, t: Terminated, now: Now) {
        self.cancel_hook(i);
        let c = &mut self.ctrs[i];
        c.live = None;
        c.stopping = None;
        if c.probes.iter().any(|w| w.in_flight.is_some()) {
            self.out.push(Action::CancelProbes(i));
        }
        let c = &mut self.ctrs[i];
        c.probes.clear();
        c.status.started = false;
        c.status.ready = c.spec.kind == Kind::Init && t.exit_code == 0;
        let code = t.exit_code;
        c.status.state = State::Terminated(t.clone());
        if self.terminating.is_some() || self.phase.is_terminal() {
            c.done = true;
            return;
        }
        if self.sandbox == super::Sandbox::Draining {
            self.recreate_when_drained();
            return;
        }
        let restart = match c.spec.kind {
            Kind::Sidecar => true,
            Kind::Init => code != 0 && self.cfg.restart_policy != RestartPolicy::Never,
            Kind::App => match self.cfg.restart_policy {
                RestartPolicy::Always => true,
                RestartPolicy::OnFailure => code != 0,
                RestartPolicy::Never => false,
            },
        };
        if !restart {
            c.done = true;
            if c.spec.kind == Kind::Init && code != 0 {
                // A regular init container failed under Never: the pod fails.
                self.request_stop(None, false, now);
            }
            return;
        }
        match c.backoff.decide(&self.cfg.backoff, now.mono, now.mono) {
            Decision::Now => self.start(i),
            Decision::At { when, delay } => {
                c.status.last_state = Some(t);
                c.status.state = State::Waiting {
                    reason: "CrashLoopBackOff".into(),
                    message: format!(
                        "back-off {} restarting failed container={} pod={}",
                        go_duration(delay),
                        c.spec.name,
                        self.cfg.pod_ref
                    ),
                };
                c.restart_at = Some(when);
                let fp = c.spec.field_path.clone();
                let msg = format!("Back-off restarting failed container {} in pod {}", c.spec.name, self.cfg.pod_ref);
                self.note(true, "BackOff", &fp, msg);
            }
        }
    }

    /// The back-off of container `i` ran out: the kubelet's doBackOff doubles the delay as it
    /// restarts.
    pub(super) fn restart_due(&mut self, i: usize, now: Now) {
        let c = &mut self.ctrs[i];
        if let (Some(at), Some(d)) = (c.restart_at.take(), c.backoff.current()) {
            let finished = at.checked_sub(d).unwrap_or(at);
            let _ = c.backoff.decide(&self.cfg.backoff, finished, now.mono);
        }
        if self.terminating.is_none() && self.sandbox_ready() {
            self.start(i);
        }
    }

    /// Running: the state shows it, started unless a startup probe must pass first.
    pub(super) fn mark_running(&mut self, i: usize) {
        let c = &mut self.ctrs[i];
        let Some(Live::Up { started_at }) = &c.live else { return };
        c.status.state = State::Running { started_at: started_at.clone() };
        c.status.started = c.spec.kind != Kind::Init && !c.has_startup_probe();
        self.update_ready(i);
    }

    /// Starts a postStart or preStop handler.
    pub(super) fn start_hook(&mut self, i: usize, kind: HookKind, now: Now) {
        let Some(plan) = self.ctrs[i].spec.hook(kind).cloned() else { return };
        match plan {
            HookPlan::Sleep(d) => {
                let until = crate::time::after(now.mono, d);
                self.ctrs[i].hook = Some(Hook { kind, until: Some(until) });
                if d.is_zero() {
                    self.hook_done(i, None, Ok(()), now);
                }
            }
            HookPlan::Run => {
                self.ctrs[i].hook = Some(Hook { kind, until: None });
                self.out.push(Action::RunHook(i, kind));
            }
            HookPlan::Invalid => {
                self.ctrs[i].hook = Some(Hook { kind, until: None });
                self.hook_done(i, None, Err("unsupported handler".into()), now);
            }
        }
    }

    /// Drops a running handler (the container stopped or is being stopped).
    pub(super) fn cancel_hook(&mut self, i: usize) {
        if let Some(h) = self.ctrs[i].hook.take() {
            if h.until.is_none() {
                self.out.push(Action::CancelHook(i));
            }
        }
    }

    /// A handler finished (`kind`: which one the answer is about; None for the machine's own
    /// sleep handlers). An answer about a handler that is no longer running is ignored.
    pub(super) fn hook_done(&mut self, i: usize, kind: Option<HookKind>, result: Result<(), String>, now: Now) {
        let Some(c) = self.ctrs.get_mut(i) else { return };
        if c.hook.is_none_or(|h| kind.is_some_and(|k| k != h.kind)) {
            return;
        }
        let Some(hook) = c.hook.take() else { return };
        self.changed = true;
        let fp = c.spec.field_path.clone();
        match (hook.kind, result) {
            (HookKind::PostStart, Ok(())) => self.mark_running(i),
            (HookKind::PostStart, Err(e)) => {
                log::debug!("postStart of {}: {e}", self.ctrs[i].spec.name);
                self.note(true, "FailedPostStartHook", &fp, "PostStartHook failed".into());
                let grace = crate::time::secs(self.cfg.grace_seconds.max(1));
                self.stop_container(i, grace, "FailedPostStartHook", now);
            }
            (HookKind::PreStop, r) => {
                if let Err(e) = r {
                    log::debug!("preStop of {}: {e}", self.ctrs[i].spec.name);
                    self.note(true, "FailedPreStopHook", &fp, "PreStopHook failed".into());
                }
                if self.ctrs[i].stopping.is_some_and(|s| !s.signalled) {
                    self.after_prestop(i, now);
                }
            }
        }
    }

    /// A new sandbox: everything runs again from the first init container, except app
    /// containers that finished for good (OnFailure, exit 0).
    pub(super) fn rerun_all(&mut self) {
        for c in &mut self.ctrs {
            if c.spec.kind == Kind::App && c.done {
                continue;
            }
            c.done = false;
            c.rerun = true;
            if c.spec.kind != Kind::App {
                if let State::Terminated(t) = &c.status.state {
                    c.status.last_state = Some(t.clone());
                }
                c.status.state = State::Waiting { reason: status::INITIALIZING.into(), message: String::new() };
            }
        }
    }
}
