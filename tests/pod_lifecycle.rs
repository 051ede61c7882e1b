//! `runp pod`: phases and conditions, init containers, postStart, logs, exec, the pause
//! sandbox and its namespaces, termination messages and volumes (docs/pod-lifecycle.md).

mod common;
#[path = "common/pod.rs"]
mod pod_harness;

use pod_harness::*;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::time::{Duration, Instant};

fn is_lower_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A running pod's status, and its `pod list` row.
#[test]
fn running_pod_reports_kubelet_status() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        containers:
        - name: app
          image: busybox
          command: [sleep, "3600"]
        "#,
    ));
    let st = pe.wait_until(&name, |s| phase(s) == "Running" && ctr(s, "app")["ready"] == true, secs(10));
    for t in ["PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled"] {
        assert_eq!(cond(&st, t)["status"], "True", "condition {t}: {st:#}");
    }
    let c = ctr(&st, "app");
    assert!(c["state"]["running"]["startedAt"].is_string(), "{c:#}");
    assert_eq!(c["started"], true);
    assert_eq!(c["ready"], true);
    assert_eq!(c["restartCount"], 0);
    assert_eq!(c["lastState"], json!({}));
    let id = c["containerID"].as_str().expect("containerID");
    assert!(id.strip_prefix("runp://").is_some_and(is_lower_hex), "containerID {id}");
    assert_eq!(st["metadata"]["name"], name.as_str());
    assert!(st["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36), "{:#}", st["metadata"]);
    assert_eq!(st["status"]["qosClass"], "BestEffort");
    assert!(st["status"]["startTime"].is_string());

    assert_eq!(pe.list_row(&name), Some(("1/1".into(), "Running".into(), "0".into())));
    let list: Value = serde_json::from_str(&pe.ok(&["pod", "list", "-o", "json"])).expect("list json");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["metadata"]["name"], name.as_str());
    assert_eq!(items[0]["status"]["phase"], "Running");
    // describe and yaml output work on a running pod
    let d = pe.ok(&["pod", "describe", &name]);
    assert!(d.contains(&format!("Name:         {name}")) && d.contains("Started"), "{d}");
    let y = pe.ok(&["pod", "status", &name, "-o", "yaml"]);
    assert!(y.contains("phase: Running"), "{y}");
    // lastTransitionTime moves only when a condition flips
    let since = cond(&st, "Ready")["lastTransitionTime"].clone();
    std::thread::sleep(Duration::from_millis(1100));
    pe.exec_ok(&name, "app", &["sh", "-c", "echo some output"]);
    assert_eq!(cond(&pe.status(&name), "Ready")["lastTransitionTime"], since);
    pe.check_clean();
}

/// Phases for Never / OnFailure / Always by exit code.
#[test]
fn phase_follows_restart_policy_and_exit_code() {
    let Some(pe) = PodEnv::new() else { return };
    let mk = |policy: &str, script: &str| {
        pe.run_pod(&pod_yaml(&format!(
            "restartPolicy: {policy}\ncontainers:\n- name: c\n  image: busybox\n  command: [sh, -c, {}]\n",
            q(script)
        )))
    };
    let never0 = mk("Never", "exit 0");
    let never3 = mk("Never", "exit 3");
    let onfail0 = mk("OnFailure", "exit 0");
    let always0 = mk("Always", "exit 0");

    // Never, exit 0: Succeeded, Completed; Ready and ContainersReady False with PodCompleted
    let st = pe.wait_phase(&never0, "Succeeded", secs(10));
    let t = &ctr(&st, "c")["state"]["terminated"];
    assert_eq!((t["exitCode"].as_i64(), t["reason"].as_str()), (Some(0), Some("Completed")), "{t:#}");
    assert_eq!(cond(&st, "Ready")["status"], "False");
    assert_eq!(cond(&st, "Ready")["reason"], "PodCompleted");
    assert_eq!(cond(&st, "ContainersReady")["reason"], "PodCompleted");
    // Never, exit 3: Failed, Error; ContainersReady reason PodFailed
    let st = pe.wait_phase(&never3, "Failed", secs(10));
    let t = &ctr(&st, "c")["state"]["terminated"];
    assert_eq!((t["exitCode"].as_i64(), t["reason"].as_str()), (Some(3), Some("Error")), "{t:#}");
    assert_eq!(cond(&st, "ContainersReady")["reason"], "PodFailed");
    // OnFailure, exit 0: Succeeded, never restarted
    let st = pe.wait_phase(&onfail0, "Succeeded", secs(10));
    assert_eq!(ctr(&st, "c")["restartCount"], 0);
    // Restarted, CrashLoopBackOff, never Succeeded
    let seen = RefCell::new(Vec::<String>::new());
    let crash = RefCell::new(false);
    pe.wait_until(
        &always0,
        |s| {
            seen.borrow_mut().push(phase(s));
            if ctr(s, "c")["state"]["waiting"]["reason"] == "CrashLoopBackOff" {
                *crash.borrow_mut() = true;
            }
            *crash.borrow() && restarts(ctr(s, "c")) >= 3
        },
        secs(12),
    );
    let seen = seen.into_inner();
    assert!(seen.iter().all(|p| p == "Running" || p == "Pending"), "Always pod phases: {seen:?}");
    assert!(seen.iter().any(|p| p == "Running"));

    // Terminal phases are sticky and nothing is restarted
    std::thread::sleep(Duration::from_millis(600));
    for (n, p) in [(&never0, "Succeeded"), (&never3, "Failed"), (&onfail0, "Succeeded")] {
        let st = pe.status(n);
        assert_eq!(phase(&st), p, "{n}");
        assert_eq!(ctr(&st, "c")["restartCount"], 0, "{n}");
        assert_eq!(state_of(ctr(&st, "c")), "terminated", "{n}");
    }
    assert_eq!(pe.display(&never0), "Completed");
    assert_eq!(pe.display(&never3), "Error");
    pe.check_clean();
}

/// Phases of two-container pods while one container still runs.
#[test]
fn two_container_phases() {
    let Some(pe) = PodEnv::new() else { return };
    let mk = |policy: &str, a: &str, b: &str| {
        pe.run_pod(&pod_yaml(&format!(
            "restartPolicy: {policy}\ncontainers:\n- name: a\n  image: busybox\n  command: [sh, -c, {}]\n- name: b\n  image: busybox\n  command: [sh, -c, {}]\n",
            q(a),
            q(b)
        )))
    };
    let l08 = mk("Never", "exit 1", "sleep 2; exit 0");
    let l09 = mk("Never", "sleep 1", "sleep 2");
    let l10 = mk("OnFailure", "sleep 1; exit 0", "sleep 2");
    let deadline = Instant::now() + secs(10);
    let mut done = [false; 3];
    let mut saw_mixed = [false; 3];
    while done.iter().any(|d| !d) {
        assert!(Instant::now() < deadline, "pods did not finish: {done:?}");
        for (i, n) in [&l08, &l09, &l10].into_iter().enumerate() {
            let st = pe.status(n);
            let (a, b) = (ctr(&st, "a"), ctr(&st, "b"));
            let p = phase(&st);
            if state_of(b) != "terminated" {
                // never terminal while b still runs
                assert!(p == "Running" || p == "Pending", "{n}: phase {p} while b is {}: {st:#}", state_of(b));
                if state_of(a) == "terminated" && state_of(b) == "running" {
                    saw_mixed[i] = true;
                    assert_eq!(p, "Running", "{n}");
                    assert_eq!(a["restartCount"], 0, "{n}: a restarted");
                    if i == 2 {
                        assert_eq!(a["state"]["terminated"]["reason"], "Completed");
                    }
                }
            }
            if p == "Succeeded" || p == "Failed" {
                done[i] = true;
                assert_eq!(state_of(b), "terminated", "{n}");
                let want = if i == 0 { "Failed" } else { "Succeeded" };
                assert_eq!(p, want, "{n}: {st:#}");
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(saw_mixed, [true; 3], "never saw a terminated while b ran");
    pe.check_clean();
}

/// containerStatuses sorted by name, initContainerStatuses in spec order.
#[test]
fn status_lists_are_ordered() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        initContainers:
        - {name: init-b, image: busybox, command: ["true"]}
        - {name: init-a, image: busybox, command: ["true"]}
        containers:
        - {name: zeta, image: busybox, command: [sleep, "3600"]}
        - {name: alpha, image: busybox, command: [sleep, "3600"]}
        - {name: mid, image: busybox, command: [sleep, "3600"]}
        "#,
    ));
    let st = pe.wait_until(&name, |s| phase(s) == "Running" && cond(s, "Ready")["status"] == "True", secs(10));
    let names = |k: &str| -> Vec<String> {
        st["status"][k].as_array().expect(k).iter().map(|c| c["name"].as_str().unwrap_or("").to_string()).collect()
    };
    assert_eq!(names("containerStatuses"), ["alpha", "mid", "zeta"]);
    assert_eq!(names("initContainerStatuses"), ["init-b", "init-a"]);
    assert_eq!(pe.list_row(&name).map(|r| r.0), Some("3/3".to_string()));
    pe.check_clean();
}

/// Init containers one at a time, then the app; what status and
/// `pod list` show meanwhile.
#[test]
fn init_containers_run_in_order() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        initContainers:
        - {name: i1, image: busybox, command: [sleep, "1"]}
        - {name: i2, image: busybox, command: [sleep, "1"]}
        containers:
        - {name: app, image: busybox, command: [sleep, "3600"]}
        "#,
    ));
    let mut displays: Vec<String> = Vec::new();
    let mut msgs: Vec<String> = Vec::new();
    let deadline = Instant::now() + secs(12);
    let st = loop {
        assert!(Instant::now() < deadline, "never Running; displays {displays:?}");
        let st = pe.status(&name);
        let d = pe.display(&name);
        if displays.last() != Some(&d) {
            displays.push(d);
        }
        let app = ctr(&st, "app");
        if state_of(ctr(&st, "i2")) != "terminated" {
            assert_eq!(phase(&st), "Pending", "{st:#}");
            assert_eq!(app["state"]["waiting"]["reason"], "PodInitializing", "{st:#}");
            assert!(app.get("containerID").is_none(), "app has a containerID before it exists: {app:#}");
            let ini = cond(&st, "Initialized");
            assert_eq!(ini["status"], "False");
            assert_eq!(ini["reason"], "ContainersNotInitialized");
            let m = ini["message"].as_str().unwrap_or("").to_string();
            if msgs.last() != Some(&m) {
                msgs.push(m);
            }
        }
        if state_of(app) == "running" {
            break st;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(phase(&st), "Running");
    assert_eq!(cond(&st, "Initialized")["status"], "True");
    let pos = |s: &str| displays.iter().position(|d| d == s);
    let (a, b) = (pos("Init:0/2"), pos("Init:1/2"));
    assert!(a.is_some() && b.is_some() && a < b, "displays {displays:?}");
    assert!(msgs.contains(&"containers with incomplete status: [i1 i2]".to_string()), "{msgs:?}");
    assert!(msgs.contains(&"containers with incomplete status: [i2]".to_string()), "{msgs:?}");
    assert_eq!(pe.display(&name), "Running");
    let (i1, i2, app) = (ctr(&st, "i1"), ctr(&st, "i2"), ctr(&st, "app"));
    let t = |c: &Value, k: &str| epoch(c["state"]["terminated"][k].as_str().unwrap_or_else(|| panic!("{k}: {c:#}")));
    assert!(t(i2, "startedAt") >= t(i1, "finishedAt"), "{st:#}");
    assert!(epoch(app["state"]["running"]["startedAt"].as_str().unwrap()) >= t(i2, "finishedAt"), "{st:#}");
    // A completed init container: ready, not started, Completed
    for c in [i1, i2] {
        assert_eq!(c["ready"], true, "{c:#}");
        assert_eq!(c["started"], false, "{c:#}");
        assert_eq!(c["state"]["terminated"]["reason"], "Completed");
        assert_eq!(c["state"]["terminated"]["exitCode"], 0);
    }
    pe.check_clean();
}

/// Under Never a failed init container fails the pod; the app is never created.
#[test]
fn failed_init_under_never_fails_the_pod() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        restartPolicy: Never
        initContainers:
        - {name: init, image: busybox, command: [sh, -c, "exit 1"]}
        containers:
        - {name: app, image: busybox, command: [sleep, "3600"]}
        "#,
    ));
    let st = pe.wait_phase(&name, "Failed", secs(10));
    let app = ctr(&st, "app");
    assert!(app.get("containerID").is_none(), "{app:#}");
    assert_eq!(app["state"]["waiting"]["reason"], "PodInitializing", "{app:#}");
    assert_eq!(cond(&st, "Initialized")["status"], "False");
    assert_eq!(ctr(&st, "init")["state"]["terminated"]["exitCode"], 1);
    assert_eq!(pe.display(&name), "Init:Error");
    assert!(
        pe.events(&name).iter().all(|e| e["fieldPath"] != "spec.containers{app}"),
        "app events: {:#?}",
        pe.events(&name)
    );
    pe.check_clean();
}

