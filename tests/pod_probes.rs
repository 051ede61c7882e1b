//! `runp pod` probes, native sidecars and events, end to end (docs/pod-lifecycle.md: Probes,
//! Sidecars, Sidecar termination order, Events; docs/security.md#probes-and-hooks). Every probe
//! period is 1 s, every wait is bounded, and every pod is removed by the harness even when a
//! test fails. Times come from /proc/uptime, which the host and the containers share.

mod common;
#[path = "common/pod.rs"]
mod pod_harness;

use pod_harness::*;
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::path::Path;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A volume file on the host, made executable (hostPath scripts: CGI, nc -e).
fn script(dir: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, body).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Events of container `c` with this reason whose message contains `msg`.
fn ctr_events(pe: &PodEnv, name: &str, c: &str, reason: &str, msg: &str) -> Vec<Value> {
    let fp = [format!("spec.containers{{{c}}}"), format!("spec.initContainers{{{c}}}")];
    pe.events_with(name, reason, msg).into_iter().filter(|e| fp.iter().any(|f| e["fieldPath"] == f.as_str())).collect()
}

fn count(e: &Value) -> u64 {
    e["count"].as_u64().unwrap_or(0)
}

/// How many failed checks container `c` has had (the counts of its Unhealthy events).
fn failures(pe: &PodEnv, name: &str, c: &str) -> u64 {
    ctr_events(pe, name, c, "Unhealthy", "").iter().map(count).sum()
}

fn is_millis_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() == 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b'Z'
}

// ---------------------------------------------------------------------------------------------
// Readiness

/// An httpGet readiness probe (busybox httpd) follows a file: not ready from the
/// start (404), ready once the file exists (conditions True, `pod wait --for=condition=Ready`
/// returns 0 as it happens), not ready again after it is removed (failureThreshold 1); nothing
/// is ever restarted.
#[test]
fn readiness_http_follows_a_file() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        terminationGracePeriodSeconds: 2
        containers:
        - name: web
          image: busybox
          command: [sh, -c, "mkdir -p /www && exec httpd -f -p 8080 -h /www"]
          readinessProbe:
            httpGet: {path: /ready, port: 8080}
            periodSeconds: 1
            failureThreshold: 1
        "#,
    ));
    let st = pe.wait_running(&name, "web", secs(10));
    assert_eq!(ctr(&st, "web")["ready"], false, "ready before any probe passed: {st:#}");
    // a few periods of 404: not ready, and `pod wait` times out with exit 1
    let (code, err) = pe.fails(&["pod", "wait", &name, "--for=condition=Ready", "--timeout", "1500ms"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("timed out"), "{err}");
    let st = pe.status(&name);
    assert_eq!(ctr(&st, "web")["ready"], false);
    assert_eq!(cond(&st, "ContainersReady")["status"], "False");
    assert_eq!(cond(&st, "Ready")["reason"], "ContainersNotReady");
    assert_eq!(cond(&st, "Ready")["message"], "containers with unready status: [web]");
    let unhealthy =
        ctr_events(&pe, &name, "web", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 404");
    assert_eq!(unhealthy.len(), 1, "one merged event: {unhealthy:#?}");
    assert!(count(&unhealthy[0]) >= 1, "{unhealthy:#?}");

    // `pod wait` started before the file exists returns as soon as the pod is ready
    let mut waiter = pe.spawn(&["pod", "wait", &name, "--for=condition=Ready", "--timeout", "8s"]);
    std::thread::sleep(ms(300));
    assert!(waiter.running(), "pod wait returned early: {}", waiter.stdout());
    pe.exec_ok(&name, "web", &["touch", "/www/ready"]);
    let t = uptime();
    let code = waiter.wait_timeout(secs(4)).expect("pod wait did not return once the pod was ready");
    assert!(code.success(), "pod wait: {} {}", waiter.stdout(), waiter.stderr());
    assert!(waiter.stdout().contains(&format!("pod/{name} condition met")), "{}", waiter.stdout());
    assert!(uptime() - t < 2.5, "ready {:.2}s after the file appeared", uptime() - t);
    let st = pe.status(&name);
    assert_eq!(ctr(&st, "web")["ready"], true);
    for c in ["ContainersReady", "Ready"] {
        assert_eq!(cond(&st, c)["status"], "True", "{c}: {st:#}");
    }
    assert_eq!(pe.list_row(&name).map(|r| r.0), Some("1/1".to_string()));

    // the file goes: one failure is enough
    pe.exec_ok(&name, "web", &["rm", "/www/ready"]);
    let t = uptime();
    let st = pe.wait_until(&name, |s| ctr(s, "web")["ready"] == false, secs(4));
    assert!(uptime() - t < 2.5, "not ready {:.2}s after the file went", uptime() - t);
    assert_eq!(cond(&st, "Ready")["status"], "False");
    assert_eq!(cond(&st, "ContainersReady")["reason"], "ContainersNotReady");
    pe.ok(&["pod", "wait", &name, "--for=condition=Ready=false", "--timeout", "1s"]);
    assert_eq!(ctr(&st, "web")["restartCount"], 0);
    assert_eq!(state_of(ctr(&st, "web")), "running");
    assert!(pe.events_with(&name, "Killing", "").is_empty());
    pe.check_clean();
}

/// Readiness with successThreshold 3 turns ready only after three successes in a row.
#[test]
fn readiness_success_threshold() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        terminationGracePeriodSeconds: 2
        volumes: [{{name: d, emptyDir: {{}}}}]
        containers:
        - name: app
          image: busybox
          command: [sleep, "3600"]
          volumeMounts: [{{name: d, mountPath: /d}}]
          readinessProbe:
            exec: {{command: [sh, -c, {}]}}
            periodSeconds: 1
            successThreshold: 3
        "#,
        q(&format!("test -e /d/ok || exit 1; {}", stamp("S", "/d/s")))
    )));
    pe.wait_running(&name, "app", secs(10));
    std::thread::sleep(ms(1200));
    assert_eq!(ctr(&pe.status(&name), "app")["ready"], false);
    let log = pe.volume(&name, "d").join("s");
    std::fs::write(pe.volume(&name, "d").join("ok"), "").unwrap();
    let t0 = uptime();
    let at_ready = Cell::new(0usize);
    pe.wait_until(
        &name,
        |s| {
            let ready = ctr(s, "app")["ready"] == true;
            if ready {
                at_ready.set(times(&log, "S").len());
            }
            ready
        },
        secs(7),
    );
    let tr = uptime();
    let s = times(&log, "S");
    assert!(at_ready.get() >= 3, "ready after {} successes: {s:?}", at_ready.get());
    assert!(tr - s[0] >= 1.8, "ready {:.2}s after the first success", tr - s[0]);
    assert!((1.8..=4.5).contains(&(tr - t0)), "ready {:.2}s after the file appeared (want 2..4)", tr - t0);
    pe.check_clean();
}

// ---------------------------------------------------------------------------------------------
// Liveness

