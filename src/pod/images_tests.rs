use super::*;

fn rootfs(d: &Path) -> std::path::PathBuf {
    let src = d.join("src");
    std::fs::create_dir_all(src.join("bin")).unwrap();
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("bin/tool"), b"x").unwrap();
    std::fs::write(src.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n").unwrap();
    std::fs::write(src.join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
    std::os::unix::fs::symlink("/bin/tool", src.join("bin/sh")).unwrap();
    src
}

#[test]
fn import_dir_find_lowerdir() {
    let d = tempfile::tempdir().unwrap();
    let src = rootfs(d.path());
    let images = Images::open(&d.path().join("images")).unwrap();
    assert!(matches!(images.find("busybox").unwrap(), Lookup::Missing));
    let name = images.import_dir("busybox", &src, vec!["sh".into()]).unwrap();
    assert_eq!(name, "docker.io/library/busybox:latest");
    let r = images.get("busybox").unwrap();
    assert_eq!(r.image, "docker.io/library/busybox:latest");
    assert_eq!(r.image_id, r.record.id, "no repo digest: the image id");
    assert_eq!(r.config.exec().cmd, Some(vec!["sh".to_string()]));
    // The same image under its other spellings.
    assert_eq!(images.get("docker.io/library/busybox:latest").unwrap().record.id, r.record.id);
    assert!(matches!(images.find("busybox:1.0").unwrap(), Lookup::Missing));
    let l = images.lowerdir(&r, Path::new("/u"), Path::new("/w")).unwrap();
    assert_eq!(l.cwd, None);
    let diff = std::path::PathBuf::from(&l.value);
    assert_eq!(std::fs::read_link(diff.join("bin/sh")).unwrap(), Path::new("/bin/tool"));
    assert_eq!(std::fs::read(diff.join("bin/tool")).unwrap(), b"x");
}

#[test]
fn invalid_names_are_the_kubelets() {
    let d = tempfile::tempdir().unwrap();
    let images = Images::open(d.path()).unwrap();
    match images.find("Busy Box").unwrap() {
        Lookup::Invalid { reason, message } => {
            assert_eq!(reason, "InvalidImageName");
            assert!(message.contains("Busy Box"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn image_user_by_name_and_ids_and_markers() {
    let d = tempfile::tempdir().unwrap();
    let src = rootfs(d.path());
    let images = Images::open(&d.path().join("images")).unwrap();
    images.import_dir("u", &src, vec!["sh".into()]).unwrap();
    let mut r = images.get("u").unwrap();
    assert_eq!(image_user(&images, &r).unwrap(), (0, 0));
    for (user, want) in [("app", (1000, 1001)), ("app:staff", (1000, 50)), ("7:8", (7, 8)), ("9", (9, 0))] {
        r.config.config.get_or_insert_with(Default::default).user = Some(user.into());
        assert_eq!(image_user(&images, &r).unwrap(), want, "{user}");
    }
    r.config.config.get_or_insert_with(Default::default).user = Some("nobody".into());
    assert!(image_user(&images, &r).unwrap_err().to_string().contains("nobody"));
    // In-use markers: prune keeps a used image's layers after its name is gone.
    let user = format!("{}app-0", pod_user_prefix("uid-1"));
    images.acquire(&r, &user).unwrap();
    images.store().remove("docker.io/library/u:latest").unwrap();
    assert!(images.store().prune().unwrap().layers.is_empty());
    images.release_pod("uid-1").unwrap();
    let p = images.store().prune().unwrap();
    assert_eq!(p.layers.len(), 1, "{p:?}");
}
