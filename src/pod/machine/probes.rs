//! Probe results and what they do: startup gates the others and marks the container started;
//! a liveness (or startup) failure stops the container with the probe's grace, and the
//! restart policy decides what follows; readiness drives `ready` and never restarts anything.

use super::super::probe::worker::{InFlight, Kind as ProbeKind, Verdict};
use super::super::status::Kind;
use super::{Action, Machine, Now};
use crate::spec::pod::RestartPolicy;

impl Machine {
    /// Probe `w` of container `i` reached its tick: start a check if one is due.
    pub(super) fn probe_tick(&mut self, i: usize, w: usize, now: Now) {
        let terminating = self.terminating.is_some();
        let c = &mut self.ctrs[i];
        let (started, running) = (c.status.started, c.is_running_state());
        let Some(worker) = c.probes.get_mut(w) else { return };
        if !running {
            // Not running yet (postStart): the tick passes; readiness stays false.
            let _ = worker.due(now.mono, false, terminating);
            return;
        }
        if !worker.due(now.mono, started, terminating) {
            return;
        }
        let deadline = crate::time::after(now.mono, worker.timeout());
        worker.in_flight = Some(InFlight { deadline, timed_out: false });
        self.out.push(Action::StartProbe { ctr: i, probe: w, late: worker.lateness });
    }

    /// The check ran past timeoutSeconds.
    pub(super) fn probe_timeout(&mut self, i: usize, w: usize) {
        let Some(f) = self.ctrs[i].probes.get_mut(w).and_then(|x| x.in_flight.as_mut()) else { return };
        f.timed_out = true;
        self.out.push(Action::ProbeTimedOut { ctr: i, probe: w });
    }

    pub(super) fn probe_done(&mut self, i: usize, w: usize, v: Verdict, now: Now) {
        let policy = self.cfg.restart_policy;
        let grace_default = self.cfg.grace_seconds;
        let Some(c) = self.ctrs.get_mut(i) else { return };
        let (fp, name, kind) = (c.spec.field_path.clone(), c.spec.name.clone(), c.spec.kind);
        let Some(worker) = c.probes.get_mut(w) else { return };
        if worker.in_flight.take().is_none() {
            return; // not ours: a check of an instance that is gone
        }
        let pkind = worker.kind;
        let grace = worker.probe.termination_grace_period_seconds.unwrap_or(grace_default);
        let changed = worker.record(&v);
        let tname = pkind.name();
        match &v {
            Verdict::Failure(out) => self.note(true, "Unhealthy", &fp, format!("{tname} probe failed: {out}")),
            Verdict::Warning(out) => self.note(true, "ProbeWarning", &fp, format!("{tname} probe warning: {out}")),
            Verdict::Error(e) => self.note(true, "Unhealthy", &fp, format!("{tname} probe errored: {e}")),
            Verdict::Success => {}
        }
        let Some(result) = changed else { return };
        self.changed = true;
        match (pkind, result) {
            (ProbeKind::Startup, true) => {
                self.ctrs[i].status.started = true;
                self.update_ready(i);
            }
            (ProbeKind::Readiness, _) => self.update_ready(i),
            (ProbeKind::Startup | ProbeKind::Liveness, false) => {
                let will =
                    if policy != RestartPolicy::Never || kind == Kind::Sidecar { ", will be restarted" } else { "" };
                let what = if pkind == ProbeKind::Startup { "startup" } else { "liveness" };
                let msg = format!("Container {name} failed {what} probe{will}");
                self.stop_container(i, crate::time::secs(grace.max(1)), &msg, now);
            }
            (ProbeKind::Liveness, true) => {}
        }
    }

    /// ready = running, started, and (no readiness probe, or its stored result is success).
    pub(super) fn update_ready(&mut self, i: usize) {
        let c = &mut self.ctrs[i];
        let readiness = c.probes.iter().find(|w| w.kind == ProbeKind::Readiness).map(|w| w.result == Some(true));
        c.status.ready =
            c.is_running_state() && c.spec.kind != Kind::Init && c.status.started && readiness.unwrap_or(true);
    }
}
