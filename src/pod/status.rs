//! Pod and container status with the kubelet's semantics: container states, the phase
//! (`getPhase`), conditions with sticky lastTransitionTime, the STATUS column. Pure: the
//! supervisor feeds it records, it computes; `record.rs` gives them their JSON shape.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    Init,
    Sidecar,
    App,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Terminated {
    pub exit_code: i32,
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty", rename = "containerID")]
    pub container_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum State {
    Waiting {
        reason: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        message: String,
    },
    Running {
        started_at: String,
    },
    Terminated(Terminated),
}

/// One container's status record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerStatus {
    pub name: String,
    pub kind: Kind,
    pub image: String,
    /// The image's repo digest or id, once it was found (`imageID`).
    #[serde(default)]
    pub image_id: String,
    pub container_id: String,
    pub state: State,
    pub last_state: Option<Terminated>,
    pub restart_count: u32,
    pub started: bool,
    pub ready: bool,
}

impl ContainerStatus {
    pub fn new(name: &str, kind: Kind, image: &str, waiting_reason: &str) -> Self {
        ContainerStatus {
            name: name.to_string(),
            kind,
            image: image.to_string(),
            image_id: String::new(),
            container_id: String::new(),
            state: State::Waiting { reason: waiting_reason.to_string(), message: String::new() },
            last_state: None,
            restart_count: 0,
            started: false,
            ready: false,
        }
    }

    fn is_running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }

    fn terminated(&self) -> Option<&Terminated> {
        match &self.state {
            State::Terminated(t) => Some(t),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Failed)
    }
}

/// The kubelet's getPhase (docs/pod-lifecycle.md#phase).
pub fn phase(containers: &[ContainerStatus], restart_policy: &str, terminal: bool, initialized: bool) -> Phase {
    let (mut pending_init, mut failed_init) = (0, 0);
    let mut pending_sidecar = 0;
    let (mut running, mut stopped, mut succeeded, mut waiting, unknown) = (0, 0, 0, 0, 0);
    for c in containers {
        let last_exit = c.last_state.as_ref().map(|t| t.exit_code);
        match c.kind {
            Kind::Init => match &c.state {
                State::Terminated(t) if t.exit_code != 0 => failed_init += 1,
                State::Terminated(_) => {}
                State::Waiting { .. } if last_exit.is_some_and(|e| e != 0) => failed_init += 1,
                State::Waiting { .. } if last_exit == Some(0) => {}
                _ => pending_init += 1,
            },
            // A running sidecar counts as running (the pod is not done while it runs).
            Kind::Sidecar => match &c.state {
                State::Running { .. } => {
                    running += 1;
                    if !c.started {
                        pending_sidecar += 1;
                    }
                }
                State::Waiting { .. } if c.last_state.is_none() => {
                    pending_sidecar += 1;
                    waiting += 1;
                }
                _ => {}
            },
            Kind::App => match &c.state {
                State::Running { .. } => running += 1,
                State::Terminated(t) => {
                    stopped += 1;
                    if t.exit_code == 0 {
                        succeeded += 1;
                    }
                }
                State::Waiting { .. } if c.last_state.is_some() => stopped += 1,
                State::Waiting { .. } => waiting += 1,
            },
        }
    }
    if failed_init > 0 && restart_policy == "Never" {
        return Phase::Failed;
    }
    if pending_init > 0 || (pending_sidecar > 0 && !initialized) || waiting > 0 {
        return Phase::Pending;
    }
    if running > 0 && unknown == 0 {
        return Phase::Running;
    }
    if running == 0 && stopped > 0 && unknown == 0 {
        if terminal {
            return if stopped == succeeded { Phase::Succeeded } else { Phase::Failed };
        }
        if restart_policy == "Always" {
            return Phase::Running;
        }
        if stopped == succeeded {
            return Phase::Succeeded;
        }
        if restart_policy == "Never" {
            return Phase::Failed;
        }
        return Phase::Running;
    }
    Phase::Pending
}

