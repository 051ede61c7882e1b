//! Pull progress on stderr: on a terminal, one line per layer (bytes and rate) redrawn in
//! place; otherwise one plain line per layer when it is done.

use std::io::{IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Quiet,
    /// One line per layer when done.
    Lines,
    /// Redrawn lines.
    Terminal,
}

impl Mode {
    /// Terminal when stderr is one, else lines.
    pub fn auto() -> Mode {
        if std::io::stderr().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Lines
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Downloading,
    Done,
    Present,
    Failed,
}

struct Row {
    name: String,
    total: u64,
    done: u64,
    state: State,
    started: Option<Instant>,
    elapsed: Duration,
}

/// The progress of one pull's layers.
pub struct Progress {
    mode: Mode,
    rows: Mutex<Vec<Row>>,
    drawn: Mutex<usize>,
    /// Set when one layer failed: the others stop reading.
    pub stop: AtomicBool,
}

/// `1.5 MB`, decimal units as docker prints them.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn rate(bytes: u64, d: Duration) -> String {
    let s = d.as_secs_f64();
    if s <= 0.0 {
        return "-".into();
    }
    format!("{}/s", human((bytes as f64 / s) as u64))
}

impl Progress {
    /// Rows for layers `(digest, size)`.
    pub fn new(mode: Mode, layers: &[(String, u64)]) -> Progress {
        let rows = layers
            .iter()
            .map(|(d, total)| Row {
                name: d.strip_prefix("sha256:").unwrap_or(d).chars().take(12).collect(),
                total: *total,
                done: 0,
                state: State::Waiting,
                started: None,
                elapsed: Duration::ZERO,
            })
            .collect();
        Progress { mode, rows: Mutex::new(rows), drawn: Mutex::new(0), stop: AtomicBool::new(false) }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    fn with_row(&self, i: usize, f: impl FnOnce(&mut Row)) {
        if let Ok(mut rows) = self.rows.lock() {
            if let Some(r) = rows.get_mut(i) {
                f(r);
            }
        }
    }

    fn line(r: &Row) -> String {
        match r.state {
            State::Waiting => format!("{}: waiting", r.name),
            State::Downloading => {
                let el = r.started.map(|s| s.elapsed()).unwrap_or_default();
                format!("{}: downloading {} / {} ({})", r.name, human(r.done), human(r.total), rate(r.done, el))
            }
            State::Done => format!(
                "{}: done, {} in {:.1}s ({})",
                r.name,
                human(r.done),
                r.elapsed.as_secs_f64(),
                rate(r.done, r.elapsed)
            ),
            State::Present => format!("{}: already present", r.name),
            State::Failed => format!("{}: failed after {}", r.name, human(r.done)),
        }
    }

    fn finish_row(&self, i: usize, state: State) {
        let mut text = None;
        self.with_row(i, |r| {
            r.state = state;
            r.elapsed = r.started.map(|s| s.elapsed()).unwrap_or_default();
            text = Some(Self::line(r));
        });
        if self.mode == Mode::Lines {
            if let Some(t) = text {
                let _ = writeln!(std::io::stderr().lock(), "layer {t}");
            }
        }
    }

    pub fn present(&self, i: usize) {
        self.finish_row(i, State::Present);
    }

    pub fn done(&self, i: usize) {
        self.finish_row(i, State::Done);
    }

    pub fn failed(&self, i: usize) {
        self.finish_row(i, State::Failed);
    }

    /// Redraws the terminal display (a no-op in other modes).
    pub fn draw(&self) {
        if self.mode != Mode::Terminal {
            return;
        }
        let (Ok(rows), Ok(mut drawn)) = (self.rows.lock(), self.drawn.lock()) else { return };
        let mut out = String::new();
        if *drawn > 0 {
            out.push_str(&format!("\x1b[{}A", *drawn));
        }
        for r in rows.iter() {
            out.push_str("\r\x1b[2K");
            out.push_str(&Self::line(r));
            out.push('\n');
        }
        *drawn = rows.len();
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
    }

    /// Wraps layer `i`'s body: counts bytes, and fails reads once [`Progress::stop`] is set.
    pub fn reader<'a, R: Read + 'a>(&'a self, i: usize, inner: R) -> Counting<'a, R> {
        self.with_row(i, |r| {
            r.state = State::Downloading;
            r.started = Some(Instant::now());
        });
        Counting { inner, progress: self, i }
    }
}

/// See [`Progress::reader`].
pub struct Counting<'a, R> {
    inner: R,
    progress: &'a Progress,
    i: usize,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.progress.stop.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("cancelled: another layer failed"));
        }
        let n = self.inner.read(buf)?;
        self.progress.with_row(self.i, |r| r.done += n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn human() {
        assert_eq!(super::human(999), "999 B");
        assert_eq!(super::human(2_156_038), "2.2 MB");
    }
}
