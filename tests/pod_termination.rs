//! `runp pod stop/rm`: grace periods, preStop, stop signals, parallel stops, the process tree
//! and the pause process (docs/pod-lifecycle.md#termination), many pods
//! at once, and the death of a supervisor.

mod common;
#[path = "common/pod.rs"]
mod pod_harness;

use pod_harness::*;
use std::time::{Duration, Instant};

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// A process on the host whose command line contains `needle` is alive.
fn alive(needle: &str) -> bool {
    !common::processes_with(needle).is_empty()
}

/// A marker unique to this test process, for `sleep <marker>` processes.
fn marker(k: u32) -> String {
    format!("{}{k}", 900_000 + std::process::id() % 90_000)
}

/// An entrypoint that is PID 1 of its own PID namespace ignores SIGTERM; it is
/// SIGKILLed when the grace ends (137).
#[test]
fn sigterm_ignored_by_pid1_is_killed_at_grace() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        shareProcessNamespace: false
        terminationGracePeriodSeconds: 2
        containers:
        - {name: app, image: busybox, command: [sleep, "3600"]}
        "#,
    ));
    pe.wait_running(&name, "app", secs(10));
    let took = pe.stop(&name, &[]);
    assert!(ms(took) >= 1900 && ms(took) <= 3500, "stop took {took:?}, want ≈2 s");
    let st = pe.status(&name);
    let t = &ctr(&st, "app")["state"]["terminated"];
    assert_eq!(t["exitCode"], 137, "{t:#}");
    assert_eq!(t["reason"], "Error");
    assert_eq!(phase(&st), "Failed");
    assert_eq!(ctr(&st, "app")["restartCount"], 0);
    assert!(!pe.events_with(&name, "Killing", "Stopping container app").is_empty());
    pe.check_clean();
}

/// Under Always, a container that handles SIGTERM and exits 0 makes the pod
/// Succeeded; one that exits 143 makes it Failed; neither is restarted.
#[test]
fn exit_code_on_sigterm_decides_the_final_phase() {
    let Some(pe) = PodEnv::new() else { return };
    let mk = |code: u32| {
        pe.run_pod(&pod_yaml(&format!(
            "restartPolicy: Always\nterminationGracePeriodSeconds: 5\ncontainers:\n- name: app\n  image: busybox\n  command: [sh, -c, {}]\n",
            q(&format!("trap 'exit {code}' TERM; sleep 3600 & wait"))
        )))
    };
    let ok = mk(0);
    let bad = mk(143);
    for n in [&ok, &bad] {
        pe.wait_running(n, "app", secs(10));
    }
    for (n, code, ph, reason) in [(&ok, 0, "Succeeded", "Completed"), (&bad, 143, "Failed", "Error")] {
        let took = pe.stop(n, &[]);
        assert!(ms(took) < 1500, "{n}: stop took {took:?}");
        let st = pe.status(n);
        let c = ctr(&st, "app");
        assert_eq!(c["state"]["terminated"]["exitCode"], code, "{c:#}");
        assert_eq!(c["state"]["terminated"]["reason"], reason);
        assert_eq!(c["restartCount"], 0);
        assert_eq!(phase(&st), ph, "{n}");
        assert!(st["metadata"]["deletionTimestamp"].is_string());
    }
    pe.check_clean();
}

/// The stop signal and preStop as seen from inside: a PID-1 entrypoint with a TERM trap that
/// logs and keeps running, and a preStop that logs; both stamps in a hostPath file.
fn stamped_pod(pe: &PodEnv, grace: u32, pre_stop: &str) -> (String, std::path::PathBuf) {
    let h = pe.scratch().join(unique("h"));
    let app = format!("trap '{}' TERM; while true; do usleep 50000; done", stamp("T", "/h/t"));
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        shareProcessNamespace: false
        terminationGracePeriodSeconds: {grace}
        volumes:
        - name: h
          hostPath: {{path: {}, type: DirectoryOrCreate}}
        containers:
        - name: app
          image: busybox
          command: [sh, -c, {}]
          volumeMounts: [{{name: h, mountPath: /h}}]
          lifecycle:
            preStop:
              exec: {{command: [sh, -c, {}]}}
        "#,
        q(&h.to_string_lossy()),
        q(&app),
        q(&format!("{}; {pre_stop}", stamp("P", "/h/t")))
    )));
    pe.wait_running(&name, "app", secs(10));
    (name, h.join("t"))
}

