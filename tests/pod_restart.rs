//! `runp pod`: restarts and CrashLoopBackOff (docs/pod-lifecycle.md#restart-policy,
//! docs/pod-lifecycle.md#crashloopbackoff). The back-off is shrunk with RUNP_BACKOFF_INITIAL_MS / _CAP_MS.

mod common;
#[path = "common/pod.rs"]
mod pod_harness;

use pod_harness::*;
use std::cell::RefCell;
use std::time::Duration;

/// OnFailure restarts a failing container; the phase stays Running; lastState is
/// the previous instance and the containerID changes.
#[test]
fn on_failure_restarts_with_a_new_instance() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        restartPolicy: OnFailure
        containers:
        - {name: app, image: busybox, command: [sh, -c, "usleep 300000; exit 1"]}
        "#,
    ));
    let st = pe.wait_running(&name, "app", secs(10));
    let first = ctr(&st, "app")["containerID"].as_str().expect("containerID").to_string();
    let phases = RefCell::new(Vec::<String>::new());
    let st = pe.wait_until(
        &name,
        |s| {
            phases.borrow_mut().push(phase(s));
            restarts(ctr(s, "app")) >= 1 && ctr(s, "app")["containerID"] != first.as_str()
        },
        secs(10),
    );
    let c = ctr(&st, "app");
    assert_eq!(c["restartCount"], 1, "{c:#}");
    let last = &c["lastState"]["terminated"];
    assert_eq!(last["exitCode"], 1, "{c:#}");
    assert_eq!(last["reason"], "Error");
    assert_eq!(last["containerID"], first.as_str(), "lastState.terminated.containerID: {c:#}");
    let now = c["containerID"].as_str().unwrap();
    assert!(now.starts_with("runp://") && now != first);
    // more restarts: never Failed
    pe.wait_until(
        &name,
        |s| {
            phases.borrow_mut().push(phase(s));
            restarts(ctr(s, "app")) >= 3
        },
        secs(10),
    );
    let phases = phases.into_inner();
    assert!(phases.iter().all(|p| p == "Running"), "{phases:?}");
    pe.check_clean();
}

/// During the back-off the container waits in CrashLoopBackOff with the
/// old restartCount and the exited instance as lastState; event and message name the delay,
/// which doubles.
#[test]
fn crash_loop_back_off_state_and_messages() {
    let Some(mut pe) = PodEnv::new() else { return };
    pe.backoff_ms = (1000, 4000);
    let name = pe.run_pod(&pod_yaml(
        r#"
        containers:
        - {name: app, image: busybox, command: [sh, -c, "exit 1"]}
        "#,
    ));
    let st = pe.wait_until(&name, |s| ctr(s, "app")["state"]["waiting"]["reason"] == "CrashLoopBackOff", secs(10));
    let uid = st["metadata"]["uid"].as_str().unwrap().to_string();
    let c = ctr(&st, "app");
    // the first restart is immediate, so the first back-off follows the 2nd exit
    assert_eq!(c["restartCount"], 1, "{c:#}");
    assert_eq!(c["lastState"]["terminated"]["exitCode"], 1);
    assert_eq!(c["lastState"]["terminated"]["containerID"], c["containerID"], "{c:#}");
    let want = format!("back-off 1s restarting failed container=app pod={name}_default({uid})");
    assert_eq!(c["state"]["waiting"]["message"], want.as_str());
    assert_eq!(phase(&st), "Running");
    assert_eq!(pe.display(&name), "CrashLoopBackOff");
    let ev = pe.events_with(
        &name,
        "BackOff",
        &format!("Back-off restarting failed container app in pod {name}_default({uid})"),
    );
    assert_eq!(ev.len(), 1, "{:#?}", pe.events(&name));
    assert_eq!(ev[0]["type"], "Warning");
    assert_eq!(ev[0]["fieldPath"], "spec.containers{app}");
    let prev = c["containerID"].clone();
    let st = pe.wait_until(&name, |s| restarts(ctr(s, "app")) == 2, secs(8));
    assert_ne!(ctr(&st, "app")["containerID"], prev);
    // the next back-off is twice as long
    let st = pe.wait_until(
        &name,
        |s| restarts(ctr(s, "app")) == 2 && ctr(s, "app")["state"]["waiting"]["reason"] == "CrashLoopBackOff",
        secs(8),
    );
    let m = ctr(&st, "app")["state"]["waiting"]["message"].as_str().unwrap_or("").to_string();
    assert!(m.starts_with("back-off 2s restarting failed container=app"), "{m}");
    pe.check_clean();
}

