//! The pod's event list, as `kubectl describe` shows it: identical events merge (count++).
//!
//! Kept in `events.jsonl`, one line per record (a merged repeat appends the event again with its
//! new count; readers keep the last line of each id), so recording an event costs one append,
//! not a rewrite. At most [`MAX_EVENTS`] events are kept, the oldest dropped; the file is
//! compacted to them when it holds twice as many lines.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// The most events a pod keeps (the oldest go first).
pub const MAX_EVENTS: usize = 1000;

/// The file, in the pod's directory.
pub const FILE: &str = "events.jsonl";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: String,
    pub reason: String,
    pub message: String,
    /// `spec.containers{app}` for container events; empty for the pod.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field_path: String,
    pub count: u32,
    /// RFC 3339 with milliseconds.
    pub first_timestamp: String,
    pub last_timestamp: String,
    /// Which event a line of the file is (merged repeats share it); not shown to users.
    #[serde(skip)]
    pub id: u64,
}

/// One line of the file.
#[derive(Serialize, Deserialize)]
struct Line {
    id: u64,
    #[serde(flatten)]
    event: Event,
}

#[derive(Debug, Default, Clone)]
pub struct Events {
    pub items: Vec<Event>,
    next_id: u64,
    /// Lines in the file (to know when to compact it).
    lines: usize,
}

/// `2026-11-21T10:00:00.123Z`
pub fn now_millis() -> String {
    let full = crate::time::now_nanos();
    format!("{}Z", &full[..23])
}

impl Events {
    /// Records an event, merging it with the previous identical one. Returns the event. The
    /// list is in order of last occurrence (as `kubectl describe` sorts by lastTimestamp), so
    /// the cap drops what happened least recently.
    pub fn record(&mut self, kind: &str, reason: &str, field_path: &str, message: &str) -> Event {
        let now = now_millis();
        if let Some(i) = self
            .items
            .iter()
            .rposition(|e| e.reason == reason && e.message == message && e.field_path == field_path && e.kind == kind)
        {
            let mut e = self.items.remove(i);
            e.count = e.count.saturating_add(1);
            e.last_timestamp = now;
            self.items.push(e.clone());
            return e;
        }
        self.next_id += 1;
        let e = Event {
            kind: kind.to_string(),
            reason: reason.to_string(),
            message: message.to_string(),
            field_path: field_path.to_string(),
            count: 1,
            first_timestamp: now.clone(),
            last_timestamp: now,
            id: self.next_id,
        };
        self.items.push(e.clone());
        if self.items.len() > MAX_EVENTS {
            let extra = self.items.len() - MAX_EVENTS;
            self.items.drain(..extra);
        }
        e
    }

    /// Appends `e` (just recorded) to `<dir>/events.jsonl`; rewrites the file with the kept
    /// events when it has grown to twice their number.
    pub fn persist(&mut self, dir: &Path, e: &Event) -> anyhow::Result<()> {
        use anyhow::Context;
        let path = dir.join(FILE);
        if self.lines >= 2 * MAX_EVENTS {
            let mut text = Vec::new();
            for item in &self.items {
                serde_json::to_writer(&mut text, &Line { id: item.id, event: item.clone() })?;
                text.push(b'\n');
            }
            crate::runtime::state::write_atomic(&path, &text, 0o600)?;
            self.lines = self.items.len();
            return Ok(());
        }
        let mut line = serde_json::to_vec(&Line { id: e.id, event: e.clone() })?;
        line.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        f.write_all(&line).with_context(|| format!("writing {}", path.display()))?;
        self.lines += 1;
        Ok(())
    }

    /// The events of the pod in `dir`, oldest first (the last line of each id, at most
    /// [`MAX_EVENTS`]). A pod recorded before events.jsonl existed has `events.json`.
    pub fn load(dir: &Path) -> Events {
        let Ok(text) = std::fs::read(dir.join(FILE)) else {
            #[derive(Deserialize)]
            struct Legacy {
                items: Vec<Event>,
            }
            let legacy =
                std::fs::read(dir.join("events.json")).ok().and_then(|t| serde_json::from_slice::<Legacy>(&t).ok());
            let mut items = legacy.map(|l| l.items).unwrap_or_default();
            for (i, e) in items.iter_mut().enumerate() {
                e.id = i as u64 + 1;
            }
            return Events { next_id: items.len() as u64, lines: 0, items };
        };
        // Each id at the position of its last line: the order `record` keeps.
        let mut by_id: HashMap<u64, (usize, Event)> = HashMap::new();
        let mut lines = 0;
        // A line cut short by a crash (or anything unreadable) is skipped, not fatal.
        for l in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            lines += 1;
            if let Ok(Line { id, mut event }) = serde_json::from_slice::<Line>(l) {
                event.id = id;
                by_id.insert(id, (lines, event));
            }
        }
        let mut ordered: Vec<(usize, Event)> = by_id.into_values().collect();
        ordered.sort_by_key(|(n, _)| *n);
        let mut items: Vec<Event> = ordered.into_iter().map(|(_, e)| e).collect();
        if items.len() > MAX_EVENTS {
            items.drain(..items.len() - MAX_EVENTS);
        }
        Events { next_id: items.iter().map(|e| e.id).max().unwrap_or(0), lines, items }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_merge() {
        let mut ev = Events::default();
        ev.record("Warning", "BackOff", "spec.containers{a}", "Back-off restarting failed container a");
        ev.record("Normal", "Started", "spec.containers{a}", "Started container a");
        let e = ev.record("Warning", "BackOff", "spec.containers{a}", "Back-off restarting failed container a");
        assert_eq!(e.count, 2);
        assert_eq!(ev.items.len(), 2);
        assert_eq!(ev.items[1].count, 2, "a merged repeat moves to the end");
        assert!(ev.items[1].first_timestamp.len() == 24 && ev.items[1].first_timestamp.ends_with('Z'));
    }

    #[test]
    fn appended_file_reads_back_merged_capped_and_compacted() {
        let d = tempfile::tempdir().unwrap();
        let mut ev = Events::default();
        for i in 0..(MAX_EVENTS + 50) {
            let e = ev.record("Normal", "Tick", "", &format!("tick {i}"));
            ev.persist(d.path(), &e).unwrap();
            // A repeat of the first kept event: merged, appended again.
            let e = ev.record("Warning", "BackOff", "spec.containers{a}", "Back-off");
            ev.persist(d.path(), &e).unwrap();
        }
        assert_eq!(ev.items.len(), MAX_EVENTS);
        let back = Events::load(d.path());
        assert_eq!(back.items, ev.items, "the file reads back as the kept events");
        assert_eq!(back.items.iter().find(|e| e.reason == "BackOff").map(|e| e.count), Some(MAX_EVENTS as u32 + 50));
        assert_eq!(back.items.last().map(|e| e.reason.as_str()), Some("BackOff"), "the last updated is last");
        assert_eq!(back.items.iter().rev().nth(1).map(|e| e.message.as_str()), Some("tick 1049"));
        assert!(!back.items.iter().any(|e| e.message == "tick 0"), "the least recent went first");
        // Compaction keeps the file bounded: at most twice the kept events.
        let lines = std::fs::read_to_string(d.path().join(FILE)).unwrap().lines().count();
        assert!(lines <= 2 * MAX_EVENTS, "{lines} lines");
        // A torn last line is skipped.
        std::fs::OpenOptions::new().append(true).open(d.path().join(FILE)).unwrap().write_all(b"{\"id\": 9").unwrap();
        assert_eq!(Events::load(d.path()).items, ev.items);
    }
}