/// Only the failed init container is retried, with back-off; the one that
/// succeeded never runs again.
#[test]
fn failed_init_is_retried_alone() {
    let Some(pe) = PodEnv::new() else { return };
    let h = pe.scratch().join("h");
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        volumes:
        - name: h
          hostPath: {{path: {}, type: DirectoryOrCreate}}
        initContainers:
        - name: i1
          image: busybox
          command: [sh, -c, "echo i1 >> /h/log"]
          volumeMounts: [{{name: h, mountPath: /h}}]
        - name: i2
          image: busybox
          command: [sh, -c, "echo i2 >> /h/log; exit 1"]
          volumeMounts: [{{name: h, mountPath: /h}}]
        containers:
        - {{name: app, image: busybox, command: [sleep, "3600"]}}
        "#,
        q(&h.to_string_lossy())
    )));
    let st = pe.wait_until(&name, |s| state_of(ctr(s, "i1")) == "terminated", secs(10));
    let i1_id = ctr(&st, "i1")["containerID"].clone();
    let mut saw_crashloop = false;
    let st = pe.wait_until(
        &name,
        |s| {
            assert_eq!(phase(s), "Pending", "{s:#}");
            restarts(ctr(s, "i2")) >= 3
        },
        secs(12),
    );
    for _ in 0..100 {
        if pe.display(&name) == "Init:CrashLoopBackOff" {
            saw_crashloop = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(saw_crashloop, "display never Init:CrashLoopBackOff");
    let i1 = ctr(&st, "i1");
    assert_eq!(i1["containerID"], i1_id);
    assert_eq!(i1["restartCount"], 0);
    let log = std::fs::read_to_string(h.join("log")).expect("log");
    assert_eq!(log.lines().filter(|l| *l == "i1").count(), 1, "{log}");
    assert!(log.lines().filter(|l| *l == "i2").count() >= 4, "{log}");
    assert!(ctr(&st, "app").get("containerID").is_none());
    pe.check_clean();
}

/// A container's postStart (sleep or exec) delays the next container; the
/// container is not Running during its hook.
#[test]
fn post_start_blocks_the_next_container() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        containers:
        - name: c0
          image: busybox
          command: [sleep, "3600"]
          lifecycle:
            postStart:
              sleep: {seconds: 2}
        - name: c1
          image: busybox
          command: [sleep, "3600"]
          lifecycle:
            postStart:
              exec: {command: [sleep, "1"]}
        - name: c2
          image: busybox
          command: [sleep, "3600"]
        "#,
    ));
    let mut created: Option<Instant> = None;
    let mut running: Option<(Instant, i64)> = None;
    let deadline = Instant::now() + secs(12);
    let st = loop {
        assert!(Instant::now() < deadline, "c2 never ran");
        let st = pe.status(&name);
        let c0 = ctr(&st, "c0");
        if c0.get("containerID").is_some() && created.is_none() {
            created = Some(Instant::now());
        }
        if c0.get("containerID").is_some() && state_of(c0) != "running" && running.is_none() {
            // Waiting during the hook, and the next container not created yet
            assert_eq!(state_of(c0), "waiting", "{c0:#}");
            assert!(ctr(&st, "c1").get("containerID").is_none(), "c1 created during c0's postStart: {st:#}");
        }
        if state_of(c0) == "running" && running.is_none() {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
            running = Some((Instant::now(), now));
        }
        if state_of(ctr(&st, "c2")) == "running" {
            break st;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (created, (ran, ran_epoch)) = (created.expect("c0 created"), running.expect("c0 running"));
    assert!(ran - created >= Duration::from_millis(1700), "c0 Running {:?} after creation", ran - created);
    let start = |c: &str| epoch(ctr(&st, c)["state"]["running"]["startedAt"].as_str().unwrap());
    assert!(start("c1") - start("c0") >= 2, "{st:#}");
    assert!(start("c2") - start("c1") >= 1, "{st:#}");
    // startedAt is the process start, before the hook finished
    assert!(ran_epoch - start("c0") >= 1, "startedAt {} vs Running seen at {ran_epoch}", start("c0"));
    assert!(pe.events_with(&name, "FailedPostStartHook", "").is_empty());
    pe.check_clean();
}

/// A failing postStart: events, the kill path runs preStop, the container restarts.
#[test]
fn failing_post_start_kills_and_restarts() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        terminationGracePeriodSeconds: 2
        volumes: [{name: d, emptyDir: {}}]
        containers:
        - name: app
          image: busybox
          command: [sleep, "3600"]
          volumeMounts: [{name: d, mountPath: /d}]
          lifecycle:
            postStart:
              exec: {command: [sh, -c, "exit 1"]}
            preStop:
              exec: {command: [sh, -c, "echo prestop >> /d/marker"]}
        - name: watch
          image: busybox
          command: [sleep, "3600"]
          volumeMounts: [{name: d, mountPath: /d}]
        "#,
    ));
    let waiting = RefCell::new(Vec::<String>::new());
    pe.wait_until(
        &name,
        |s| {
            let c = ctr(s, "app");
            if let Some(r) = c["state"]["waiting"]["reason"].as_str() {
                waiting.borrow_mut().push(r.to_string());
            }
            restarts(c) >= 2 && waiting.borrow().iter().any(|r| r == "CrashLoopBackOff" || r == "PostStartHookError")
        },
        secs(12),
    );
    let ev = pe.events_with(&name, "FailedPostStartHook", "PostStartHook failed");
    assert!(!ev.is_empty(), "{:#?}", pe.events(&name));
    assert_eq!(ev[0]["type"], "Warning");
    assert_eq!(ev[0]["fieldPath"], "spec.containers{app}");
    assert!(!pe.events_with(&name, "Killing", "FailedPostStartHook").is_empty(), "{:#?}", pe.events(&name));
    pe.wait_running(&name, "watch", secs(6));
    let marker = pe.exec_ok(&name, "watch", &["cat", "/d/marker"]);
    assert!(marker.starts_with("prestop\n"), "{marker:?}");
    pe.check_clean();
}

