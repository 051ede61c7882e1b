//! Container logs in the CRI format the kubelet reads:
//! `2016-10-06T00:17:09.669794202Z stdout F a complete line` (P for a partial chunk).
//! One file per container instance (`<restartCount>.log`), so `--previous` is the one before.
//! Rotated like the kubelet's: past `max_size` the file becomes `<n>.log.<timestamp>` and a new
//! one starts; at most `max_files` files per instance are kept (the current one included).

use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A line longer than this is written in P chunks (containerd uses 16 KiB).
const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// containerLogMaxSize and containerLogMaxFiles, with the kubelet's defaults (10 MiB, 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub max_size: u64,
    pub max_files: usize,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation { max_size: 10 << 20, max_files: 5 }
    }
}

impl Rotation {
    /// From `RUNP_CONTAINER_LOG_MAX_SIZE` (a quantity: `10Mi`, `500Ki`, bytes) and
    /// `RUNP_CONTAINER_LOG_MAX_FILES`; a value that does not parse or is out of bounds (a size
    /// under 16 KiB, fewer than 2 files, more than 100) is an error naming the variable.
    pub fn from_env() -> Result<Rotation> {
        let mut r = Rotation::default();
        if let Ok(v) = std::env::var("RUNP_CONTAINER_LOG_MAX_SIZE") {
            let q = crate::spec::quantity::Quantity::parse(&v)
                .map_err(|e| anyhow::anyhow!("RUNP_CONTAINER_LOG_MAX_SIZE={v:?}: {e}"))?;
            r.max_size = q
                .bytes()
                .filter(|b| *b >= 16 * 1024)
                .ok_or_else(|| anyhow::anyhow!("RUNP_CONTAINER_LOG_MAX_SIZE={v:?}: must be at least 16Ki"))?;
        }
        if let Ok(v) = std::env::var("RUNP_CONTAINER_LOG_MAX_FILES") {
            r.max_files =
                v.parse().ok().filter(|n| (2..=100).contains(n)).ok_or_else(|| {
                    anyhow::anyhow!("RUNP_CONTAINER_LOG_MAX_FILES={v:?}: must be a number from 2 to 100")
                })?;
        }
        Ok(r)
    }
}

/// Appends CRI lines for one container instance; keeps each stream's unfinished line.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    written: u64,
    rotation: Rotation,
    pending: [Vec<u8>; 2],
}

fn idx(s: Stream) -> usize {
    match s {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl LogWriter {
    pub fn create(path: &Path, rotation: Rotation) -> Result<LogWriter> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let file = open_append(path)?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogWriter { path: path.to_path_buf(), file, written, rotation, pending: [Vec::new(), Vec::new()] })
    }

    /// The current file becomes `<name>.<timestamp>`, a new one starts, and the oldest rotated
    /// files go so that at most `max_files` remain.
    fn rotate(&mut self) -> Result<()> {
        let stamp = crate::time::now_nanos().replace([':', '-'], "").replace('T', "-");
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let rotated = self.path.with_file_name(format!("{name}.{stamp}"));
        std::fs::rename(&self.path, &rotated).with_context(|| format!("rotating {}", self.path.display()))?;
        self.file = open_append(&self.path)?;
        self.written = 0;
        let mut old = rotated_files(&self.path);
        while old.len() + 1 > self.rotation.max_files {
            let _ = std::fs::remove_file(old.remove(0));
        }
        Ok(())
    }

    fn emit(&mut self, stream: Stream, tag: char, line: &[u8]) -> Result<()> {
        let ts = crate::time::now_nanos();
        let mut out = Vec::with_capacity(line.len() + 48);
        out.extend_from_slice(ts.as_bytes());
        out.push(b' ');
        out.extend_from_slice(stream.as_str().as_bytes());
        out.push(b' ');
        out.push(tag as u8);
        out.push(b' ');
        out.extend_from_slice(line);
        out.push(b'\n');
        if self.written > 0 && self.written + out.len() as u64 > self.rotation.max_size {
            self.rotate()?;
        }
        self.written += out.len() as u64;
        self.file.write_all(&out).context("writing container log")
    }

    /// Feeds bytes read from a container's stream.
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> Result<()> {
        let mut rest = data;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut self.pending[idx(stream)]);
            line.extend_from_slice(&rest[..nl]);
            self.emit(stream, 'F', &line)?;
            rest = &rest[nl + 1..];
        }
        let mut pending = std::mem::take(&mut self.pending[idx(stream)]);
        pending.extend_from_slice(rest);
        while pending.len() >= MAX_LINE {
            let chunk: Vec<u8> = pending.drain(..MAX_LINE).collect();
            self.emit(stream, 'P', &chunk)?;
        }
        self.pending[idx(stream)] = pending;
        Ok(())
    }

    /// Writes what is left of a stream that ended without a newline.
    pub fn finish(&mut self, stream: Stream) -> Result<()> {
        let pending = std::mem::take(&mut self.pending[idx(stream)]);
        if !pending.is_empty() {
            self.emit(stream, 'F', &pending)?;
        }
        Ok(())
    }
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new().create(true).append(true).open(path).with_context(|| format!("opening log {}", path.display()))
}

/// The rotated files of a log (`<name>.<timestamp>`), oldest first.
pub fn rotated_files(path: &Path) -> Vec<PathBuf> {
    let Some(name) = path.file_name().map(|n| format!("{}.", n.to_string_lossy())) else { return Vec::new() };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&name))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// One parsed CRI log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub time: String,
    pub stream: String,
    pub partial: bool,
    pub content: String,
}

