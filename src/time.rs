//! RFC 3339 timestamps without a date crate, and bounded durations and deadlines.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The longest wait runp takes from a user (a grace period, a hook timeout, a deadline): 100
/// years. Longer values mean "never" just as well, and `Instant + Duration` panics past the
/// clock's range.
pub const MAX_WAIT: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Seconds from a manifest or flag as a Duration: negative is 0, longer than [`MAX_WAIT`] is
/// [`MAX_WAIT`].
pub fn secs(n: i64) -> Duration {
    Duration::from_secs(n.max(0) as u64).min(MAX_WAIT)
}

/// `from + d`, never panicking: saturates at `from + MAX_WAIT`.
pub fn after(from: Instant, d: Duration) -> Instant {
    from.checked_add(d.min(MAX_WAIT)).unwrap_or(from)
}

/// `Instant::now() + d`, bounded like [`after`].
pub fn deadline(d: Duration) -> Instant {
    after(Instant::now(), d)
}

/// Days since 1970-01-01 → (year, month, day), Howard Hinnant's civil_from_days.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `2026-11-21T08:08:10.860328310Z` (nanoseconds, as runc's state shows).
pub fn rfc3339_nanos(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, mo, day) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{mo:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z", s / 3600, s / 60 % 60, s % 60, d.subsec_nanos())
}

/// `2026-11-21T08:08:10Z` (seconds, as runc's log lines show).
pub fn rfc3339(t: SystemTime) -> String {
    let full = rfc3339_nanos(t);
    format!("{}Z", &full[..19])
}

pub fn now_nanos() -> String {
    rfc3339_nanos(SystemTime::now())
}

static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Starts the clock for `mark` (called first thing in main).
pub fn start_clock() {
    START.get_or_init(std::time::Instant::now);
}

/// Logs (at debug level) how long after start a phase ended: `runp --debug run` shows where
/// a container's start-up time goes.
pub fn mark(phase: &str) {
    if log::log_enabled!(log::Level::Debug) {
        let t = START.get().map(|s| s.elapsed().as_micros()).unwrap_or(0);
        log::debug!("timing: {phase} at {t} us");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339_nanos(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
        let t = UNIX_EPOCH + Duration::new(1_795_248_490, 860_328_310);
        assert_eq!(rfc3339_nanos(t), "2026-11-21T08:08:10.860328310Z");
        assert_eq!(rfc3339(t), "2026-11-21T08:08:10Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn user_durations_are_bounded() {
        assert_eq!(secs(-5), Duration::ZERO);
        assert_eq!(secs(30), Duration::from_secs(30));
        assert_eq!(secs(i64::MAX), MAX_WAIT);
        let now = Instant::now();
        assert_eq!(after(now, Duration::MAX), now + MAX_WAIT);
        assert_eq!(after(now, Duration::from_secs(2)), now + Duration::from_secs(2));
        assert!(deadline(Duration::MAX) > Instant::now());
    }
}