/// The time preStop takes counts against the grace period.
#[test]
fn pre_stop_time_counts_against_the_grace() {
    let Some(pe) = PodEnv::new() else { return };
    let (name, log) = stamped_pod(&pe, 4, "sleep 2");
    let t0 = uptime();
    let took = pe.stop(&name, &[]);
    let (p, t) = (times(&log, "P"), times(&log, "T"));
    assert_eq!((p.len(), t.len()), (1, 1), "stamps {:?}", std::fs::read_to_string(&log));
    assert!(p[0] - t0 < 0.5, "preStop started {:.2}s after the stop", p[0] - t0);
    let term = t[0] - t0;
    assert!((1.9..=2.9).contains(&term), "SIGTERM {term:.2}s after the stop, want ≈2 (after preStop)");
    // SIGKILL at G = 4, not at preStop + G = 6
    assert!(ms(took) >= 3800 && ms(took) <= 5000, "stop took {took:?}, want ≈4 s");
    assert_eq!(ctr(&pe.status(&name), "app")["state"]["terminated"]["exitCode"], 137);
    pe.check_clean();
}

/// A hanging preStop: SIGTERM at G, SIGKILL at G+2; meanwhile the pod shows
/// Terminating and stays Running.
#[test]
fn hanging_pre_stop_gets_two_more_seconds() {
    let Some(pe) = PodEnv::new() else { return };
    let (name, log) = stamped_pod(&pe, 2, "sleep 1000");
    let t0 = uptime();
    let took = std::thread::scope(|s| {
        let h = s.spawn(|| pe.stop(&name, &[]));
        std::thread::sleep(Duration::from_millis(500));
        let st = pe.status(&name);
        assert_eq!(phase(&st), "Running", "phase during termination");
        assert!(st["metadata"]["deletionTimestamp"].is_string());
        assert_eq!(pe.display(&name), "Terminating");
        h.join().unwrap()
    });
    let (p, t) = (times(&log, "P"), times(&log, "T"));
    assert_eq!(p.len(), 1);
    assert_eq!(t.len(), 1, "stamps {:?}", std::fs::read_to_string(&log));
    let term = t[0] - t0;
    assert!((1.9..=2.9).contains(&term), "SIGTERM {term:.2}s after the stop, want ≈2");
    assert!(ms(took) >= 3800 && ms(took) <= 5200, "stop took {took:?}, want ≈4 s");
    assert_eq!(ctr(&pe.status(&name), "app")["state"]["terminated"]["exitCode"], 137);
    assert_eq!(pe.display(&name), "Error");
    pe.check_clean();
}

/// A failing preStop: FailedPreStopHook, then the stop signal at once.
#[test]
fn failing_pre_stop_then_normal_termination() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        terminationGracePeriodSeconds: 3
        containers:
        - name: app
          image: busybox
          command: [sleep, "3600"]
          lifecycle:
            preStop:
              exec: {command: [sh, -c, "exit 1"]}
        "#,
    ));
    pe.wait_running(&name, "app", secs(10));
    let took = pe.stop(&name, &[]);
    assert!(ms(took) < 1500, "stop took {took:?}");
    let ev = pe.events_with(&name, "FailedPreStopHook", "PreStopHook failed");
    assert_eq!(ev.len(), 1, "{:#?}", pe.events(&name));
    assert_eq!(ev[0]["type"], "Warning");
    let st = pe.status(&name);
    assert_eq!(ctr(&st, "app")["state"]["terminated"]["exitCode"], 143);
    assert_eq!(phase(&st), "Failed");
    pe.check_clean();
}

