use super::*;
use crate::pod::status::{Conditions, ContainerStatus as Rec, State};
use serde_json::json;

fn pod() -> crate::spec::pod::Pod {
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n  initContainers:\n  - {name: init, image: busybox, command: [true]}\n  containers:\n  - {name: b, image: busybox}\n  - {name: a, image: busybox}\n";
    let mut p = crate::spec::pod::parse_any(yaml, "web.yaml").unwrap();
    p.metadata.uid = "u1".into();
    p
}

/// The machine's records of a pod with an init container done, one app running after a
/// restart and one waiting.
fn records() -> Vec<Rec> {
    let mut init = Rec::new("init", Kind::Init, "busybox", "");
    init.container_id = "web-init-0".into();
    init.state = State::Terminated(Terminated {
        exit_code: 0,
        reason: "Completed".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        finished_at: "2026-01-01T00:00:01Z".into(),
        container_id: "web-init-0".into(),
        ..Default::default()
    });
    let mut b = Rec::new("b", Kind::App, "busybox", "");
    b.container_id = "web-b-1".into();
    b.state = State::Running { started_at: "2026-01-01T00:00:05Z".into() };
    b.last_state = Some(Terminated {
        exit_code: 1,
        reason: "Error".into(),
        message: "boom".into(),
        started_at: "2026-01-01T00:00:02Z".into(),
        finished_at: "2026-01-01T00:00:03Z".into(),
        container_id: "web-b-0".into(),
    });
    b.restart_count = 1;
    b.started = true;
    b.ready = true;
    let a = Rec::new("a", Kind::App, "busybox", "ContainerCreating");
    vec![init, b, a]
}

fn conds() -> Conditions {
    let mut c = Conditions::default();
    c.set("PodScheduled", true, "", "", "T0");
    c.set("Initialized", true, "", "", "T1");
    c.set("Ready", false, "ContainersNotReady", "containers with unready status: [a]", "T2");
    c
}

/// The record the supervisor builds for `records()` (as `Supervisor::record` does).
fn record(reason: &str) -> PodRecord {
    let p = pod();
    let (init, apps) = container_statuses(&records());
    let r = (!reason.is_empty()).then(|| reason.to_string());
    PodRecord {
        api_version: "v1".into(),
        kind: "Pod".into(),
        metadata: Metadata {
            meta: p.metadata.clone(),
            creation_timestamp: "T0".into(),
            deletion_timestamp: Some("T9".into()),
        },
        spec: p.spec.clone(),
        status: PodStatus {
            phase: Phase::Running,
            conditions: conditions(&conds()),
            host_ip: "10.0.0.1".into(),
            host_ips: vec![Ip { ip: "10.0.0.1".into() }],
            pod_ip: "127.0.0.1".into(),
            pod_ips: vec![Ip { ip: "127.0.0.1".into() }],
            start_time: "T0".into(),
            qos_class: "BestEffort".into(),
            message: r.as_ref().map(|_| "why".to_string()),
            reason: r,
            init_container_statuses: init,
            container_statuses: apps,
        },
        runp: Runp {
            display: "Running".into(),
            ready: "1/2".into(),
            restarts: 1,
            supervisor: true,
            container_ids: vec![ContainerId { name: "b".into(), id: "web-b-1".into() }],
        },
    }
}

/// The document as runp wrote it with `json!` before the typed record, for the same pod.
fn legacy(reason: &str) -> Value {
    fn state_json(s: &State) -> Value {
        match s {
            State::Waiting { reason, message } if message.is_empty() => json!({"waiting": {"reason": reason}}),
            State::Waiting { reason, message } => json!({"waiting": {"reason": reason, "message": message}}),
            State::Running { started_at } => json!({"running": {"startedAt": started_at}}),
            State::Terminated(t) => json!({"terminated": t}),
        }
    }
    fn ctr(c: &Rec) -> Value {
        let mut v = json!({
            "name": c.name, "image": c.image, "ready": c.ready, "restartCount": c.restart_count,
            "started": c.started, "state": state_json(&c.state),
            "lastState": c.last_state.as_ref().map(|t| json!({"terminated": t})).unwrap_or_else(|| json!({})),
        });
        if !c.container_id.is_empty() {
            v["containerID"] = json!(c.container_id);
            v["imageID"] = json!(c.image);
        }
        v
    }
    let conds: Vec<Value> = status::CONDITION_ORDER
        .iter()
        .filter_map(|k| conds().get(k).cloned().map(|c| (k, c)))
        .map(|(k, c)| {
            let mut v = json!({"type": k, "status": if c.status { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": c.since});
            if !c.reason.is_empty() {
                v["reason"] = json!(c.reason);
            }
            if !c.message.is_empty() {
                v["message"] = json!(c.message);
            }
            v
        })
        .collect();
    let recs = records();
    let init: Vec<Value> = recs.iter().filter(|c| c.kind != Kind::App).map(ctr).collect();
    let mut apps: Vec<&Rec> = recs.iter().filter(|c| c.kind == Kind::App).collect();
    apps.sort_by(|a, b| a.name.cmp(&b.name));
    let apps: Vec<Value> = apps.into_iter().map(ctr).collect();
    let mut st = json!({
        "phase": "Running", "conditions": conds, "hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.1"}],
        "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}], "startTime": "T0", "qosClass": "BestEffort",
        "containerStatuses": apps,
    });
    if !init.is_empty() {
        st["initContainerStatuses"] = json!(init);
    }
    if !reason.is_empty() {
        st["reason"] = json!(reason);
        st["message"] = json!("why");
    }
    let p = pod();
    let mut meta = serde_json::to_value(&p.metadata).unwrap();
    meta["creationTimestamp"] = json!("T0");
    meta["deletionTimestamp"] = json!("T9");
    json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": p.spec, "status": st,
        "runp": {"display": "Running", "ready": "1/2", "restarts": 1, "supervisor": true,
                 "containerIDs": [{"name": "b", "id": "web-b-1"}]},
    })
}

