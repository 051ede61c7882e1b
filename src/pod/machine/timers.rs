//! The machine's timers: restarts after a back-off, sleep handlers, the grace and SIGKILL of
//! a stopping container, probe ticks and check timeouts, activeDeadlineSeconds.

use super::{Machine, Now};
use crate::spec::pod::Action as Handler;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Restart(usize),
    HookSleep(usize),
    Grace(usize),
    Kill(usize),
    Deadline,
    ProbeTick(usize, usize),
    ProbeTimeout(usize, usize),
    ImageRetry(usize),
    ShowPullBackOff(usize),
}

/// At most this many timers run for one tick: each moves its own time on, so this only bounds
/// a bug, never a real pod.
const MAX_TIMERS_PER_TICK: usize = 10_000;

impl Machine {
    /// When the next timer is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.next_timer().map(|(t, _)| t)
    }

    fn next_timer(&self) -> Option<(Instant, Timer)> {
        // Among timers due at the same instant, an exec probe goes last: starting it holds the
        // supervisor until its process has exec'd, while the others only start a connect.
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
            if let Some(t) = c.image.retry_at {
                consider(t, false, Timer::ImageRetry(i));
            }
            if let Some(t) = c.image.show_backoff_at {
                consider(t, false, Timer::ShowPullBackOff(i));
            }
            if let Some(until) = c.hook.and_then(|h| h.until) {
                consider(until, false, Timer::HookSleep(i));
            }
            if c.is_up() {
                for (w, p) in c.probes.iter().enumerate() {
                    match p.in_flight {
                        Some(f) if !f.timed_out => consider(f.deadline, false, Timer::ProbeTimeout(i, w)),
                        Some(_) => {}
                        None if !p.on_hold => {
                            let exec = matches!(p.probe.action(), Some(Handler::Exec(_)));
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
        if let (Some(d), None, false) = (self.cfg.active_deadline_seconds, self.terminating, self.finished) {
            if d >= 0 {
                consider(crate::time::after(self.started, crate::time::secs(d)), false, Timer::Deadline);
            }
        }
        best.map(|(t, _, k)| (t, k))
    }

    /// Runs every timer due at `now`, earliest first.
    pub(super) fn run_timers(&mut self, now: Now) {
        for _ in 0..MAX_TIMERS_PER_TICK {
            let Some((t, k)) = self.next_timer() else { return };
            if t > now.mono || self.finished {
                return;
            }
            match k {
                Timer::Restart(i) => {
                    self.changed = true;
                    self.restart_due(i, now);
                }
                Timer::HookSleep(i) => self.hook_done(i, None, Ok(()), now),
                Timer::Grace(i) => {
                    self.changed = true;
                    self.grace_expired(i, now);
                }
                Timer::Kill(i) => self.kill_now(i),
                Timer::Deadline => self.deadline_exceeded(now),
                Timer::ProbeTick(i, w) => self.probe_tick(i, w, now),
                Timer::ProbeTimeout(i, w) => self.probe_timeout(i, w),
                Timer::ImageRetry(i) => self.image_retry_due(i),
                Timer::ShowPullBackOff(i) => self.show_pull_backoff(i),
            }
        }
        log::warn!("more than {MAX_TIMERS_PER_TICK} timers due at once");
    }
}