/// A tcpSocket liveness probe on a server that is killed from inside.
/// Always: killed (Killing ... will be restarted), restarted once, lastState 137/143, merged
/// Unhealthy events. Never: killed, not restarted, the pod fails, no ", will be restarted".
#[test]
fn liveness_kills_and_restarts() {
    let Some(pe) = PodEnv::new() else { return };
    let mk = |policy: &str| {
        pe.run_pod(&pod_yaml(&format!(
            r#"
            restartPolicy: {policy}
            terminationGracePeriodSeconds: 2
            containers:
            - name: app
              image: busybox
              command: [sh, -c, "httpd -f -p 8080 -h / & exec sleep 3600"]
              livenessProbe:
                tcpSocket: {{port: 8080}}
                periodSeconds: 1
                failureThreshold: 2
            "#
        )))
    };
    let always = mk("Always");
    let never = mk("Never");
    for n in [&always, &never] {
        pe.wait_running(n, "app", secs(10));
    }
    // healthy for a while (the very first check may beat httpd's bind: one failure is allowed)
    std::thread::sleep(ms(1200));
    let failures =
        |n: &str| ctr_events(&pe, n, "app", "Unhealthy", "Liveness probe failed: ").iter().map(count).sum::<u64>();
    let before = failures(&always);
    for n in [&always, &never] {
        let st = pe.status(n);
        assert_eq!(ctr(&st, "app")["restartCount"], 0);
        assert!(failures(n) <= 1 && pe.events_with(n, "Killing", "").is_empty(), "{n}: {:#?}", pe.events(n));
        pe.exec_ok(n, "app", &["killall", "httpd"]);
    }
    let t = uptime();

    let st = pe.wait_until(&always, |s| restarts(ctr(s, "app")) >= 1, secs(6));
    assert!(uptime() - t < 3.5, "killed {:.2}s after the port closed", uptime() - t);
    let c = ctr(&st, "app");
    let last = &c["lastState"]["terminated"];
    assert!(last["exitCode"] == 137 || last["exitCode"] == 143, "{c:#}");
    assert_eq!(last["reason"], "Error");
    let kill = ctr_events(&pe, &always, "app", "Killing", "");
    assert_eq!(kill.len(), 1, "{kill:#?}");
    assert_eq!(kill[0]["message"], "Container app failed liveness probe, will be restarted");
    let unhealthy = ctr_events(&pe, &always, "app", "Unhealthy", "Liveness probe failed: ");
    assert_eq!(unhealthy.len(), 1, "identical failures merge: {unhealthy:#?}");
    assert!(count(&unhealthy[0]) >= before + 2, "{before} failures before the kill: {unhealthy:#?}");
    assert_eq!(unhealthy[0]["type"], "Warning");
    assert!(unhealthy[0]["message"].as_str().unwrap().contains("connection refused"), "{unhealthy:#?}");
    // the new instance serves again: no more kills
    pe.wait_running(&always, "app", secs(5));
    std::thread::sleep(ms(2200));
    let st = pe.status(&always);
    assert_eq!(ctr(&st, "app")["restartCount"], 1, "{st:#}");
    assert_eq!(state_of(ctr(&st, "app")), "running");

    // Never: killed for good; the pod fails
    let st = pe.wait_phase(&never, "Failed", secs(6));
    let c = ctr(&st, "app");
    assert_eq!(c["restartCount"], 0, "{c:#}");
    let code = &c["state"]["terminated"]["exitCode"];
    assert!(*code == 137 || *code == 143, "{c:#}");
    let kill = ctr_events(&pe, &never, "app", "Killing", "");
    assert_eq!(kill.len(), 1, "{kill:#?}");
    assert_eq!(kill[0]["message"], "Container app failed liveness probe");
    pe.check_clean();
}

/// A liveness kill uses the probe's terminationGracePeriodSeconds (1)
/// instead of the pod's (60): an app that ignores SIGTERM is SIGKILLed ≈2 s after the SIGTERM
/// (the 2 s minimum), not 60 s.
#[test]
fn liveness_probe_grace_overrides_the_pod_grace() {
    let Some(pe) = PodEnv::new() else { return };
    let app = format!("trap '{}' TERM; while true; do usleep 100000; done", stamp("T", "/d/t"));
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        terminationGracePeriodSeconds: 60
        volumes: [{{name: d, emptyDir: {{}}}}]
        containers:
        - name: app
          image: busybox
          command: [sh, -c, {}]
          volumeMounts: [{{name: d, mountPath: /d}}]
          livenessProbe:
            exec: {{command: [sh, -c, "test ! -e /tmp/sick"]}}
            periodSeconds: 1
            failureThreshold: 1
            terminationGracePeriodSeconds: 1
        "#,
        q(&app)
    )));
    pe.wait_running(&name, "app", secs(10));
    pe.exec_ok(&name, "app", &["touch", "/tmp/sick"]);
    let t0 = uptime();
    let st = pe.wait_until(&name, |s| restarts(ctr(s, "app")) >= 1, secs(8));
    let killed = uptime();
    let term = times(&pe.volume(&name, "d").join("t"), "T");
    assert_eq!(term.len(), 1, "SIGTERM stamps {term:?}");
    assert!(term[0] - t0 < 1.6, "SIGTERM {:.2}s after the probe started failing", term[0] - t0);
    let after = killed - term[0];
    assert!((1.6..=3.5).contains(&after), "SIGKILL {after:.2}s after SIGTERM (want ≈2)");
    let last = &ctr(&st, "app")["lastState"]["terminated"];
    assert_eq!(last["exitCode"], 137, "{st:#}");
    assert_eq!(
        ctr_events(&pe, &name, "app", "Killing", "Container app failed liveness probe, will be restarted").len(),
        1
    );
    pe.check_clean();
}

/// While the pod terminates, readiness keeps running and liveness does not: a liveness
/// probe that always fails (failureThreshold 1000) stops recording runs and Unhealthy events
/// when the stop begins; nothing is restarted.
#[test]
fn termination_stops_liveness_not_readiness() {
    let Some(pe) = PodEnv::new() else { return };
    let app = format!("trap '{}; usleep 2000000; exit 0' TERM; while true; do usleep 100000; done", stamp("T", "/d/t"));
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        terminationGracePeriodSeconds: 3
        volumes: [{{name: d, emptyDir: {{}}}}]
        containers:
        - name: app
          image: busybox
          command: [sh, -c, {}]
          volumeMounts: [{{name: d, mountPath: /d}}]
          livenessProbe:
            exec: {{command: [sh, -c, {}]}}
            periodSeconds: 1
            failureThreshold: 1000
          readinessProbe:
            exec: {{command: [sh, -c, {}]}}
            periodSeconds: 1
        "#,
        q(&app),
        q(&format!("{}; exit 1", stamp("L", "/d/l"))),
        q(&stamp("R", "/d/r"))
    )));
    let d = pe.volume(&name, "d");
    pe.wait_until(&name, |s| ctr(s, "app")["ready"] == true && times(&d.join("l"), "L").len() >= 2, secs(10));
    let before = count(&ctr_events(&pe, &name, "app", "Unhealthy", "Liveness probe failed")[0]);
    let t0 = uptime();
    let took = pe.stop(&name, &[]);
    assert!(took >= ms(1800) && took <= ms(3500), "stop took {took:?} (the app exits 2 s after SIGTERM)");
    let term = times(&d.join("t"), "T");
    assert_eq!(term.len(), 1, "{term:?}");
    let live = times(&d.join("l"), "L");
    let late: Vec<f64> = live.iter().copied().filter(|&x| x > t0 + 0.3).collect();
    assert!(late.is_empty(), "liveness ran during termination at {late:?} (stop at {t0:.2})");
    let ready: Vec<f64> = times(&d.join("r"), "R").into_iter().filter(|&x| x > term[0]).collect();
    assert!(!ready.is_empty(), "no readiness run during the 2 s of termination (SIGTERM at {:.2})", term[0]);
    let after = count(&ctr_events(&pe, &name, "app", "Unhealthy", "Liveness probe failed")[0]);
    assert!(after <= before + 1, "Unhealthy liveness events went from {before} to {after} during termination");
    assert_eq!(after as usize, live.len(), "one Unhealthy count per failed liveness run");
    let st = pe.status(&name);
    assert_eq!(ctr(&st, "app")["restartCount"], 0);
    assert_eq!(ctr(&st, "app")["state"]["terminated"]["exitCode"], 0, "{st:#}");
    assert_eq!(phase(&st), "Succeeded");
    assert!(pe.events_with(&name, "Killing", "failed liveness").is_empty());
    pe.check_clean();
}

// ---------------------------------------------------------------------------------------------
// Startup

