//! runc-compatible logging: `--log FILE` (default stderr), `--log-format text|json`.
//!
//! JSON lines are exactly `{"level":"error","msg":"...","time":"RFC3339"}`: containerd's shim
//! decodes each line and keeps the last error's msg, and podman parses the file as one object,
//! so every line is one complete object and an error is one line.
#![forbid(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

struct Logger {
    format: Format,
    file: Option<Mutex<File>>,
    level: log::LevelFilter,
}

fn level_name(l: log::Level) -> &'static str {
    match l {
        log::Level::Error => "error",
        log::Level::Warn => "warning",
        log::Level::Info => "info",
        log::Level::Debug => "debug",
        log::Level::Trace => "trace",
    }
}

/// One formatted line, newline included.
pub fn format_line(format: Format, level: log::Level, msg: &str) -> String {
    let time = crate::time::rfc3339(std::time::SystemTime::now());
    match format {
        Format::Json => {
            let obj = serde_json::json!({"level": level_name(level), "msg": msg, "time": time});
            format!("{obj}\n")
        }
        Format::Text => format!("time={time:?} level={} msg={msg:?}\n", level_name(level)),
    }
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= self.level
    }

    fn log(&self, r: &log::Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let line = format_line(self.format, r.level(), &r.args().to_string());
        match &self.file {
            Some(f) => {
                if let Ok(mut f) = f.lock() {
                    let _ = f.write_all(line.as_bytes());
                }
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }

    fn flush(&self) {}
}

/// Installs the logger. A log file that cannot be opened is reported on stderr and ignored.
pub fn init(path: Option<&std::path::Path>, format: Format, debug: bool) -> bool {
    let file = path.and_then(|p| {
        OpenOptions::new()
            .create(true)
            .append(true)
            .custom_flags(libc::O_SYNC)
            .mode(0o644)
            .open(p)
            .map_err(|e| eprintln!("runp: opening log file {}: {e}", p.display()))
            .ok()
    });
    let has_file = file.is_some();
    let level = if debug { log::LevelFilter::Debug } else { log::LevelFilter::Warn };
    let logger = Logger { format, file: file.map(Mutex::new), level };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(level);
    }
    has_file
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_shape() {
        let line = format_line(Format::Json, log::Level::Error, "container does not exist");
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "container does not exist");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(v.as_object().unwrap().len(), 3);
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
    }

    #[test]
    fn text_line_shape() {
        let line = format_line(Format::Text, log::Level::Error, "container does not exist");
        assert!(line.starts_with("time=\"") && line.contains("level=error msg=\"container does not exist\""));
    }
}