/// One condition, with the time its status last flipped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Condition {
    pub status: bool,
    pub since: String,
    pub reason: String,
    pub message: String,
}

/// Conditions keyed by type; `set` keeps lastTransitionTime unless the status flips (docs/pod-lifecycle.md#conditions).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Conditions(pub BTreeMap<String, Condition>);

pub const CONDITION_ORDER: [&str; 5] =
    ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"];

impl Conditions {
    pub fn set(&mut self, kind: &str, status: bool, reason: &str, message: &str, now: &str) {
        let since = match self.0.get(kind) {
            Some(c) if c.status == status => c.since.clone(),
            _ => now.to_string(),
        };
        self.0.insert(
            kind.to_string(),
            Condition { status, since, reason: reason.to_string(), message: message.to_string() },
        );
    }

    pub fn get(&self, kind: &str) -> Option<&Condition> {
        self.0.get(kind)
    }
}

/// Recomputes Initialized, ContainersReady and Ready (docs/pod-lifecycle.md#conditions).
pub fn update_conditions(
    conds: &mut Conditions,
    containers: &[ContainerStatus],
    phase: Phase,
    app_started: bool,
    now: &str,
) {
    let names = |f: &dyn Fn(&ContainerStatus) -> bool| -> Vec<String> {
        containers.iter().filter(|c| f(c)).map(|c| c.name.clone()).collect()
    };
    let incomplete = names(&|c| match c.kind {
        Kind::Init => {
            // Done: exited 0, or waiting to re-run after exiting 0 (a re-created sandbox).
            let done = matches!(c.state, State::Terminated(ref t) if t.exit_code == 0)
                || matches!(c.state, State::Waiting { .. }) && c.last_state.as_ref().is_some_and(|t| t.exit_code == 0);
            !done
        }
        Kind::Sidecar => !c.started,
        Kind::App => false,
    });
    if phase == Phase::Succeeded {
        conds.set("Initialized", true, "PodCompleted", "", now);
    } else if incomplete.is_empty() || app_started {
        conds.set("Initialized", true, "", "", now);
    } else {
        conds.set(
            "Initialized",
            false,
            "ContainersNotInitialized",
            &format!("containers with incomplete status: [{}]", incomplete.join(" ")),
            now,
        );
    }
    let unready = names(&|c| matches!(c.kind, Kind::App | Kind::Sidecar) && !c.ready);
    let (ok, reason, message) = match phase {
        Phase::Succeeded => (false, "PodCompleted", String::new()),
        Phase::Failed => (false, "PodFailed", String::new()),
        _ if unready.is_empty() => (true, "", String::new()),
        _ => (false, "ContainersNotReady", format!("containers with unready status: [{}]", unready.join(" "))),
    };
    conds.set("ContainersReady", ok, reason, &message, now);
    conds.set("Ready", ok, reason, &message, now);
}

/// kubectl's STATUS column: the first init container (or sidecar) not done decides it, unless
/// the pod is initialized; then the last app container with a reason does.
pub fn display_status(
    phase: Phase,
    reason: &str,
    containers: &[ContainerStatus],
    terminating: bool,
    initialized: bool,
) -> String {
    if terminating {
        return "Terminating".to_string();
    }
    let mut s = if reason.is_empty() { phase.as_str().to_string() } else { reason.to_string() };
    let inits: Vec<&ContainerStatus> = containers.iter().filter(|c| c.kind != Kind::App).collect();
    let mut initializing = false;
    for (i, c) in inits.iter().enumerate() {
        initializing = true;
        match &c.state {
            State::Terminated(t) if t.exit_code == 0 => initializing = false,
            _ if c.kind == Kind::Sidecar && c.started => initializing = false,
            State::Terminated(t) if t.reason.is_empty() => s = format!("Init:ExitCode:{}", t.exit_code),
            State::Terminated(t) => s = format!("Init:{}", t.reason),
            State::Waiting { reason, .. } if !reason.is_empty() && reason != "PodInitializing" => {
                s = format!("Init:{reason}")
            }
            _ => s = format!("Init:{i}/{}", inits.len()),
        }
        if initializing {
            break;
        }
    }
    if initializing && !initialized {
        return s;
    }
    let mut apps: Vec<&ContainerStatus> = containers.iter().filter(|c| c.kind == Kind::App).collect();
    apps.sort_by(|a, b| a.name.cmp(&b.name));
    for c in apps.iter().rev() {
        match &c.state {
            State::Waiting { reason, .. } if !reason.is_empty() => s = reason.clone(),
            State::Terminated(t) if !t.reason.is_empty() => s = t.reason.clone(),
            State::Terminated(t) => s = format!("ExitCode:{}", t.exit_code),
            _ => {}
        }
    }
    if s == "Completed" && apps.iter().any(|c| c.is_running() && c.ready) {
        s = "Running".to_string();
    }
    s
}