/// `--force`: preStop gets at most 1 s, then SIGTERM, SIGKILL 2 s later.
#[test]
fn force_stop_is_quick_but_still_graceful() {
    let Some(pe) = PodEnv::new() else { return };
    let (name, log) = stamped_pod(&pe, 30, "sleep 1000");
    let t0 = uptime();
    let took = pe.stop(&name, &["--force"]);
    assert!(ms(took) <= 3600, "stop --force took {took:?}, want ≤ 3 s");
    let t = times(&log, "T");
    assert_eq!(t.len(), 1, "the container never saw SIGTERM");
    assert!(t[0] - t0 <= 1.5, "SIGTERM {:.2}s after the stop", t[0] - t0);
    assert_eq!(ctr(&pe.status(&name), "app")["state"]["terminated"]["exitCode"], 137);
    pe.check_clean();
}

/// Containers are stopped in parallel: two that ignore SIGTERM take G, not 2G.
#[test]
fn containers_stop_in_parallel() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        shareProcessNamespace: false
        terminationGracePeriodSeconds: 2
        containers:
        - {name: a, image: busybox, command: [sleep, "3600"]}
        - {name: b, image: busybox, command: [sleep, "3600"]}
        "#,
    ));
    pe.wait_until(&name, |s| state_of(ctr(s, "a")) == "running" && state_of(ctr(s, "b")) == "running", secs(10));
    let took = pe.stop(&name, &[]);
    assert!(ms(took) >= 1900 && ms(took) <= 3500, "stop took {took:?}, want ≈2 s");
    let st = pe.status(&name);
    for c in ["a", "b"] {
        assert_eq!(ctr(&st, c)["state"]["terminated"]["exitCode"], 137, "{c}");
    }
    pe.check_clean();
}

/// In the shared PID namespace (runp's default) `sleep` is not PID 1 and dies on
/// SIGTERM at once: 143.
#[test]
fn shared_pid_namespace_sleep_dies_on_sigterm() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        terminationGracePeriodSeconds: 30
        containers:
        - {name: app, image: busybox, command: [sleep, "1000"]}
        "#,
    ));
    pe.wait_running(&name, "app", secs(10));
    let took = pe.stop(&name, &[]);
    assert!(ms(took) < 1000, "stop took {took:?}");
    let t = ctr(&pe.status(&name), "app")["state"]["terminated"].clone();
    assert_eq!(t["exitCode"], 143, "{t:#}");
    assert_eq!(t["reason"], "Error");
    pe.check_clean();
}

/// Seed manifest 2 with shareProcessNamespace: false (the main process is PID 1): what the
/// preStop writes to /proc/1/fd/1 is in the container's log.
#[test]
fn seed_pre_stop_writes_to_the_main_process_log() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: "@NAME@"
spec:
  shareProcessNamespace: false
  terminationGracePeriodSeconds: 2
  containers:
  - image: nginx
    name: nginx-container
    resources: {}
    ports:
    - containerPort: 80
    lifecycle:
      preStop:
        exec:
          command:
          - sh
          - -c
          - echo "Stopping container now...">/proc/1/fd/1 && kill 1
  dnsPolicy: Default
"#,
    );
    pe.wait_running(&name, "nginx-container", secs(10));
    assert!(pe
        .exec_ok(&name, "nginx-container", &["wget", "-q", "-O-", "http://127.0.0.1/"])
        .contains("nginx placeholder"));
    assert!(!pe.logs(&name, &[]).contains("Stopping"));
    pe.stop(&name, &[]);
    let logs = pe.logs(&name, &[]);
    assert!(logs.contains("Stopping container now...\n"), "logs: {logs:?}");
    assert!(pe.events_with(&name, "FailedPreStopHook", "").is_empty(), "{:#?}", pe.events(&name));
    let st = pe.status(&name);
    let c = ctr(&st, "nginx-container");
    assert_eq!(state_of(c), "terminated");
    assert_eq!(c["restartCount"], 0);
    pe.check_clean();
}