/// A slow start protected by a startup probe: liveness (which stamps every run) does not
/// run before the startup probe passed; started=false until then, true after.
#[test]
fn startup_probe_gates_liveness() {
    let Some(pe) = PodEnv::new() else { return };
    let app = format!("usleep 2500000; {}; touch /tmp/up; exec sleep 3600", stamp("S", "/d/l"));
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        terminationGracePeriodSeconds: 2
        volumes: [{{name: d, emptyDir: {{}}}}]
        containers:
        - name: app
          image: busybox
          command: [sh, -c, {}]
          volumeMounts: [{{name: d, mountPath: /d}}]
          startupProbe:
            exec: {{command: [test, -e, /tmp/up]}}
            periodSeconds: 1
            failureThreshold: 10
          livenessProbe:
            exec: {{command: [sh, -c, {}]}}
            periodSeconds: 1
        "#,
        q(&app),
        q(&stamp("L", "/d/l"))
    )));
    let log = pe.volume(&name, "d").join("l");
    let st = pe.wait_running(&name, "app", secs(10));
    assert_eq!(ctr(&st, "app")["started"], false, "{st:#}");
    assert_eq!(ctr(&st, "app")["ready"], false);
    let saw_unstarted = Cell::new(0u32);
    pe.wait_until(
        &name,
        |s| {
            let started = ctr(s, "app")["started"] == true;
            if !started {
                saw_unstarted.set(saw_unstarted.get() + 1);
            }
            started
        },
        secs(8),
    );
    let t_started = uptime();
    assert!(saw_unstarted.get() > 10, "started=false was hardly seen");
    let s = times(&log, "S");
    assert_eq!(s.len(), 1, "{:?}", std::fs::read_to_string(&log));
    assert!(t_started >= s[0], "started before the app was up");
    assert!(t_started - s[0] < 1.8, "started {:.2}s after the app was up", t_started - s[0]);
    // liveness runs now, and never ran before
    poll("a liveness run", secs(3), || (times(&log, "L").len() >= 2).then_some(()));
    let l = times(&log, "L");
    assert!(l.iter().all(|&x| x > s[0]), "liveness ran before startup passed: S {s:?}, L {l:?}");
    let st = pe.status(&name);
    assert_eq!(ctr(&st, "app")["started"], true);
    assert_eq!(ctr(&st, "app")["ready"], true);
    let failed = ctr_events(&pe, &name, "app", "Unhealthy", "Startup probe failed");
    assert!(failed.len() == 1 && count(&failed[0]) >= 2, "{failed:#?}");
    assert_eq!(ctr(&st, "app")["restartCount"], 0);
    pe.check_clean();
}

/// A startup probe that always fails (period 1, failureThreshold 2) kills the container
/// after ≈1 s with `failed startup probe, will be restarted`; the new instance is not started.
#[test]
fn failing_startup_probe_kills() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        terminationGracePeriodSeconds: 2
        containers:
        - name: app
          image: busybox
          command: [sleep, "3600"]
          startupProbe:
            exec: {command: ["false"]}
            periodSeconds: 1
            failureThreshold: 2
        "#,
    ));
    pe.wait_running(&name, "app", secs(10));
    let t0 = uptime();
    let st = pe.wait_until(&name, |s| restarts(ctr(s, "app")) >= 1, secs(6));
    let took = uptime() - t0;
    assert!(took < 2.5, "killed {took:.2}s after start (want ≈1)");
    let kill = ctr_events(&pe, &name, "app", "Killing", "");
    assert!(!kill.is_empty());
    assert_eq!(kill[0]["message"], "Container app failed startup probe, will be restarted");
    let last = &ctr(&st, "app")["lastState"]["terminated"];
    assert!(last["exitCode"] == 137 || last["exitCode"] == 143, "{st:#}");
    let st = pe.wait_until(&name, |s| restarts(ctr(s, "app")) >= 1 && state_of(ctr(s, "app")) == "running", secs(5));
    assert_eq!(ctr(&st, "app")["started"], false, "the new instance must pass its own startup probe: {st:#}");
    assert!(ctr_events(&pe, &name, "app", "Unhealthy", "Startup probe failed").iter().map(count).sum::<u64>() >= 2);
    pe.check_clean();
}

// ---------------------------------------------------------------------------------------------
// Probe mechanics

/// An exec probe that hangs past timeoutSeconds fails after ≈1 s (Unhealthy with
/// a timeout message), and its whole process tree inside the container is gone soon after.
/// (successThreshold 2 keeps the pod unready for a period after the failure: the next run
/// starts right after the timeout and passes, so with 1 the flip would last only an instant.)
#[test]
fn exec_probe_timeout_kills_its_tree() {
    let Some(pe) = PodEnv::new() else { return };
    // Hangs once, when /d/hang exists: a shell with a background sleep and a nested shell.
    let probe = format!("if [ -e /d/hang ]; then rm /d/hang; {}; sh -c 'sleep 5; :' & sleep 5; fi", stamp("H", "/d/t"));
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        terminationGracePeriodSeconds: 2
        volumes: [{{name: d, emptyDir: {{}}}}]
        containers:
        - name: app
          image: busybox
          command: [sleep, "3600"]
          volumeMounts: [{{name: d, mountPath: /d}}]
          readinessProbe:
            exec: {{command: [sh, -c, {}]}}
            periodSeconds: 1
            timeoutSeconds: 1
            failureThreshold: 1
            successThreshold: 2
        "#,
        q(&probe)
    )));
    pe.wait_until(&name, |s| ctr(s, "app")["ready"] == true, secs(10));
    let d = pe.volume(&name, "d");
    std::fs::write(d.join("hang"), "").unwrap();
    let h = poll("the hanging probe run", secs(3), || times(&d.join("t"), "H").first().copied());
    let sleepers = || -> usize {
        let ps = pe.exec_ok(&name, "app", &["ps", "-o", "pid,args"]);
        ps.lines().map(str::trim_end).filter(|l| l.ends_with(" sleep 5") || l.ends_with("sh -c sleep 5; :")).count()
    };
    assert!(sleepers() >= 2, "the probe's processes are not there while it hangs");
    pe.wait_until(&name, |s| ctr(s, "app")["ready"] == false, secs(4));
    let failed_after = uptime() - h;
    assert!((0.7..=2.0).contains(&failed_after), "failure {failed_after:.2}s after the hang began (want ≈1)");
    let gone = poll("the probe's process tree to go", secs(4), || (sleepers() == 0).then(uptime));
    assert!(gone - h < 2.5, "probe processes still there {:.2}s after the hang began", gone - h);
    let ev = ctr_events(&pe, &name, "app", "Unhealthy", "Readiness probe failed");
    assert!(ev.iter().any(|e| e["message"].as_str().unwrap().contains("timed out")), "{ev:#?}");
    // the next runs pass again
    pe.wait_until(&name, |s| ctr(s, "app")["ready"] == true, secs(4));
    assert_eq!(ctr(&pe.status(&name), "app")["restartCount"], 0);
    pe.check_clean();
}

/// A descendant of a timed-out exec probe that left the probe's process group
/// (setsid) must go too.
#[test]
fn exec_probe_timeout_kills_setsid_descendants() {
    let Some(pe) = PodEnv::new() else { return };
    let probe = format!("if [ -e /d/hang ]; then rm /d/hang; {}; setsid sleep 7 & sleep 5; fi", stamp("H", "/d/t"));
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        terminationGracePeriodSeconds: 2
        volumes: [{{name: d, emptyDir: {{}}}}]
        containers:
        - name: app
          image: busybox
          command: [sleep, "3600"]
          volumeMounts: [{{name: d, mountPath: /d}}]
          readinessProbe:
            exec: {{command: [sh, -c, {}]}}
            periodSeconds: 1
            timeoutSeconds: 1
        "#,
        q(&probe)
    )));
    pe.wait_until(&name, |s| ctr(s, "app")["ready"] == true, secs(10));
    let d = pe.volume(&name, "d");
    std::fs::write(d.join("hang"), "").unwrap();
    let h = poll("the hanging probe run", secs(3), || times(&d.join("t"), "H").first().copied());
    let left = || {
        let ps = pe.exec_ok(&name, "app", &["ps", "-o", "pid,args"]);
        ps.lines().filter(|l| l.trim_end().ends_with(" sleep 7") || l.trim_end().ends_with(" sleep 5")).count()
    };
    poll("the timeout", secs(3), || {
        (!ctr_events(&pe, &name, "app", "Unhealthy", "timed out").is_empty()).then_some(())
    });
    let gone = poll("the probe's processes to go", secs(4), || (left() == 0).then(uptime));
    assert!(gone - h < 2.5, "probe processes still there {:.2}s after the hang began", gone - h);
    pe.check_clean();
}