/// The same under Never: no restart, the pod fails.
#[test]
fn failing_post_start_under_never_fails_the_pod() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        restartPolicy: Never
        terminationGracePeriodSeconds: 2
        containers:
        - name: app
          image: busybox
          command: [sleep, "3600"]
          lifecycle:
            postStart:
              exec: {command: [sh, -c, "exit 1"]}
        "#,
    ));
    let st = pe.wait_phase(&name, "Failed", secs(10));
    let c = ctr(&st, "app");
    assert_eq!(state_of(c), "terminated", "{c:#}");
    assert_eq!(c["restartCount"], 0);
    assert_ne!(c["state"]["terminated"]["exitCode"], 0);
    assert!(!pe.events_with(&name, "FailedPostStartHook", "").is_empty());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(ctr(&pe.status(&name), "app")["restartCount"], 0);
    pe.check_clean();
}

/// An httpGet postStart to a server in another container of the pod succeeds whatever
/// the HTTP status; a tcpSocket postStart succeeds when something listens (runp's choice).
#[test]
fn http_and_tcp_hooks_reach_the_pod() {
    let Some(pe) = PodEnv::new() else { return };
    let wait_listen = "until grep -qE ':1F90 0+:0000 0A' /proc/net/tcp /proc/net/tcp6; do usleep 20000; done";
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        volumes: [{{name: www, emptyDir: {{}}}}]
        containers:
        - name: srv
          image: busybox
          command: [httpd, -f, -p, "8080", -h, /www]
          volumeMounts: [{{name: www, mountPath: /www}}]
          lifecycle:
            postStart:
              exec: {{command: [sh, -c, {}]}}
        - name: web
          image: busybox
          command: [sleep, "3600"]
          lifecycle:
            postStart:
              httpGet: {{path: /missing, port: 8080}}
        - name: tcp
          image: busybox
          command: [sleep, "3600"]
          lifecycle:
            postStart:
              tcpSocket: {{port: 8080}}
        "#,
        q(wait_listen)
    )));
    let st = pe.wait_until(&name, |s| ["srv", "web", "tcp"].iter().all(|c| state_of(ctr(s, c)) == "running"), secs(12));
    assert_eq!(phase(&st), "Running");
    assert!(pe.events_with(&name, "FailedPostStartHook", "").is_empty(), "{:#?}", pe.events(&name));
    for c in ["web", "tcp"] {
        assert_eq!(ctr(&st, c)["restartCount"], 0);
    }
    pe.check_clean();
}

/// Hooks to a port nobody listens on fail (httpGet and tcpSocket).
#[test]
fn hooks_to_a_closed_port_fail() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        restartPolicy: Never
        terminationGracePeriodSeconds: 2
        containers:
        - name: web
          image: busybox
          command: [sleep, "3600"]
          lifecycle:
            postStart:
              httpGet: {path: /, port: 8099}
        - name: tcp
          image: busybox
          command: [sleep, "3600"]
          lifecycle:
            postStart:
              tcpSocket: {port: 8098}
        "#,
    ));
    pe.wait_phase(&name, "Failed", secs(10));
    let ev = pe.events_with(&name, "FailedPostStartHook", "PostStartHook failed");
    let paths: Vec<&str> = ev.iter().filter_map(|e| e["fieldPath"].as_str()).collect();
    assert!(paths.contains(&"spec.containers{web}") && paths.contains(&"spec.containers{tcp}"), "{ev:#?}");
    pe.check_clean();
}