/// The termination-message pod-wide cap: each message cut to 12288 / containers bytes (head).
pub fn cap_messages(containers: &mut [ContainerStatus]) {
    let n = containers.len().max(1);
    let cap = 12288 / n;
    for c in containers.iter_mut() {
        if let Some(t) = c.terminated_mut() {
            cut(&mut t.message, cap);
        }
        if let Some(t) = c.last_state.as_mut() {
            cut(&mut t.message, cap);
        }
    }
}

impl ContainerStatus {
    fn terminated_mut(&mut self) -> Option<&mut Terminated> {
        match &mut self.state {
            State::Terminated(t) => Some(t),
            _ => None,
        }
    }

    pub fn last_exit(&self) -> Option<i32> {
        self.terminated().map(|t| t.exit_code)
    }
}

fn cut(s: &mut String, cap: usize) {
    if s.len() > cap {
        let mut end = cap;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// `Running`/`ContainerCreating`... reasons used while waiting.
pub const CREATING: &str = "ContainerCreating";
pub const INITIALIZING: &str = "PodInitializing";

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, kind: Kind, state: State, last: Option<i32>) -> ContainerStatus {
        let mut s = ContainerStatus::new(name, kind, "busybox", "");
        s.state = state;
        s.last_state = last.map(|e| Terminated { exit_code: e, ..Default::default() });
        s
    }
    fn running() -> State {
        State::Running { started_at: "t".into() }
    }
    fn exited(code: i32) -> State {
        State::Terminated(Terminated {
            exit_code: code,
            reason: if code == 0 { "Completed".into() } else { "Error".into() },
            ..Default::default()
        })
    }
    fn waiting(r: &str) -> State {
        State::Waiting { reason: r.into(), message: String::new() }
    }

    #[test]
    fn phase_table() {
        use Phase::*;
        // docs/pod-lifecycle.md#phase
        assert_eq!(phase(&[c("a", Kind::App, exited(0), None)], "Never", false, true), Succeeded);
        assert_eq!(phase(&[c("a", Kind::App, exited(3), None)], "Never", false, true), Failed);
        assert_eq!(phase(&[c("a", Kind::App, exited(0), None)], "OnFailure", false, true), Succeeded);
        assert_eq!(phase(&[c("a", Kind::App, exited(0), None)], "Always", false, true), Running);
        assert_eq!(
            phase(&[c("a", Kind::App, exited(1), None), c("b", Kind::App, running(), None)], "Never", false, true),
            Running
        );
        assert_eq!(
            phase(&[c("a", Kind::App, exited(1), None), c("b", Kind::App, exited(0), None)], "Never", false, true),
            Failed
        );
        assert_eq!(
            phase(&[c("a", Kind::App, exited(1), None), c("b", Kind::App, exited(0), None)], "OnFailure", false, true),
            Running
        );
        // one app never started → Pending
        assert_eq!(
            phase(
                &[c("a", Kind::App, running(), None), c("b", Kind::App, waiting("ErrImagePull"), None)],
                "Always",
                false,
                true
            ),
            Pending
        );
        // crash-looping app counts as stopped, not waiting
        assert_eq!(
            phase(
                &[c("a", Kind::App, running(), None), c("b", Kind::App, waiting("CrashLoopBackOff"), Some(1))],
                "Always",
                false,
                true
            ),
            Running
        );
        // init containers
        assert_eq!(
            phase(
                &[c("i", Kind::Init, exited(1), None), c("a", Kind::App, waiting("PodInitializing"), None)],
                "Never",
                false,
                false
            ),
            Failed
        );
        assert_eq!(
            phase(
                &[
                    c("i", Kind::Init, waiting("CrashLoopBackOff"), Some(1)),
                    c("a", Kind::App, waiting("PodInitializing"), None)
                ],
                "Always",
                false,
                false
            ),
            Pending
        );
        assert_eq!(
            phase(
                &[c("i", Kind::Init, running(), None), c("a", Kind::App, waiting("PodInitializing"), None)],
                "Always",
                false,
                false
            ),
            Pending
        );
        // terminal: all stopped, decided by exit codes whatever the policy (docs/pod-lifecycle.md#final-phase)
        assert_eq!(phase(&[c("a", Kind::App, exited(0), None)], "Always", true, true), Succeeded);
        assert_eq!(phase(&[c("a", Kind::App, exited(143), None)], "Always", true, true), Failed);
        // sidecar exits never decide (docs/pod-lifecycle.md#sidecars)
        assert_eq!(
            phase(&[c("s", Kind::Sidecar, exited(1), None), c("a", Kind::App, running(), None)], "Never", false, true),
            Running
        );
    }

    #[test]
    fn conditions_keep_transition_time() {
        let mut conds = Conditions::default();
        let cs = [c("a", Kind::App, running(), None)];
        let mut cs = cs.to_vec();
        cs[0].ready = true;
        update_conditions(&mut conds, &cs, Phase::Running, true, "T1");
        update_conditions(&mut conds, &cs, Phase::Running, true, "T2");
        assert_eq!(conds.get("Ready").unwrap().since, "T1");
        cs[0].ready = false;
        update_conditions(&mut conds, &cs, Phase::Running, true, "T3");
        let r = conds.get("Ready").unwrap();
        assert_eq!(
            (r.status, r.since.as_str(), r.message.as_str()),
            (false, "T3", "containers with unready status: [a]")
        );
        update_conditions(&mut conds, &cs, Phase::Succeeded, true, "T4");
        assert_eq!(conds.get("ContainersReady").unwrap().reason, "PodCompleted");
    }

    #[test]
    fn display() {
        let inits = vec![
            c("i1", Kind::Init, running(), None),
            c("i2", Kind::Init, waiting(INITIALIZING), None),
            c("a", Kind::App, waiting(INITIALIZING), None),
        ];
        assert_eq!(display_status(Phase::Pending, "", &inits, false, false), "Init:0/2");
        let failed = vec![c("i1", Kind::Init, exited(1), None), c("a", Kind::App, waiting(INITIALIZING), None)];
        assert_eq!(display_status(Phase::Failed, "", &failed, false, false), "Init:Error");
        let crash = vec![c("a", Kind::App, waiting("CrashLoopBackOff"), Some(1))];
        assert_eq!(display_status(Phase::Running, "", &crash, false, true), "CrashLoopBackOff");
        assert_eq!(display_status(Phase::Running, "", &crash, true, true), "Terminating");
        let done = vec![c("a", Kind::App, exited(0), None)];
        assert_eq!(display_status(Phase::Succeeded, "", &done, false, true), "Completed");
    }

    #[test]
    fn message_cap() {
        let mut cs: Vec<ContainerStatus> = (0..4)
            .map(|i| {
                let mut s = c(&format!("c{i}"), Kind::App, exited(0), None);
                if let State::Terminated(t) = &mut s.state {
                    t.message = "x".repeat(4096);
                }
                s
            })
            .collect();
        cap_messages(&mut cs);
        assert!(cs.iter().all(|c| matches!(&c.state, State::Terminated(t) if t.message.len() == 3072)));
    }
}