/// Exec probes (docs/pod-lifecycle.md#probe-mechanisms): a probe that prints is judged by its
/// exit code (its output pipe stays open until it exits: no SIGPIPE), and a failure's
/// Unhealthy message carries its stdout and stderr, at most 10 KiB of it.
#[test]
fn exec_probe_output() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        terminationGracePeriodSeconds: 2
        containers:
        - name: app
          image: busybox
          command: [sleep, "3600"]
          readinessProbe:
            exec: {command: [sh, -c, "echo all good; cat /etc/hostname"]}
            periodSeconds: 1
            failureThreshold: 1
          livenessProbe:
            exec: {command: [sh, -c, "echo out; echo err >&2; exit 3"]}
            periodSeconds: 1
            failureThreshold: 1000
        - name: big
          image: busybox
          command: [sleep, "3600"]
          livenessProbe:
            exec: {command: [sh, -c, "head -c 20000 /dev/zero | tr '\\0' x; exit 1"]}
            periodSeconds: 1
            failureThreshold: 1000
        "#,
    ));
    pe.wait_until(&name, |s| ctr(s, "app")["ready"] == true, secs(10));
    // Until the liveness probe has failed three times (one merged event, count >= 3).
    let ev = poll("three liveness failures of app", secs(15), || {
        let ev = pe.events(&name);
        ev.iter()
            .any(|e| e["reason"] == "Unhealthy" && e["fieldPath"] == "spec.containers{app}" && count(e) >= 3)
            .then_some(ev)
    });
    let app: Vec<&Value> =
        ev.iter().filter(|e| e["reason"] == "Unhealthy" && e["fieldPath"] == "spec.containers{app}").collect();
    assert_eq!(app.len(), 1, "only the liveness probe fails, always with its output: {app:#?}");
    assert_eq!(app[0]["message"], "Liveness probe failed: out\nerr");
    assert!(count(app[0]) >= 3, "{app:#?}");
    let big: Vec<&Value> =
        ev.iter().filter(|e| e["reason"] == "Unhealthy" && e["fieldPath"] == "spec.containers{big}").collect();
    assert_eq!(big.len(), 1, "{:#?}", big.iter().map(|e| e["message"].as_str().unwrap().len()).collect::<Vec<_>>());
    assert_eq!(big[0]["message"].as_str().unwrap(), format!("Liveness probe failed: {}", "x".repeat(10 * 1024)));
    let st = pe.status(&name);
    assert_eq!(ctr(&st, "app")["ready"], true);
    assert_eq!(ctr(&st, "app")["restartCount"], 0);
    pe.check_clean();
}

/// httpGet results: 200 success; 404 failure ("HTTP probe failed with statuscode:
/// 404"); 399 and a 302 to another host or to another port of the pod: success with a
/// ProbeWarning, the redirect never followed (a listener on that port gets no request).
#[test]
fn http_probe_results() {
    let Some(pe) = PodEnv::new() else { return };
    let www = pe.scratch().join(unique("www"));
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("ok"), "fine\n").unwrap();
    let cgi = |status: &str, location: &str| {
        let loc = if location.is_empty() { String::new() } else { format!("Location: {location}\\r\\n") };
        format!("#!/bin/sh\nprintf 'Status: {status}\\r\\n{loc}Content-Type: text/plain\\r\\n\\r\\nmoved\\n'\n")
    };
    script(&www, "cgi-bin/redir", &cgi("302 Found", "http://10.255.255.1:81/"));
    script(&www, "cgi-bin/local", &cgi("302 Found", "http://127.0.0.1:8081/x"));
    script(&www, "cgi-bin/s399", &cgi("399 Whatever", ""));
    script(&www, "hit.sh", "#!/bin/sh\nwhile read -r l && [ ${#l} -gt 1 ]; do :; done\necho hit >> /tmp/hits\nprintf 'HTTP/1.0 200 OK\\r\\n\\r\\nhit\\n'\n");
    let prober = |c: &str, path: &str| {
        format!(
            "- name: {c}\n  image: busybox\n  command: [sleep, \"3600\"]\n  readinessProbe:\n    httpGet: {{path: {path}, port: 8080}}\n    periodSeconds: 1\n    failureThreshold: 1\n"
        )
    };
    let mut spec = format!(
        "terminationGracePeriodSeconds: 2\nvolumes:\n- name: www\n  hostPath: {{path: {}, type: Directory}}\ncontainers:\n- name: srv\n  image: busybox\n  command: [sh, -c, {}]\n  volumeMounts: [{{name: www, mountPath: /www}}]\n",
        q(&www.to_string_lossy()),
        q("nc -ll -p 8081 -e sh /www/hit.sh & exec httpd -f -p 8080 -h /www")
    );
    for (c, path) in [
        ("p200", "/ok"),
        ("p404", "/missing"),
        ("p302", "/cgi-bin/redir"),
        ("p399", "/cgi-bin/s399"),
        ("plocal", "/cgi-bin/local"),
    ] {
        spec.push_str(&prober(c, path));
    }
    let name = pe.run_pod(&pod_yaml(&spec));
    let good = ["srv", "p200", "p302", "p399", "plocal"];
    let st = pe.wait_until(&name, |s| good.iter().all(|c| ctr(s, c)["ready"] == true), secs(10));
    assert_eq!(ctr(&st, "p404")["ready"], false, "{st:#}");
    // (a first check may beat httpd's bind: failures before this point do not count)
    let early: Vec<u64> = good.iter().map(|c| failures(&pe, &name, c)).collect();
    std::thread::sleep(ms(1200));
    let st = pe.status(&name);
    assert_eq!(ctr(&st, "p404")["ready"], false, "{st:#}");
    assert_eq!(cond(&st, "ContainersReady")["message"], "containers with unready status: [p404]");
    assert!(good.iter().all(|c| ctr(&st, c)["ready"] == true), "{st:#}");
    let e404 = ctr_events(&pe, &name, "p404", "Unhealthy", "statuscode");
    assert_eq!(e404.len(), 1, "{e404:#?}");
    assert_eq!(e404[0]["message"], "Readiness probe failed: HTTP probe failed with statuscode: 404");
    for c in ["p302", "p399", "plocal"] {
        let w = ctr_events(&pe, &name, c, "ProbeWarning", "");
        assert_eq!(w.len(), 1, "{c}: {:#?}", pe.events(&name));
        let m = w[0]["message"].as_str().unwrap();
        assert!(m.starts_with("Readiness probe warning: Probe terminated redirects"), "{c}: {m}");
    }
    assert!(ctr_events(&pe, &name, "p200", "ProbeWarning", "").is_empty());
    let late: Vec<u64> = good.iter().map(|c| failures(&pe, &name, c)).collect();
    assert_eq!(early, late, "failures of {good:?} once ready: {:#?}", pe.events(&name));
    // Nothing ever reached the listener the 302 pointed at...
    let hits = pe.exec(&name, "srv", &["cat", "/tmp/hits"]);
    assert!(
        !hits.status.success() || hits.stdout.is_empty(),
        "the redirect was followed: {}",
        String::from_utf8_lossy(&hits.stdout)
    );
    // ...which does answer when asked
    let body = pe.exec_ok(&name, "p200", &["wget", "-q", "-O-", "http://127.0.0.1:8081/x"]);
    assert_eq!(body, "hit\n");
    assert_eq!(pe.exec_ok(&name, "srv", &["cat", "/tmp/hits"]), "hit\n");
    for c in good.iter().chain(["p404"].iter()) {
        assert_eq!(ctr(&pe.status(&name), c)["restartCount"], 0, "{c}");
    }
    pe.check_clean();
}