/// Seed manifest 1: the sidecar's postStart httpGet gates it on the main container's
/// server; once both run, the main container serves what the sidecar writes. The variant on
/// a dead port keeps the sidecar crash-looping.
#[test]
fn seed_sidecar_demo() {
    let Some(pe) = PodEnv::new() else { return };
    let manifest = |port: u16| {
        format!(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: "@NAME@"
spec:
  containers:
  - image: busybox
    command: ["/bin/sh"]
    args:
      [
        "-c",
        "while true; do echo echo $(date -u) 'Written by busybox sidecar container' >> /var/log/index.html; sleep 5;done",
      ]
    name: sidecar-container
    resources: {{}}
    volumeMounts:
    - name: var-logs
      mountPath: /var/log
    lifecycle:
      postStart:
        httpGet:
          path: /index.html
          port: {port}
          host: localhost
          scheme: HTTP
  - image: nginx
    name: main-container
    resources: {{}}
    ports:
    - containerPort: 80
    volumeMounts:
    - name: var-logs
      mountPath: /usr/share/nginx/html
  dnsPolicy: Default
  volumes:
  - name: var-logs
    emptyDir: {{}}
"#
        )
    };
    let good = pe.run_pod(&manifest(80));
    let bad = pe.run_pod(&manifest(5000));
    pe.wait_until(
        &good,
        |s| ["sidecar-container", "main-container"].iter().all(|c| state_of(ctr(s, c)) == "running"),
        secs(12),
    );
    let mut page = String::new();
    for _ in 0..100 {
        let out = pe.exec(&good, "sidecar-container", &["wget", "-q", "-O-", "http://localhost/index.html"]);
        page = String::from_utf8_lossy(&out.stdout).into_owned();
        if page.contains("Written by busybox sidecar container") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(page.contains("Written by busybox sidecar container"), "served {page:?}");
    // the failing variant: hook failures, kills and back-off, while main keeps running
    let st = pe.wait_until(&bad, |s| restarts(ctr(s, "sidecar-container")) >= 2, secs(12));
    assert_eq!(state_of(ctr(&st, "main-container")), "running");
    assert_eq!(ctr(&st, "main-container")["restartCount"], 0);
    assert!(!pe.events_with(&bad, "FailedPostStartHook", "").is_empty());
    pe.wait_until(
        &bad,
        |_| !pe.events_with(&bad, "BackOff", "Back-off restarting failed container sidecar-container").is_empty(),
        secs(10),
    );
    pe.check_clean();
}

/// Foreground `pod run`: events on stdout, exit 0 on Succeeded and 1 on Failed.
#[test]
fn foreground_run_exit_codes() {
    let Some(pe) = PodEnv::new() else { return };
    for (script, code, ph) in [("echo hi", 0, "Succeeded"), ("exit 3", 1, "Failed")] {
        let (name, path) = pe.manifest(&pod_yaml(&format!(
            "restartPolicy: Never\ncontainers:\n- name: c\n  image: busybox\n  command: [sh, -c, {}]\n",
            q(script)
        )));
        let out = pe.runp(&["pod", "run", path.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("Started") && stdout.contains(&format!("pod/{name} {ph}")), "{stdout}");
        assert_eq!(phase(&pe.status(&name)), ph);
    }
    pe.check_clean();
}

/// `pod logs`: current and --previous instance, stderr too, --timestamps.
#[test]
fn logs_current_previous_and_timestamps() {
    let Some(pe) = PodEnv::new() else { return };
    let script =
        "if [ -f /d/once ]; then echo second; echo err2 >&2; sleep 3600; else touch /d/once; echo first; exit 1; fi";
    let name = pe.run_pod(&pod_yaml(&format!(
        "restartPolicy: OnFailure\nvolumes: [{{name: d, emptyDir: {{}}}}]\ncontainers:\n- name: app\n  image: busybox\n  command: [sh, -c, {}]\n  volumeMounts: [{{name: d, mountPath: /d}}]\n",
        q(script)
    )));
    pe.wait_until(&name, |s| restarts(ctr(s, "app")) == 1 && state_of(ctr(s, "app")) == "running", secs(10));
    let mut cur = String::new();
    for _ in 0..100 {
        cur = pe.logs(&name, &[]);
        if cur.contains("err2") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut lines: Vec<&str> = cur.lines().collect();
    lines.sort();
    assert_eq!(lines, ["err2", "second"], "{cur:?}");
    assert_eq!(pe.logs(&name, &["--previous"]), "first\n");
    assert_eq!(pe.logs(&name, &["-c", "app", "--previous"]), "first\n");
    let ts = pe.logs(&name, &["--timestamps"]);
    for l in ts.lines() {
        let (t, rest) = l.split_once(' ').expect("timestamp");
        assert!(rest == "second" || rest == "err2", "{l}");
        let b = t.as_bytes();
        assert!(
            t.len() == 30 && b[4] == b'-' && b[10] == b'T' && b[19] == b'.' && t.ends_with('Z'),
            "not RFC3339Nano: {t}"
        );
        assert!(t[20..29].bytes().all(|c| c.is_ascii_digit()), "{t}");
        epoch(t);
    }
    let (code, err) = pe.fails(&["pod", "logs", &name, "-c", "nosuch"]);
    assert_eq!(code, 1);
    assert!(err.contains("nosuch"), "{err}");
    pe.check_clean();
}

/// `pod logs -f` follows until the container exits.
#[test]
fn logs_follow_until_exit() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        restartPolicy: Never
        containers:
        - name: app
          image: busybox
          command: [sh, -c, "for i in 1 2 3 4; do echo line$i; usleep 300000; done"]
        "#,
    ));
    pe.wait_running(&name, "app", secs(10));
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut child = pe
        .cmd(&["pod", "logs", "-f", &name])
        .stdout(out.reopen().unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + secs(12);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pod logs -f did not return after the container exited");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(out.path()).unwrap(), "line1\nline2\nline3\nline4\n");
    assert_eq!(phase(&pe.status(&name)), "Succeeded");
    pe.check_clean();
}

/// A container writing a lot is never blocked, and its CRI log file is complete.
#[test]
fn large_output_is_logged_completely() {
    let Some(pe) = PodEnv::new() else { return };
    let line = "0123456789".repeat(10);
    let n = 300_000;
    let name = pe.run_pod(&pod_yaml(&format!(
        "containers:\n- name: app\n  image: busybox\n  command: [sh, -c, {}]\n",
        q(&format!("yes {line} | head -n {n}; echo done; sleep 3600"))
    )));
    let log = pe.pod_dir(&name).join("logs/app/0.log");
    let deadline = Instant::now() + secs(10);
    loop {
        use std::io::{Read, Seek, SeekFrom};
        let mut tail = String::new();
        if let Ok(mut f) = std::fs::File::open(&log) {
            let len = f.metadata().unwrap().len();
            f.seek(SeekFrom::Start(len.saturating_sub(64))).unwrap();
            f.read_to_string(&mut tail).unwrap_or_default();
        }
        if tail.ends_with(" stdout F done\n") {
            break;
        }
        assert!(Instant::now() < deadline, "the writer did not finish in time (log tail {tail:?})");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Past 10 MiB the log rotates (<n>.log.<timestamp>): every line is in the rotated files and
    // the current one, in order; `pod logs` shows the current file.
    let mut files: Vec<_> = std::fs::read_dir(log.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("0.log."))
        .collect();
    files.sort();
    files.push(log.clone());
    let text: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    let current_lines = std::fs::read_to_string(&log).unwrap().lines().count();
    let mut count = 0;
    for l in text.lines() {
        let mut it = l.splitn(4, ' ');
        let (ts, stream, tag, content) =
            (it.next().unwrap(), it.next().unwrap_or(""), it.next().unwrap_or(""), it.next().unwrap_or(""));
        assert!(ts.len() == 30 && ts.ends_with('Z'), "bad line {l:?}");
        assert_eq!((stream, tag), ("stdout", "F"), "bad line {l:?}");
        if count < n {
            assert_eq!(content, line, "line {count}");
        } else {
            assert_eq!(content, "done");
        }
        count += 1;
    }
    assert_eq!(count, n + 1);
    let out = pe.logs(&name, &[]);
    assert_eq!(out.lines().count(), current_lines);
    assert_eq!(state_of(ctr(&pe.status(&name), "app")), "running");
    pe.check_clean();
}

/// `pod exec`: exit code, the pod's hostname, the shared volume.
#[test]
fn exec_in_a_pod_container() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        volumes: [{name: shared, emptyDir: {}}]
        containers:
        - name: c1
          image: busybox
          command: [sleep, "3600"]
          volumeMounts: [{name: shared, mountPath: /shared}]
        - name: c2
          image: busybox
          command: [sh, -c, "echo hi > /shared/f; sleep 3600"]
          volumeMounts: [{name: shared, mountPath: /shared}]
        "#,
    ));
    pe.wait_until(&name, |s| state_of(ctr(s, "c1")) == "running" && state_of(ctr(s, "c2")) == "running", secs(10));
    let out = pe.exec(&name, "c1", &["sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(pe.exec_ok(&name, "c1", &["hostname"]).trim(), name);
    let mut f = String::new();
    for _ in 0..50 {
        f = pe.exec_ok(&name, "c1", &["cat", "/shared/f"]);
        if !f.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(f, "hi\n");
    // without -c: the first app container
    assert_eq!(pe.ok(&["pod", "exec", &name, "--", "sh", "-c", "echo $HOSTNAME"]).trim(), name);
    let (code, err) = pe.fails(&["pod", "exec", &name, "-c", "nosuch", "--", "true"]);
    assert_eq!(code, 1);
    assert!(err.contains("nosuch"), "{err}");
    pe.check_clean();
}

fn pid1_line(ps: &str) -> String {
    ps.lines().find(|l| l.split_whitespace().next() == Some("1")).unwrap_or("").to_string()
}

/// One network, IPC and UTS namespace per pod; c1 reaches c2 on 127.0.0.1; pause is PID 1 by
/// default (runp's choice, docs/pod-lifecycle.md#pid-namespace), the entrypoint with
/// shareProcessNamespace: false.
#[test]
fn pod_namespaces() {
    let Some(pe) = PodEnv::new() else { return };
    let spec = |share: &str| {
        pod_yaml(&format!(
            r#"
            {share}
            volumes: [{{name: www, emptyDir: {{}}}}]
            containers:
            - name: c1
              image: busybox
              command: [sleep, "3600"]
            - name: c2
              image: busybox
              command: [sh, -c, "echo hello-from-c2 > /www/index.html; exec httpd -f -p 8081 -h /www"]
              volumeMounts: [{{name: www, mountPath: /www}}]
            "#
        ))
    };
    let shared = pe.run_pod(&spec(""));
    let private = pe.run_pod(&spec("shareProcessNamespace: false"));
    for name in [&shared, &private] {
        pe.wait_until(name, |s| state_of(ctr(s, "c1")) == "running" && state_of(ctr(s, "c2")) == "running", secs(10));
        let ns = |c: &str, kind: &str| pe.exec_ok(name, c, &["readlink", &format!("/proc/self/ns/{kind}")]);
        for kind in ["net", "ipc", "uts"] {
            assert_eq!(ns("c1", kind), ns("c2", kind), "{name}: {kind} namespace differs");
        }
        assert_eq!(ns("c1", "pid") == ns("c2", "pid"), name == &shared, "{name}: pid namespaces");
        assert_ne!(ns("c1", "mnt"), ns("c2", "mnt"));
        for c in ["c1", "c2"] {
            assert_eq!(pe.exec_ok(name, c, &["hostname"]).trim(), name.as_str());
        }
        let mut page = String::new();
        for _ in 0..100 {
            let out = pe.exec(name, "c1", &["wget", "-q", "-O-", "http://127.0.0.1:8081/index.html"]);
            page = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.success() {
                break;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        assert_eq!(page, "hello-from-c2\n", "{name}");
    }
    let ps = pe.exec_ok(&shared, "c1", &["ps", "-o", "pid,args"]);
    assert!(pid1_line(&ps).contains("pause"), "shared: PID 1 is not pause:\n{ps}");
    assert!(ps.contains("httpd"), "shared: c2's process not visible:\n{ps}");
    let ps = pe.exec_ok(&private, "c1", &["ps", "-o", "pid,args"]);
    assert!(pid1_line(&ps).contains("sleep 3600"), "private: PID 1 is not the entrypoint:\n{ps}");
    assert!(!ps.contains("httpd") && !ps.contains("pause"), "private: other processes visible:\n{ps}");
    pe.check_clean();
}

/// An orphaned grandchild is reaped by pause, no zombie stays.
#[test]
fn pause_reaps_orphans() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        containers:
        - name: app
          image: busybox
          command: [sh, -c, "(sleep 1 &) ; (usleep 300000 &) ; sleep 3600"]
        "#,
    ));
    pe.wait_running(&name, "app", secs(10));
    // Until both orphans have exited (sleep 1 is the later), then nothing may be left a zombie.
    let ps = poll("the orphaned sleeps to exit", secs(10), || {
        let ps = pe.exec_ok(&name, "app", &["ps", "-o", "stat,pid,ppid,args"]);
        (!ps.lines().any(|l| l.trim_end().ends_with("sleep 1") || l.contains("usleep"))).then_some(ps)
    });
    assert!(ps.lines().skip(1).all(|l| !l.trim_start().starts_with('Z')), "zombies in the pod:\n{ps}");
    assert!(!ps.contains("sleep 1\n") && ps.contains("sleep 3600"), "{ps}");
    // no zombie among the host processes of the pod either (children of pause)
    for p in pe.pause_pids() {
        let children = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        for c in children.split_whitespace() {
            let stat = std::fs::read_to_string(format!("/proc/{c}/stat")).unwrap_or_default();
            assert!(!stat.contains(") Z "), "zombie child of pause: {stat}");
        }
    }
    pe.check_clean();
}

/// The files of every container: hostname cut to 63 characters, /etc/hostname,
/// the managed /etc/hosts, /etc/resolv.conf; spec.hostname wins.
#[test]
fn hostname_and_etc_files() {
    let Some(pe) = PodEnv::new() else { return };
    let mut head = format!("h{}x", std::process::id());
    while head.len() < 62 {
        head.push('a');
    }
    let long = format!("{head}-tailxyz");
    assert_eq!(long.len(), 70);
    let yaml =
        pod_yaml("containers:\n- {name: app, image: busybox, command: [sleep, \"3600\"]}\n").replace("@NAME@", &long);
    let name = pe.run_pod(&yaml);
    assert_eq!(name, long);
    let named = pe
        .run_pod(&pod_yaml("hostname: foo\ncontainers:\n- {name: app, image: busybox, command: [sleep, \"3600\"]}\n"));
    pe.wait_running(&name, "app", secs(10));
    pe.wait_running(&named, "app", secs(10));
    assert_eq!(pe.exec_ok(&name, "app", &["hostname"]).trim(), head);
    assert_eq!(pe.exec_ok(&name, "app", &["cat", "/etc/hostname"]).trim(), head);
    let hosts = pe.exec_ok(&name, "app", &["cat", "/etc/hosts"]);
    assert!(
        hosts.starts_with("# Kubernetes-managed hosts file.") && hosts.contains(&head) && hosts.contains("localhost"),
        "{hosts}"
    );
    pe.exec_ok(&name, "app", &["test", "-f", "/etc/resolv.conf"]);
    assert_eq!(pe.exec_ok(&named, "app", &["hostname"]).trim(), "foo");
    assert!(!pe.events_with(&name, "MissingClusterDNS", "Falling back to \"Default\" policy").is_empty());
    pe.check_clean();
}

/// Termination messages from the file (last 4 KiB), a custom path, the log
/// fallback on error only; the file is 0666 and writable by a non-root user.
#[test]
fn termination_messages() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        restartPolicy: Never
        containers:
        - name: t23
          image: busybox
          command: [sh, -c, "printf bye > /dev/termination-log; exit 1"]
        - name: t25
          image: busybox
          terminationMessagePolicy: FallbackToLogsOnError
          command: [sh, -c, "for i in $(seq 1 100); do echo line $i; done; exit 2"]
        - name: t26
          image: busybox
          terminationMessagePolicy: FallbackToLogsOnError
          command: [sh, -c, "echo something; exit 0"]
        - name: t27
          image: busybox
          securityContext: {{runAsUser: 1000, runAsGroup: 1000}}
          command: [sh, -c, {}]
        - name: custom
          image: busybox
          terminationMessagePath: /tmp/msg
          command: [sh, -c, "printf custom > /tmp/msg"]
        "#,
        q("test -f /dev/termination-log && test ! -s /dev/termination-log && [ \"$(stat -c %a /dev/termination-log)\" = 666 ] && [ \"$(id -u)\" = 1000 ] && echo ok-by-1000 > /dev/termination-log")
    )));
    let st = pe.wait_until(&name, |s| phase(s) == "Failed" || phase(s) == "Succeeded", secs(10));
    let t = |c: &str| ctr(&st, c)["state"]["terminated"].clone();
    assert_eq!(t("t23")["message"], "bye");
    assert_eq!(t("t23")["exitCode"], 1);
    let m = t("t25")["message"].as_str().unwrap_or("").to_string();
    assert!(m.starts_with("line 21\n") && m.ends_with("line 100\n") && m.len() <= 2048, "{m:?}");
    assert!(t("t26")["message"].as_str().unwrap_or("").is_empty(), "{:#}", t("t26"));
    assert_eq!(t("t27")["exitCode"], 0, "{:#}", t("t27"));
    assert_eq!(t("t27")["message"], "ok-by-1000\n");
    assert_eq!(t("custom")["message"], "custom");
    assert_eq!(phase(&st), "Failed");

    // The last 4096 bytes
    let big = pe.run_pod(&pod_yaml(&format!(
        "restartPolicy: Never\ncontainers:\n- name: c\n  image: busybox\n  command: [sh, -c, {}]\n",
        q(r"head -c 904 /dev/zero | tr '\0' A > /dev/termination-log; head -c 4096 /dev/zero | tr '\0' B >> /dev/termination-log")
    )));
    let st = pe.wait_phase(&big, "Succeeded", secs(10));
    assert_eq!(ctr(&st, "c")["state"]["terminated"]["message"].as_str().unwrap_or(""), "B".repeat(4096));
    pe.check_clean();
}

