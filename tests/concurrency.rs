//! Many runp processes at once on one --root (issue item 8): parallel lifecycles, racing
//! creates of one id, and readers racing a delete (docs/oci-cli.md#create, docs/oci-cli.md#list).

mod common;
use common::*;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

const N: usize = 20;

/// (exit code, stdout, stderr); the code is None when runp died of a signal.
fn outcome(env: &Env, args: &[&str]) -> (Option<i32>, String, String) {
    let out = env.runp(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_sane(args: &[&str], code: Option<i32>, err: &str) {
    assert!(code.is_some(), "runp {args:?} died of a signal: {err}");
    assert!(!err.contains("panicked"), "runp {args:?} panicked: {err}");
}

/// `list --format json` must always succeed and parse, whatever else runs.
fn list_ids(env: &Env) -> Vec<String> {
    let args = ["list", "--format", "json"];
    let (code, out, err) = outcome(env, &args);
    assert_sane(&args, code, &err);
    assert_eq!(code, Some(0), "list failed: {err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("list output {out:?}: {e}"));
    match v {
        Value::Null => Vec::new(),
        Value::Array(a) => a
            .iter()
            .map(|c| {
                assert!(
                    c["status"].as_str().is_some_and(|s| ["created", "running", "paused", "stopped"].contains(&s)),
                    "{c}"
                );
                c["id"].as_str().unwrap().to_string()
            })
            .collect(),
        other => panic!("list printed {other}"),
    }
}

#[test]
fn twenty_parallel_lifecycles() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let ids: Vec<String> = (0..N).map(|_| unique_id("par")).collect();
    let bundles: Vec<_> = ids.iter().map(|id| env.sh_bundle(id, "sleep 30")).collect();
    let done = AtomicBool::new(false);
    let lists = AtomicUsize::new(0);
    let barrier = Barrier::new(N);
    std::thread::scope(|s| {
        // A reader that lists all the time: never an error, only known ids.
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                for id in list_ids(&env) {
                    assert!(ids.contains(&id), "list shows a stranger {id}");
                }
                lists.fetch_add(1, Ordering::Relaxed);
            }
        });
        let workers: Vec<_> = ids
            .iter()
            .zip(&bundles)
            .map(|(id, b)| {
                let env = &env;
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    env.ok(&["create", "--bundle", b.to_str().unwrap(), id]);
                    assert_eq!(env.status(id), "created");
                    env.ok(&["start", id]);
                    assert_eq!(env.status(id), "running");
                    assert!(list_ids(env).contains(id), "{id} missing from list");
                    env.ok(&["kill", id, "KILL"]);
                    env.wait_status(id, "stopped");
                    env.ok(&["delete", id]);
                    assert!(!list_ids(env).contains(id), "{id} still listed after delete");
                })
            })
            .collect();
        let mut panics = Vec::new();
        for w in workers {
            if let Err(e) = w.join() {
                panics.push(
                    e.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default(),
                );
            }
        }
        done.store(true, Ordering::Relaxed);
        assert!(panics.is_empty(), "{} of {N} lifecycles failed: {panics:#?}", panics.len());
    });
    assert!(lists.load(Ordering::Relaxed) > 0);
    assert!(list_ids(&env).is_empty());
    assert_eq!(env.ok(&["list", "-q"]), "");
    reap_zombies();
    for id in &ids {
        assert_no_trace(&env, id);
    }
}