/// tcpSocket on a closed port fails ("dial tcp ...: connect: connection refused"), on a
/// listening port (whose server closes at once) succeeds; named ports (tcpSocket, httpGet)
/// resolve to the container's port of that name.
#[test]
fn tcp_probe_results_and_named_ports() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        terminationGracePeriodSeconds: 2
        containers:
        - name: srv
          image: busybox
          command: [nc, -ll, -p, "9090", -e, "true"]
        - name: open
          image: busybox
          command: [sleep, "3600"]
          readinessProbe: {tcpSocket: {port: 9090}, periodSeconds: 1, failureThreshold: 1}
        - name: closed
          image: busybox
          command: [sleep, "3600"]
          readinessProbe: {tcpSocket: {port: 9091}, periodSeconds: 1, failureThreshold: 1}
        - name: named
          image: busybox
          command: [sleep, "3600"]
          ports: [{name: http, containerPort: 9090}]
          readinessProbe: {tcpSocket: {port: http}, periodSeconds: 1, failureThreshold: 1}
        - name: namedhttp
          image: busybox
          command: [sh, -c, "mkdir /w && echo hi > /w/index.html && exec httpd -f -p 8088 -h /w"]
          ports: [{name: web, containerPort: 8088}]
          livenessProbe: {httpGet: {port: web, path: /index.html}, periodSeconds: 1, failureThreshold: 3}
          readinessProbe: {httpGet: {port: web}, periodSeconds: 1, failureThreshold: 1}
        "#,
    ));
    let good = ["open", "named", "namedhttp"];
    let st = pe.wait_until(&name, |s| good.iter().all(|c| ctr(s, c)["ready"] == true), secs(10));
    assert_eq!(ctr(&st, "closed")["ready"], false);
    // (a first check may beat the server's bind: failures before this point do not count)
    let early: Vec<u64> = good.iter().map(|c| failures(&pe, &name, c)).collect();
    std::thread::sleep(ms(1500));
    let st = pe.status(&name);
    assert!(["open", "named", "namedhttp"].iter().all(|c| ctr(&st, c)["ready"] == true), "{st:#}");
    assert_eq!(ctr(&st, "closed")["ready"], false);
    let ev = ctr_events(&pe, &name, "closed", "Unhealthy", "");
    assert_eq!(ev.len(), 1, "{ev:#?}");
    assert_eq!(ev[0]["message"], "Readiness probe failed: dial tcp 127.0.0.1:9091: connect: connection refused");
    assert!(count(&ev[0]) >= 2);
    let late: Vec<u64> = good.iter().map(|c| failures(&pe, &name, c)).collect();
    assert_eq!(early, late, "failures of {good:?} once ready: {:#?}", pe.events(&name));
    for c in good {
        assert_eq!(ctr(&st, c)["restartCount"], 0);
    }
    pe.check_clean();
}

/// A liveness httpGet on a named port that matches no containerPort is a probe *error*
/// (the kubelet throws the result away): the container is not killed; events say "errored".
#[test]
fn unknown_named_port_is_a_probe_error() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        terminationGracePeriodSeconds: 2
        containers:
        - name: app
          image: busybox
          command: [sleep, "3600"]
          livenessProbe: {httpGet: {port: nosuch, path: /}, periodSeconds: 1, failureThreshold: 1}
        "#,
    ));
    pe.wait_running(&name, "app", secs(10));
    let ev = poll("an errored probe event", secs(4), || {
        let ev = ctr_events(&pe, &name, "app", "Unhealthy", "Liveness probe errored");
        (!ev.is_empty()).then_some(ev)
    });
    assert!(ev[0]["message"].as_str().unwrap().contains("nosuch"), "{ev:#?}");
    std::thread::sleep(ms(2000));
    let st = pe.status(&name);
    assert_eq!(ctr(&st, "app")["restartCount"], 0, "{st:#}");
    assert_eq!(state_of(ctr(&st, "app")), "running");
    assert!(pe.events_with(&name, "Killing", "").is_empty());
    assert!(ctr_events(&pe, &name, "app", "Unhealthy", "Liveness probe failed").is_empty());
    pe.check_clean();
}

/// An exec probe whose command does not exist never starts: a probe *error*, as under the
/// kubelet (the runtime's exec fails), with the runtime's message; nothing is restarted, and
/// the next period tries again.
#[test]
fn exec_probe_with_a_missing_command_is_a_probe_error() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        terminationGracePeriodSeconds: 2
        containers:
        - name: app
          image: busybox
          command: [sleep, "3600"]
          livenessProbe: {exec: {command: [no-such-probe-cmd]}, periodSeconds: 1, failureThreshold: 1}
        "#,
    ));
    pe.wait_running(&name, "app", secs(10));
    let ev = poll("two errored probe events", secs(5), || {
        let ev = ctr_events(&pe, &name, "app", "Unhealthy", "Liveness probe errored");
        (ev.first().is_some_and(|e| e["count"].as_u64() >= Some(2))).then_some(ev)
    });
    let msg = ev[0]["message"].as_str().unwrap();
    assert!(msg.contains("\"no-such-probe-cmd\": executable file not found in $PATH"), "{msg}");
    let st = pe.status(&name);
    assert_eq!(ctr(&st, "app")["restartCount"], 0, "{st:#}");
    assert_eq!(state_of(ctr(&st, "app")), "running");
    assert!(pe.events_with(&name, "Killing", "").is_empty());
    pe.check_clean();
}

/// One HTTP/2 frame.
fn h2_frame(typ: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.push(typ);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A canned grpc.health.v1 server answer (SETTINGS, response headers, one message with
/// `status`, trailers grpc-status 0) as a shell script for `nc -e`: it does not depend on
/// what the client sends, so busybox can serve it.
fn grpc_health_script(status: u8) -> String {
    let mut b = h2_frame(4, 0, 0, &[]);
    let mut head = vec![0x88, 0x0f, 0x10, 16]; // :status 200; content-type (static 31), literal
    head.extend_from_slice(b"application/grpc");
    b.extend(h2_frame(1, 0x4, 1, &head));
    b.extend(h2_frame(0, 0, 1, &[0, 0, 0, 0, 2, 0x08, status]));
    let mut trailers = vec![0x00, 11];
    trailers.extend_from_slice(b"grpc-status");
    trailers.extend_from_slice(&[1, b'0']);
    b.extend(h2_frame(1, 0x5, 1, &trailers));
    let esc: String = b.iter().map(|x| format!("\\x{x:02x}")).collect();
    format!("#!/bin/sh\nprintf '{esc}'\ncat >/dev/null\n")
}

/// gRPC probes against a canned grpc.health.v1 answer served by busybox nc: SERVING passes,
/// NOT_SERVING fails with the kubelet's message, a closed port fails to connect.
#[test]
fn grpc_probe_results() {
    let Some(pe) = PodEnv::new() else { return };
    let g = pe.scratch().join(unique("g"));
    script(&g, "ok.sh", &grpc_health_script(1));
    script(&g, "bad.sh", &grpc_health_script(2));
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        terminationGracePeriodSeconds: 2
        volumes:
        - name: g
          hostPath: {{path: {}, type: Directory}}
        containers:
        - name: srv
          image: busybox
          command: [sh, -c, "nc -ll -p 9000 -e sh /g/ok.sh & exec nc -ll -p 9001 -e sh /g/bad.sh"]
          volumeMounts: [{{name: g, mountPath: /g}}]
        - name: serving
          image: busybox
          command: [sleep, "3600"]
          readinessProbe: {{grpc: {{port: 9000}}, periodSeconds: 1, failureThreshold: 1}}
          livenessProbe: {{grpc: {{port: 9000, service: app}}, periodSeconds: 1, failureThreshold: 1}}
        - name: notserving
          image: busybox
          command: [sleep, "3600"]
          readinessProbe: {{grpc: {{port: 9001}}, periodSeconds: 1, failureThreshold: 1}}
        - name: closed
          image: busybox
          command: [sleep, "3600"]
          readinessProbe: {{grpc: {{port: 9002}}, periodSeconds: 1, failureThreshold: 1}}
        "#,
        q(&g.to_string_lossy())
    )));
    pe.wait_until(&name, |s| ctr(s, "serving")["ready"] == true, secs(10));
    let early = failures(&pe, &name, "serving");
    let ev = poll("NOT_SERVING and connect failures", secs(5), || {
        let a = ctr_events(
            &pe,
            &name,
            "notserving",
            "Unhealthy",
            "Readiness probe failed: service unhealthy (responded with \"NOT_SERVING\")",
        );
        let b = ctr_events(&pe, &name, "closed", "Unhealthy", "");
        (!a.is_empty() && !b.is_empty()).then_some(b)
    });
    assert_eq!(ev.len(), 1, "{ev:#?}");
    let m = ev[0]["message"].as_str().unwrap();
    assert!(
        m.starts_with("Readiness probe failed: timeout: failed to connect service \"127.0.0.1:9002\" within 1s"),
        "{m}"
    );
    std::thread::sleep(ms(1200));
    let st = pe.status(&name);
    assert_eq!(ctr(&st, "serving")["ready"], true, "{st:#}");
    assert_eq!(ctr(&st, "serving")["restartCount"], 0, "{st:#}");
    assert_eq!(ctr(&st, "notserving")["ready"], false);
    assert_eq!(ctr(&st, "closed")["ready"], false);
    assert_eq!(failures(&pe, &name, "serving"), early, "{:#?}", pe.events(&name));
    pe.check_clean();
}