/// emptyDir shared between containers, medium Memory is a tmpfs, hostPath
/// DirectoryOrCreate, readOnly mounts, subPath.
#[test]
fn volumes() {
    let Some(pe) = PodEnv::new() else { return };
    let hp = pe.scratch().join("hp/new");
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        volumes:
        - {{name: shared, emptyDir: {{}}}}
        - {{name: mem, emptyDir: {{medium: Memory}}}}
        - name: host
          hostPath: {{path: {}, type: DirectoryOrCreate}}
        initContainers:
        - name: mk
          image: busybox
          command: [mkdir, /shared/sub]
          volumeMounts: [{{name: shared, mountPath: /shared}}]
        containers:
        - name: writer
          image: busybox
          command: [sh, -c, "echo from-writer > /shared/f; echo host-data > /host/h; sleep 3600"]
          volumeMounts:
          - {{name: shared, mountPath: /shared}}
          - {{name: mem, mountPath: /mem}}
          - {{name: host, mountPath: /host}}
        - name: reader
          image: busybox
          command: [sleep, "3600"]
          volumeMounts:
          - {{name: shared, mountPath: /shared, readOnly: true}}
          - {{name: shared, mountPath: /sub, subPath: sub}}
        "#,
        q(&hp.to_string_lossy())
    )));
    pe.wait_until(
        &name,
        |s| state_of(ctr(s, "writer")) == "running" && state_of(ctr(s, "reader")) == "running",
        secs(10),
    );
    let mut f = String::new();
    for _ in 0..50 {
        f = String::from_utf8_lossy(&pe.exec(&name, "reader", &["cat", "/shared/f"]).stdout).into_owned();
        if !f.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(f, "from-writer\n");
    // readOnly
    let out = pe.exec(&name, "reader", &["touch", "/shared/x"]);
    assert!(!out.status.success(), "write to a readOnly mount succeeded");
    // medium: Memory
    let mounts = pe.exec_ok(&name, "writer", &["cat", "/proc/mounts"]);
    let mem = mounts.lines().find(|l| l.split_whitespace().nth(1) == Some("/mem")).unwrap_or("");
    assert_eq!(mem.split_whitespace().nth(2), Some("tmpfs"), "{mounts}");
    let shared = mounts.lines().find(|l| l.split_whitespace().nth(1) == Some("/shared")).unwrap_or("");
    assert_ne!(shared.split_whitespace().nth(2), Some("tmpfs"), "{mounts}");
    // hostPath DirectoryOrCreate
    assert!(hp.is_dir());
    assert_eq!(std::fs::read_to_string(hp.join("h")).unwrap_or_default(), "host-data\n");
    // subPath: a directory of the volume
    pe.exec_ok(&name, "reader", &["sh", "-c", "echo via-sub > /sub/x"]);
    assert_eq!(pe.exec_ok(&name, "writer", &["cat", "/shared/sub/x"]), "via-sub\n");
    assert_eq!(pe.exec_ok(&name, "reader", &["ls", "/sub"]), "x\n");
    pe.check_clean();
    assert!(hp.is_dir(), "hostPath content must survive the pod");
}

