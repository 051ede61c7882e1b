//! Running probes from the supervisor's loop, and what their results do: startup gates the
//! others and marks the container started; liveness (and startup) failures kill the container
//! with the right grace; readiness drives `ready` and never restarts anything.

use super::probe::worker::{self, Check, Kind as PKind, Running, Verdict};
use super::status::Kind;
use super::supervisor::Supervisor;
use crate::spec::pod::{Action, RestartPolicy};
use std::os::fd::AsRawFd;
use std::time::Instant;

impl Supervisor {
    /// A probe's tick came: start a check if one is due.
    pub fn probe_tick(&mut self, i: usize, w: usize) {
        let now = Instant::now();
        let started = self.ctrs[i].status.started;
        let running = matches!(self.ctrs[i].status.state, super::status::State::Running { .. });
        let terminating = self.terminating.is_some();
        let Some(worker) = self.ctrs[i].probes.get_mut(w) else { return };
        if !running {
            // Not running (yet): the tick passes; readiness stays false.
            let _ = worker.due(now, false, terminating);
            return;
        }
        if !worker.due(now, started, terminating) {
            return;
        }
        // Probe timing precision, measured by `make bench` (one line per check started).
        if let Some(f) = &self.probe_trace {
            use std::io::Write;
            let line = format!("{} {} {}\n", self.pod.metadata.name, worker.kind.name(), worker.lateness.as_micros());
            let _ = (&*f).write_all(line.as_bytes());
        }
        let deadline = now + worker.timeout();
        let probe = worker.probe.clone();
        let spec = self.ctrs[i].spec.clone();
        let check = match probe.action() {
            Some(Action::Exec(e)) => {
                // Exec probe commands are $(VAR)-expanded from the static env (§4.3).
                let env = crate::spec::pod::env::static_env(&spec);
                let args = crate::spec::pod::env::expand_all(&e.command, &env);
                self.start_exec_probe(i, args)
            }
            _ => match worker::start_net(&probe, &spec) {
                Ok(Some(c)) => Ok(c),
                Ok(None) => Err("probe has no handler".to_string()),
                Err(e) => Err(e),
            },
        };
        match check {
            Ok(check) => {
                if let Some(worker) = self.ctrs[i].probes.get_mut(w) {
                    worker.running = Some(Running { deadline, check });
                }
                // A connect may finish (or fail) at once.
                self.probe_io(i, w);
            }
            Err(e) => self.probe_done(i, w, Verdict::Error(e)),
        }
    }

