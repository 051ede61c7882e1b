//! The image before a start, as the kubelet's image manager decides it: the supervisor
//! answers [`Action::StartContainer`] with [`Input::ImageMissing`] when the image is not in
//! the store, [`Input::ImageInvalid`] when `image:` is not a reference, or
//! [`Input::ConfigError`] when the image's USER cannot be used. A missing image is pulled
//! ([`Action::PullImage`]) unless `imagePullPolicy: Never` (ErrImageNeverPull); a failed pull
//! shows ErrImagePull, then ImagePullBackOff until the pull back-off (10 s doubling to 300 s,
//! its own, not the restart back-off) lets it try again. Nothing of this counts as a restart.

use super::super::status::State;
use super::{Action, Machine, Now};
use crate::spec::pod::PullPolicy;
use std::time::Duration;

/// How long until a container waiting for something outside (an image that is not there
/// under `Never`, an unusable config, an invalid name) is tried again: the kubelet's pod
/// worker retries a failed sync after 10 s.
pub const RESYNC: Duration = Duration::from_secs(10);

/// How long ErrImagePull shows before ImagePullBackOff (the kubelet's next sync).
pub const BACKOFF_SHOWN_AFTER: Duration = Duration::from_secs(1);

/// Go's time.Duration text for a pull's duration: `532ms`, `1.234s`.
pub fn go_seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let s = format!("{:.3}", d.as_secs_f64());
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}s")
}

impl Machine {
    /// The supervisor found container `i`'s image: what the status shows as image/imageID.
    pub fn set_image(&mut self, i: usize, image: &str, image_id: &str) {
        if let Some(c) = self.ctrs.get_mut(i) {
            c.status.image = image.to_string();
            c.status.image_id = image_id.to_string();
        }
    }

    /// A StartContainer that made no instance: as if it had not been asked.
    fn undo_start(&mut self, i: usize) -> bool {
        let Some(c) = self.ctrs.get_mut(i) else { return false };
        if !matches!(c.live, Some(super::container::Live::Starting)) {
            return false;
        }
        self.changed = true;
        c.live = None;
        c.instances = c.instances.saturating_sub(1);
        if c.instances > 0 {
            c.status.restart_count = c.status.restart_count.saturating_sub(1);
        }
        c.image.retry = true;
        true
    }

    /// Waits in `reason` (with an event) and tries again after [`RESYNC`].
    fn wait_resync(&mut self, i: usize, reason: &str, message: String, event: Option<(&str, String)>, now: Now) {
        let c = &mut self.ctrs[i];
        c.status.state = State::Waiting { reason: reason.to_string(), message };
        c.image.retry_at = Some(crate::time::after(now.mono, RESYNC));
        let fp = c.spec.field_path.clone();
        if let Some((r, m)) = event {
            self.note(true, r, &fp, m);
        }
        self.note(true, "Failed", &fp, format!("Error: {reason}"));
    }

    pub(super) fn on_image_missing(&mut self, i: usize, now: Now) {
        if !self.undo_start(i) {
            return;
        }
        let c = &mut self.ctrs[i];
        let image = c.spec.image.clone();
        if c.spec.pull_policy == PullPolicy::Never {
            let msg = format!("Container image \"{image}\" is not present with pull policy of Never");
            self.wait_resync(i, "ErrImageNeverPull", msg.clone(), Some(("ErrImageNeverPull", msg)), now);
            return;
        }
        c.image.pulling = Some(now.mono);
        let fp = c.spec.field_path.clone();
        self.note(false, "Pulling", &fp, format!("Pulling image \"{image}\""));
        self.out.push(Action::PullImage(i));
    }

    pub(super) fn on_image_invalid(&mut self, i: usize, reason: String, message: String, now: Now) {
        if !self.undo_start(i) {
            return;
        }
        self.wait_resync(i, &reason, message.clone(), Some(("InspectFailed", message)), now);
    }

    pub(super) fn on_config_error(&mut self, i: usize, message: String, now: Now) {
        if !self.undo_start(i) {
            return;
        }
        let c = &mut self.ctrs[i];
        c.status.state = State::Waiting { reason: "CreateContainerConfigError".into(), message: message.clone() };
        c.image.retry_at = Some(crate::time::after(now.mono, RESYNC));
        let fp = c.spec.field_path.clone();
        self.note(true, "Failed", &fp, format!("Error: {message}"));
    }

    pub(super) fn on_pulled(&mut self, i: usize, size: u64, now: Now) {
        let Some(c) = self.ctrs.get_mut(i) else { return };
        let Some(since) = c.image.pulling.take() else { return };
        self.changed = true;
        c.image.pulled = true;
        let took = go_seconds(now.mono.saturating_duration_since(since));
        let (fp, image) = (c.spec.field_path.clone(), c.spec.image.clone());
        self.note(
            false,
            "Pulled",
            &fp,
            format!(
                "Successfully pulled image \"{image}\" in {took} ({took} including waiting). Image size: {size} bytes."
            ),
        );
        // advance() starts it (it may start again).
    }

    pub(super) fn on_pull_failed(&mut self, i: usize, message: String, now: Now) {
        let Some(c) = self.ctrs.get_mut(i) else { return };
        if c.image.pulling.take().is_none() {
            return;
        }
        self.changed = true;
        let delay = c.image.backoff.next(&self.cfg.image_backoff, now.mono);
        c.image.retry_at = Some(crate::time::after(now.mono, delay));
        if delay > BACKOFF_SHOWN_AFTER {
            c.image.show_backoff_at = Some(crate::time::after(now.mono, BACKOFF_SHOWN_AFTER));
        }
        c.status.state = State::Waiting { reason: "ErrImagePull".into(), message: message.clone() };
        let (fp, image) = (c.spec.field_path.clone(), c.spec.image.clone());
        self.note(true, "Failed", &fp, format!("Failed to pull image \"{image}\": {message}"));
        self.note(true, "Failed", &fp, "Error: ErrImagePull".into());
    }

    /// The kubelet's next sync during the pull back-off.
    pub(super) fn show_pull_backoff(&mut self, i: usize) {
        let c = &mut self.ctrs[i];
        if c.image.show_backoff_at.take().is_none() {
            return;
        }
        self.changed = true;
        let msg = format!("Back-off pulling image \"{}\"", c.spec.image);
        c.status.state = State::Waiting { reason: "ImagePullBackOff".into(), message: msg.clone() };
        let fp = c.spec.field_path.clone();
        self.note(false, "BackOff", &fp, msg);
        self.note(true, "Failed", &fp, "Error: ImagePullBackOff".into());
    }

    /// The back-off or resync is over: advance() tries the start again.
    pub(super) fn image_retry_due(&mut self, i: usize) {
        let c = &mut self.ctrs[i];
        if c.image.retry_at.take().is_some() {
            c.image.show_backoff_at = None;
            self.changed = true;
        }
    }
}
