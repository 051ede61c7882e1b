//! Startup, liveness and readiness probes with the kubelet's worker semantics (docs/pod-lifecycle.md#probe-worker): one worker per (container instance, probe type), a first check right
//! away and then one per period (ticks stay on the period grid: no drift), skipped before
//! initialDelaySeconds or when gated (startup gates the others), never two runs at once, a run
//! bounded by timeoutSeconds, consecutive-result thresholds, errors that count as nothing.

use super::super::handlers;
use super::{GrpcProbe, HttpProbe, Outcome};
use crate::spec::pod::{Action, Container, IntOrString, Probe};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Startup,
    Liveness,
    Readiness,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Startup => "Startup",
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
        }
    }
}

/// A check in flight.
pub enum Check {
    Exec { pid: i32, out: Option<OwnedFd>, buf: Vec<u8> },
    Tcp(handlers::Run),
    Http(Box<HttpProbe>),
    Grpc(Box<GrpcProbe>),
}

/// A check the worker started and has not heard back from yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    /// When timeoutSeconds runs out.
    pub deadline: Instant,
    /// The timeout was reported; the verdict is on its way.
    pub timed_out: bool,
}

/// What a finished check says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Success,
    Warning(String),
    Failure(String),
    /// The probe could not run at all: counts as nothing (docs/pod-lifecycle.md#probe-errors).
    Error(String),
}

/// One probe of one container instance: when it is due and what its results add up to. Pure:
/// the check itself (a process or a socket) is the supervisor's [`Check`].
#[derive(Debug, Clone)]
pub struct Worker {
    pub kind: Kind,
    pub probe: Probe,
    pub next: Instant,
    pub started: Instant,
    pub in_flight: Option<InFlight>,
    ok: u32,
    failed: u32,
    /// The stored result: None = not decided yet.
    pub result: Option<bool>,
    /// Done with this instance (startup decided, or liveness failed).
    pub on_hold: bool,
    /// How late the last tick ran after its scheduled time (for RUNP_PROBE_TRACE).
    pub lateness: Duration,
}

impl Worker {
    pub fn new(kind: Kind, probe: &Probe, started: Instant) -> Worker {
        Worker {
            kind,
            probe: probe.clone(),
            next: started,
            started,
            in_flight: None,
            ok: 0,
            failed: 0,
            result: match kind {
                Kind::Readiness => Some(false),
                Kind::Liveness => Some(true),
                Kind::Startup => None,
            },
            on_hold: false,
            lateness: Duration::ZERO,
        }
    }

    pub fn period(&self) -> Duration {
        Duration::from_secs(self.probe.period_seconds.max(1) as u64)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.probe.timeout_seconds.max(1) as u64)
    }

    /// Is a check due at this tick? (The tick itself always moves on by one period.)
    pub fn due(&mut self, now: Instant, container_started: bool, terminating: bool) -> bool {
        self.lateness = now.saturating_duration_since(self.next);
        while self.next <= now {
            self.next += self.period();
        }
        if self.on_hold || self.in_flight.is_some() {
            return false;
        }
        if now.saturating_duration_since(self.started)
            < Duration::from_secs(self.probe.initial_delay_seconds.max(0) as u64)
        {
            return false;
        }
        match self.kind {
            Kind::Startup => !container_started && !terminating,
            Kind::Liveness => container_started && !terminating,
            Kind::Readiness => container_started,
        }
    }

    /// Applies a verdict; returns Some(new stored result) when the stored result changed.
    pub fn record(&mut self, v: &Verdict) -> Option<bool> {
        let success = match v {
            Verdict::Error(_) => return None,
            Verdict::Success | Verdict::Warning(_) => true,
            Verdict::Failure(_) => false,
        };
        if success {
            self.ok += 1;
            self.failed = 0;
        } else {
            self.failed += 1;
            self.ok = 0;
        }
        let new = if success && self.ok >= self.probe.success_threshold.max(1) as u32 {
            Some(true)
        } else if !success && self.failed >= self.probe.failure_threshold.max(1) as u32 {
            Some(false)
        } else {
            None
        };
        match new {
            Some(r) if self.result != Some(r) || self.kind == Kind::Startup => {
                self.result = Some(r);
                if self.kind == Kind::Startup || (self.kind == Kind::Liveness && !r) {
                    self.on_hold = true;
                }
                Some(r)
            }
            _ => None,
        }
    }
}

impl Check {
    pub fn poll_fd(&self) -> Option<(BorrowedFd<'_>, nix::poll::PollFlags)> {
        match self {
            Check::Exec { out, .. } => out.as_ref().map(|f| (f.as_fd(), nix::poll::PollFlags::POLLIN)),
            Check::Tcp(r) => r.poll_fd(),
            Check::Http(h) => h.poll_fd(),
            Check::Grpc(g) => g.poll_fd(),
        }
    }

    /// Makes progress on a network check (or reads exec output); Some(verdict) when done.
    pub fn progress(&mut self) -> Option<Verdict> {
        match self {
            Check::Exec { out, buf, .. } => {
                if let Some(fd) = out {
                    let mut b = [0u8; 4096];
                    match nix::unistd::read(&*fd, &mut b) {
                        // Nothing yet (the first call comes right after the spawn): not EOF.
                        Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
                        Ok(0) | Err(_) => *out = None,
                        Ok(n) => {
                            let room = (10 * 1024usize).saturating_sub(buf.len());
                            buf.extend_from_slice(&b[..n.min(room)]);
                        }
                    }
                }
                None
            }
            Check::Tcp(t) => t.progress().map(|res| match res {
                Ok(()) => Verdict::Success,
                Err(e) => Verdict::Failure(format!("{e:#}")),
            }),
            Check::Http(h) => h.progress().map(outcome),
            Check::Grpc(g) => g.progress().map(outcome),
        }
    }
}

