//! Where a pod's files live (issue 8): persistent data under `--data-root`, runtime state
//! (pids, sockets, mount points) under `--root`; container ids never reach pod data; removal
//! never enters a mount point (the host's /dev/shm under hostIPC above all); pods recorded by
//! an older runp, all under `--root`, are still found.

mod common;
#[path = "common/pod.rs"]
mod pod_harness;

use pod_harness::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Names directly in `dir`.
fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Regular files below `dir` (not crossing into other mounts or following symlinks).
fn files_below(dir: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::symlink_metadata(dir).map(|m| m.dev()).unwrap_or(0);
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(m) = std::fs::symlink_metadata(e.path()) else { continue };
            if m.is_dir() && m.dev() == dev {
                stack.push(e.path());
            } else if m.is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

/// A file in the host's /dev/shm, removed on drop (even when the test fails).
struct ShmMarker(PathBuf);

impl ShmMarker {
    fn new() -> ShmMarker {
        let p = Path::new("/dev/shm").join(unique("runp-test-shm"));
        std::fs::write(&p, "host data\n").expect("writing the /dev/shm marker");
        ShmMarker(p)
    }
}

impl Drop for ShmMarker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A bind mount made by the test, detached on drop.
struct Bind(PathBuf);

impl Bind {
    fn new(src: &Path, dst: &Path) -> Bind {
        let st = std::process::Command::new("mount").arg("--bind").arg(src).arg(dst).status().expect("mount");
        assert!(st.success(), "mount --bind {} {}", src.display(), dst.display());
        Bind(dst.to_path_buf())
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// `runp --root R --data-root D pod run`: manifest, status, events, logs, writable layers,
/// /etc files and disk volumes under D; under R only the supervisor's record and socket and
/// the mount points (shm, proc, Memory volumes). Every mount of the pod is under R.
/// `runp --root R delete pods` is still refused. After a "reboot" (R emptied) the pod is
/// listed from D with its last status, its logs still read, and `pod rm` removes it.
#[test]
fn data_under_data_root_runtime_under_root() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        r#"
        volumes:
        - {name: disk, emptyDir: {}}
        - {name: mem, emptyDir: {medium: Memory}}
        containers:
        - name: app
          image: busybox
          command: [sh, -c, 'echo hello; echo d > /disk/f; echo m > /mem/f; echo l > /layer; exec sleep 3600']
          volumeMounts: [{name: disk, mountPath: /disk}, {name: mem, mountPath: /mem}]
        "#,
    ));
    pe.wait_running(&name, "app", secs(10));
    poll("the app's log line", secs(10), || pe.logs(&name, &["-c", "app"]).contains("hello").then_some(()));
    let (data, run) = (pe.pod_dir(&name), pe.run_dir(&name));
    for f in ["pod.json", "status.json", "events.jsonl", "supervisor.log", "etc/hosts", "etc/resolv.conf"] {
        assert!(data.join(f).is_file(), "{f} not in the data dir");
    }
    assert!(data.join("logs/app/0.log").is_file());
    assert_eq!(std::fs::read_to_string(data.join("volumes/disk/f")).unwrap(), "d\n");
    assert_eq!(std::fs::read_to_string(data.join("containers/app/0/upper/layer")).unwrap(), "l\n");
    assert_eq!(std::fs::read_to_string(run.join("volumes/mem/f")).unwrap(), "m\n");
    assert!(!data.join("volumes/mem").exists(), "a Memory volume has no directory in the data dir");
    let run_names = names(&run);
    let allowed: BTreeSet<String> =
        ["supervisor.json", "control.sock", "shm", "proc", "volumes"].iter().map(|s| s.to_string()).collect();
    assert!(run_names.is_subset(&allowed), "unexpected runtime files: {run_names:?}");
    assert!(run_names.contains("supervisor.json") && run_names.contains("control.sock"), "{run_names:?}");
    for f in ["supervisor.json", "control.sock", "shm", "proc"] {
        assert!(!data.join(f).exists(), "{f} in the data dir");
    }
    // The only files under the run root's pod dir are the supervisor's record (and what the
    // container wrote to its Memory volume).
    for f in files_below(&run) {
        assert!(f == run.join("supervisor.json") || f.starts_with(run.join("volumes")), "{}", f.display());
    }
    // Every mount of the pod is under R; none under D.
    let d = pe.data_root().to_string_lossy().into_owned();
    assert!(common::host_mounts_with(&d).is_empty(), "mounts under the data root: {:?}", common::host_mounts_with(&d));
    let mounts = common::mount_points_under(&run);
    for m in ["shm", "proc", "volumes/mem"] {
        assert!(mounts.contains(&run.join(m)), "{m} is not mounted: {mounts:?}");
    }
    // Under R itself: the pods dir and container state dirs (64 hex digits) only.
    for n in names(pe.root()) {
        assert!(n == "pods" || (n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit())), "{n} under --root");
    }
    // Container commands never touch pods.
    for args in [&["delete", "pods"][..], &["delete", "--force", "pods"][..]] {
        let (code, err) = pe.fails(args);
        assert_eq!(code, 1, "{args:?}: {err}");
    }
    assert!(run.join("supervisor.json").exists() && data.join("pod.json").exists());
    assert_eq!(phase(&pe.status(&name)), "Running");

    // Stop it (teardown unmounts everything), then "reboot": the run root is emptied.
    pe.stop(&name, &["--grace-period", "1"]);
    assert!(!data.join("containers").exists(), "writable layers are removed at the end");
    assert!(common::mount_points_under(pe.root()).is_empty(), "{:?}", common::mount_points_under(pe.root()));
    let before = pe.status(&name);
    let row_before = pe.list_row(&name).expect("listed");
    for n in names(pe.root()) {
        let p = pe.root().join(n);
        std::fs::remove_dir_all(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
    let row = pe.list_row(&name).expect("the pod is listed from its data");
    assert_eq!(row.1, row_before.1, "{row:?}");
    assert_eq!(phase(&pe.status(&name)), phase(&before));
    assert!(pe.logs(&name, &["-c", "app"]).contains("hello"));
    pe.ok(&["pod", "rm", &name]);
    assert!(!data.exists() && !run.exists());
    pe.check_clean();
}

/// `pod rm --force` of a hostIPC pod with a Memory emptyDir whose supervisor was SIGKILLed:
/// the host's /dev/shm keeps its files, and no mount is left behind.
#[test]
fn rm_force_after_sigkill_spares_the_host_dev_shm() {
    let Some(pe) = PodEnv::new() else { return };
    let marker = ShmMarker::new();
    let name = pe.run_pod(&pod_yaml(
        r#"
        hostIPC: true
        volumes: [{name: mem, emptyDir: {medium: Memory}}]
        containers:
        - name: app
          image: busybox
          command: [sh, -c, 'echo x > /mem/f; exec sleep 3600']
          volumeMounts: [{name: mem, mountPath: /mem}]
        "#,
    ));
    pe.wait_running(&name, "app", secs(10));
    let run = pe.run_dir(&name);
    let shm_file = run.join("shm").join(marker.0.file_name().unwrap());
    assert!(shm_file.exists(), "the pod's /dev/shm is not the host's");
    let sup = pe.supervisor_pid(&name);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(sup), nix::sys::signal::Signal::SIGKILL).unwrap();
    let root = pe.root().to_string_lossy().into_owned();
    poll("the pod's processes to die", secs(5), || common::processes_with(&root).is_empty().then_some(()));
    // Its mounts are still there: rm --force has them to deal with.
    assert!(common::mount_points_under(&run).contains(&run.join("shm")));
    pe.ok(&["pod", "rm", "--force", &name]);
    assert_eq!(std::fs::read_to_string(&marker.0).unwrap(), "host data\n", "the host's /dev/shm was emptied");
    let d = pe.data_root().to_string_lossy().into_owned();
    let left: Vec<String> = common::host_mounts_with(&root).into_iter().chain(common::host_mounts_with(&d)).collect();
    assert!(left.is_empty(), "mounts left: {left:?}");
    assert!(!run.exists() && !pe.pod_dir(&name).exists());
    pe.check_clean();
}