/// Timing (docs/pod-lifecycle.md#probe-worker): with periodSeconds 1 an exec probe runs every
/// ≈1 s (each gap 0.9..1.2 s), and a probe that takes 1.5 s never runs concurrently with
/// itself (a mkdir lock records overlaps).
#[test]
fn probe_period_and_no_overlap() {
    let Some(pe) = PodEnv::new() else { return };
    let slow = format!(
        "mkdir /d/lock 2>/dev/null || echo OVERLAP >> /d/o; {}; usleep 1500000; {}; rmdir /d/lock",
        stamp("B", "/d/s"),
        stamp("E", "/d/s")
    );
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        terminationGracePeriodSeconds: 2
        volumes: [{{name: d, emptyDir: {{}}}}]
        containers:
        - name: fast
          image: busybox
          command: [sleep, "3600"]
          volumeMounts: [{{name: d, mountPath: /d}}]
          livenessProbe:
            exec: {{command: [sh, -c, {}]}}
            periodSeconds: 1
        - name: slow
          image: busybox
          command: [sleep, "3600"]
          volumeMounts: [{{name: d, mountPath: /d}}]
          livenessProbe:
            exec: {{command: [sh, -c, {}]}}
            periodSeconds: 1
            timeoutSeconds: 3
        "#,
        q(&stamp("F", "/d/f")),
        q(&slow)
    )));
    let d = pe.volume(&name, "d");
    poll("6 fast and 3 slow probe runs", secs(10), || {
        (times(&d.join("f"), "F").len() >= 6 && times(&d.join("s"), "E").len() >= 3).then_some(())
    });
    let f = times(&d.join("f"), "F");
    let gaps: Vec<f64> = f.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| (0.9..=1.2).contains(g)), "fast probe gaps {gaps:.3?}");
    assert!(!d.join("o").exists(), "the slow probe overlapped itself: {:?}", std::fs::read_to_string(d.join("o")));
    let (b, e) = (times(&d.join("s"), "B"), times(&d.join("s"), "E"));
    for i in 0..e.len().min(b.len() - 1) {
        assert!(b[i + 1] >= e[i], "run {} began at {:.2} before run {i} ended at {:.2}", i + 1, b[i + 1], e[i]);
        assert!(b[i + 1] - e[i] <= 1.2, "run {} began {:.2}s after the previous one ended", i + 1, b[i + 1] - e[i]);
    }
    let st = pe.status(&name);
    assert!(["fast", "slow"].iter().all(|c| ctr(&st, c)["restartCount"] == 0), "{st:#}");
    assert!(pe.events_with(&name, "Unhealthy", "").is_empty(), "{:#?}", pe.events(&name));
    pe.check_clean();
}

// ---------------------------------------------------------------------------------------------
// Native sidecars

/// A sidecar starts before everything after it; the next init container starts only
/// once the sidecar is started (its startup probe passes ≈2 s in); it keeps running with the
/// app.
#[test]
fn sidecar_startup_probe_gates_the_next_init_container() {
    let Some(pe) = PodEnv::new() else { return };
    let s1 = format!("{}; usleep 2000000; {}; touch /tmp/up; exec sleep 3600", stamp("S1", "/d/o"), stamp("U", "/d/o"));
    let name = pe.run_pod(&pod_yaml(&format!(
        r#"
        terminationGracePeriodSeconds: 2
        volumes: [{{name: d, emptyDir: {{}}}}]
        initContainers:
        - name: s1
          image: busybox
          restartPolicy: Always
          command: [sh, -c, {}]
          volumeMounts: [{{name: d, mountPath: /d}}]
          startupProbe:
            exec: {{command: [test, -e, /tmp/up]}}
            periodSeconds: 1
            failureThreshold: 10
        - name: i2
          image: busybox
          command: [sh, -c, {}]
          volumeMounts: [{{name: d, mountPath: /d}}]
        containers:
        - name: app
          image: busybox
          command: [sh, -c, {}]
          volumeMounts: [{{name: d, mountPath: /d}}]
        "#,
        q(&s1),
        q(&stamp("I2", "/d/o")),
        q(&format!("{}; exec sleep 3600", stamp("A", "/d/o")))
    )));
    let o = pe.volume(&name, "d").join("o");
    // while the sidecar is not started, nothing after it runs
    let st = pe.wait_running(&name, "s1", secs(10));
    assert_eq!(ctr(&st, "s1")["started"], false);
    assert_eq!(phase(&st), "Pending");
    assert_eq!(cond(&st, "Initialized")["status"], "False");
    let st = pe.wait_running(&name, "app", secs(8));
    let (s1t, u, i2, a) = (times(&o, "S1"), times(&o, "U"), times(&o, "I2"), times(&o, "A"));
    assert!(s1t.len() == 1 && u.len() == 1 && i2.len() == 1 && a.len() == 1, "{:?}", std::fs::read_to_string(&o));
    assert!(s1t[0] < u[0] && u[0] <= i2[0] && i2[0] <= a[0], "order S1 {s1t:?} U {u:?} I2 {i2:?} A {a:?}");
    assert!(
        i2[0] - s1t[0] >= 1.9,
        "i2 began {:.2}s after the sidecar (its startup probe passes ≈2 s in)",
        i2[0] - s1t[0]
    );
    assert!(i2[0] - u[0] < 1.6, "i2 began {:.2}s after the sidecar was up", i2[0] - u[0]);
    let (s1c, i2c) = (ctr(&st, "s1"), ctr(&st, "i2"));
    assert_eq!(s1c["started"], true);
    assert!(
        epoch(i2c["state"]["terminated"]["startedAt"].as_str().unwrap())
            >= epoch(s1c["state"]["running"]["startedAt"].as_str().unwrap())
    );
    assert_eq!(cond(&st, "Initialized")["status"], "True");
    // the sidecar keeps running while the app runs
    std::thread::sleep(ms(1000));
    let st = pe.status(&name);
    assert_eq!(state_of(ctr(&st, "s1")), "running");
    assert_eq!(ctr(&st, "s1")["restartCount"], 0);
    assert_eq!(ctr(&st, "i2")["state"]["terminated"]["exitCode"], 0);
    assert_eq!(phase(&st), "Running");
    assert_eq!(cond(&st, "Ready")["status"], "True");
    pe.check_clean();
}