/// Containers coming and going at once: each create makes `/runp/<id>` while the last delete of
/// another may prune the empty `/runp` parent between our mkdir steps. Every run must succeed.
#[test]
fn parallel_runs_racing_the_default_cgroup_parent_prune() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let b = env.sh_bundle("true-bundle", "true");
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..N {
            let (env, b, failures) = (&env, &b, &failures);
            s.spawn(move || {
                for _ in 0..10 {
                    let id = unique_id("churn");
                    let out = env.run(b, &id);
                    if !out.status.success() {
                        failures.lock().unwrap().push(String::from_utf8_lossy(&out.stderr).into_owned());
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{} of {} runs failed: {failures:#?}", failures.len(), N * 10);
    assert!(env.ids().is_empty(), "{:?}", env.ids());
    let left = cgroups_named(&format!("churn-{}-", std::process::id()));
    assert!(left.is_empty(), "{left:?}");
}

/// Of 20 racing creates of one id exactly one wins; the losers leave nothing of their own
/// and take nothing of the winner's.
#[test]
fn racing_creates_of_one_id_have_one_winner() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("same");
    let b = env.sh_bundle(&id, "sleep 30");
    let pid_files: Vec<_> = (0..N).map(|i| env.scratch.path().join(format!("pid-{i}"))).collect();
    let barrier = Barrier::new(N);
    let results: Vec<(Option<i32>, String)> = std::thread::scope(|s| {
        let hs: Vec<_> = pid_files
            .iter()
            .map(|pf| {
                let (env, barrier, b, id) = (&env, &barrier, &b, &id);
                s.spawn(move || {
                    barrier.wait();
                    let args =
                        ["create", "--bundle", b.to_str().unwrap(), "--pid-file", pf.to_str().unwrap(), id.as_str()];
                    let (code, _, err) = outcome(env, &args);
                    assert_sane(&args, code, &err);
                    (code, err)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<usize> = results.iter().enumerate().filter(|(_, r)| r.0 == Some(0)).map(|(i, _)| i).collect();
    assert_eq!(winners.len(), 1, "want one winner: {results:#?}");
    for (i, (code, err)) in results.iter().enumerate() {
        if i != winners[0] {
            assert_eq!(*code, Some(1), "{err}");
            assert!(err.contains("container with given ID already exists"), "loser {i}: {err}");
            assert!(!pid_files[i].exists(), "loser {i} wrote a pid file");
        }
    }
    // The winner is intact: created, its init alive and parked, its cgroup there.
    let pid: i64 = std::fs::read_to_string(&pid_files[winners[0]]).unwrap().trim().parse().unwrap();
    let st = env.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"], pid);
    assert!(!cgroups_named(&id).is_empty(), "the winner's cgroup is gone");
    let procs: Vec<i32> = serde_json::from_str(&env.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(procs, vec![pid as i32]);
    assert_eq!(env.ids(), vec![id.clone()]);
    // Only the winner's parked init is left of all the racing runp processes.
    reap_zombies();
    assert_eq!(processes_with(&id), vec![pid as i32]);
    env.ok(&["start", &id]);
    assert_eq!(env.status(&id), "running");
    env.ok(&["delete", "--force", &id]);
    assert_no_trace(&env, &id);
}

/// State, list and `kill 0` racing one `delete --force`: no panics, list never fails,
/// the delete wins and everything is gone afterwards.
#[test]
fn readers_racing_a_delete() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("race");
    let b = env.sh_bundle(&id, "sleep 30");
    env.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    // Signal 0 only checks that the container can be signalled (runc accepts it).
    env.ok(&["kill", &id, "0"]);
    assert_eq!(env.status(&id), "running");
    let deleted = AtomicBool::new(false);
    let after_delete = AtomicUsize::new(0);
    let barrier = Barrier::new(9);
    std::thread::scope(|s| {
        let mut hs = Vec::new();
        for t in 0..8 {
            let (env, id, deleted, after_delete, barrier) = (&env, &id, &deleted, &after_delete, &barrier);
            hs.push(s.spawn(move || {
                barrier.wait();
                let deadline = Instant::now() + Duration::from_secs(20);
                // Keep going until a few rounds after the delete finished.
                let mut rounds_after = 0;
                while rounds_after < 3 && Instant::now() < deadline {
                    if deleted.load(Ordering::SeqCst) {
                        rounds_after += 1;
                    }
                    match t % 4 {
                        0 => {
                            let args = ["state", id.as_str()];
                            let (code, out, err) = outcome(env, &args);
                            assert_sane(&args, code, &err);
                            if code == Some(0) {
                                let v: Value =
                                    serde_json::from_str(&out).unwrap_or_else(|e| panic!("state {out:?}: {e}"));
                                assert_eq!(v["id"], id.as_str());
                            } else {
                                assert!(err.contains("container does not exist"), "state: {err}");
                            }
                        }
                        1 => {
                            list_ids(env);
                        }
                        2 => {
                            let args = ["kill", id.as_str(), "0"];
                            let (code, _, err) = outcome(env, &args);
                            assert_sane(&args, code, &err);
                            if code != Some(0) {
                                assert!(
                                    err.contains("container does not exist") || err.contains("container not running"),
                                    "kill 0: {err}"
                                );
                            }
                        }
                        _ => {
                            let args = ["ps", "--format", "json", id.as_str()];
                            let (code, _, err) = outcome(env, &args);
                            assert_sane(&args, code, &err);
                        }
                    }
                    if deleted.load(Ordering::SeqCst) {
                        after_delete.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }));
        }
        barrier.wait();
        std::thread::sleep(Duration::from_millis(50));
        let args = ["delete", "--force", id.as_str()];
        let (code, _, err) = outcome(&env, &args);
        assert_sane(&args, code, &err);
        assert_eq!(code, Some(0), "delete --force: {err}");
        deleted.store(true, Ordering::SeqCst);
        for h in hs {
            h.join().unwrap();
        }
    });
    assert!(after_delete.load(Ordering::SeqCst) > 0);
    let err = env.fails(&["state", &id]);
    assert!(err.contains("container does not exist"), "{err}");
    assert!(list_ids(&env).is_empty());
    reap_zombies();
    assert_no_trace(&env, &id);
}

/// Several `delete --force` of one container at once (containerd's shim cleanup can race a
/// client's delete): all succeed, and the poststop hook runs exactly once.
#[test]
fn racing_force_deletes_all_succeed_and_poststop_runs_once() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let log = env.scratch.path().join("poststop.log");
    let id = unique_id("dels");
    let script = format!("echo ran >> {}", log.display());
    let b = env.bundle(&id, |c| {
        c["process"]["args"] = serde_json::json!(["sleep", "30"]);
        c["hooks"] = serde_json::json!({"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]});
    });
    env.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    let barrier = Barrier::new(8);
    let results: Vec<(Option<i32>, String)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let (env, id, barrier) = (&env, &id, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let args = ["delete", "--force", id.as_str()];
                    let (code, _, err) = outcome(env, &args);
                    assert_sane(&args, code, &err);
                    (code, err)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (code, err) in &results {
        assert_eq!(*code, Some(0), "delete --force failed: {err}");
    }
    assert_eq!(std::fs::read_to_string(&log).unwrap_or_default(), "ran\n", "poststop must run exactly once");
    reap_zombies();
    assert_no_trace(&env, &id);
}