/// A mount that runp did not make (and so does not unmount) in a pod's directories stops
/// `pod rm`: the mounted files are kept, the error says which mount point, and once it is
/// unmounted `pod rm` finishes.
#[test]
fn rm_never_enters_a_mount_left_in_the_pod() {
    let Some(pe) = PodEnv::new() else { return };
    let name =
        pe.run_pod(&pod_yaml("restartPolicy: Never\ncontainers:\n- {name: a, image: busybox, command: [\"true\"]}\n"));
    pe.wait_phase(&name, "Succeeded", secs(10));
    poll("the supervisor to exit", secs(5), || {
        common::processes_with(&pe.root().to_string_lossy()).is_empty().then_some(())
    });
    let host = pe.scratch().join("host");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("precious"), "x").unwrap();
    // In the run dir: rm stops before the pod's data goes.
    let at_run = pe.run_dir(&name).join("extra");
    std::fs::create_dir_all(&at_run).unwrap();
    let b = Bind::new(&host, &at_run);
    let (_, err) = pe.fails(&["pod", "rm", &name]);
    assert!(err.contains("mount point") && err.contains(&at_run.display().to_string()), "{err}");
    assert!(host.join("precious").exists(), "rm emptied a bind-mounted directory");
    assert!(pe.pod_dir(&name).join("pod.json").exists(), "the data went though the run dir could not");
    assert!(pe.list_row(&name).is_some(), "the pod is no longer listed");
    drop(b);
    // In the data dir.
    let at_data = pe.pod_dir(&name).join("logs/extra");
    std::fs::create_dir_all(&at_data).unwrap();
    let b = Bind::new(&host, &at_data);
    let (_, err) = pe.fails(&["pod", "rm", &name]);
    assert!(err.contains(&at_data.display().to_string()), "{err}");
    assert!(host.join("precious").exists(), "rm emptied a bind-mounted directory");
    drop(b);
    pe.ok(&["pod", "rm", &name]);
    assert!(host.join("precious").exists());
    assert!(!pe.pod_dir(&name).exists() && !pe.run_dir(&name).exists());
    pe.check_clean();
}