/// A sidecar whose startup probe always fails is restarted again and again and the
/// next init container never starts (Pending); a sidecar whose readiness fails keeps
/// ContainersReady and Ready False, naming the sidecar.
#[test]
fn sidecar_probes_gate_init_and_readiness() {
    let Some(pe) = PodEnv::new() else { return };
    let stuck = pe.run_pod(&pod_yaml(
        r#"
        terminationGracePeriodSeconds: 2
        initContainers:
        - name: s1
          image: busybox
          restartPolicy: Always
          command: [sleep, "3600"]
          startupProbe: {exec: {command: ["false"]}, periodSeconds: 1, failureThreshold: 2}
        - {name: i2, image: busybox, command: ["true"]}
        containers:
        - {name: app, image: busybox, command: [sleep, "3600"]}
        "#,
    ));
    let unready = pe.run_pod(&pod_yaml(
        r#"
        terminationGracePeriodSeconds: 2
        initContainers:
        - name: sc
          image: busybox
          restartPolicy: Always
          command: [sleep, "3600"]
          readinessProbe: {exec: {command: ["false"]}, periodSeconds: 1}
        containers:
        - {name: app, image: busybox, command: [sleep, "3600"]}
        "#,
    ));
    // A sidecar's readiness counts in ContainersReady and Ready, not in READY
    let st = pe.wait_running(&unready, "app", secs(10));
    assert_eq!(ctr(&st, "sc")["started"], true, "{st:#}");
    std::thread::sleep(ms(1200));
    let st = pe.status(&unready);
    assert_eq!(ctr(&st, "sc")["ready"], false);
    assert_eq!(ctr(&st, "app")["ready"], true);
    for c in ["ContainersReady", "Ready"] {
        assert_eq!(cond(&st, c)["status"], "False", "{c}: {st:#}");
        assert_eq!(cond(&st, c)["message"], "containers with unready status: [sc]", "{c}");
    }
    assert_eq!(phase(&st), "Running");
    assert_eq!(pe.list_row(&unready).map(|r| r.0), Some("1/1".to_string()), "READY counts app containers");
    // A sidecar that never starts holds back the next init container
    let st = pe.wait_until(&stuck, |s| restarts(ctr(s, "s1")) >= 2, secs(8));
    assert_eq!(phase(&st), "Pending");
    assert_eq!(state_of(ctr(&st, "i2")), "waiting", "{st:#}");
    assert_eq!(state_of(ctr(&st, "app")), "waiting");
    assert_eq!(cond(&st, "Initialized")["status"], "False");
    assert!(
        !ctr_events(&pe, &stuck, "s1", "Killing", "Container s1 failed startup probe, will be restarted").is_empty()
    );
    pe.check_clean();
}

/// The app ignores SIGTERM: it is SIGKILLed when the grace ends, and
/// the sidecars' wait for their turn runs out then too: they get SIGTERM at ≈t0+G together;
/// the whole stop takes ≤ G + 2 s.
#[test]
fn sidecars_stop_when_the_grace_runs_out() {
    let Some(pe) = PodEnv::new() else { return };
    let ctr_yaml = |n: &str, sidecar: bool, exit: &str| {
        let app = format!("trap '{}{exit}' TERM; while true; do usleep 50000; done", stamp(&format!("T{n}"), "/d/o"));
        format!(
            "- name: {n}\n  image: busybox\n{}  command: [sh, -c, {}]\n  volumeMounts: [{{name: d, mountPath: /d}}]\n",
            if sidecar { "  restartPolicy: Always\n" } else { "" },
            q(&app)
        )
    };
    let spec = format!(
        "terminationGracePeriodSeconds: 3\nvolumes: [{{name: d, emptyDir: {{}}}}]\ninitContainers:\n{}{}containers:\n{}",
        ctr_yaml("s1", true, "; usleep 300000; exit 0"),
        ctr_yaml("s2", true, "; usleep 300000; exit 0"),
        ctr_yaml("m", false, "")
    );
    let name = pe.run_pod(&pod_yaml(&spec));
    pe.wait_until(&name, |s| ["s1", "s2", "m"].iter().all(|c| state_of(ctr(s, c)) == "running"), secs(10));
    let o = pe.volume(&name, "d").join("o");
    let t0 = uptime();
    let took = pe.stop(&name, &[]);
    assert!(took >= ms(2800) && took <= ms(5000), "stop took {took:?} (want ≈3.3 s)");
    let one = |tag: &str| -> f64 {
        let v = times(&o, tag);
        assert_eq!(v.len(), 1, "{tag}: {:?}", std::fs::read_to_string(&o));
        v[0] - t0
    };
    let (m, s2, s1) = (one("Tm"), one("Ts2"), one("Ts1"));
    assert!(m < 0.6, "the app got SIGTERM {m:.2}s after the stop");
    for (c, t) in [("s1", s1), ("s2", s2)] {
        assert!((2.8..=3.7).contains(&t), "{c} got SIGTERM {t:.2}s after the stop (want ≈3, when the grace ran out)");
    }
    let st = pe.status(&name);
    assert_eq!(ctr(&st, "m")["state"]["terminated"]["exitCode"], 137, "{st:#}");
    for c in ["s1", "s2"] {
        assert_eq!(ctr(&st, c)["state"]["terminated"]["exitCode"], 0, "{c}: {st:#}");
    }
    pe.check_clean();
}

/// Under restartPolicy Never a sidecar that exits is restarted anyway and never
/// fails the pod; when the app exits 0 the pod completes (Succeeded) and the sidecar, which
/// ignores SIGTERM, is stopped within the short grace.
#[test]
fn sidecars_under_never() {
    let Some(pe) = PodEnv::new() else { return };
    let crashing = pe.run_pod(&pod_yaml(
        r#"
        restartPolicy: Never
        terminationGracePeriodSeconds: 2
        initContainers:
        - {name: sc, image: busybox, restartPolicy: Always, command: [sh, -c, "usleep 400000; exit 1"]}
        containers:
        - {name: app, image: busybox, command: [sleep, "3600"]}
        "#,
    ));
    let completing = pe.run_pod(&pod_yaml(&format!(
        r#"
        restartPolicy: Never
        terminationGracePeriodSeconds: 2
        volumes: [{{name: d, emptyDir: {{}}}}]
        initContainers:
        - {{name: sc, image: busybox, restartPolicy: Always, command: [sh, -c, "trap '' TERM; exec sleep 3600"]}}
        containers:
        - name: app
          image: busybox
          command: [sh, -c, {}]
          volumeMounts: [{{name: d, mountPath: /d}}]
        "#,
        q(&format!("usleep 1500000; {}; exit 0", stamp("X", "/d/x")))
    )));
    // Under Never a crashing sidecar is restarted and never fails the pod
    let phases = RefCell::new(Vec::<String>::new());
    let st = pe.wait_until(
        &crashing,
        |s| {
            phases.borrow_mut().push(phase(s));
            restarts(ctr(s, "sc")) >= 2
        },
        secs(8),
    );
    assert!(phases.borrow().iter().all(|p| p == "Pending" || p == "Running"), "{:?}", phases.borrow());
    assert_eq!(phase(&st), "Running");
    assert_eq!(ctr(&st, "app")["restartCount"], 0);
    assert_eq!(state_of(ctr(&st, "app")), "running");
    // Under Never, once the app is done, the sidecar is stopped and the pod succeeds
    let st = pe.wait_phase(&completing, "Succeeded", secs(10));
    let done = uptime();
    let x = times(&pe.volume(&completing, "d").join("x"), "X");
    assert_eq!(x.len(), 1);
    assert!(done - x[0] < 3.8, "the pod finished {:.2}s after the app exited (sidecar grace 2 s)", done - x[0]);
    let app = &ctr(&st, "app")["state"]["terminated"];
    assert_eq!((app["exitCode"].as_i64(), app["reason"].as_str()), (Some(0), Some("Completed")), "{st:#}");
    let sc = &ctr(&st, "sc")["state"]["terminated"];
    assert_eq!(sc["exitCode"], 137, "the sidecar ignores SIGTERM: {st:#}");
    assert_eq!(ctr(&st, "sc")["restartCount"], 0);
    assert!(!ctr_events(&pe, &completing, "sc", "Killing", "Stopping container sc").is_empty());
    assert!(phases.borrow().iter().all(|p| p != "Failed"));
    assert_eq!(phase(&pe.status(&crashing)), "Running");
    pe.check_clean();
}