fn outcome(o: Outcome) -> Verdict {
    match o {
        Outcome::Success(_) => Verdict::Success,
        Outcome::Warning(w) => Verdict::Warning(w),
        Outcome::Failure(f) => Verdict::Failure(f),
    }
}

/// A container's probes, startup first.
pub fn probes_of(c: &Container) -> Vec<(Kind, Probe)> {
    [(Kind::Startup, &c.startup_probe), (Kind::Liveness, &c.liveness_probe), (Kind::Readiness, &c.readiness_probe)]
        .into_iter()
        .filter_map(|(k, p)| p.as_ref().map(|p| (k, p.clone())))
        .collect()
}

/// Resolves a probe port (a number or a named container port).
pub fn port(p: &IntOrString, c: &Container) -> Result<u16, String> {
    match p {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port {n}")),
        IntOrString::String(name) => c
            .ports
            .iter()
            .find(|x| x.name.as_deref() == Some(name.as_str()))
            .and_then(|x| u16::try_from(x.container_port).ok())
            .ok_or_else(|| format!("port {name:?} not found in container {}", c.name)),
    }
}

/// Starts a network check; exec checks are started by the supervisor (they need the runtime).
pub fn start_net(probe: &Probe, c: &Container) -> Result<Option<Check>, String> {
    match probe.action() {
        Some(Action::TcpSocket(t)) => {
            let port = port(&t.port, c)?;
            let addr = handlers::address(t.host.as_deref(), port).map_err(|e| format!("{e:#}"))?;
            Ok(Some(match handlers::connect(addr, None) {
                Ok(r) => Check::Tcp(r),
                Err(e) => return Err(format!("{e:#}")),
            }))
        }
        Some(Action::HttpGet(h)) => {
            let port = port(&h.port, c)?;
            let host = h.host.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "127.0.0.1".into());
            let path = if h.path.is_empty() { "/".to_string() } else { h.path.clone() };
            let headers: Vec<(String, String)> =
                h.http_headers.iter().map(|x| (x.name.clone(), x.value.clone())).collect();
            Ok(Some(Check::Http(Box::new(HttpProbe::start_scheme(h.scheme.as_str(), &host, port, &path, &headers)))))
        }
        Some(Action::Grpc(g)) => {
            let port = u16::try_from(g.port).map_err(|_| format!("invalid port {}", g.port))?;
            let timeout = std::time::Duration::from_secs(probe.timeout_seconds.max(1) as u64);
            Ok(Some(Check::Grpc(Box::new(GrpcProbe::start_with_timeout(
                port,
                g.service.as_deref().unwrap_or(""),
                timeout,
            )))))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(success: i32, failure: i32, period: i32, delay: i32) -> Probe {
        Probe {
            success_threshold: success,
            failure_threshold: failure,
            period_seconds: period,
            initial_delay_seconds: delay,
            timeout_seconds: 1,
            ..Default::default()
        }
    }

    #[test]
    fn thresholds_and_initial_results() {
        let t0 = Instant::now();
        let mut r = Worker::new(Kind::Readiness, &probe(3, 1, 1, 0), t0);
        assert_eq!(r.result, Some(false));
        assert_eq!(r.record(&Verdict::Success), None);
        assert_eq!(r.record(&Verdict::Success), None);
        assert_eq!(r.record(&Verdict::Success), Some(true)); // successThreshold reached
        assert_eq!(r.record(&Verdict::Error("x".into())), None); // errors count as nothing
        assert_eq!(r.record(&Verdict::Failure("x".into())), Some(false));
        let mut l = Worker::new(Kind::Liveness, &probe(1, 3, 1, 0), t0);
        assert_eq!(l.result, Some(true));
        l.record(&Verdict::Failure("a".into()));
        l.record(&Verdict::Failure("b".into()));
        assert_eq!(l.record(&Verdict::Warning("w".into())), None); // a warning is a success
        l.record(&Verdict::Failure("a".into()));
        l.record(&Verdict::Failure("b".into()));
        assert_eq!(l.record(&Verdict::Failure("c".into())), Some(false));
        assert!(l.on_hold);
    }

    #[test]
    fn ticks_delay_and_gating() {
        let t0 = Instant::now();
        let mut w = Worker::new(Kind::Liveness, &probe(1, 3, 1, 2), t0);
        assert!(!w.due(t0, true, false)); // before initialDelaySeconds
        assert_eq!(w.next, t0 + Duration::from_secs(1));
        assert!(!w.due(t0 + Duration::from_secs(1), true, false));
        assert!(w.due(t0 + Duration::from_secs(2), true, false));
        assert!(!w.due(t0 + Duration::from_secs(3), false, false)); // not started: gated
        assert!(!w.due(t0 + Duration::from_secs(4), true, true)); // terminating: liveness stops
        let mut s = Worker::new(Kind::Startup, &probe(1, 3, 1, 0), t0);
        assert!(s.due(t0, false, false));
        assert!(!s.due(t0 + Duration::from_secs(1), true, false));
        let mut r = Worker::new(Kind::Readiness, &probe(1, 3, 1, 0), t0);
        assert!(r.due(t0 + Duration::from_secs(5), true, true)); // readiness runs while terminating
        assert_eq!(r.next, t0 + Duration::from_secs(6)); // the grid is kept
    }
}
