//! The pod record: the document the supervisor writes to `status.json` and every reader
//! (`pod list`, `status`, `describe`, `logs`, `exec`, `wait`, the cleanup) parses. It is the
//! Pod object as `kubectl get pod -o json` shows it (`apiVersion`, `kind`, `metadata`, `spec`,
//! `status`) plus runp's own block (`runp`: the STATUS column, READY, RESTARTS, whether the
//! supervisor still runs, the OCI ids of live instances), which output formats leave out.
//!
//! The shape is pinned: field names, the fields left out when empty, `lastState: {}` for a
//! container that never terminated and `lastProbeTime: null` in conditions are what
//! `pod status -o json/yaml` users and the tests read. The document is written through a
//! `serde_json::Value`, so its keys stay sorted as they always were. Every field a newer runp
//! added has a default: a status.json of an older runp still parses.

use super::status::{self, Kind, Phase, Terminated};
use crate::spec::pod::{ObjectMeta, PodSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// status.json: the Pod object and runp's block.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRecord {
    #[serde(default = "api_version")]
    pub api_version: String,
    #[serde(default = "pod_kind")]
    pub kind: String,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: PodSpec,
    #[serde(default)]
    pub status: PodStatus,
    #[serde(default)]
    pub runp: Runp,
}

fn api_version() -> String {
    "v1".to_string()
}

fn pod_kind() -> String {
    "Pod".to_string()
}

/// The manifest's metadata and the times the kubelet adds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(flatten)]
    pub meta: ObjectMeta,
    #[serde(default)]
    pub creation_timestamp: String,
    /// Set when the pod began terminating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    #[serde(default = "pending")]
    pub phase: Phase,
    #[serde(default)]
    pub conditions: Vec<PodCondition>,
    #[serde(default, rename = "hostIP")]
    pub host_ip: String,
    #[serde(default, rename = "hostIPs")]
    pub host_ips: Vec<Ip>,
    #[serde(default, rename = "podIP")]
    pub pod_ip: String,
    #[serde(default, rename = "podIPs")]
    pub pod_ips: Vec<Ip>,
    #[serde(default)]
    pub start_time: String,
    #[serde(default)]
    pub qos_class: String,
    /// The pod's reason (DeadlineExceeded, SupervisorLost); `message` comes with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Init containers and sidecars, in spec order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_container_statuses: Vec<ContainerStatus>,
    /// App containers, by name.
    #[serde(default)]
    pub container_statuses: Vec<ContainerStatus>,
}

fn pending() -> Phase {
    Phase::Pending
}

impl Default for PodStatus {
    fn default() -> Self {
        PodStatus {
            phase: Phase::Pending,
            conditions: Vec::new(),
            host_ip: String::new(),
            host_ips: Vec::new(),
            pod_ip: String::new(),
            pod_ips: Vec::new(),
            start_time: String::new(),
            qos_class: String::new(),
            reason: None,
            message: None,
            init_container_statuses: Vec::new(),
            container_statuses: Vec::new(),
        }
    }
}

/// One of `hostIPs` / `podIPs`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ip {
    pub ip: String,
}

/// A pod condition as the API shows it (`lastProbeTime` is always null, as the kubelet's).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodCondition {
    #[serde(rename = "type")]
    pub type_: String,
    /// "True" or "False".
    pub status: String,
    #[serde(default)]
    pub last_probe_time: Option<String>,
    #[serde(default)]
    pub last_transition_time: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// A container's entry in `containerStatuses` / `initContainerStatuses`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    pub name: String,
    #[serde(default)]
    pub image: String,
    /// Set once an instance was made; `imageID` comes with it.
    #[serde(default, rename = "containerID", skip_serializing_if = "String::is_empty")]
    pub container_id: String,
    #[serde(default, rename = "imageID", skip_serializing_if = "String::is_empty")]
    pub image_id: String,
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    pub restart_count: u32,
    #[serde(default)]
    pub started: bool,
    #[serde(default)]
    pub state: ContainerState,
    /// `{}` when no instance terminated before the current one.
    #[serde(default)]
    pub last_state: ContainerState,
}

/// Kubernetes' ContainerState: at most one of the three is set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContainerState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Waiting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<Running>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminated: Option<Terminated>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Waiting {
    #[serde(default)]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Running {
    #[serde(default)]
    pub started_at: String,
}

impl ContainerState {
    pub fn is_empty(&self) -> bool {
        self.waiting.is_none() && self.running.is_none() && self.terminated.is_none()
    }
}

/// runp's bookkeeping, not part of the Pod object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Runp {
    /// kubectl's STATUS column.
    #[serde(default)]
    pub display: String,
    /// READY: ready app containers / app containers.
    #[serde(default)]
    pub ready: String,
    /// RESTARTS: the sum over all containers.
    #[serde(default)]
    pub restarts: u32,
    /// The supervisor has not finished.
    #[serde(default)]
    pub supervisor: bool,
    /// The OCI container of each live instance.
    #[serde(default, rename = "containerIDs")]
    pub container_ids: Vec<ContainerId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContainerId {
    pub name: String,
    pub id: String,
}

