//! `runp pod run` refuses bad manifests before anything exists: one line naming the field,
//! exit code 1, and no pod dir, process, cgroup or state dir (docs/pod-lifecycle.md#validation);
//! the defaults it fills in for accepted ones (docs/pod-lifecycle.md#defaults).

mod common;
#[path = "common/pod.rs"]
mod pod_harness;

use pod_harness::*;
use std::time::Instant;

/// A manifest with a known uid, so that its cgroups can be looked for.
fn manifest(name: &str, uid: &str, spec: &str) -> String {
    let body: String = dedent(spec).lines().map(|l| format!("  {l}\n")).collect();
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  uid: {uid}\nspec:\n{body}")
}

fn uid(k: u32) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", std::process::id(), k)
}

/// Runs `pod run -d` (and foreground `pod run`) on the manifest and checks the refusal.
fn refused(pe: &PodEnv, k: u32, name: &str, spec: &str, wants: &[&str]) {
    let u = uid(k);
    let text = manifest(name, &u, spec);
    for detach in [true, false] {
        let path = pe.scratch().join(format!("bad-{k}.yaml"));
        std::fs::write(&path, &text).unwrap();
        let mut args = vec!["pod", "run"];
        if detach {
            args.push("-d");
        }
        args.push(path.to_str().unwrap());
        let t = Instant::now();
        let (code, err) = pe.fails(&args);
        assert_eq!(code, 1, "case {k}: exit code; stderr {err}");
        assert!(t.elapsed() < secs(3), "case {k}: took {:?}", t.elapsed());
        let err = err.trim_end();
        assert_eq!(err.lines().count(), 1, "case {k}: not one line:\n{err}");
        for w in wants {
            assert!(err.contains(w), "case {k}: error does not mention {w:?}: {err}");
        }
        assert!(!pe.pod_dir(name).exists() || name.is_empty(), "case {k}: pod dir created");
        assert!(!pe.run_dir(name).exists() || name.is_empty(), "case {k}: pod run dir created");
        assert!(common::cgroups_named(&u).is_empty(), "case {k}: cgroup created");
        let left = pe.leftovers();
        assert!(left.is_empty(), "case {k}: {left:?}");
    }
}

/// Names, restartPolicy, activeDeadlineSeconds, shareProcessNamespace with hostPID, volume
/// mounts, hooks and probes on regular init containers, sleep hooks, and friends.
#[test]
fn invalid_manifests_are_refused() {
    let Some(pe) = PodEnv::new() else { return };
    let n = |k: u32| format!("bad-{}-{k}", std::process::id());
    let c = "containers:\n- {name: a, image: busybox, command: [sleep, \"3600\"]}\n";
    let cases: Vec<(String, String, Vec<&str>)> = vec![
        // names
        ("Bad_Name".into(), c.into(), vec!["metadata.name", "Bad_Name"]),
        (n(1), "containers:\n- {name: Web_1, image: busybox}\n".into(), vec!["spec.containers[0].name", "Web_1"]),
        (n(2), format!("containers:\n- {{name: {}, image: busybox}}\n", "a".repeat(64)), vec!["spec.containers[0].name", "63"]),
        (
            n(3),
            "initContainers:\n- {name: a, image: busybox}\ncontainers:\n- {name: a, image: busybox}\n".into(),
            vec!["spec.containers[0].name", "Duplicate value"],
        ),
        // restartPolicy
        (n(4), format!("restartPolicy: Sometimes\n{c}"), vec!["spec.restartPolicy", "Sometimes"]),
        // activeDeadlineSeconds
        (n(5), format!("activeDeadlineSeconds: 0\n{c}"), vec!["spec.activeDeadlineSeconds"]),
        // shareProcessNamespace with hostPID
        (n(6), format!("shareProcessNamespace: true\nhostPID: true\n{c}"), vec!["spec.shareProcessNamespace"]),
        // volume mounts
        (
            n(7),
            "containers:\n- {name: a, image: busybox, volumeMounts: [{name: nov, mountPath: /x}]}\n".into(),
            vec!["spec.containers[0].volumeMounts[0].name", "nov"],
        ),
        (
            n(8),
            "volumes: [{name: v, emptyDir: {}}]\ncontainers:\n- {name: a, image: busybox, volumeMounts: [{name: v, mountPath: /x}, {name: v, mountPath: /x}]}\n".into(),
            vec!["spec.containers[0].volumeMounts[1].mountPath"],
        ),
        // lifecycle and probes on a regular init container
        (
            n(9),
            format!("initContainers:\n- {{name: i, image: busybox, lifecycle: {{postStart: {{exec: {{command: [\"true\"]}}}}}}}}\n{c}"),
            vec!["spec.initContainers[0].lifecycle"],
        ),
        (
            n(10),
            format!("initContainers:\n- {{name: i, image: busybox, readinessProbe: {{exec: {{command: [\"true\"]}}}}}}\n{c}"),
            vec!["spec.initContainers[0].readinessProbe"],
        ),
        (
            n(11),
            format!("initContainers:\n- {{name: i, image: busybox, livenessProbe: {{exec: {{command: [\"true\"]}}}}}}\n{c}"),
            vec!["spec.initContainers[0].livenessProbe"],
        ),
        (
            n(12),
            format!("initContainers:\n- {{name: i, image: busybox, startupProbe: {{exec: {{command: [\"true\"]}}}}}}\n{c}"),
            vec!["spec.initContainers[0].startupProbe"],
        ),
        // A preStop sleep longer than the grace
        (
            n(13),
            "terminationGracePeriodSeconds: 3\ncontainers:\n- {name: a, image: busybox, lifecycle: {preStop: {sleep: {seconds: 5}}}}\n".into(),
            vec!["spec.containers[0].lifecycle.preStop.sleep.seconds"],
        ),
        // typos
        (n(14), format!("restartPolicyy: Never\n{c}"), vec!["restartPolicyy"]),
        (n(15), "containers:\n- {name: a, image: busybox, imagePullPolicyy: Never}\n".into(), vec!["spec.containers[0].imagePullPolicyy"]),
        // (A missing image is no longer refused here: the pod waits in ErrImageNeverPull or
        // ErrImagePull/ImagePullBackOff as the kubelet's does; tests/pod_images.rs.)
        (n(18), "containers: []\n".into(), vec!["spec.containers"]),
    ];
    for (k, (name, spec, wants)) in cases.iter().enumerate() {
        refused(&pe, k as u32, name, spec, wants);
    }
    pe.check_clean();
}

