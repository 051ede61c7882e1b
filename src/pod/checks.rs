//! The supervisor's side of handlers and probes: running a postStart/preStop handler (exec in
//! the container, httpGet or tcpSocket from the pod's network namespace) and a probe check,
//! driving their sockets and pipes from the loop, and turning how they end into inputs.

use super::handlers::{self, Run};
use super::machine::{HookKind, Input};
use super::probe::worker::{self, Check, Verdict};
use super::supervisor::Supervisor;
use crate::spec::pod::Action;
use anyhow::{anyhow, bail, Result};
use std::os::fd::AsRawFd;

impl Supervisor {
    /// Starts container `i`'s handler; an input when it is over at once.
    pub(super) fn run_hook(&mut self, i: usize, kind: HookKind) -> Option<Input> {
        match self.start_handler(i, kind) {
            Ok(run) => {
                self.hooks[i] = Some((kind, run));
                None
            }
            Err(e) => Some(Input::HookDone { ctr: i, kind, result: Err(format!("{e:#}")) }),
        }
    }

    fn start_handler(&mut self, i: usize, kind: HookKind) -> Result<Run> {
        let spec = self.specs[i].clone();
        let lc = spec.lifecycle.as_ref();
        let handler = match kind {
            HookKind::PostStart => lc.and_then(|l| l.post_start.as_ref()),
            HookKind::PreStop => lc.and_then(|l| l.pre_stop.as_ref()),
        };
        match handler.and_then(|h| h.action()) {
            Some(Action::Exec(e)) => {
                // Handler commands are not $(VAR)-expanded, as in the kubelet.
                let null = self.devnull.as_raw_fd();
                let pid = self.exec_spawn(i, e.command.clone(), [null; 3])?;
                Ok(Run::Exec { pid })
            }
            Some(Action::HttpGet(h)) => {
                let port = worker::port(&h.port, &spec).map_err(|e| anyhow!(e))?;
                let addr = handlers::address(h.host.as_deref(), port)?;
                let host = format!("{}:{port}", h.host.as_deref().unwrap_or("localhost"));
                let path = if h.path.is_empty() { "/".to_string() } else { h.path.clone() };
                let headers = h.http_headers.iter().map(|x| (x.name.clone(), x.value.clone())).collect();
                handlers::connect(addr, Some((path, host, headers)))
            }
            Some(Action::TcpSocket(t)) => {
                let port = worker::port(&t.port, &spec).map_err(|e| anyhow!(e))?;
                handlers::connect(handlers::address(t.host.as_deref(), port)?, None)
            }
            _ => bail!("unsupported handler"),
        }
    }

    /// A handler's socket is ready.
    pub(super) fn hook_io(&mut self, i: usize) -> Option<Input> {
        let result = self.hooks[i].as_mut()?.1.progress()?;
        let (kind, _) = self.hooks[i].take()?;
        Some(Input::HookDone { ctr: i, kind, result: result.map_err(|e| format!("{e:#}")) })
    }

    /// Starts a check of probe `w` of container `i`; an input when it is over at once.
    pub(super) fn start_probe(&mut self, i: usize, w: usize, late: std::time::Duration) -> Option<Input> {
        let probe = self.machine.ctrs[i].probes.get(w)?.probe.clone();
        // Probe timing precision, measured by `make bench` (one line per check started).
        if let Some(f) = &self.probe_trace {
            use std::io::Write;
            let kind = self.machine.ctrs[i].probes[w].kind.name();
            let line = format!("{} {} {}\n", self.pod.metadata.name, kind, late.as_micros());
            let _ = (&*f).write_all(line.as_bytes());
        }
        let spec = &self.specs[i];
        let check = match probe.action() {
            Some(Action::Exec(e)) => {
                // Exec probe commands are $(VAR)-expanded from the container's static env.
                let env = crate::spec::pod::env::static_env(spec);
                let args = crate::spec::pod::env::expand_all(&e.command, &env);
                self.start_exec_probe(i, args)
            }
            _ => match worker::start_net(&probe, spec) {
                Ok(Some(c)) => Ok(c),
                Ok(None) => Err("probe has no handler".to_string()),
                Err(e) => Err(e),
            },
        };
        match check {
            Ok(check) => {
                self.set_check(i, w, Some(check));
                // A connect may finish (or fail) at once.
                self.probe_io(i, w)
            }
            Err(e) => Some(Input::ProbeDone { ctr: i, probe: w, verdict: Verdict::Error(e) }),
        }
    }

    fn set_check(&mut self, i: usize, w: usize, check: Option<Check>) {
        let slots = &mut self.checks[i];
        if slots.len() <= w {
            slots.resize_with(w + 1, || None);
        }
        slots[w] = check;
    }

    fn start_exec_probe(&mut self, i: usize, args: Vec<String>) -> Result<Check, String> {
        let (r, wr) = super::containers::pipe().map_err(|e| format!("{e:#}"))?;
        let stdio = [self.devnull.as_raw_fd(), wr.as_raw_fd(), wr.as_raw_fd()];
        let pid = self.exec_spawn(i, args, stdio).map_err(|e| format!("{e:#}"))?;
        Ok(Check::Exec { pid, out: Some(r), buf: Vec::new() })
    }

    /// A check's socket or output pipe is ready.
    pub(super) fn probe_io(&mut self, i: usize, w: usize) -> Option<Input> {
        let verdict = self.checks[i].get_mut(w)?.as_mut()?.progress()?;
        self.set_check(i, w, None);
        Some(Input::ProbeDone { ctr: i, probe: w, verdict })
    }

    /// An exec probe's process exited: its verdict, with the output it left.
    pub(super) fn probe_exited(&mut self, i: usize, w: usize, code: i32) -> Option<Input> {
        let mut check = self.checks[i].get_mut(w)?.take()?;
        // Whatever output is left in the pipe (bounded: progress stops at EOF or 10 KiB).
        for _ in 0..64 {
            let Check::Exec { out: Some(_), buf, .. } = &check else { break };
            let before = buf.len();
            check.progress();
            match &check {
                Check::Exec { out: Some(_), buf, .. } if buf.len() != before => continue,
                _ => break,
            }
        }
        let out = match &check {
            Check::Exec { buf, .. } => String::from_utf8_lossy(buf).trim_end().to_string(),
            _ => String::new(),
        };
        let verdict = if code == 0 { Verdict::Success } else { Verdict::Failure(out) };
        Some(Input::ProbeDone { ctr: i, probe: w, verdict })
    }

    /// The check ran past timeoutSeconds: a failure; an exec probe's processes are killed.
    pub(super) fn probe_timed_out(&mut self, i: usize, w: usize) -> Input {
        let secs = self.machine.ctrs[i].probes.get(w).map(|x| x.probe.timeout_seconds.max(1)).unwrap_or(1);
        let check = self.checks[i].get_mut(w).and_then(Option::take);
        let msg = match &check {
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
        Input::ProbeDone { ctr: i, probe: w, verdict: Verdict::Failure(msg) }
    }
}