/// What a supervisor that died leaves claimed, replaced by what is true.
pub const SUPERVISOR_LOST: &str = "SupervisorLost";
const SUPERVISOR_LOST_MESSAGE: &str = "the pod's supervisor is gone; its containers were killed with it";

impl PodRecord {
    /// The JSON text of status.json (keys sorted, as it always was).
    pub fn to_json_text(&self) -> String {
        serde_json::to_value(self).map(|v| v.to_string()).unwrap_or_default()
    }

    /// The Pod object without runp's block: what `pod status -o json/yaml` and `pod list -o
    /// json` print.
    pub fn pod_object(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.remove("runp");
        }
        v
    }

    /// The record claims a live pod but its supervisor is gone: the rewrite applies.
    pub fn supervisor_lost(&self, supervisor_alive: bool) -> bool {
        !self.status.phase.is_terminal() && !supervisor_alive
    }

    /// Reports a pod whose supervisor died as what it is: Failed, SupervisorLost, Unknown.
    pub fn mark_supervisor_lost(&mut self) {
        self.status.phase = Phase::Failed;
        self.status.reason = Some(SUPERVISOR_LOST.to_string());
        self.status.message = Some(SUPERVISOR_LOST_MESSAGE.to_string());
        self.runp.display = "Unknown".to_string();
    }

    /// Init containers (and sidecars) first, then app containers.
    pub fn containers(&self) -> impl Iterator<Item = &ContainerStatus> {
        self.status.init_container_statuses.iter().chain(&self.status.container_statuses)
    }

    /// Container `name`'s entry; without a name, kubectl's default container: the first app
    /// container in spec order.
    pub fn container(&self, name: Option<&str>) -> anyhow::Result<&ContainerStatus> {
        let want = match name {
            Some(n) => n.to_string(),
            None => self
                .spec
                .containers
                .first()
                .map(|c| c.name.clone())
                .or_else(|| self.status.container_statuses.first().map(|c| c.name.clone()))
                .unwrap_or_default(),
        };
        self.containers().find(|c| c.name == want).ok_or_else(|| anyhow::anyhow!("container {want:?} not found in pod"))
    }

    /// The OCI id of container `name`'s live instance.
    pub fn container_oci_id(&self, name: &str) -> Option<&str> {
        self.runp.container_ids.iter().find(|x| x.name == name).map(|x| x.id.as_str())
    }

    /// Condition `kind` (case-insensitive) has status `want`.
    pub fn condition_is(&self, kind: &str, want: bool) -> bool {
        let want = if want { "True" } else { "False" };
        self.status.conditions.iter().any(|c| c.type_.eq_ignore_ascii_case(kind) && c.status == want)
    }
}

impl From<&status::ContainerStatus> for ContainerStatus {
    fn from(c: &status::ContainerStatus) -> Self {
        let state = match &c.state {
            status::State::Waiting { reason, message } => ContainerState {
                waiting: Some(Waiting { reason: reason.clone(), message: message.clone() }),
                ..Default::default()
            },
            status::State::Running { started_at } => {
                ContainerState { running: Some(Running { started_at: started_at.clone() }), ..Default::default() }
            }
            status::State::Terminated(t) => ContainerState { terminated: Some(t.clone()), ..Default::default() },
        };
        let image_id = match (c.container_id.is_empty(), c.image_id.is_empty()) {
            (true, _) => String::new(),
            (false, false) => c.image_id.clone(),
            (false, true) => c.image.clone(),
        };
        ContainerStatus {
            name: c.name.clone(),
            image: c.image.clone(),
            container_id: c.container_id.clone(),
            image_id,
            ready: c.ready,
            restart_count: c.restart_count,
            started: c.started,
            state,
            last_state: ContainerState { terminated: c.last_state.clone(), ..Default::default() },
        }
    }
}

/// The conditions in the API's order.
pub fn conditions(conds: &status::Conditions) -> Vec<PodCondition> {
    status::CONDITION_ORDER
        .iter()
        .filter_map(|k| conds.get(k).map(|c| (k, c)))
        .map(|(k, c)| PodCondition {
            type_: k.to_string(),
            status: if c.status { "True" } else { "False" }.to_string(),
            last_probe_time: None,
            last_transition_time: c.since.clone(),
            reason: c.reason.clone(),
            message: c.message.clone(),
        })
        .collect()
}

/// `initContainerStatuses` (spec order) and `containerStatuses` (by name) of the machine's
/// records.
pub fn container_statuses(records: &[status::ContainerStatus]) -> (Vec<ContainerStatus>, Vec<ContainerStatus>) {
    let init = records.iter().filter(|c| c.kind != Kind::App).map(ContainerStatus::from).collect();
    let mut apps: Vec<&status::ContainerStatus> = records.iter().filter(|c| c.kind == Kind::App).collect();
    apps.sort_by(|a, b| a.name.cmp(&b.name));
    (init, apps.into_iter().map(ContainerStatus::from).collect())
}

/// kubectl's AGE column for something `secs` old.
pub fn format_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s => format!("{}h", s / 3600),
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
