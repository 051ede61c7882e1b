//! Pods run from the image store (root): an OCI layout the test builds (two layers, a
//! whiteout, an ENTRYPOINT/CMD/ENV/WORKDIR/USER config) is imported and run with the kubelet's
//! rules; pull policy Never with a missing image; prune and in-use images.

mod common;
#[path = "common/pod.rs"]
mod pod_harness;

use pod_harness::*;
use sha2::{Digest as _, Sha256};
use std::path::Path;
use std::time::Duration;

fn sha(b: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(b))
}

fn put_blob(dir: &Path, b: &[u8]) -> (String, u64) {
    let d = sha(b);
    std::fs::write(dir.join("blobs/sha256").join(&d["sha256:".len()..]), b).unwrap();
    (d, b.len() as u64)
}

fn tar_file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], mode: u32) {
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, path, data).unwrap();
}

fn tar_dir(b: &mut tar::Builder<Vec<u8>>, path: &str) {
    let mut h = tar::Header::new_ustar();
    h.set_size(0);
    h.set_mode(0o755);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Directory);
    b.append_data(&mut h, path, &[][..]).unwrap();
}

/// An OCI layout at `dir` named `name`: layer 1 = the busybox rootfs plus /gone.txt; layer 2 =
/// a whiteout of /gone.txt, a user `app` (1000:1000) and /app.
fn build_layout(rootfs: &Path, dir: &Path, name: &str) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let mut l1 = tar::Builder::new(Vec::new());
    l1.follow_symlinks(false);
    l1.append_dir_all("", rootfs).unwrap();
    tar_file(&mut l1, "gone.txt", b"should be hidden\n", 0o644);
    let l1 = l1.into_inner().unwrap();
    let mut l2 = tar::Builder::new(Vec::new());
    tar_file(&mut l2, ".wh.gone.txt", b"", 0o644);
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    tar_dir(&mut l2, "etc");
    tar_file(&mut l2, "etc/passwd", format!("{passwd}app:x:1000:1000::/app:/bin/sh\n").as_bytes(), 0o644);
    tar_dir(&mut l2, "app");
    tar_file(&mut l2, "app/hello", b"hi\n", 0o644);
    let l2 = l2.into_inner().unwrap();
    let (d1, s1) = put_blob(dir, &l1);
    let (d2, s2) = put_blob(dir, &l2);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": ["echo cmd-$GREETING; pwd; id -u; cat /gone.txt 2>/dev/null || echo whiteout-ok"],
            "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=image"],
            "WorkingDir": "/app",
            "User": "app",
        },
        "rootfs": {"type": "layers", "diff_ids": [d1, d2]},
    });
    let config = serde_json::to_vec(&config).unwrap();
    let (dc, sc) = put_blob(dir, &config);
    let layer = "application/vnd.oci.image.layer.v1.tar";
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": dc, "size": sc},
        "layers": [{"mediaType": layer, "digest": d1, "size": s1}, {"mediaType": layer, "digest": d2, "size": s2}],
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let (dm, sm) = put_blob(dir, &manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": dm, "size": sm,
            "annotations": {"io.containerd.image.name": name},
        }],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

fn import_test_image(pe: &PodEnv) -> String {
    let dir = pe.scratch().join("oci");
    build_layout(&common::base_bundle().join("rootfs"), &dir, "docker.io/library/imgtest:1.0");
    pe.ok(&["image", "import", dir.to_str().unwrap()])
}

fn run_once(pe: &PodEnv, ctr: &str) -> (String, serde_json::Value) {
    let name = pe.run_pod(&pod_yaml(&format!("restartPolicy: Never\ncontainers:\n- {ctr}\n")));
    let st = pe.wait_phase(&name, "Succeeded", Duration::from_secs(20));
    (name, st)
}