    fn start_exec_probe(&mut self, i: usize, args: Vec<String>) -> Result<Check, String> {
        let (r, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
        let _ = nix::fcntl::fcntl(&r, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
        let stdio = [self.devnull.as_raw_fd(), wr.as_raw_fd(), wr.as_raw_fd()];
        let pid = self.exec_spawn(i, args, stdio).map_err(|e| format!("{e:#}"))?;
        Ok(Check::Exec { pid, out: Some(r), buf: Vec::new() })
    }

    /// The probe's socket or output pipe is ready.
    pub fn probe_io(&mut self, i: usize, w: usize) {
        let v = self.ctrs[i].probes.get_mut(w).and_then(|x| x.progress());
        if let Some(v) = v {
            self.probe_done(i, w, v);
        }
    }

    /// An exec probe process exited.
    pub fn probe_exited(&mut self, i: usize, w: usize, code: i32) {
        let Some(worker) = self.ctrs[i].probes.get_mut(w) else { return };
        // Whatever output is left in the pipe.
        while worker.running.is_some()
            && matches!(worker.running.as_ref().map(|r| &r.check), Some(Check::Exec { out: Some(_), .. }))
        {
            let before = match worker.running.as_ref().map(|r| &r.check) {
                Some(Check::Exec { buf, .. }) => buf.len(),
                _ => 0,
            };
            worker.progress();
            let after = match worker.running.as_ref().map(|r| &r.check) {
                Some(Check::Exec { buf, out, .. }) if out.is_some() => buf.len(),
                _ => usize::MAX,
            };
            if after == before {
                break;
            }
        }
        let out = match worker.running.as_ref().map(|r| &r.check) {
            Some(Check::Exec { buf, .. }) => String::from_utf8_lossy(buf).trim_end().to_string(),
            _ => String::new(),
        };
        let v = if code == 0 { Verdict::Success } else { Verdict::Failure(out) };
        self.probe_done(i, w, v);
    }

    /// The check ran past timeoutSeconds: a failure; an exec probe's process group is killed.
    pub fn probe_timeout(&mut self, i: usize, w: usize) {
        let Some(worker) = self.ctrs[i].probes.get_mut(w) else { return };
        let secs = worker.probe.timeout_seconds.max(1);
        let msg = match worker.running.as_ref().map(|r| &r.check) {
            Some(Check::Exec { pid, .. }) => {
                // The exec'd process leads its own session and group: kill all of it, and every
                // descendant that moved to a session of its own.
                for d in crate::linux::process::descendants(*pid) {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(d), nix::sys::signal::SIGKILL);
                }
                let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(*pid), nix::sys::signal::SIGKILL);
                format!("command timed out after {secs}s")
            }
            Some(Check::Http(h)) => h.timeout_message(),
            Some(Check::Grpc(g)) => g.timeout_message(),
            _ => format!("dial tcp: i/o timeout after {secs}s"),
        };
        self.probe_done(i, w, Verdict::Failure(msg));
    }

    fn probe_done(&mut self, i: usize, w: usize, v: Verdict) {
        let fp = self.ctrs[i].field_path.clone();
        let name = self.ctrs[i].spec.name.clone();
        let Some(worker) = self.ctrs[i].probes.get_mut(w) else { return };
        worker.running = None;
        let kind = worker.kind;
        let changed = worker.record(&v);
        let tname = kind.name();
        match &v {
            Verdict::Failure(out) => self.event("Warning", "Unhealthy", &fp, &format!("{tname} probe failed: {out}")),
            Verdict::Warning(out) => {
                self.event("Warning", "ProbeWarning", &fp, &format!("{tname} probe warning: {out}"))
            }
            Verdict::Error(e) => self.event("Warning", "Unhealthy", &fp, &format!("{tname} probe errored: {e}")),
            Verdict::Success => {}
        }
        let Some(result) = changed else { return };
        self.probe_changed = true;
        let policy = self.pod.spec.restart_policy;
        let will = if policy != RestartPolicy::Never || self.ctrs[i].kind == Kind::Sidecar {
            ", will be restarted"
        } else {
            ""
        };
        match (kind, result) {
            (PKind::Startup, true) => {
                self.ctrs[i].status.started = true;
                self.update_ready(i);
            }
            (PKind::Readiness, _) => self.update_ready(i),
            (PKind::Startup, false) | (PKind::Liveness, false) => {
                let what = if kind == PKind::Startup { "startup" } else { "liveness" };
                let grace = self.ctrs[i]
                    .probes
                    .get(w)
                    .and_then(|x| x.probe.termination_grace_period_seconds)
                    .unwrap_or(self.pod.spec.termination_grace_period_seconds);
                let msg = format!("Container {name} failed {what} probe{will}");
                self.stop_container(i, crate::time::secs(grace.max(1)), &msg, true);
            }
            (PKind::Liveness, true) => {}
        }
    }

    /// ready = started and (no readiness probe, or its stored result is success).
    pub fn update_ready(&mut self, i: usize) {
        let c = &mut self.ctrs[i];
        let readiness = c.probes.iter().find(|w| w.kind == PKind::Readiness).map(|w| w.result == Some(true));
        let running = matches!(c.status.state, super::status::State::Running { .. });
        c.status.ready = running && c.kind != Kind::Init && c.status.started && readiness.unwrap_or(true);
    }
}
