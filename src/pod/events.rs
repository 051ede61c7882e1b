//! The pod's event list, as `kubectl describe` shows it: identical events merge (count++).

use serde::{Deserialize, Serialize};

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
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Events {
    pub items: Vec<Event>,
}

/// `2026-11-21T10:00:00.123Z`
pub fn now_millis() -> String {
    let full = crate::time::now_nanos();
    format!("{}Z", &full[..23])
}

impl Events {
    /// Records an event, merging it with the previous identical one. Returns the event.
    pub fn record(&mut self, kind: &str, reason: &str, field_path: &str, message: &str) -> Event {
        let now = now_millis();
        if let Some(e) = self
            .items
            .iter_mut()
            .rev()
            .find(|e| e.reason == reason && e.message == message && e.field_path == field_path && e.kind == kind)
        {
            e.count += 1;
            e.last_timestamp = now;
            return e.clone();
        }
        let e = Event {
            kind: kind.to_string(),
            reason: reason.to_string(),
            message: message.to_string(),
            field_path: field_path.to_string(),
            count: 1,
            first_timestamp: now.clone(),
            last_timestamp: now,
        };
        self.items.push(e.clone());
        e
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
        assert_eq!(ev.items[0].count, 2);
        assert!(ev.items[0].first_timestamp.len() == 24 && ev.items[0].first_timestamp.ends_with('Z'));
    }
}