/// Stopping a container kills its whole process tree, with or without a shared PID
/// namespace; when the main process of a container exits, its children die too and
/// pause lives on.
#[test]
fn whole_process_tree_is_killed() {
    let Some(pe) = PodEnv::new() else { return };
    let (m1, m2, m3, m4) = (marker(1), marker(2), marker(3), marker(4));
    let shared = pe.run_pod(&pod_yaml(&format!(
        "terminationGracePeriodSeconds: 2\ncontainers:\n- name: app\n  image: busybox\n  command: [sh, -c, {}]\n",
        q(&format!("sleep {m1} & (sleep {m2} &); exec sleep 3600"))
    )));
    let private = pe.run_pod(&pod_yaml(&format!(
        "shareProcessNamespace: false\nterminationGracePeriodSeconds: 2\ncontainers:\n- name: app\n  image: busybox\n  command: [sh, -c, {}]\n",
        q(&format!("trap 'exit 0' TERM; sleep {m3} & sleep 3600 & wait"))
    )));
    let l96 = pe.run_pod(&pod_yaml(&format!(
        "restartPolicy: Never\ncontainers:\n- name: quick\n  image: busybox\n  command: [sh, -c, {}]\n- name: keep\n  image: busybox\n  command: [sleep, \"3600\"]\n",
        q(&format!("sleep {m4} & usleep 300000; exit 0"))
    )));
    for n in [&shared, &private] {
        pe.wait_running(n, "app", secs(10));
    }
    let deadline = Instant::now() + secs(6);
    while !(alive(&m1) && alive(&m2) && alive(&m3)) {
        assert!(Instant::now() < deadline, "the test processes never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    pe.stop(&shared, &[]);
    pe.stop(&private, &[]);
    for m in [&m1, &m2, &m3] {
        assert!(!alive(m), "sleep {m} survived the stop");
    }
    // The main process exits: its children die too, pause lives on
    let st = pe.wait_until(&l96, |s| state_of(ctr(s, "quick")) == "terminated", secs(10));
    assert_eq!(ctr(&st, "quick")["state"]["terminated"]["exitCode"], 0);
    let deadline = Instant::now() + secs(1);
    while alive(&m4) {
        assert!(Instant::now() < deadline, "the child of an exited container survived");
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = pe.status(&l96);
    assert_eq!(phase(&st), "Running");
    assert_eq!(state_of(ctr(&st, "keep")), "running");
    assert_eq!(pe.pause_pids().len(), 1, "pause of the running pod");
    pe.check_clean();
}

/// Pause lives until every container process has exited.
#[test]
fn pause_outlives_the_containers() {
    let Some(pe) = PodEnv::new() else { return };
    let m = marker(5);
    let name = pe.run_pod(&pod_yaml(&format!(
        "terminationGracePeriodSeconds: 5\ncontainers:\n- name: app\n  image: busybox\n  command: [sh, -c, {}]\n",
        q(&format!("trap 'usleep 800000; exit 0' TERM; sleep {m} & wait"))
    )));
    pe.wait_running(&name, "app", secs(10));
    let pause = pe.pause_pids();
    assert_eq!(pause.len(), 1, "pause processes: {pause:?}");
    let pause_alive =
        || std::fs::read_to_string(format!("/proc/{}/stat", pause[0])).map(|s| !s.contains(") Z ")).unwrap_or(false);
    let mut samples = 0;
    std::thread::scope(|s| {
        let h = s.spawn(|| pe.stop(&name, &[]));
        while !h.is_finished() {
            if alive(&m) {
                samples += 1;
                assert!(pause_alive(), "pause gone while a container process still runs");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        h.join().unwrap();
    });
    assert!(samples > 10, "the container did not outlive the stop request ({samples} samples)");
    assert!(!pause_alive(), "pause still alive after the stop");
    assert_eq!(phase(&pe.status(&name)), "Succeeded");
    pe.check_clean();
}

/// 20 pods run and removed at once leave nothing behind.
#[test]
fn twenty_pods_at_once() {
    let Some(pe) = PodEnv::new() else { return };
    let yaml = pod_yaml(
        r#"
        volumes: [{name: m, emptyDir: {medium: Memory}}]
        containers:
        - {name: app, image: busybox, command: [sleep, "3600"], volumeMounts: [{name: m, mountPath: /m}]}
        "#,
    );
    let (pe, yaml) = (&pe, &yaml);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..20)
            .map(|_| {
                s.spawn(move || {
                    let name = pe.run_pod(yaml);
                    pe.wait_running(&name, "app", secs(20));
                    name
                })
            })
            .collect();
        let names: Vec<String> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(pe.ok(&["pod", "list"]).lines().count(), 21);
        // Every container's recorded pid is its running process (a pid report overtaken by
        // the process's own READY once left the first stage's pid there: the stop signal
        // went nowhere and `rm --force` had to kill the supervisor).
        for n in &names {
            let st = pe.status(n);
            let id = ctr(&st, "app")["containerID"].as_str().unwrap().trim_start_matches("runp://").to_string();
            let state: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(pe.root().join(&id).join("state.json")).unwrap())
                    .unwrap();
            let pid = state["pid"].as_i64().unwrap();
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            assert_eq!(comm.trim(), "sleep", "{n}: state.json pid {pid} is not the container's process");
        }
        let hs: Vec<_> = names
            .into_iter()
            .map(|n| {
                s.spawn(move || {
                    let out = pe.runp(&["pod", "rm", "--force", &n]);
                    let err = String::from_utf8_lossy(&out.stderr).into_owned();
                    assert!(out.status.success() && err.is_empty(), "pod rm --force {n}: {err}");
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    assert!(pe.pods().is_empty(), "{:?}", pe.pods());
    pe.check_clean();
}

/// The pod dies with its supervisor: kill -9 of the supervisor leaves no process of the pod;
/// status says SupervisorLost; `pod rm` removes the rest.
#[test]
fn pod_dies_with_its_supervisor() {
    let Some(pe) = PodEnv::new() else { return };
    let (m1, m2) = (marker(6), marker(7));
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        volumes: [{{name: m, emptyDir: {{medium: Memory}}}}]
        containers:
        - name: shared
          image: busybox
          command: [sh, -c, {}]
          volumeMounts: [{{name: m, mountPath: /m}}]
        "#,
        q(&format!("sleep {m1} & exec sleep 3600"))
    )));
    let private = pe.run_pod(&pod_yaml(&format!(
        "shareProcessNamespace: false\ncontainers:\n- name: own\n  image: busybox\n  command: [sh, -c, {}]\n",
        q(&format!("sleep {m2} & exec sleep 3600"))
    )));
    pe.wait_running(&name, "shared", secs(10));
    pe.wait_running(&private, "own", secs(10));
    assert!(alive(&m1) && alive(&m2));
    assert!(!common::host_mounts_with(&pe.root().to_string_lossy()).is_empty(), "the memory emptyDir is not mounted");
    let root = pe.root().to_string_lossy().into_owned();
    for n in [&name, &private] {
        let sup = pe.supervisor_pid(n);
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(sup), nix::sys::signal::Signal::SIGKILL).unwrap();
    }
    let t = Instant::now();
    loop {
        let left: Vec<i32> = common::processes_with(&root);
        if left.is_empty() && !alive(&m1) && !alive(&m2) {
            break;
        }
        assert!(
            t.elapsed() < secs(1),
            "processes of the pods left 1 s after the supervisors died: {left:?} m1 {} m2 {}",
            alive(&m1),
            alive(&m2)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    for n in [&name, &private] {
        let st = pe.status(n);
        assert_eq!(phase(&st), "Failed", "{:#}", st["status"]);
        assert_eq!(st["status"]["reason"], "SupervisorLost");
        pe.ok(&["pod", "rm", n]);
    }
    pe.check_clean();
}

/// `pod stop` / `pod rm --force` right when a pod ends on its own succeed (no "connection
/// reset" from a supervisor that is exiting).
#[test]
fn stop_races_with_the_natural_end() {
    let Some(pe) = PodEnv::new() else { return };
    let pe = &pe;
    std::thread::scope(|s| {
        for k in 0..8u64 {
            s.spawn(move || {
                let name = pe.run_pod(&pod_yaml(&format!(
                    "restartPolicy: Never\ncontainers:\n- {{name: a, image: busybox, command: [usleep, \"{}\"]}}\n",
                    100_000 + k * 37_000
                )));
                let status = pe.pod_dir(&name).join("status.json");
                let deadline = Instant::now() + secs(10);
                while !std::fs::read_to_string(&status).unwrap_or_default().contains("\"phase\":\"Succeeded\"") {
                    assert!(Instant::now() < deadline, "{name} never Succeeded");
                    std::thread::sleep(Duration::from_millis(1));
                }
                let out = pe.runp(&["pod", "stop", &name]);
                assert!(
                    out.status.success(),
                    "pod stop of a pod ending by itself: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                pe.ok(&["pod", "rm", "--force", &name]);
            });
        }
    });
    pe.check_clean();
}

/// A container SIGKILLed from outside ends with 137, reason Error.
#[test]
fn killed_from_outside_is_137() {
    let Some(pe) = PodEnv::new() else { return };
    let m = marker(8);
    let name = pe.run_pod(&pod_yaml(&format!(
        "restartPolicy: Never\ncontainers:\n- {{name: app, image: busybox, command: [sleep, \"{m}\"]}}\n"
    )));
    pe.wait_running(&name, "app", secs(10));
    let pids = common::processes_with(&m);
    assert_eq!(pids.len(), 1, "{pids:?}");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pids[0]), nix::sys::signal::Signal::SIGKILL).unwrap();
    let st = pe.wait_phase(&name, "Failed", secs(10));
    let t = &ctr(&st, "app")["state"]["terminated"];
    assert_eq!(t["exitCode"], 137, "{t:#}");
    assert_eq!(t["reason"], "Error");
    pe.check_clean();
}

/// lifecycle.stopSignal replaces SIGTERM.
#[test]
fn stop_signal_from_the_spec() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        os: {name: linux}
        terminationGracePeriodSeconds: 5
        containers:
        - name: app
          image: busybox
          command: [sh, -c, "trap 'exit 7' QUIT; trap 'exit 9' TERM; sleep 3600 & wait"]
          lifecycle:
            stopSignal: SIGQUIT
        "#,
    ));
    pe.wait_running(&name, "app", secs(10));
    let took = pe.stop(&name, &[]);
    assert!(ms(took) < 1500, "stop took {took:?}");
    assert_eq!(
        ctr(&pe.status(&name), "app")["state"]["terminated"]["exitCode"],
        7,
        "the container did not get SIGQUIT"
    );
    pe.check_clean();
}

/// An Always container that exits (1) during the grace period is not restarted.
#[test]
fn no_restart_during_termination() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        terminationGracePeriodSeconds: 5
        containers:
        - {name: app, image: busybox, command: [sh, -c, "trap 'usleep 300000; exit 1' TERM; sleep 3600 & wait"]}
        - {name: other, image: busybox, command: [sh, -c, "trap 'usleep 900000; exit 0' TERM; sleep 3600 & wait"]}
        "#,
    ));
    pe.wait_until(&name, |s| state_of(ctr(s, "app")) == "running" && state_of(ctr(s, "other")) == "running", secs(10));
    pe.stop(&name, &[]);
    let st = pe.status(&name);
    let app = ctr(&st, "app");
    assert_eq!(app["restartCount"], 0, "{app:#}");
    assert_eq!(app["state"]["terminated"]["exitCode"], 1);
    assert_eq!(ctr(&st, "other")["state"]["terminated"]["exitCode"], 0);
    assert_eq!(phase(&st), "Failed");
    assert!(pe.events_with(&name, "BackOff", "").is_empty());
    pe.check_clean();
}