/// The kubelet creates a missing subPath directory in the volume.
#[test]
fn sub_path_is_created() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        volumes: [{name: shared, emptyDir: {}}]
        containers:
        - name: app
          image: busybox
          command: [sh, -c, "echo made > /sub/f; sleep 3600"]
          volumeMounts:
          - {name: shared, mountPath: /sub, subPath: made-by-runp}
          - {name: shared, mountPath: /all}
        "#,
    ));
    pe.wait_running(&name, "app", secs(10));
    assert_eq!(ctr(&pe.status(&name), "app")["restartCount"], 0);
    pe.check_clean();
}

/// A symlink a container puts into a volume must not make a later subPath mount reach the
/// host (CVE-2017-1002101).
#[test]
fn sub_path_symlink_does_not_escape() {
    let Some(pe) = PodEnv::new() else { return };
    let secret = pe.scratch().join("secret");
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::write(secret.join("file"), "host-secret\n").unwrap();
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        restartPolicy: Never
        volumes: [{{name: shared, emptyDir: {{}}}}]
        initContainers:
        - name: evil
          image: busybox
          command: [ln, -s, {}, /shared/esc]
          volumeMounts: [{{name: shared, mountPath: /shared}}]
        containers:
        - name: app
          image: busybox
          command: [sh, -c, "cat /sub/file; true"]
          volumeMounts: [{{name: shared, mountPath: /sub, subPath: esc}}]
        "#,
        q(&secret.to_string_lossy())
    )));
    pe.wait_until(&name, |s| phase(s) == "Succeeded" || phase(s) == "Failed", secs(10));
    let log = pe.runp(&["pod", "logs", &name, "-c", "app"]);
    assert!(
        !String::from_utf8_lossy(&log.stdout).contains("host-secret"),
        "the container read a host file through a subPath symlink"
    );
    pe.check_clean();
}

