//! The store: blobs, layers, images, refs, prune, crashes and concurrent pulls.

use super::*;
use crate::image::rootfs;
use crate::image::testtar::{root, sha256, Failing, Tar};
use crate::image::unpack::{OCI_LAYER_GZIP, OCI_LAYER_TAR};
use std::io::Write;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b).unwrap();
    gz.finish().unwrap()
}

fn src<'a>(blob: &'a str, diff: &'a str, media_type: &'a str) -> LayerSource<'a> {
    LayerSource { media_type, blob_digest: Some(blob), blob_size: None, diff_id: diff }
}

/// Puts an image of `layers` (tars) with config `config`, tagged `name`.
fn put_image(s: &Store, name: &str, layers: &[Vec<u8>], config: &[u8]) -> ImageRecord {
    let w = s.writer().unwrap();
    let mut parent: Option<String> = None;
    let mut diff_ids = Vec::new();
    let mut size = config.len() as u64;
    for l in layers {
        let gz = gzip(l);
        let (blob, diff) = (sha256(&gz), sha256(l));
        size += gz.len() as u64;
        let rec = w.put_layer(parent.as_deref(), &src(&blob, &diff, OCI_LAYER_GZIP), &gz[..]).unwrap();
        parent = Some(rec.chain_id);
        diff_ids.push(diff);
    }
    let id = sha256(config);
    w.put_blob(&id, Some(config.len() as u64), config).unwrap();
    let rec = ImageRecord { id: id.clone(), layers: chain_ids(&diff_ids), diff_ids, size, ..Default::default() };
    w.commit_image(&rec).unwrap();
    w.tag(name, &id, Some(&format!("example.com/{name}@sha256:{}", "0".repeat(64)))).unwrap();
    rec
}

#[test]
fn chain_ids_follow_the_spec() {
    let d: Vec<String> = ["a", "b", "c"].iter().map(|s| sha256(s.as_bytes())).collect();
    let c = chain_ids(&d);
    assert_eq!(c[0], d[0]);
    assert_eq!(c[1], sha256(format!("{} {}", d[0], d[1]).as_bytes()));
    assert_eq!(c[2], sha256(format!("{} {}", c[1], d[2]).as_bytes()));
    assert!(digest_hex("sha256:../../etc").is_err());
    assert!(digest_hex(&format!("sha256:{}", "A".repeat(64))).is_err());
    let l = link_candidates(&"ab".repeat(32));
    assert!(l.len() > 40 && l.iter().all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_alphanumeric())));
}

#[test]
fn blobs_are_verified_before_they_exist() {
    let t = tempfile::tempdir().unwrap();
    let s = Store::open(t.path()).unwrap();
    let w = s.writer().unwrap();
    let good = sha256(b"config");
    let e = w.put_blob(&good, None, &b"tampered"[..]).unwrap_err();
    assert!(format!("{e:#}").contains("digest mismatch"), "{e:#}");
    assert!(format!("{:#}", w.put_blob(&good, Some(99), &b"config"[..]).unwrap_err()).contains("99"));
    assert!(w.put_blob(&good, None, Failing { data: b"config", n: 3 }).is_err());
    assert!(!s.has_blob(&good));
    assert_eq!(names(&t.path().join("blobs/sha256")).unwrap(), Vec::<String>::new(), "no temporaries left");
    w.put_blob(&good, Some(6), &b"config"[..]).unwrap();
    assert_eq!(s.read_blob(&good).unwrap(), b"config");
}

