//! CrashLoopBackOff arithmetic, exactly as the kubelet: 10 s doubling to 300 s, and a fresh
//! start when the container ran longer than 2 × cap (10 minutes) before its last exit.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    pub initial: Duration,
    pub cap: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig { initial: Duration::from_secs(10), cap: Duration::from_secs(300) }
    }
}

/// The shortest delay taken from a configuration.
const MIN_DELAY: Duration = Duration::from_millis(1);

/// One container's back-off entry.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    /// (current delay, time of the last restart decision); None = no entry.
    entry: Option<(Duration, Instant)>,
}

/// What to do with a container that exited at `finished`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Restart now.
    Now,
    /// Wait until this instant (the container shows CrashLoopBackOff with `delay`).
    At { when: Instant, delay: Duration },
}

impl Backoff {
    /// The kubelet's doBackOff: a missing or expired entry restarts at once with a fresh
    /// delay; otherwise wait out the current delay, then double it (capped).
    pub fn decide(&mut self, cfg: &BackoffConfig, finished: Instant, now: Instant) -> Decision {
        // A zero delay would restart a container that fails to start without ever waiting;
        // a huge one would overflow the clock.
        let bound = |d: Duration| d.clamp(MIN_DELAY, crate::time::MAX_WAIT);
        let cfg = BackoffConfig { initial: bound(cfg.initial), cap: bound(cfg.cap) };
        match self.entry {
            Some((delay, last)) if finished.saturating_duration_since(last) <= cfg.cap * 2 => {
                if now.saturating_duration_since(finished) < delay {
                    Decision::At { when: finished + delay, delay }
                } else {
                    self.entry = Some(((delay * 2).min(cfg.cap), now));
                    Decision::Now
                }
            }
            _ => {
                self.entry = Some((cfg.initial.min(cfg.cap), now));
                Decision::Now
            }
        }
    }

    /// The kubelet's image pull back-off (flowcontrol.Backoff.Next): after a failure at `now`,
    /// the delay before the next attempt: `initial` for a missing or expired entry (no
    /// failure for 2 × cap), else the last delay doubled, capped.
    pub fn next(&mut self, cfg: &BackoffConfig, now: Instant) -> Duration {
        let bound = |d: Duration| d.clamp(MIN_DELAY, crate::time::MAX_WAIT);
        let cfg = BackoffConfig { initial: bound(cfg.initial), cap: bound(cfg.cap) };
        let delay = match self.entry {
            Some((delay, last)) if now.saturating_duration_since(last) <= cfg.cap * 2 => (delay * 2).min(cfg.cap),
            _ => cfg.initial.min(cfg.cap),
        };
        self.entry = Some((delay, now));
        delay
    }

    /// The delay a container waiting now is subject to (for the CrashLoopBackOff message).
    pub fn current(&self) -> Option<Duration> {
        self.entry.map(|(d, _)| d)
    }
}

/// "10s", "5m0s" as Go prints durations in kubelet messages.
pub fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s == 0 && !d.is_zero() {
        format!("{}ms", d.as_millis())
    } else if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{}s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A container that crashes at once each time: delays 0, 10, 20, 40, 80, 160, 300, 300.
    #[test]
    fn crash_loop_sequence() {
        let cfg = BackoffConfig::default();
        let mut b = Backoff::default();
        let mut now = Instant::now();
        let mut delays = Vec::new();
        for _ in 0..8 {
            let finished = now;
            match b.decide(&cfg, finished, now) {
                Decision::Now => delays.push(0),
                Decision::At { when, delay } => {
                    assert_eq!(when, finished + delay);
                    delays.push(delay.as_secs());
                    now = when;
                    assert_eq!(b.decide(&cfg, finished, now), Decision::Now);
                }
            }
        }
        assert_eq!(delays, vec![0, 10, 20, 40, 80, 160, 300, 300]);
    }

    /// A container that ran more than 10 minutes restarts at once, fresh at 10 s.
    #[test]
    fn long_run_resets() {
        let cfg = BackoffConfig::default();
        let mut b = Backoff::default();
        let t0 = Instant::now();
        assert_eq!(b.decide(&cfg, t0, t0), Decision::Now);
        let finished = t0 + Duration::from_secs(11 * 60);
        assert_eq!(b.decide(&cfg, finished, finished), Decision::Now);
        assert_eq!(b.current(), Some(Duration::from_secs(10)));
        assert!(
            matches!(b.decide(&cfg, finished, finished), Decision::At { delay, .. } if delay == Duration::from_secs(10))
        );
    }

    /// Zero and huge configurations neither spin nor overflow.
    #[test]
    fn configuration_is_bounded() {
        let t0 = Instant::now();
        let zero = BackoffConfig { initial: Duration::ZERO, cap: Duration::ZERO };
        let mut b = Backoff::default();
        assert_eq!(b.decide(&zero, t0, t0), Decision::Now);
        assert!(matches!(b.decide(&zero, t0, t0), Decision::At { delay, .. } if delay == MIN_DELAY));
        let huge = BackoffConfig { initial: Duration::MAX, cap: Duration::MAX };
        let mut b = Backoff::default();
        assert_eq!(b.decide(&huge, t0, t0), Decision::Now);
        assert!(matches!(b.decide(&huge, t0, t0), Decision::At { delay, .. } if delay == crate::time::MAX_WAIT));
    }

    #[test]
    fn configurable_base_and_cap_and_monotone() {
        let cfg = BackoffConfig { initial: Duration::from_millis(100), cap: Duration::from_millis(350) };
        let mut b = Backoff::default();
        let mut now = Instant::now();
        let mut last = Duration::ZERO;
        for _ in 0..10 {
            if let Decision::At { when, delay } = b.decide(&cfg, now, now) {
                assert!(delay >= last && delay <= cfg.cap);
                last = delay;
                now = when;
                b.decide(&cfg, now - delay, now);
            }
        }
        assert_eq!(last, cfg.cap);
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_duration(Duration::from_secs(20)), "20s");
    }
}