/// A command that does not exist: StartError 128 with a message; under Always the
/// container waits in CrashLoopBackOff (or RunContainerError) between attempts.
#[test]
fn missing_command_is_a_start_error() {
    let Some(pe) = PodEnv::new() else { return };
    let never = pe.run_pod(&pod_yaml(
        "restartPolicy: Never\ncontainers:\n- {name: app, image: busybox, command: [/does-not-exist]}\n",
    ));
    let always = pe.run_pod(&pod_yaml("containers:\n- {name: app, image: busybox, command: [/does-not-exist]}\n"));
    let st = pe.wait_phase(&never, "Failed", secs(10));
    let t = &ctr(&st, "app")["state"]["terminated"];
    assert_eq!(t["exitCode"], 128, "{t:#}");
    assert_eq!(t["reason"], "StartError");
    assert!(!t["message"].as_str().unwrap_or("").is_empty(), "{t:#}");
    let st = pe.wait_until(
        &always,
        |s| {
            let r = ctr(s, "app")["state"]["waiting"]["reason"].as_str().unwrap_or("").to_string();
            r == "CrashLoopBackOff" || r == "RunContainerError"
        },
        secs(10),
    );
    assert_eq!(ctr(&st, "app")["lastState"]["terminated"]["reason"], "StartError");
    assert!(restarts(ctr(&st, "app")) >= 1);
    pe.check_clean();
}

/// The pod-wide 12 KiB cap: with 4 containers each message keeps its first 3072 bytes.
#[test]
fn termination_messages_share_12k() {
    let Some(pe) = PodEnv::new() else { return };
    let script = r"head -c 3000 /dev/zero | tr '\0' A > /dev/termination-log; head -c 1096 /dev/zero | tr '\0' B >> /dev/termination-log";
    let mut spec = String::from("restartPolicy: Never\ncontainers:\n");
    for c in ["c1", "c2", "c3", "c4"] {
        spec.push_str(&format!("- {{name: {c}, image: busybox, command: [sh, -c, {}]}}\n", q(script)));
    }
    let name = pe.run_pod(&pod_yaml(&spec));
    let st = pe.wait_phase(&name, "Succeeded", secs(10));
    for c in ["c1", "c2", "c3", "c4"] {
        let m = ctr(&st, c)["state"]["terminated"]["message"].as_str().unwrap_or("").to_string();
        assert_eq!(m.len(), 3072, "{c}");
        assert_eq!(m, format!("{}{}", "A".repeat(3000), "B".repeat(72)), "{c}");
    }
    pe.check_clean();
}

/// A container over its memory limit is OOMKilled (137).
#[test]
fn memory_limit_oom_kills() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        restartPolicy: Never
        containers:
        - name: hog
          image: busybox
          command: [sh, -c, "dd if=/dev/zero of=/dev/null bs=100M count=1"]
          resources:
            limits: {memory: 32Mi}
        "#,
    ));
    let st = pe.wait_phase(&name, "Failed", secs(10));
    let t = &ctr(&st, "hog")["state"]["terminated"];
    assert_eq!(t["reason"], "OOMKilled", "{t:#}");
    assert_eq!(t["exitCode"], 137);
    assert_eq!(st["status"]["qosClass"], "Burstable");
    pe.check_clean();
}

/// Native sidecars, without probes: a sidecar starts in its place in the init
/// order, keeps running next to the app, is restarted whatever the pod's restartPolicy, and
/// its exits never fail the pod.
#[test]
fn sidecar_starts_in_order_and_restarts_under_never() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        restartPolicy: Never
        initContainers:
        - {name: s1, image: busybox, restartPolicy: Always, command: [sh, -c, "usleep 1500000; exit 1"]}
        - {name: i2, image: busybox, command: ["true"]}
        containers:
        - {name: app, image: busybox, command: [sleep, "3600"]}
        "#,
    ));
    let st = pe.wait_running(&name, "app", secs(10));
    // the app starts as soon as the sidecar runs and i2 is done, not at the sidecar's exit
    assert_eq!(ctr(&st, "s1")["restartCount"], 0, "the app started only after the sidecar exited: {st:#}");
    assert_eq!(state_of(ctr(&st, "s1")), "running");
    let i2 = &ctr(&st, "i2")["state"]["terminated"];
    assert_eq!(i2["exitCode"], 0);
    let s1_started = ctr(&st, "s1")["state"]["running"]["startedAt"].as_str().map(epoch).unwrap_or(0);
    assert!(epoch(i2["startedAt"].as_str().unwrap()) >= s1_started, "{st:#}");
    assert_eq!(pe.list_row(&name).map(|r| r.0), Some("1/1".to_string()));
    let st = pe.wait_until(&name, |s| restarts(ctr(s, "s1")) >= 2, secs(10));
    assert_eq!(phase(&st), "Running");
    assert_eq!(ctr(&st, "app")["restartCount"], 0);
    assert_eq!(ctr(&st, "i2")["restartCount"], 0);
    assert_eq!(cond(&st, "Initialized")["status"], "True");
    pe.check_clean();
}

/// Seed manifest 3: the Deployment's pod template with both hooks.
#[test]
fn seed_deployment_template() {
    let Some(pe) = PodEnv::new() else { return };
    // an image with /usr/share, where the postStart writes
    pe.ok(&["image", "import", "my-app:1.0.0", pe.nginx_rootfs().to_str().unwrap(), "--cmd", "sleep 3600"]);
    let name = pe.run_pod(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-app
spec:
  replicas: 3
  selector:
    matchLabels:
      app: my-app
  template:
    metadata:
      labels:
        app: my-app
    spec:
      containers:
      - name: my-app
        image: my-app:1.0.0
        ports:
        - containerPort: 8080
        lifecycle:
          postStart:
            exec:
              command: ["/bin/sh", "-c", "echo Hello from the postStart handler > /usr/share/message"]
          preStop:
            exec:
              command: ["/bin/sh", "-c", "nginx -s quit; while killall -0 nginx; do sleep 1; done"]
"#,
    );
    assert_eq!(name, "my-app");
    let st = pe.wait_running(&name, "my-app", secs(10));
    assert_eq!(st["metadata"]["labels"]["app"], "my-app");
    assert_eq!(pe.exec_ok(&name, "my-app", &["cat", "/usr/share/message"]), "Hello from the postStart handler\n");
    let took = pe.stop(&name, &[]);
    assert!(took < secs(3), "stop took {took:?}");
    assert!(pe.events_with(&name, "FailedPreStopHook", "").is_empty());
    assert!(pe.events_with(&name, "FailedPostStartHook", "").is_empty());
    pe.check_clean();
}