pub fn parse_line(line: &str) -> Option<Entry> {
    let mut it = line.splitn(4, ' ');
    let time = it.next()?.to_string();
    let stream = it.next()?.to_string();
    let tag = it.next()?;
    let content = it.next().unwrap_or("").to_string();
    Some(Entry { time, stream, partial: tag == "P", content })
}

/// Renders entries as `kubectl logs` does: P chunks joined, one line per F.
pub fn render(text: &str, timestamps: bool, out: &mut impl Write) -> Result<()> {
    let mut first_ts: Option<String> = None;
    for line in text.lines() {
        let Some(e) = parse_line(line) else { continue };
        if timestamps && first_ts.is_none() {
            first_ts = Some(e.time.clone());
        }
        if timestamps && first_ts.as_deref() == Some(e.time.as_str()) {
            write!(out, "{} ", e.time)?;
        }
        out.write_all(e.content.as_bytes())?;
        if e.partial {
            if first_ts.is_none() {
                first_ts = Some(String::new());
            }
            continue;
        }
        out.write_all(b"\n")?;
        first_ts = None;
    }
    Ok(())
}

/// The last `max_lines` lines of a log, at most `max_bytes` (for FallbackToLogsOnError).
pub fn tail_message(path: &Path, max_lines: usize, max_bytes: usize) -> String {
    let text = read_lossy(path);
    let mut rendered = Vec::new();
    if render(&text, false, &mut rendered).is_err() {
        return String::new();
    }
    let s = String::from_utf8_lossy(&rendered);
    let lines: Vec<&str> = s.lines().collect();
    let tail = lines[lines.len().saturating_sub(max_lines)..].join("\n");
    let tail = if s.ends_with('\n') && !tail.is_empty() { tail + "\n" } else { tail };
    let b = tail.as_bytes();
    String::from_utf8_lossy(&b[b.len().saturating_sub(max_bytes)..]).into_owned()
}

/// A log file as text: what a container wrote need not be UTF-8, and one bad byte must not
/// hide the rest (invalid sequences become U+FFFD). Never splits a line differently as the
/// file grows: no UTF-8 sequence contains a newline byte. Empty when the file is missing.
pub fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

/// `<dir>/<container>/<instance>.log`
pub fn path(dir: &Path, container: &str, instance: u32) -> PathBuf {
    dir.join(container).join(format!("{instance}.log"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_partials_and_render() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c/0.log");
        let mut w = LogWriter::create(&p, Rotation::default()).unwrap();
        w.write(Stream::Stdout, b"hello\nwor").unwrap();
        w.write(Stream::Stderr, b"oops\n").unwrap();
        w.write(Stream::Stdout, b"ld\n").unwrap();
        w.write(Stream::Stdout, &vec![b'x'; MAX_LINE + 10]).unwrap();
        w.write(Stream::Stdout, b"\n").unwrap();
        w.write(Stream::Stdout, b"tail").unwrap();
        w.finish(Stream::Stdout).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let entries: Vec<Entry> = text.lines().map(|l| parse_line(l).unwrap()).collect();
        assert_eq!(entries[0].content, "hello");
        assert_eq!(entries[1].stream, "stderr");
        assert_eq!(entries[2].content, "world");
        assert!(entries[3].partial && entries[3].content.len() == MAX_LINE);
        assert!(!entries[4].partial && entries[4].content.len() == 10);
        assert_eq!(entries[5].content, "tail");
        assert!(entries.iter().all(|e| e.time.ends_with('Z') && e.time.len() == 30));
        let mut out = Vec::new();
        render(&text, false, &mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("hello\noops\nworld\nxxx"));
        assert!(s.ends_with("x\ntail\n"));
    }

    #[test]
    fn rotation_keeps_at_most_max_files_and_no_file_over_max_size() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c/0.log");
        let r = Rotation { max_size: 1000, max_files: 3 };
        let mut w = LogWriter::create(&p, r).unwrap();
        for i in 0..200 {
            w.write(Stream::Stdout, format!("line {i:04}\n").as_bytes()).unwrap();
        }
        let rotated = rotated_files(&p);
        assert_eq!(rotated.len(), 2, "{rotated:?}");
        for f in rotated.iter().chain([&p]) {
            assert!(std::fs::metadata(f).unwrap().len() <= 1000, "{}", f.display());
        }
        // The newest lines are in the current file, in order after the rotated ones.
        let mut all = String::new();
        for f in rotated.iter().chain([&p]) {
            all.push_str(&std::fs::read_to_string(f).unwrap());
        }
        let lines: Vec<String> = all.lines().map(|l| parse_line(l).unwrap().content).collect();
        assert_eq!(lines.last().map(String::as_str), Some("line 0199"));
        let n: Vec<u32> = lines.iter().map(|l| l[5..].parse().unwrap()).collect();
        assert!(n.windows(2).all(|w| w[1] == w[0] + 1), "lines lost inside the kept files");
        // A second instance of the container does not touch the first one's files.
        assert!(rotated_files(&d.path().join("c/1.log")).is_empty());
    }

    #[test]
    fn tail_message_keeps_the_end() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("0.log");
        let mut w = LogWriter::create(&p, Rotation::default()).unwrap();
        for i in 1..=100 {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes()).unwrap();
        }
        let m = tail_message(&p, 80, 2048);
        assert!(m.starts_with("line 21\n") && m.ends_with("line 100\n"), "{m}");
        let m = tail_message(&p, 80, 20);
        assert_eq!(m.len(), 20);
        assert!(m.ends_with("line 100\n"));
    }
}