/// At termination preStop hooks of every container run at once (≈t0); the app container
/// gets its stop signal first, then the sidecars in reverse order (s2, then s1), each after the
/// previous one exited.
#[test]
fn sidecars_stop_after_the_app_in_reverse_order() {
    let Some(pe) = PodEnv::new() else { return };
    let ctr_yaml = |n: &str, sidecar: bool| {
        let app = format!(
            "trap '{}; usleep 300000; exit 0' TERM; while true; do usleep 50000; done",
            stamp(&format!("T{n}"), "/d/o")
        );
        format!(
            "- name: {n}\n  image: busybox\n{}  command: [sh, -c, {}]\n  volumeMounts: [{{name: d, mountPath: /d}}]\n  lifecycle:\n    preStop:\n      exec: {{command: [sh, -c, {}]}}\n",
            if sidecar { "  restartPolicy: Always\n" } else { "" },
            q(&app),
            q(&stamp(&format!("P{n}"), "/d/o"))
        )
    };
    let spec = format!(
        "terminationGracePeriodSeconds: 6\nvolumes: [{{name: d, emptyDir: {{}}}}]\ninitContainers:\n{}{}containers:\n{}",
        ctr_yaml("s1", true),
        ctr_yaml("s2", true),
        ctr_yaml("m", false)
    );
    let name = pe.run_pod(&pod_yaml(&spec));
    pe.wait_until(
        &name,
        |s| ["s1", "s2", "m"].iter().all(|c| state_of(ctr(s, c)) == "running") && ctr(s, "m")["ready"] == true,
        secs(10),
    );
    let o = pe.volume(&name, "d").join("o");
    let t0 = uptime();
    let took = pe.stop(&name, &[]);
    assert!(took < secs(4), "stop took {took:?}");
    let one = |tag: &str| -> f64 {
        let v = times(&o, tag);
        assert_eq!(v.len(), 1, "{tag}: {:?}", std::fs::read_to_string(&o));
        v[0]
    };
    for p in ["Ps1", "Ps2", "Pm"] {
        let at = one(p) - t0;
        assert!((-0.05..0.6).contains(&at), "preStop {p} ran {at:.2}s after the stop (want ≈0)");
    }
    let (m, s2, s1) = (one("Tm"), one("Ts2"), one("Ts1"));
    assert!(m - t0 < 0.8, "the app got SIGTERM {:.2}s after the stop", m - t0);
    assert!(s2 - m >= 0.25, "s2 got SIGTERM {:.2}s after m (m takes 0.3 s to exit)", s2 - m);
    assert!(s1 - s2 >= 0.25, "s1 got SIGTERM {:.2}s after s2 (s2 takes 0.3 s to exit)", s1 - s2);
    let st = pe.status(&name);
    for c in ["s1", "s2", "m"] {
        assert_eq!(ctr(&st, c)["state"]["terminated"]["exitCode"], 0, "{c}: {st:#}");
        assert_eq!(ctr(&st, c)["restartCount"], 0, "{c}");
    }
    assert_eq!(phase(&st), "Succeeded");
    pe.check_clean();
}

// ---------------------------------------------------------------------------------------------
// Events and `pod wait`

/// Events (docs/pod-lifecycle.md#events): `pod events -o json` prints one JSON object per line
/// with type, reason, message, count and millisecond RFC 3339 timestamps; repeated Unhealthy
/// events merge (count grows, firstTimestamp stays); `pod describe` lists them; `pod events -f`
/// streams new events (and merged repeats) until the pod is stopped or removed;
/// `pod wait --for=delete` returns then.
#[test]
fn events_json_merge_describe_and_follow() {
    let Some(pe) = PodEnv::new() else { return };
    let yaml = pod_yaml(
        r#"
        terminationGracePeriodSeconds: 2
        containers:
        - name: app
          image: busybox
          command: [sleep, "3600"]
          readinessProbe:
            exec: {command: [sh, -c, "echo not yet; exit 1"]}
            periodSeconds: 1
        "#,
    );
    let a = pe.run_pod(&yaml);
    let b = pe.run_pod(&yaml);
    let msg = "Readiness probe failed: not yet";
    let first = poll("an Unhealthy event", secs(10), || ctr_events(&pe, &a, "app", "Unhealthy", msg).pop());
    // raw output: one JSON object per line, every field there
    let raw = pe.ok(&["pod", "events", &a, "-o", "json"]);
    let mut reasons = Vec::new();
    for line in raw.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v.is_object(), "{line}");
        for k in ["type", "reason", "message"] {
            assert!(v[k].is_string(), "{k} in {line}");
        }
        assert!(v["count"].as_u64().is_some_and(|c| c >= 1), "{line}");
        for k in ["firstTimestamp", "lastTimestamp"] {
            assert!(v[k].as_str().is_some_and(is_millis_rfc3339), "{k} in {line}");
        }
        reasons.push(v["reason"].as_str().unwrap().to_string());
    }
    for r in ["Scheduled", "Pulled", "Created", "Started", "Unhealthy"] {
        assert!(reasons.iter().any(|x| x == r), "no {r} event: {raw}");
    }
    // repeats merge: one event whose count grows
    let later = poll("the Unhealthy count to grow by 2", secs(10), || {
        let l = ctr_events(&pe, &a, "app", "Unhealthy", msg);
        (l.len() != 1 || count(&l[0]) >= count(&first) + 2).then_some(l)
    });
    assert_eq!(later.len(), 1, "{later:#?}");
    assert_eq!(later[0]["firstTimestamp"], first["firstTimestamp"]);
    assert!(later[0]["lastTimestamp"].as_str() > first["lastTimestamp"].as_str());
    let d = pe.ok(&["pod", "describe", &a]);
    let line =
        d.lines().find(|l| l.contains("Unhealthy")).unwrap_or_else(|| panic!("describe shows no Unhealthy:\n{d}"));
    assert!(line.contains(msg) && line.contains(" (x") && line.contains(" since "), "{line}");
    let text = pe.ok(&["pod", "events", &a]);
    assert!(text.lines().any(|l| l.contains("Unhealthy") && l.contains(msg)), "{text}");

    // -f streams, merged repeats included, until the pod is removed
    let mut follow_a = pe.spawn(&["pod", "events", &a, "-f", "-o", "json"]);
    let mut follow_b = pe.spawn(&["pod", "events", &b, "-f", "-o", "json"]);
    let mut gone = pe.spawn(&["pod", "wait", &a, "--for=delete", "--timeout", "15s"]);
    let parse = |s: String| -> Vec<Value> {
        s.lines().filter(|l| l.ends_with('}')).map(|l| serde_json::from_str(l).expect("json line")).collect()
    };
    let c0 = count(&ctr_events(&pe, &a, "app", "Unhealthy", msg)[0]);
    poll("a streamed repeat of the Unhealthy event", secs(5), || {
        parse(follow_a.stdout()).iter().any(|e| e["reason"] == "Unhealthy" && count(e) > c0).then_some(())
    });
    assert!(follow_a.running() && follow_b.running() && gone.running());
    let seen = parse(follow_a.stdout());
    assert_eq!(seen[0]["reason"], "Scheduled", "the stream starts with the old events");
    let counts: Vec<u64> = seen.iter().filter(|e| e["reason"] == "Unhealthy").map(count).collect();
    assert!(counts.windows(2).all(|w| w[1] > w[0]), "repeats come in order: {counts:?}");
    pe.ok(&["pod", "rm", "--force", &a]);
    let st = follow_a.wait_timeout(secs(5)).expect("pod events -f kept running after the pod was removed");
    assert!(st.success(), "{}", follow_a.stderr());
    let st = gone.wait_timeout(secs(5)).expect("pod wait --for=delete did not return");
    assert!(st.success(), "{}", gone.stderr());
    // stopped (not removed): the stream ends with the stop's events
    pe.stop(&b, &[]);
    let st = follow_b.wait_timeout(secs(5)).expect("pod events -f kept running after the pod stopped");
    assert!(st.success(), "{}", follow_b.stderr());
    let seen = parse(follow_b.stdout());
    assert!(seen.iter().any(|e| e["reason"] == "Killing" && e["message"] == "Stopping container app"), "{seen:#?}");
    pe.check_clean();
}