/// The delays between an exit and the next start are 0, d, 2d, 4d... up to the cap,
/// never shorter.
#[test]
fn back_off_gaps_double_up_to_the_cap() {
    let Some(mut pe) = PodEnv::new() else { return };
    pe.backoff_ms = (200, 800);
    let h = pe.scratch().join("h");
    let script = format!("{}; {}; exit 1", stamp("s", "/h/t"), stamp("e", "/h/t"));
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        volumes:
        - name: h
          hostPath: {{path: {}, type: DirectoryOrCreate}}
        containers:
        - name: app
          image: busybox
          command: [sh, -c, {}]
          volumeMounts: [{{name: h, mountPath: /h}}]
        "#,
        q(&h.to_string_lossy()),
        q(&script)
    )));
    let log = h.join("t");
    let msgs = RefCell::new(Vec::<String>::new());
    pe.wait_until(
        &name,
        |st| {
            if let Some(m) = ctr(st, "app")["state"]["waiting"]["message"].as_str() {
                let d = m.split_whitespace().nth(1).unwrap_or("").to_string();
                if msgs.borrow().last() != Some(&d) {
                    msgs.borrow_mut().push(d);
                }
            }
            times(&log, "s").len() >= 7
        },
        secs(12),
    );
    let msgs = msgs.into_inner();
    for d in ["200ms", "400ms", "800ms"] {
        assert!(msgs.iter().any(|m| m == d), "no waiting message with back-off {d}: {msgs:?}");
    }
    let (s, e) = (times(&log, "s"), times(&log, "e"));
    let gaps: Vec<f64> = (1..7).map(|k| s[k] - e[k - 1]).collect();
    let want = [0.0, 0.2, 0.4, 0.8, 0.8, 0.8];
    for (k, (g, w)) in gaps.iter().zip(want).enumerate() {
        assert!(*g >= w - 0.011, "gap {k} = {g:.2}s is shorter than the back-off {w}s; gaps {gaps:?}");
        assert!(*g <= w + 0.6, "gap {k} = {g:.2}s is much longer than the back-off {w}s; gaps {gaps:?}");
    }
    pe.check_clean();
}