/// Malformed YAML, a wrong kind, a missing file: one line, exit 1, nothing created.
#[test]
fn unreadable_manifests_are_refused() {
    let Some(pe) = PodEnv::new() else { return };
    let cases: [(&str, &[&str]); 3] = [
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: x\nspec: [\n", &["line"]),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {}\n", &["kind", "Service"]),
        ("just text", &[]),
    ];
    for (k, (text, wants)) in cases.iter().enumerate() {
        let path = pe.scratch().join(format!("m{k}.yaml"));
        std::fs::write(&path, text).unwrap();
        let (code, err) = pe.fails(&["pod", "run", "-d", path.to_str().unwrap()]);
        assert_eq!(code, 1, "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
        for w in *wants {
            assert!(err.contains(w), "{err}");
        }
        assert!(pe.pods().is_empty() && pe.leftovers().is_empty(), "{:?}", pe.leftovers());
    }
    let (code, err) = pe.fails(&["pod", "run", "-d", "/nonexistent/pod.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/pod.yaml"), "{err}");
    pe.check_clean();
}

/// A second pod with the name of a running one is refused and the first is untouched.
#[test]
fn existing_pod_name_is_refused() {
    let Some(pe) = PodEnv::new() else { return };
    let yaml = pod_yaml("containers:\n- {name: a, image: busybox, command: [sleep, \"3600\"]}\n");
    let name = pe.run_pod(&yaml);
    let st = pe.wait_running(&name, "a", secs(10));
    let id = ctr(&st, "a")["containerID"].clone();
    let sup = pe.supervisor_pid(&name);
    for detach in [true, false] {
        let (_, path) = pe.manifest(&yaml.replace("@NAME@", &name));
        let mut args = vec!["pod", "run"];
        if detach {
            args.push("-d");
        }
        args.push(path.to_str().unwrap());
        let (code, err) = pe.fails(&args);
        assert_eq!(code, 1);
        assert!(err.contains("already exists") && err.contains(&name), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    let st = pe.status(&name);
    assert_eq!(phase(&st), "Running");
    assert_eq!(ctr(&st, "a")["containerID"], id);
    assert_eq!(pe.supervisor_pid(&name), sup);
    assert_eq!(pe.pause_pids().len(), 1);
    pe.check_clean();
}

/// Defaults of accepted manifests: restartPolicy Always, a negative grace becomes 1 and 0 acts
/// like it: stop signal, then SIGKILL 2 s later; preStop sleep 0 is accepted
/// (docs/pod-lifecycle.md#defaults, docs/pod-lifecycle.md#grace-period).
#[test]
fn defaults_of_accepted_manifests() {
    let Some(pe) = PodEnv::new() else { return };
    let mk = |grace: i64| {
        pe.run_pod(&pod_yaml(&format!(
            r#"
            shareProcessNamespace: false
            terminationGracePeriodSeconds: {grace}
            containers:
            - name: a
              image: busybox
              command: [sleep, "3600"]
              lifecycle:
                preStop:
                  sleep: {{seconds: 0}}
            "#
        )))
    };
    let neg = mk(-5);
    let zero = mk(0);
    for (n, g) in [(&neg, 1), (&zero, 0)] {
        let st = pe.wait_running(n, "a", secs(10));
        assert_eq!(st["spec"]["restartPolicy"], "Always");
        assert_eq!(st["spec"]["terminationGracePeriodSeconds"], g, "{n}");
        assert_eq!(st["spec"]["containers"][0]["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(st["spec"]["containers"][0]["terminationMessagePolicy"], "File");
    }
    let pe = &pe;
    std::thread::scope(|s| {
        let hs: Vec<_> = [&neg, &zero].into_iter().map(|n| s.spawn(move || (n, pe.stop(n, &[])))).collect();
        for h in hs {
            let (n, took) = h.join().unwrap();
            assert!(took.as_millis() >= 1800 && took.as_millis() <= 3500, "{n}: stop took {took:?}, want ≈2-3 s");
            assert_eq!(ctr(&pe.status(n), "a")["state"]["terminated"]["exitCode"], 137);
        }
    });
    pe.check_clean();
}

/// A sandbox that cannot be set up (a hostPath that is not there) is refused, and what was
/// already made (a memory emptyDir) is undone.
#[test]
fn failed_sandbox_leaves_nothing() {
    let Some(pe) = PodEnv::new() else { return };
    let missing = pe.scratch().join("no/such/dir");
    for _ in 0..5 {
        let (name, code, err) = pe.run_pod_fails(&pod_yaml(&format!(
            r#"
            volumes:
            - {{name: m, emptyDir: {{medium: Memory}}}}
            - name: h
              hostPath: {{path: {}, type: Directory}}
            containers:
            - {{name: a, image: busybox, command: [sleep, "3600"], volumeMounts: [{{name: m, mountPath: /m}}, {{name: h, mountPath: /h}}]}}
            "#,
            q(&missing.to_string_lossy())
        )));
        assert_eq!(code, 1);
        assert!(err.contains("spec.volumes[1]") && err.contains("no/such/dir"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        common::reap_zombies();
        let deadline = Instant::now() + secs(3);
        while !pe.leftovers().is_empty() && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
            common::reap_zombies();
        }
        assert!(pe.leftovers().is_empty(), "{name}: {:?}", pe.leftovers());
    }
    assert!(!missing.exists());
    pe.check_clean();
}

/// CLI errors: unknown pods, rm of a running pod without --force, exec in a stopped pod.
#[test]
fn cli_errors() {
    let Some(pe) = PodEnv::new() else { return };
    for args in [
        vec!["pod", "status", "nosuch"],
        vec!["pod", "stop", "nosuch"],
        vec!["pod", "rm", "nosuch"],
        vec!["pod", "logs", "nosuch"],
        vec!["pod", "exec", "nosuch", "--", "true"],
        vec!["pod", "describe", "nosuch"],
        vec!["pod", "status", "../x"],
    ] {
        let (code, err) = pe.fails(&args);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains("nosuch") || err.contains("../x"), "{args:?}: {err}");
    }
    let name = pe.run_pod(&pod_yaml("containers:\n- {name: a, image: busybox, command: [sleep, \"3600\"]}\n"));
    pe.wait_running(&name, "a", secs(10));
    let (code, err) = pe.fails(&["pod", "rm", &name]);
    assert_eq!(code, 1);
    assert!(err.contains("running") && err.contains("--force"), "{err}");
    assert_eq!(phase(&pe.status(&name)), "Running");
    pe.stop(&name, &[]);
    let (code, err) = pe.fails(&["pod", "exec", &name, "--", "true"]);
    assert_eq!(code, 1);
    assert!(err.contains("not running"), "{err}");
    // stop of a stopped pod is fine; rm without --force now works
    pe.stop(&name, &[]);
    pe.ok(&["pod", "rm", &name]);
    assert!(pe.pods().is_empty());
    pe.check_clean();
}

/// `pods` (where the pods' runtime directories live under the root) is not a container: `runp delete [--force]
/// pods` deletes nothing of a running pod, and no container may be created with that id.
#[test]
fn container_commands_never_touch_pod_records() {
    let Some(pe) = PodEnv::new() else { return };
    let yaml = pod_yaml("containers:\n- {name: a, image: busybox, command: [sh, -c, 'echo hello; exec sleep 3600']}\n");
    let name = pe.run_pod(&yaml);
    pe.wait_running(&name, "a", secs(10));
    let files = |dir: &std::path::Path| {
        let mut v: Vec<String> =
            walk(dir).into_iter().map(|p| p.strip_prefix(dir).unwrap().display().to_string()).collect();
        v.sort();
        v
    };
    let before = (files(&pe.pod_dir(&name)), files(&pe.run_dir(&name)));
    for args in [&["delete", "pods"][..], &["delete", "--force", "pods"][..]] {
        let out = pe.runp(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains("not a container's state directory"), "{args:?}: {err}");
    }
    assert_eq!((files(&pe.pod_dir(&name)), files(&pe.run_dir(&name))), before, "pod files changed");
    assert_eq!(phase(&pe.status(&name)), "Running");
    assert!(pe.logs(&name, &["-c", "a"]).contains("hello"));
    let bundle = common::base_bundle();
    let (code, err) = pe.fails(&["create", "--bundle", bundle.to_str().unwrap(), "pods"]);
    assert_eq!(code, 1);
    assert!(err.contains("reserved"), "{err}");
    pe.check_clean();
}

/// Every path below `dir` (not following symlinks, not crossing into other file systems).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::symlink_metadata(dir).map(|m| m.dev()).unwrap_or(0);
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if let Ok(m) = std::fs::symlink_metadata(&p) {
                if m.is_dir() && m.dev() == dev {
                    todo.push(p.clone());
                }
            }
            out.push(p);
        }
    }
    out
}

/// Every duration of a manifest and of `pod stop`/`pod wait` at the top of its type: the pod
/// runs and stops normally (a wait that long means "no practical limit"), a bad `--timeout` is
/// a clean error, and the supervisor never aborts.
#[test]
fn huge_durations_neither_abort_nor_leak() {
    let Some(pe) = PodEnv::new() else { return };
    let max = i64::MAX;
    let int_max = i32::MAX;
    let app = "[sh, -c, \"trap 'exit 0' TERM; while :; do sleep 1 & wait; done\"]";
    let a = pe.run_pod(&pod_yaml(&format!(
        "terminationGracePeriodSeconds: {max}\nactiveDeadlineSeconds: {int_max}\ncontainers:\n\
         - name: a\n  image: busybox\n  command: {app}\n  lifecycle:\n    preStop: {{sleep: {{seconds: {max}}}}}\n\
         \x20 livenessProbe: {{exec: {{command: [\"true\"]}}, periodSeconds: {int_max}, timeoutSeconds: {int_max}, \
         initialDelaySeconds: {int_max}, terminationGracePeriodSeconds: {max}}}\n"
    )));
    let b = pe.run_pod(&pod_yaml(&format!(
        "terminationGracePeriodSeconds: {max}\ncontainers:\n- {{name: b, image: busybox, command: {app}}}\n"
    )));
    pe.wait_running(&a, "a", secs(10));
    pe.wait_running(&b, "b", secs(10));
    let (sa, sb) = (pe.supervisor_pid(&a), pe.supervisor_pid(&b));
    for t in ["1e300s", "-1s", "NaNs", "99999999999h"] {
        let (code, err) = pe.fails(&["pod", "wait", &a, "--for=phase=Succeeded", &format!("--timeout={t}")]);
        assert_eq!(code, 1);
        assert!(err.contains("invalid duration"), "{t}: {err}");
    }
    // The preStop sleep of i64::MAX seconds ends with the grace period given to `pod stop`.
    pe.stop(&a, &["--grace-period", "1"]);
    assert_eq!(phase(&pe.status(&a)), "Succeeded", "{}", pe.display(&a));
    // A grace of i64::MAX: the app exits on SIGTERM, so the stop is quick all the same.
    pe.stop(&b, &["--grace-period", &max.to_string()]);
    assert_eq!(phase(&pe.status(&b)), "Succeeded", "{}", pe.display(&b));
    for (name, sup) in [(&a, sa), (&b, sb)] {
        let log = std::fs::read_to_string(pe.pod_dir(name).join("supervisor.log")).unwrap_or_default();
        assert!(!log.contains("panicked"), "supervisor {sup} of {name} panicked: {log}");
    }
    pe.check_clean();
}