/// A pod recorded by an older runp (everything in `<root>/pods/<name>/`, no data dir) is
/// listed, its status and logs read, and `pod rm` removes it; its name cannot be reused
/// meanwhile.
#[test]
fn legacy_pods_under_root_are_still_found() {
    let Some(pe) = PodEnv::new() else { return };
    // Made with the current layout, then moved where an older runp kept it.
    let name = pe.run_pod(&pod_yaml(
        "restartPolicy: Never\ncontainers:\n- {name: a, image: busybox, command: [sh, -c, 'echo legacy']}\n",
    ));
    pe.wait_phase(&name, "Succeeded", secs(10));
    poll("the supervisor to exit", secs(5), || {
        common::processes_with(&pe.root().to_string_lossy()).is_empty().then_some(())
    });
    let (data, run) = (pe.pod_dir(&name), pe.run_dir(&name));
    assert!(common::mount_points_under(&run).is_empty());
    std::fs::remove_dir_all(&run).unwrap();
    std::fs::rename(&data, &run).unwrap();
    assert!(pe.list_row(&name).is_some(), "a legacy pod is not listed");
    assert_eq!(phase(&pe.status(&name)), "Succeeded");
    assert!(pe.logs(&name, &["-c", "a"]).contains("legacy"));
    assert!(pe.ok(&["pod", "describe", &name]).contains("Succeeded"));
    let path = pe.scratch().join("again.yaml");
    std::fs::write(
        &path,
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  containers:\n  - {{name: a, image: busybox}}\n"),
    )
    .unwrap();
    let (_, err) = pe.fails(&["pod", "run", "-d", path.to_str().unwrap()]);
    assert!(err.contains("already exists"), "{err}");
    assert!(!data.exists(), "a data dir was made for a name a legacy pod holds");
    pe.ok(&["pod", "rm", &name]);
    assert!(!run.exists());
    assert!(pe.list_row(&name).is_none());
    pe.check_clean();
}