/// command/args with $(VAR) expansion ($$ escapes, unknown references stay), the downward
/// API, args alone replacing the image's cmd; hook commands are not expanded
/// (docs/pod-lifecycle.md#command-args-and-variable-expansion).
#[test]
fn command_args_and_env() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        restartPolicy: Never
        containers:
        - name: expand
          image: busybox
          command: [echo]
          args: ["$(FOO)", "$$(FOO)", "$(NOPE)", "$(BOTH)", "$(POD)"]
          env:
          - {name: FOO, value: bar}
          - {name: BOTH, value: "$(FOO)-x"}
          - name: POD
            valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - name: downward
          image: busybox
          command: [sh, -c, "echo $POD $NS $UID $IP $HOSTIP $NODE"]
          env:
          - {name: FOO, value: bar}
          - {name: BOTH, value: "$(FOO)-x"}
          - name: POD
            valueFrom: {fieldRef: {fieldPath: metadata.name}}
          - name: NS
            valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
          - name: UID
            valueFrom: {fieldRef: {fieldPath: metadata.uid}}
          - name: IP
            valueFrom: {fieldRef: {fieldPath: status.podIP}}
          - name: HOSTIP
            valueFrom: {fieldRef: {fieldPath: status.hostIP}}
          - name: NODE
            valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
        - name: argsonly
          image: nginx
          args: [echo, args-replace-cmd]
        "#,
    ));
    let st = pe.wait_phase(&name, "Succeeded", secs(10));
    let uid = st["metadata"]["uid"].as_str().unwrap();
    assert_eq!(pe.logs(&name, &["-c", "expand"]), format!("bar $(FOO) $(NOPE) bar-x {name}\n"));
    // The node is this host: its name, and the address status.hostIP reports (not loopback
    // when the host has a network).
    let node = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    let host_ip = st["status"]["hostIP"].as_str().unwrap().to_string();
    assert_eq!(st["spec"]["nodeName"], node.as_str());
    assert_eq!(pe.logs(&name, &["-c", "downward"]), format!("{name} default {uid} 127.0.0.1 {host_ip} {node}\n"));
    let has_network = std::fs::read_to_string("/proc/net/route").unwrap().lines().skip(1).any(|l| !l.starts_with("lo"));
    if has_network {
        assert_ne!(host_ip, "127.0.0.1", "hostIP is loopback on a host with a network");
    }
    assert_eq!(pe.logs(&name, &["-c", "argsonly"]), "args-replace-cmd\n");
    // The hook's argv is passed as written
    let hook = pe.run_pod(&pod_yaml(
        r#"
        restartPolicy: Never
        terminationGracePeriodSeconds: 2
        containers:
        - name: app
          image: busybox
          command: [sleep, "3600"]
          env: [{name: FOO, value: bar}]
          lifecycle:
            postStart:
              exec: {command: [test, "$(FOO)", "=", bar]}
        "#,
    ));
    pe.wait_phase(&hook, "Failed", secs(10));
    assert!(!pe.events_with(&hook, "FailedPostStartHook", "").is_empty());
    pe.check_clean();
}

/// IPC is shared by the pod, /dev/shm included (POSIX shared memory lives there).
#[test]
fn dev_shm_is_shared_by_the_pod() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        containers:
        - {name: c1, image: busybox, command: [sh, -c, "echo from-c1 > /dev/shm/x; sleep 3600"]}
        - {name: c2, image: busybox, command: [sleep, "3600"]}
        "#,
    ));
    pe.wait_until(&name, |s| state_of(ctr(s, "c1")) == "running" && state_of(ctr(s, "c2")) == "running", secs(10));
    // c1 writes the file right after it starts: wait for it from c2's side.
    let seen = poll("/dev/shm/x from c2", secs(10), || {
        let out = pe.exec(&name, "c2", &["cat", "/dev/shm/x"]);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    assert_eq!(seen, "from-c1\n");
    pe.check_clean();
}

/// hostNetwork: the node's network and hostname; hostPort defaults to containerPort.
#[test]
fn host_network_pod() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        hostNetwork: true
        containers:
        - name: app
          image: busybox
          command: [sleep, "3600"]
          ports: [{containerPort: 8123}]
        "#,
    ));
    let st = pe.wait_running(&name, "app", secs(10));
    assert_eq!(st["spec"]["containers"][0]["ports"][0]["hostPort"], 8123);
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    assert_eq!(pe.exec_ok(&name, "app", &["hostname"]).trim(), host);
    let me = std::fs::read_link("/proc/self/ns/net").unwrap();
    let inside = pe.exec_ok(&name, "app", &["readlink", "/proc/self/ns/net"]);
    assert_eq!(inside.trim(), me.to_string_lossy());
    pe.check_clean();
}

/// dnsPolicy None with dnsConfig writes the pod's own resolv.conf, with no MissingClusterDNS.
#[test]
fn dns_config() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        dnsPolicy: "None"
        dnsConfig:
          nameservers: [192.0.2.53]
          searches: [ns1.svc.example, example]
        containers:
        - {name: app, image: busybox, command: [sleep, "3600"]}
        "#,
    ));
    pe.wait_running(&name, "app", secs(10));
    let r = pe.exec_ok(&name, "app", &["cat", "/etc/resolv.conf"]);
    assert!(r.contains("nameserver 192.0.2.53") && r.contains("search ns1.svc.example example"), "{r}");
    assert!(pe.events_with(&name, "MissingClusterDNS", "").is_empty());
    pe.check_clean();
}

/// A container that writes bytes that are not UTF-8 still has its whole log shown.
#[test]
fn logs_with_invalid_utf8_are_shown() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        "restartPolicy: Never\ncontainers:\n- {name: a, image: busybox, command: [sh, -c, \"echo before; printf 'bad \\\\377\\\\376 bytes\\\\n'; echo after\"]}\n",
    ));
    pe.wait_phase(&name, "Succeeded", secs(10));
    let log = pe.logs(&name, &["-c", "a"]);
    assert!(log.contains("before") && log.contains("after"), "{log:?}");
    assert!(log.contains("bad \u{fffd}\u{fffd} bytes"), "{log:?}");
    pe.check_clean();
}

/// Container logs rotate like the kubelet's (containerLogMaxSize / containerLogMaxFiles, here
/// 16Ki and 2 through runp's environment knobs): no file grows past the size, at most two files
/// stay, and `pod logs` shows the current file, ending with the last line written. Bad knob
/// values are refused before anything is created.
#[test]
fn container_logs_rotate() {
    let Some(pe) = PodEnv::new() else { return };
    let (name, path) = pe.manifest(&pod_yaml(
        "containers:\n- {name: app, image: busybox, command: [sh, -c, \"i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done; echo done; exec sleep 3600\"]}\n",
    ));
    let out = pe
        .cmd(&["pod", "run", "-d", path.to_str().unwrap()])
        .env("RUNP_CONTAINER_LOG_MAX_SIZE", "16Ki")
        .env("RUNP_CONTAINER_LOG_MAX_FILES", "2")
        .output()
        .expect("pod run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let logs = poll("the app's last line", secs(20), || {
        let l = pe.logs(&name, &["-c", "app"]);
        l.ends_with("done\n").then_some(l)
    });
    assert!(!logs.contains("line-0\n"), "the oldest lines should have been rotated away");
    let dir = pe.pod_dir(&name).join("logs/app");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    assert!(files.len() <= 2, "{files:?}");
    for f in &files {
        assert!(std::fs::metadata(f).unwrap().len() <= 16 * 1024, "{}", f.display());
    }
    for (k, v) in [("RUNP_CONTAINER_LOG_MAX_FILES", "1"), ("RUNP_CONTAINER_LOG_MAX_SIZE", "1k")] {
        let (bad, path) = pe.manifest(&pod_yaml("containers:\n- {name: app, image: busybox, command: [\"true\"]}\n"));
        let out = pe.cmd(&["pod", "run", "-d", path.to_str().unwrap()]).env(k, v).output().expect("pod run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(k), "{k}={v}: {err}");
        assert!(!pe.pod_dir(&bad).exists(), "{k}={v} left {}", pe.pod_dir(&bad).display());
        assert!(!pe.run_dir(&bad).exists(), "{k}={v} left {}", pe.run_dir(&bad).display());
    }
    pe.stop(&name, &[]);
    pe.check_clean();
}