#[test]
fn images_layers_refs_list_inspect_remove_prune() {
    let t = tempfile::tempdir().unwrap();
    let s = Store::open(t.path()).unwrap();
    let base = Tar::new().file("bin/sh", b"sh", 0o755).finish();
    let app = Tar::new().file("app/run", b"run", 0o755).finish();
    let other = Tar::new().file("other", b"o", 0o644).finish();
    let a = put_image(&s, "example.com/app:1", &[base.clone(), app], br#"{"a":1}"#);
    let b = put_image(&s, "example.com/base:1", std::slice::from_ref(&base), br#"{"b":1}"#);
    let c = put_image(&s, "example.com/other:1", &[other], br#"{"c":1}"#);
    assert_eq!(a.layers[0], b.layers[0], "the shared layer is unpacked once");
    assert_eq!(names(&t.path().join("layers")).unwrap().len(), 3);
    assert_eq!(fs::read(s.layer_diff(&a.layers[1]).unwrap().join("app/run")).unwrap(), b"run");
    let list = s.list().unwrap();
    assert_eq!(list.len(), 3);
    let la = list.iter().find(|i| i.record.id == a.id).unwrap();
    assert_eq!(la.refs, vec!["example.com/app:1"]);
    assert_eq!(la.repo_digests.len(), 1);
    let (rec, config) = s.inspect("example.com/app:1").unwrap();
    assert_eq!((rec.id.as_str(), config.as_slice()), (a.id.as_str(), &br#"{"a":1}"#[..]));
    assert_eq!(s.resolve(&a.id["sha256:".len()..][..12]).unwrap().id, a.id);
    assert!(s.resolve("nope").is_err());
    // A lowerdir: top first.
    let ld = rootfs::lowerdir(&s, &a, 4000).unwrap();
    assert!(ld.value.starts_with(s.layer_diff(&a.layers[1]).unwrap().to_str().unwrap()));
    let short = rootfs::lowerdir(&s, &a, 20).unwrap();
    assert_eq!(short.cwd.as_deref(), Some(t.path().join("l").as_path()));
    for l in short.value.split(':') {
        assert!(t.path().join("l").join(l).join(".").is_dir(), "{l} resolves");
    }
    // `other` is used by a container: untagged and pruned, it stays.
    s.acquire(&c.id, "pod-x_c1").unwrap();
    s.remove("example.com/app:1").unwrap();
    s.remove("example.com/other:1").unwrap();
    assert!(s.image(&a.id).unwrap().is_none());
    let p = s.prune().unwrap();
    assert_eq!(p.layers, vec![a.layers[1].clone()]);
    assert_eq!(p.blobs, vec![a.id.clone()]);
    assert!(s.layer(&b.layers[0]).unwrap().is_some(), "still used by image b");
    assert!(s.layer(&c.layers[0]).unwrap().is_some(), "used by a container");
    assert!(s.image(&c.id).unwrap().is_some());
    s.release(&c.id, "pod-x_c1").unwrap();
    let p = s.prune().unwrap();
    assert_eq!((p.images, p.layers), (vec![c.id.clone()], vec![c.layers[0].clone()]));
    assert_eq!(names(&t.path().join("l")).unwrap().len(), 1, "dangling short links removed");
    assert!(s.acquire(&b.id, "../x").is_err());
}

#[test]
fn failed_layers_leave_nothing() {
    let t = tempfile::tempdir().unwrap();
    let s = Store::open(t.path()).unwrap();
    let w = s.writer().unwrap();
    let tar = Tar::new().file("a", &[1u8; 20_000], 0o644).file("b", b"x", 0o644).finish();
    let gz = gzip(&tar);
    let (blob, diff) = (sha256(&gz), sha256(&tar));
    // Interrupted mid-stream.
    let e = w.put_layer(None, &src(&blob, &diff, OCI_LAYER_GZIP), Failing { data: &gz, n: gz.len() / 2 }).unwrap_err();
    assert!(format!("{e:#}").contains("connection reset"), "{e:#}");
    // A wrong DiffID, a wrong blob digest, a hostile entry.
    let wrong = sha256(b"x");
    assert!(format!("{:#}", w.put_layer(None, &src(&blob, &wrong, OCI_LAYER_GZIP), &gz[..]).unwrap_err())
        .contains("diff_id mismatch"));
    assert!(format!("{:#}", w.put_layer(None, &src(&wrong, &diff, OCI_LAYER_GZIP), &gz[..]).unwrap_err())
        .contains("digest mismatch"));
    let evil = Tar::new().file("../x", b"x", 0o644).finish();
    assert!(w.put_layer(None, &src(&sha256(&evil), &sha256(&evil), OCI_LAYER_TAR), &evil[..]).is_err());
    assert_eq!(names(&t.path().join("layers")).unwrap(), Vec::<String>::new(), "no layer, no temporary");
    assert!(s.layer(&diff).unwrap().is_none());
    // An image cannot be recorded without its layers.
    w.put_blob(&sha256(b"{}"), None, &b"{}"[..]).unwrap();
    let rec = ImageRecord {
        id: sha256(b"{}"),
        layers: vec![diff.clone()],
        diff_ids: vec![diff.clone()],
        ..Default::default()
    };
    assert!(w.commit_image(&rec).is_err());
    drop(w);
    // What a crash leaves is removed at the next open.
    fs::create_dir_all(t.path().join("layers/.tmp-crashed/diff")).unwrap();
    fs::write(t.path().join("blobs/sha256/.tmp-crashed"), "x").unwrap();
    drop(s);
    let _s = Store::open(t.path()).unwrap();
    assert!(!t.path().join("layers/.tmp-crashed").exists() && !t.path().join("blobs/sha256/.tmp-crashed").exists());
}

/// Counts the bytes read through it, slowly, so that two ingests overlap.
struct Slow<'a> {
    data: &'a [u8],
    read: Arc<AtomicUsize>,
}

impl Read for Slow<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        std::thread::sleep(std::time::Duration::from_millis(2));
        let k = buf.len().min(self.data.len()).min(4096);
        buf[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        self.read.fetch_add(k, Ordering::SeqCst);
        Ok(k)
    }
}

#[test]
fn concurrent_ingest_of_one_layer_extracts_it_once() {
    let t = tempfile::tempdir().unwrap();
    let s = Store::open(t.path()).unwrap();
    let tar = Tar::new().file("big", &[3u8; 200_000], 0o644).finish();
    let (blob, diff) = (sha256(&tar), sha256(&tar));
    let counters = [Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))];
    let barrier = std::sync::Barrier::new(2);
    let recs: Vec<LayerRecord> = std::thread::scope(|sc| {
        let hs: Vec<_> = counters
            .iter()
            .map(|c| {
                let (s, b, tar, c) = (&s, &barrier, &tar, c.clone());
                let (blob, diff) = (&blob, &diff);
                sc.spawn(move || {
                    let w = s.writer().unwrap();
                    b.wait();
                    w.put_layer(None, &src(blob, diff, OCI_LAYER_TAR), Slow { data: tar, read: c }).unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(recs[0], recs[1]);
    let reads: Vec<usize> = counters.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert!(reads.contains(&0) && reads.contains(&tar.len()), "one extraction, one wait: {reads:?}");
    assert_eq!(names(&t.path().join("layers")).unwrap().len(), 1);
}

/// The store's layers mounted through the short `l/` form (relative to `<images>/l`).
#[test]
fn an_image_mounts_through_short_links() {
    if !root() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    std::thread::scope(|sc| {
        sc.spawn(|| {
            crate::linux::dirfd::test_private_tmpfs(t.path()).unwrap();
            let s = Store::open(&t.path().join("images")).unwrap();
            let l0 = Tar::new().file("etc/os", b"base", 0o644).file("etc/old", b"old", 0o644).finish();
            let l1 = Tar::new().file("etc/.wh.old", b"", 0o644).file("etc/os", b"app", 0o644).finish();
            let img = put_image(&s, "x:1", &[l0, l1], b"{}");
            let ld = rootfs::lowerdir(&s, &img, 20).unwrap();
            assert!(ld.cwd.is_some());
            let mnt = t.path().join("mnt");
            fs::create_dir(&mnt).unwrap();
            crate::linux::dirfd::test_mount_overlay(&ld.value, ld.cwd.as_deref(), &mnt).unwrap();
            assert_eq!(fs::read(mnt.join("etc/os")).unwrap(), b"app");
            assert!(!mnt.join("etc/old").exists());
        })
        .join()
        .unwrap();
    });
}
