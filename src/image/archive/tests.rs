use std::io::Read;

use super::*;
use crate::image::platform;

/// An uncompressed layer tar holding one file.
fn layer(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, name, content).unwrap();
    b.into_inner().unwrap()
}

fn config(diff_ids: &[Digest]) -> Vec<u8> {
    let ids: Vec<String> = diff_ids.iter().map(|d| format!("\"{d}\"")).collect();
    format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["/bin/sh"]}},"rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
        ids.join(",")
    )
    .into_bytes()
}

fn desc_json(media_type: &str, bytes: &[u8], extra: &str) -> String {
    format!(r#"{{"mediaType":"{media_type}","digest":"{}","size":{}{extra}}}"#, Digest::of(bytes), bytes.len())
}

/// Files of an archive, by path.
type Files = Vec<(String, Vec<u8>)>;

fn add_blob(files: &mut Files, bytes: &[u8]) {
    files.push((blob_path(&Digest::of(bytes)), bytes.to_vec()));
}

/// An OCI layout with one image of two layers; returns the files and the two layers.
fn oci_image(files: &mut Files, arch: &str) -> (Vec<u8>, Vec<Vec<u8>>) {
    let layers = vec![layer("a.txt", format!("a {arch}").as_bytes()), layer("b.txt", b"b")];
    let cfg = config(&[Digest::of(&layers[0]), Digest::of(&layers[1])]);
    let cfg = String::from_utf8(cfg).unwrap().replace("amd64", arch).into_bytes();
    let m = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[{},{}]}}"#,
        media::OCI_MANIFEST,
        desc_json(media::OCI_CONFIG, &cfg, ""),
        desc_json(media::OCI_LAYER, &layers[0], ""),
        desc_json(media::OCI_LAYER, &layers[1], "")
    )
    .into_bytes();
    add_blob(files, &cfg);
    for l in &layers {
        add_blob(files, l);
    }
    add_blob(files, &m);
    (m, layers)
}

fn layout(files: &mut Files, index_entries: &[String]) {
    files.push(("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()));
    files.push((
        "index.json".into(),
        format!(r#"{{"schemaVersion":2,"manifests":[{}]}}"#, index_entries.join(",")).into_bytes(),
    ));
}

fn write_dir(files: &Files) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, bytes) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    dir
}

/// Writes `files` as a tar, plus `links` (name → target) as symbolic links.
fn write_tar(files: &Files, links: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.tar");
    let mut b = tar::Builder::new(File::create(&path).unwrap());
    for (name, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, format!("./{name}"), &bytes[..]).unwrap();
    }
    for (name, target) in links {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, name, target).unwrap();
    }
    b.into_inner().unwrap();
    (dir, path)
}

fn read_all(r: &mut BlobReader) -> Vec<u8> {
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    out
}