/// A pod stopped while an init container runs ends Failed.
#[test]
fn stopped_while_initializing_is_failed() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        initContainers:
        - {name: init, image: busybox, command: [sleep, "3600"]}
        containers:
        - {name: app, image: busybox, command: [sleep, "3600"]}
        "#,
    ));
    pe.wait_running(&name, "init", secs(10));
    pe.stop(&name, &[]);
    let st = pe.status(&name);
    assert_eq!(phase(&st), "Failed", "{:#}", st["status"]);
    assert!(ctr(&st, "app").get("containerID").is_none());
    pe.check_clean();
}

/// activeDeadlineSeconds: DeadlineExceeded, Failed, and the container gets SIGTERM.
#[test]
fn active_deadline_fails_the_pod() {
    let Some(pe) = PodEnv::new() else { return };
    let h = pe.scratch().join("h");
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        activeDeadlineSeconds: 2
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
        q(&format!("trap '{}; exit 0' TERM; sleep 3600 & wait", stamp("T", "/h/t")))
    )));
    let t0 = std::time::Instant::now();
    let st = pe.wait_until(&name, |s| phase(s) == "Failed" && s["runp"].is_null(), secs(10));
    let elapsed = t0.elapsed();
    assert!(elapsed >= Duration::from_millis(1500) && elapsed <= secs(4), "deadline hit after {elapsed:?}");
    assert_eq!(st["status"]["reason"], "DeadlineExceeded");
    assert_eq!(st["status"]["message"], "Pod was active on the node longer than the specified deadline");
    assert!(!pe
        .events_with(&name, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline")
        .is_empty());
    pe.wait_until(&name, |s| state_of(ctr(s, "app")) == "terminated", secs(10));
    assert_eq!(times(&h.join("t"), "T").len(), 1, "the container did not get SIGTERM");
    pe.check_clean();
}