/// Crash-looping containers have their own back-off; a healthy one is never restarted.
#[test]
fn back_off_is_per_container() {
    let Some(mut pe) = PodEnv::new() else { return };
    pe.backoff_ms = (200, 3200);
    let h = pe.scratch().join("h");
    let fast = format!("{}; exit 1", stamp("s", "/h/a"));
    let slow = format!("{}; sleep 2; {}; exit 1", stamp("s", "/h/b"), stamp("e", "/h/b"));
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        volumes:
        - name: h
          hostPath: {{path: {}, type: DirectoryOrCreate}}
        containers:
        - {{name: a, image: busybox, command: [sh, -c, {}], volumeMounts: [{{name: h, mountPath: /h}}]}}
        - {{name: b, image: busybox, command: [sh, -c, {}], volumeMounts: [{{name: h, mountPath: /h}}]}}
        - {{name: c, image: busybox, command: [sleep, "3600"]}}
        "#,
        q(&h.to_string_lossy()),
        q(&fast),
        q(&slow)
    )));
    let st = pe.wait_running(&name, "c", secs(10));
    let c_id = ctr(&st, "c")["containerID"].clone();
    let st = pe.wait_until(&name, |s| times(&h.join("b"), "s").len() >= 3 && restarts(ctr(s, "a")) >= 4, secs(12));
    let (bs, be) = (times(&h.join("b"), "s"), times(&h.join("b"), "e"));
    let a_starts = times(&h.join("a"), "s");
    // b's first restart is immediate although a is deep in its back-off (≥ 0.8 s) by then
    let b_gap = bs[1] - be[0];
    assert!(b_gap < 0.6, "b's first restart waited {b_gap:.2}s: a shared back-off?");
    let a_before = a_starts.iter().filter(|t| **t < be[0]).count();
    assert!(a_before >= 4, "a restarted only {a_before} times before b's first exit: {a_starts:?}");
    // and b's second restart waits b's own first delay
    assert!(bs[2] - be[1] >= 0.19, "b's second gap {:.2}", bs[2] - be[1]);
    let c = ctr(&st, "c");
    assert_eq!(c["restartCount"], 0);
    assert_eq!(c["containerID"], c_id);
    assert_eq!(state_of(c), "running");
    pe.check_clean();
}

/// emptyDir content survives a container restart, not the pod.
#[test]
fn empty_dir_survives_a_restart() {
    let Some(pe) = PodEnv::new() else { return };
    let yaml = pod_yaml(
        r#"
        volumes: [{name: d, emptyDir: {}}]
        containers:
        - name: app
          image: busybox
          command: [sh, -c, "if [ -f /d/x ]; then sleep 3600; else echo kept > /d/x; exit 1; fi"]
          volumeMounts: [{name: d, mountPath: /d}]
        "#,
    );
    let name = pe.run_pod(&yaml);
    let st = pe.wait_until(&name, |s| state_of(ctr(s, "app")) == "running" && restarts(ctr(s, "app")) == 1, secs(10));
    assert_eq!(phase(&st), "Running");
    assert_eq!(pe.exec_ok(&name, "app", &["cat", "/d/x"]), "kept\n");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(restarts(ctr(&pe.status(&name), "app")), 1);
    // the same pod again: a fresh emptyDir, so the first instance fails again
    pe.ok(&["pod", "rm", "--force", &name]);
    let again = pe.run_pod(&yaml.replace("@NAME@", &name));
    assert_eq!(again, name);
    pe.wait_until(&name, |s| state_of(ctr(s, "app")) == "running" && restarts(ctr(s, "app")) == 1, secs(10));
    pe.check_clean();
}

/// An init container that succeeded is never re-run when the app restarts.
#[test]
fn init_is_not_rerun_on_app_restart() {
    let Some(pe) = PodEnv::new() else { return };
    let h = pe.scratch().join("h");
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        volumes:
        - name: h
          hostPath: {{path: {}, type: DirectoryOrCreate}}
        initContainers:
        - {{name: init, image: busybox, command: [sh, -c, "echo init >> /h/log"], volumeMounts: [{{name: h, mountPath: /h}}]}}
        containers:
        - {{name: app, image: busybox, command: [sh, -c, "echo app >> /h/log; exit 1"], volumeMounts: [{{name: h, mountPath: /h}}]}}
        "#,
        q(&h.to_string_lossy())
    )));
    let st = pe.wait_until(&name, |s| restarts(ctr(s, "app")) >= 3, secs(10));
    let log = std::fs::read_to_string(h.join("log")).unwrap();
    assert_eq!(log.lines().filter(|l| *l == "init").count(), 1, "{log}");
    assert_eq!(ctr(&st, "init")["restartCount"], 0);
    assert_eq!(ctr(&st, "init")["state"]["terminated"]["reason"], "Completed");
    assert_eq!(phase(&st), "Running");
    pe.check_clean();
}