#[test]
fn an_oci_layout_runs_with_the_kubelets_command_env_workdir_user_rules() {
    let Some(pe) = PodEnv::new() else { return };
    let out = import_test_image(&pe);
    assert!(out.contains("docker.io/library/imgtest:1.0"), "{out}");
    let list = pe.ok(&["image", "list"]);
    assert!(list.contains("docker.io/library/imgtest") && list.contains("1.0"), "{list}");
    let cfg: serde_json::Value = serde_json::from_str(&pe.ok(&["image", "inspect", "imgtest:1.0"])).unwrap();
    assert_eq!(cfg["config"]["User"], "app");

    // No command: ENTRYPOINT + CMD, the image's env, WORKDIR, USER; the whiteout hides /gone.txt.
    let (name, st) = run_once(&pe, "{name: c, image: imgtest:1.0}");
    assert_eq!(pe.logs(&name, &[]), "cmd-image\n/app\n1000\nwhiteout-ok\n");
    let c = ctr(&st, "c");
    assert_eq!(c["image"], "docker.io/library/imgtest:1.0");
    assert!(c["imageID"].as_str().unwrap().starts_with("docker.io/library/imgtest@sha256:"), "{c}");
    pe.ok(&["pod", "rm", "--force", &name]);

    // args replace CMD; env overrides the image's; workingDir and runAsUser win.
    let (name, _) = run_once(
        &pe,
        "{name: c, image: imgtest:1.0, args: ['echo args-$GREETING $(GREETING); pwd; id -u'], env: [{name: GREETING, value: manifest}], workingDir: /tmp, securityContext: {runAsUser: 7}}",
    );
    assert_eq!(pe.logs(&name, &[]), "args-manifest manifest\n/tmp\n7\n");
    pe.ok(&["pod", "rm", "--force", &name]);

    // command replaces both.
    let (name, _) = run_once(&pe, "{name: c, image: imgtest:1.0, command: [echo, plain]}");
    assert_eq!(pe.logs(&name, &[]), "plain\n");
    pe.ok(&["pod", "rm", "--force", &name]);
    pe.check_clean();
}

#[test]
fn run_as_non_root_checks_the_images_user() {
    let Some(pe) = PodEnv::new() else { return };
    // busybox (imported from a directory) has no USER: root.
    let name = pe.run_pod(&pod_yaml(
        "containers:\n- {name: c, image: busybox, command: [sleep, '60'], securityContext: {runAsNonRoot: true}}\n",
    ));
    let st = pe.wait_until(
        &name,
        |s| ctr(s, "c")["state"]["waiting"]["reason"] == "CreateContainerConfigError",
        Duration::from_secs(10),
    );
    let msg = ctr(&st, "c")["state"]["waiting"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("container has runAsNonRoot and image will run as root"), "{msg}");
    pe.ok(&["pod", "rm", "--force", &name]);
    pe.check_clean();
}

#[test]
fn never_with_a_missing_image_is_err_image_never_pull() {
    let Some(pe) = PodEnv::new() else { return };
    let name = pe.run_pod(&pod_yaml(
        "containers:\n- {name: c, image: nothere:1.0, imagePullPolicy: Never}\n- {name: d, image: busybox, command: [sleep, '60']}\n",
    ));
    let st = pe.wait_until(
        &name,
        |s| ctr(s, "c")["state"]["waiting"]["reason"] == "ErrImageNeverPull",
        Duration::from_secs(10),
    );
    assert_eq!(
        ctr(&st, "c")["state"]["waiting"]["message"],
        "Container image \"nothere:1.0\" is not present with pull policy of Never"
    );
    pe.wait_running(&name, "d", Duration::from_secs(10));
    assert!(!pe.events_with(&name, "ErrImageNeverPull", "pull policy of Never").is_empty());
    // A pull (IfNotPresent) from a registry that is not there: ErrImagePull, then ImagePullBackOff.
    let name2 = pe.run_pod(&pod_yaml("containers:\n- {name: c, image: 127.0.0.1:1/nothere:2.0}\n"));
    pe.wait_until(&name2, |s| ctr(s, "c")["state"]["waiting"]["reason"] == "ImagePullBackOff", Duration::from_secs(10));
    assert!(!pe.events_with(&name2, "Pulling", "Pulling image \"127.0.0.1:1/nothere:2.0\"").is_empty());
    pe.ok(&["pod", "rm", "--force", &name]);
    pe.ok(&["pod", "rm", "--force", &name2]);
    pe.check_clean();
}

#[test]
fn an_image_in_use_survives_prune_until_its_pod_is_removed() {
    let Some(pe) = PodEnv::new() else { return };
    import_test_image(&pe);
    let name = pe.run_pod(&pod_yaml("containers:\n- {name: c, image: imgtest:1.0, command: [sleep, '600']}\n"));
    pe.wait_running(&name, "c", Duration::from_secs(10));
    pe.ok(&["image", "rm", "imgtest:1.0"]);
    pe.ok(&["image", "prune"]);
    // Still runs from its layers.
    assert_eq!(pe.exec_ok(&name, "c", &["cat", "/app/hello"]), "hi\n");
    let layers = pe.images.path().join("layers");
    let count = || {
        std::fs::read_dir(&layers)
            .unwrap()
            .filter(|e| !e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
            .count()
    };
    let before = count();
    assert!(before >= 2, "{before}");
    pe.ok(&["pod", "rm", "--force", &name]);
    pe.ok(&["image", "prune"]);
    assert_eq!(count(), before - 2, "the image's two layers went");
    pe.check_clean();
}