/// Pause killed under Never: no new sandbox, the pod fails.
#[test]
fn pause_killed_under_never_fails_the_pod() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        restartPolicy: Never
        terminationGracePeriodSeconds: 2
        containers:
        - {name: app, image: busybox, command: [sleep, "3600"]}
        "#,
    ));
    pe.wait_running(&name, "app", secs(10));
    let pause = pe.pause_pids();
    assert_eq!(pause.len(), 1);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pause[0]), nix::sys::signal::Signal::SIGKILL).unwrap();
    let st = pe.wait_until(&name, |s| phase(s) == "Failed" || phase(s) == "Succeeded", secs(10));
    assert!(!pe
        .events_with(&name, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
        .is_empty());
    assert_eq!(phase(&st), "Failed", "{:#}", st["status"]);
    pe.check_clean();
}

/// Pause killed under Always: the sandbox is re-created and the init containers run
/// again.
#[test]
fn pause_killed_under_always_recreates_the_sandbox() {
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
        - {{name: app, image: busybox, command: [sleep, "3600"]}}
        "#,
        q(&h.to_string_lossy())
    )));
    pe.wait_running(&name, "app", secs(10));
    let pause = pe.pause_pids();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pause[0]), nix::sys::signal::Signal::SIGKILL).unwrap();
    let st = pe.wait_until(&name, |s| restarts(ctr(s, "app")) >= 1 && state_of(ctr(s, "app")) == "running", secs(10));
    assert_eq!(phase(&st), "Running");
    let log = std::fs::read_to_string(h.join("log")).unwrap_or_default();
    assert_eq!(log.lines().count(), 2, "init containers did not run again: {log:?}");
    pe.check_clean();
}

