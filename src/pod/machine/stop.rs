//! Termination: the pod's (every container, sidecars last in reverse order, then the sandbox)
//! and one container's (the kubelet's killContainer: Killing, preStop within the grace, the stop
//! signal, SIGKILL when the grace ends but at least 2 s after the signal); and losing the
//! sandbox (kill everything, make a new one, run again from the first init container).

use super::super::status::{self, Kind, Phase};
use super::container::{HookKind, Stopping};
use super::{Action, Machine, Now, Sandbox};
use crate::spec::pod::RestartPolicy;
use std::time::Duration;

/// The kubelet's minimum time between the stop signal and SIGKILL.
const MIN_KILL_DELAY: Duration = Duration::from_secs(2);

impl Machine {
    /// Terminates the pod with `grace` seconds (None: terminationGracePeriodSeconds; 0 is
    /// still 1 s, plus the 2 s minimum before SIGKILL).
    pub(super) fn request_stop(&mut self, grace: Option<i64>, deletion: bool, now: Now) {
        if self.terminating.is_some() || self.finished {
            return;
        }
        self.changed = true;
        let grace = crate::time::secs(grace.unwrap_or(self.cfg.grace_seconds).max(1));
        self.terminating = Some(grace);
        if deletion {
            self.deletion_timestamp = Some(now.stamp());
        }
        for c in &mut self.ctrs {
            c.restart_at = None;
        }
        for i in 0..self.ctrs.len() {
            if self.ctrs[i].is_up() {
                let msg = format!("Stopping container {}", self.ctrs[i].spec.name);
                self.stop_container(i, grace, &msg, now);
            }
        }
        // Nothing running (or everything already signalled): finish now.
        self.advance_termination(now);
    }

    /// Stops container `i`: Killing event, preStop within the grace, then the stop signal.
    pub(super) fn stop_container(&mut self, i: usize, grace: Duration, message: &str, now: Now) {
        if self.ctrs[i].stopping.is_some() || !self.ctrs[i].is_up() {
            return;
        }
        self.changed = true;
        let fp = self.ctrs[i].spec.field_path.clone();
        self.note(false, "Killing", &fp, message.to_string());
        self.cancel_hook(i);
        let deadline = crate::time::after(now.mono, grace);
        self.ctrs[i].stopping = Some(Stopping { deadline, signalled: false, kill_at: None });
        if self.ctrs[i].spec.pre_stop.is_some() && !grace.is_zero() {
            self.start_hook(i, HookKind::PreStop, now);
        } else {
            self.after_prestop(i, now);
        }
    }

    pub(super) fn after_prestop(&mut self, i: usize, now: Now) {
        if self.ctrs[i].spec.kind == Kind::Sidecar && self.terminating.is_some() && !self.sidecar_turn(i) {
            return; // advance_termination signals it when its turn comes
        }
        self.send_stop_signal(i, now);
    }

    /// A sidecar stops after every app container and every later sidecar has exited.
    fn sidecar_turn(&self, i: usize) -> bool {
        self.ctrs
            .iter()
            .enumerate()
            .all(|(j, c)| !c.is_live() || !(c.spec.kind == Kind::App || (c.spec.kind == Kind::Sidecar && j > i)))
    }

    /// The stop signal, and SIGKILL scheduled for when the grace ends.
    pub(super) fn send_stop_signal(&mut self, i: usize, now: Now) {
        let sig = self.ctrs[i].spec.stop_signal;
        let Some(s) = self.ctrs[i].stopping.as_mut() else { return };
        if s.signalled {
            return;
        }
        s.signalled = true;
        // What is left of the grace: the whole seconds not used (so rounded up), at least 2 s.
        let left = s.deadline.saturating_duration_since(now.mono);
        let left = Duration::from_secs(left.as_secs() + u64::from(left.subsec_nanos() > 0));
        s.kill_at = Some(crate::time::after(now.mono, left.max(MIN_KILL_DELAY)));
        self.out.push(Action::Signal(i, sig));
    }

    /// SIGKILL to every process of the container.
    pub(super) fn kill_now(&mut self, i: usize) {
        if let Some(s) = self.ctrs[i].stopping.as_mut() {
            s.kill_at = None;
        }
        if self.ctrs[i].is_up() {
            self.out.push(Action::Kill(i));
        }
    }

    /// Signals sidecars whose turn came; finishes the pod once nothing runs.
    pub(super) fn advance_termination(&mut self, now: Now) {
        for i in (0..self.ctrs.len()).rev() {
            let c = &self.ctrs[i];
            if c.spec.kind == Kind::Sidecar
                && c.is_up()
                && c.hook.is_none()
                && c.stopping.is_some_and(|s| !s.signalled)
                && self.sidecar_turn(i)
            {
                self.send_stop_signal(i, now);
            }
        }
        if self.ctrs.iter().any(|c| c.is_live()) {
            return;
        }
        self.changed = true;
        self.finished = true;
        for c in &mut self.ctrs {
            if c.spec.kind == Kind::App && c.instances == 0 {
                c.done = true;
            }
        }
        if matches!(self.sandbox, Sandbox::Ready | Sandbox::Creating) {
            self.out.push(Action::StopSandbox);
        }
        self.sandbox = Sandbox::Gone;
        if !self.phase.is_terminal() {
            // The final phase: Succeeded iff every app container's last exit was 0.
            let records = self.statuses();
            let p = status::phase(&records, self.cfg.restart_policy.as_str(), true, self.app_started);
            self.phase = if p.is_terminal() { p } else { Phase::Failed };
        }
    }

    /// activeDeadlineSeconds passed.
    pub(super) fn deadline_exceeded(&mut self, now: Now) {
        self.changed = true;
        let message = "Pod was active on the node longer than the specified deadline";
        self.reason = "DeadlineExceeded".into();
        self.message = message.into();
        self.note(false, "DeadlineExceeded", "", message.into());
        self.phase = Phase::Failed;
        self.request_stop(None, false, now);
    }

    pub(super) fn on_sandbox_died(&mut self, now: Now) {
        self.changed = true;
        let was = self.sandbox;
        self.sandbox = Sandbox::Gone;
        if self.terminating.is_some() || was != Sandbox::Ready {
            return;
        }
        self.note(false, "SandboxChanged", "", "Pod sandbox changed, it will be killed and re-created.".into());
        // Under Never, once containers have run, the kubelet makes no new sandbox.
        if self.cfg.restart_policy == RestartPolicy::Never && self.ctrs.iter().any(|c| c.instances > 0) {
            self.request_stop(Some(0), false, now);
            return;
        }
        // Stop everything, then a new sandbox and the init containers from the first.
        self.sandbox = Sandbox::Draining;
        for i in 0..self.ctrs.len() {
            self.ctrs[i].restart_at = None;
            self.cancel_hook(i);
            self.kill_now(i);
        }
        self.recreate_when_drained();
    }

    /// Once every container of a dead sandbox has stopped: ask for a new one.
    pub(super) fn recreate_when_drained(&mut self) {
        if self.sandbox == Sandbox::Draining && !self.ctrs.iter().any(|c| c.is_live()) {
            self.sandbox = Sandbox::Creating;
            self.out.push(Action::RecreateSandbox);
        }
    }

    /// Deadline or kill timers of container `i`.
    pub(super) fn grace_expired(&mut self, i: usize, now: Now) {
        self.send_stop_signal(i, now);
    }
}