#[test]
fn writes_what_the_json_document_did() {
    for reason in ["", "DeadlineExceeded"] {
        assert_eq!(record(reason).to_json_text(), legacy(reason).to_string(), "reason {reason:?}");
    }
    let v: Value = serde_json::from_str(&record("").to_json_text()).unwrap();
    let a = &v["status"]["containerStatuses"][0];
    assert_eq!((a["name"].as_str(), &a["lastState"]), (Some("a"), &json!({})));
    assert!(a.get("containerID").is_none() && a.get("imageID").is_none());
    assert_eq!(a["state"], json!({"waiting": {"reason": "ContainerCreating"}}));
    assert!(v["status"]["conditions"][0]["lastProbeTime"].is_null());
    assert!(v["status"]["conditions"][0].get("reason").is_none());
    assert!(v["status"].get("reason").is_none() && v["status"].get("message").is_none());
}

#[test]
fn round_trip() {
    let r = record("DeadlineExceeded");
    let text = r.to_json_text();
    let back: PodRecord = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
    assert_eq!(back.to_json_text(), text);
    let obj = back.pod_object();
    assert!(obj.get("runp").is_none() && obj["status"]["phase"] == "Running");
    assert_eq!(back.container(None).unwrap().name, "b", "the first app container in spec order");
    assert_eq!(back.container(Some("init")).unwrap().state.terminated.as_ref().unwrap().exit_code, 0);
    assert_eq!(back.container(Some("x")).unwrap_err().to_string(), "container \"x\" not found in pod");
    assert_eq!(back.container_oci_id("b"), Some("web-b-1"));
    assert_eq!(back.container_oci_id("a"), None);
    assert!(back.condition_is("ready", false) && back.condition_is("Initialized", true));
    assert!(!back.condition_is("Ready", true) && !back.condition_is("ContainersReady", false));
}

#[test]
fn parses_an_old_status_file() {
    // Before hostIPs, podIPs, qosClass, started, imageID and runp's containerIDs.
    let old = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"old","namespace":"default","uid":"u1","creationTimestamp":"T0"},
        "spec":{"containers":[{"name":"app","image":"busybox"}]},
        "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"T1"}],
          "podIP":"127.0.0.1","startTime":"T0",
          "containerStatuses":[{"name":"app","image":"busybox","ready":true,"restartCount":2,
            "state":{"running":{"startedAt":"T2"}},"lastState":{"terminated":{"exitCode":1,"reason":"Error","startedAt":"T1","finishedAt":"T2"}}}]},
        "runp":{"display":"Running","ready":"1/1","restarts":2}}"#;
    let r: PodRecord = serde_json::from_str(old).unwrap();
    assert_eq!((r.metadata.meta.name.as_str(), r.metadata.creation_timestamp.as_str()), ("old", "T0"));
    assert_eq!(r.status.phase, Phase::Running);
    assert!(r.status.host_ips.is_empty() && r.status.qos_class.is_empty() && r.status.reason.is_none());
    let c = r.container(None).unwrap();
    assert_eq!((c.restart_count, c.started, c.last_state.terminated.as_ref().unwrap().exit_code), (2, false, 1));
    assert!(r.runp.container_ids.is_empty() && !r.runp.supervisor);
    assert!(r.condition_is("Ready", true));
    // Even less: no runp block, no status.
    let bare: PodRecord = serde_json::from_str(r#"{"metadata":{"name":"x"},"spec":{"containers":[]}}"#).unwrap();
    assert_eq!((bare.kind.as_str(), bare.status.phase, bare.runp.display.as_str()), ("Pod", Phase::Pending, ""));
}

#[test]
fn supervisor_lost_rewrite() {
    let mut r = record("");
    assert!(!r.supervisor_lost(true), "a live supervisor is believed");
    assert!(r.supervisor_lost(false), "Running without a supervisor is a lie");
    r.status.phase = Phase::Pending;
    assert!(r.supervisor_lost(false));
    for p in [Phase::Succeeded, Phase::Failed] {
        r.status.phase = p;
        assert!(!r.supervisor_lost(false), "{p:?} is final: nothing to rewrite");
    }
    r.status.phase = Phase::Running;
    r.mark_supervisor_lost();
    assert_eq!(r.status.phase, Phase::Failed);
    assert_eq!(r.status.reason.as_deref(), Some("SupervisorLost"));
    assert_eq!(r.status.message.as_deref(), Some("the pod's supervisor is gone; its containers were killed with it"));
    assert_eq!(r.runp.display, "Unknown");
}

#[test]
fn age_column() {
    assert_eq!(format_age(0), "0s");
    assert_eq!(format_age(119), "119s");
    assert_eq!(format_age(120), "2m");
    assert_eq!(format_age(7199), "119m");
    assert_eq!(format_age(7200), "2h");
    assert_eq!(format_age(100 * 3600), "100h");
}