/// Under Never, once the app container is done the sidecar is stopped (a PID-1 sidecar
/// ignoring SIGTERM is killed at the grace) and the pod Succeeds.
#[test]
fn sidecar_is_stopped_when_the_app_is_done() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        restartPolicy: Never
        shareProcessNamespace: false
        terminationGracePeriodSeconds: 2
        initContainers:
        - {name: side, image: busybox, restartPolicy: Always, command: [sleep, "3600"]}
        containers:
        - {name: app, image: busybox, command: [sh, -c, "usleep 500000; exit 0"]}
        "#,
    ));
    pe.wait_running(&name, "app", secs(10));
    let t0 = Instant::now();
    let st = pe.wait_until(&name, |s| phase(s) == "Succeeded" || phase(s) == "Failed", secs(10));
    assert_eq!(phase(&st), "Succeeded", "{:#}", st["status"]);
    let side = ctr(&st, "side");
    assert_eq!(state_of(side), "terminated", "{side:#}");
    assert_eq!(side["state"]["terminated"]["exitCode"], 137);
    let e = t0.elapsed();
    assert!(
        e >= Duration::from_millis(2000) && e <= Duration::from_millis(4500),
        "the pod ended {e:?} after the app started"
    );
    pe.check_clean();
}

/// Termination order with sidecars: every preStop at once, the app's stop signal
/// first, then the sidecars in reverse order, each after the later ones have exited.
#[test]
fn sidecars_stop_after_the_app_in_reverse_order() {
    let Some(pe) = PodEnv::new() else { return };
    let h = pe.scratch().join("h");
    let c = |n: &str, sidecar: bool| {
        format!(
            "- name: {n}\n  image: busybox\n{}  command: [sh, -c, {}]\n  volumeMounts: [{{name: h, mountPath: /h}}]\n  lifecycle:\n    preStop:\n      exec: {{command: [sh, -c, {}]}}\n",
            if sidecar { "  restartPolicy: Always\n" } else { "" },
            q(&format!("trap '{}; usleep 400000; exit 0' TERM; sleep 3600 & wait", stamp(&format!("T{n}"), "/h/t"))),
            q(&stamp(&format!("P{n}"), "/h/t"))
        )
    };
    let name = pe.run_pod(&pod_yaml(&format!(
        "terminationGracePeriodSeconds: 10\nvolumes:\n- name: h\n  hostPath: {{path: {}, type: DirectoryOrCreate}}\ninitContainers:\n{}{}containers:\n{}",
        q(&h.to_string_lossy()),
        c("s1", true),
        c("s2", true),
        c("m", false)
    )));
    pe.wait_running(&name, "m", secs(10));
    let t0 = uptime();
    let took = pe.stop(&name, &[]);
    let log = h.join("t");
    let one = |tag: &str| -> f64 {
        let v = times(&log, tag);
        assert_eq!(v.len(), 1, "{tag}: {:?}", std::fs::read_to_string(&log));
        v[0]
    };
    for p in ["Ps1", "Ps2", "Pm"] {
        assert!(one(p) - t0 < 0.6, "{p} ran {:.2}s after the stop", one(p) - t0);
    }
    let (tm, ts2, ts1) = (one("Tm"), one("Ts2"), one("Ts1"));
    assert!(tm - t0 < 0.8, "the app's SIGTERM came {:.2}s after the stop", tm - t0);
    assert!(ts2 - tm >= 0.35, "s2 signalled {:.2}s after m (m needs 0.4 s to exit)", ts2 - tm);
    assert!(ts1 - ts2 >= 0.35, "s1 signalled {:.2}s after s2", ts1 - ts2);
    assert!(took < secs(4), "stop took {took:?}");
    let st = pe.status(&name);
    for c in ["s1", "s2", "m"] {
        assert_eq!(ctr(&st, c)["state"]["terminated"]["exitCode"], 0, "{c}");
    }
    pe.check_clean();
}