#[test]
fn oci_layout_directory() {
    let mut files = Files::new();
    let (m, layers) = oci_image(&mut files, "amd64");
    layout(
        &mut files,
        &[desc_json(media::OCI_MANIFEST, &m, r#","annotations":{"org.opencontainers.image.ref.name":"v1"}"#)],
    );
    let dir = write_dir(&files);
    let a = Archive::open(dir.path()).unwrap();
    assert_eq!(a.images().len(), 1);
    let img = &a.images()[0];
    assert_eq!(img.names, vec![ArchiveName::Tag("v1".into())]);
    assert_eq!(img.manifest_digest, Some(Digest::of(&m)));
    assert_eq!(img.config.exec().cmd.unwrap(), vec!["/bin/sh".to_string()]);
    assert_eq!(img.layers.len(), 2);
    for (l, bytes) in img.layers.iter().zip(&layers) {
        assert_eq!(l.diff_id, Digest::of(bytes));
        let mut r = a.open_layer(l).unwrap();
        assert_eq!(&read_all(&mut r), bytes);
        assert_eq!(r.finish().unwrap(), bytes.len() as u64);
    }
}

#[test]
fn oci_archive_tar_with_a_multi_platform_index() {
    let mut files = Files::new();
    let host = platform::host();
    let (decoy, _) = oci_image(&mut files, "decoyarch");
    let (real, real_layers) = oci_image(&mut files, &host.architecture);
    let variant = host.variant.as_ref().map(|v| format!(r#","variant":"{v}""#)).unwrap_or_default();
    let nested = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{},{}]}}"#,
        media::OCI_INDEX,
        desc_json(media::OCI_MANIFEST, &decoy, r#","platform":{"architecture":"arm64","os":"linux","variant":"v8"}"#)
            .replace("arm64", if host.architecture == "arm64" { "s390x" } else { "arm64" }),
        desc_json(
            media::OCI_MANIFEST,
            &real,
            &format!(r#","platform":{{"architecture":"{}","os":"linux"{variant}}}"#, host.architecture)
        )
    )
    .into_bytes();
    add_blob(&mut files, &nested);
    layout(
        &mut files,
        &[desc_json(
            media::OCI_INDEX,
            &nested,
            r#","annotations":{"io.containerd.image.name":"docker.io/library/app:1","org.opencontainers.image.ref.name":"1"}"#,
        )],
    );
    let (_dir, path) = write_tar(&files, &[]);
    let a = Archive::open(&path).unwrap();
    let img = &a.images()[0];
    assert_eq!(img.manifest_digest, Some(Digest::of(&real)), "the host's entry, not the decoy");
    assert_eq!(img.names, vec![ArchiveName::Reference(Reference::parse("app:1").unwrap())]);
    let mut r = a.open_layer(&img.layers[0]).unwrap();
    assert_eq!(read_all(&mut r), real_layers[0]);
    r.finish().unwrap();
}

#[test]
fn a_corrupted_layer_fails_verification() {
    let mut files = Files::new();
    let (m, layers) = oci_image(&mut files, "amd64");
    layout(&mut files, &[desc_json(media::OCI_MANIFEST, &m, "")]);
    let victim = blob_path(&Digest::of(&layers[1]));
    for (path, bytes) in files.iter_mut() {
        if *path == victim {
            bytes[600] ^= 1;
        }
    }
    let (_dir, path) = write_tar(&files, &[]);
    let a = Archive::open(&path).unwrap();
    let mut r = a.open_layer(&a.images()[0].layers[1]).unwrap();
    read_all(&mut r);
    let e = format!("{:#}", r.finish().unwrap_err());
    assert!(e.contains("digest mismatch"), "{e}");
    assert!(e.starts_with(&victim), "names the blob: {e}");
}

#[test]
fn a_corrupted_config_or_manifest_fails_open() {
    let mut files = Files::new();
    let (m, _) = oci_image(&mut files, "amd64");
    layout(&mut files, &[desc_json(media::OCI_MANIFEST, &m, "")]);
    let manifest_path = blob_path(&Digest::of(&m));
    for (path, bytes) in files.iter_mut() {
        if *path == manifest_path {
            bytes.push(b' ');
        }
    }
    let dir = write_dir(&files);
    let e = format!("{:#}", Archive::open(dir.path()).unwrap_err());
    assert!(e.contains(&manifest_path) && e.contains("size mismatch"), "{e}");
}

#[test]
fn a_longer_blob_than_expected_is_cut_off() {
    let mut files = Files::new();
    let (m, layers) = oci_image(&mut files, "amd64");
    layout(&mut files, &[desc_json(media::OCI_MANIFEST, &m, "")]);
    let dir = write_dir(&files);
    let a = Archive::open(dir.path()).unwrap();
    let path = &a.images()[0].layers[0].path;
    let mut r = a.open_blob(path, &Digest::of(&layers[0]), Some(10)).unwrap();
    let mut out = Vec::new();
    assert!(r.read_to_end(&mut out).is_err());
}

fn docker_archive(layer_paths: &[&str], config_name: Option<&str>) -> (Files, Vec<u8>, Vec<u8>) {
    let l = layer("hello.txt", b"hello");
    let cfg = config(&[Digest::of(&l), Digest::of(&l)]);
    let config_name = config_name.map(str::to_string).unwrap_or_else(|| format!("{}.json", Digest::of(&cfg).hex()));
    let layers: Vec<String> = layer_paths.iter().map(|p| format!("\"{p}\"")).collect();
    let manifest = format!(
        r#"[{{"Config":"{config_name}","RepoTags":["busybox:latest","localhost:5000/x:1"],"Layers":[{}]}}]"#,
        layers.join(",")
    );
    let files = vec![
        ("manifest.json".to_string(), manifest.into_bytes()),
        (config_name, cfg.clone()),
        ("aaa/layer.tar".to_string(), l.clone()),
        ("repositories".to_string(), b"{}".to_vec()),
    ];
    (files, cfg, l)
}

#[test]
fn docker_archive_with_a_linked_repeated_layer() {
    let (files, cfg, l) = docker_archive(&["aaa/layer.tar", "bbb/layer.tar"], None);
    let (_dir, path) = write_tar(&files, &[("bbb/layer.tar", "../aaa/layer.tar")]);
    let a = Archive::open(&path).unwrap();
    let img = &a.images()[0];
    assert_eq!(img.config_digest, Digest::of(&cfg));
    assert_eq!(img.manifest_digest, None);
    assert_eq!(
        img.names,
        vec![
            ArchiveName::Reference(Reference::parse("busybox:latest").unwrap()),
            ArchiveName::Reference(Reference::parse("localhost:5000/x:1").unwrap())
        ]
    );
    assert_eq!(img.manifest.layers.len(), 2);
    for layer in &img.layers {
        assert_eq!(layer.descriptor.media_type, media::OCI_LAYER);
        assert_eq!(layer.descriptor.size, l.len() as u64);
        let mut r = a.open_layer(layer).unwrap();
        assert_eq!(read_all(&mut r), l);
        r.finish().unwrap();
    }
}

#[test]
fn docker_archive_paths_must_stay_inside() {
    for bad in ["../aaa/layer.tar", "/aaa/layer.tar"] {
        let (files, _, _) = docker_archive(&["aaa/layer.tar", bad], None);
        let (_dir, path) = write_tar(&files, &[]);
        let e = format!("{:#}", Archive::open(&path).unwrap_err());
        assert!(e.contains("Layers[1]") && e.contains("not a relative path"), "{e}");
    }
    // A link out of the archive is dropped from the index: the layer is then missing.
    let (files, _, _) = docker_archive(&["aaa/layer.tar", "bbb/layer.tar"], None);
    let (_dir, path) = write_tar(&files, &[("bbb/layer.tar", "../../../etc/passwd")]);
    let e = format!("{:#}", Archive::open(&path).unwrap_err());
    assert!(e.contains("no file bbb/layer.tar"), "{e}");
}

#[test]
fn docker_archive_config_must_match_its_name() {
    let wrong = format!("{}.json", "0".repeat(64));
    let (files, _, _) = docker_archive(&["aaa/layer.tar", "aaa/layer.tar"], Some(&wrong));
    let dir = write_dir(&files);
    let e = format!("{:#}", Archive::open(dir.path()).unwrap_err());
    assert!(e.contains("not what its name says"), "{e}");
    // Layer count must match the config's diff_ids.
    let (files, _, _) = docker_archive(&["aaa/layer.tar"], None);
    let dir = write_dir(&files);
    let e = format!("{:#}", Archive::open(dir.path()).unwrap_err());
    assert!(e.contains("diff_ids"), "{e}");
}

#[test]
fn unknown_and_legacy_formats_are_refused() {
    let dir = write_dir(&vec![("repositories".to_string(), b"{}".to_vec())]);
    let e = format!("{:#}", Archive::open(dir.path()).unwrap_err());
    assert!(e.contains("before 1.10"), "{e}");
    let dir = write_dir(&vec![("x".to_string(), b"{}".to_vec())]);
    let e = format!("{:#}", Archive::open(dir.path()).unwrap_err());
    assert!(e.contains("neither an OCI image layout"), "{e}");
    let dir = write_dir(&vec![
        ("oci-layout".to_string(), br#"{"imageLayoutVersion":"2.0.0"}"#.to_vec()),
        ("index.json".to_string(), b"{}".to_vec()),
    ]);
    let e = format!("{:#}", Archive::open(dir.path()).unwrap_err());
    assert!(e.contains("imageLayoutVersion"), "{e}");
    let e = format!("{:#}", Archive::open(Path::new("/nonexistent/x.tar")).unwrap_err());
    assert!(e.contains("/nonexistent/x.tar"), "{e}");
}

#[test]
fn clean_paths() {
    assert_eq!(clean("./a//b/").unwrap(), "a/b");
    assert!(clean("../a").is_err() && clean("/a").is_err() && clean("a/../../b").is_err() && clean("").is_err());
    assert_eq!(clean_dots("bbb/../aaa/layer.tar").unwrap(), "aaa/layer.tar");
    assert!(clean_dots("a/../../b").is_err());
}
