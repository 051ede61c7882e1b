//! Layer unpacking: paths, hostile tars, metadata, whiteouts as overlayfs reads them.

use super::testtar::{root, sha256, Failing, Tar};
use super::unpack::*;
use crate::linux::dirfd;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use tar::EntryType;

fn opts() -> Options {
    Options::default()
}

/// A scratch dir with `layer/` (empty) and `outside/sentinel`.
fn scratch() -> (tempfile::TempDir, std::path::PathBuf) {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir(t.path().join("layer")).unwrap();
    fs::create_dir(t.path().join("outside")).unwrap();
    fs::write(t.path().join("outside/sentinel"), "keep").unwrap();
    let l = t.path().join("layer");
    (t, l)
}

fn untouched(t: &Path) {
    assert_eq!(fs::read_to_string(t.join("outside/sentinel")).unwrap(), "keep");
    assert_eq!(fs::read_dir(t.join("outside")).unwrap().count(), 1, "something was written outside the layer");
}

#[test]
fn clean_names() {
    let c = |s: &str| {
        clean_name(s.as_bytes(), 4096)
            .map(|v| v.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("|"))
    };
    assert_eq!(c("a/b/c").unwrap(), "a|b|c");
    assert_eq!(c("./a//b/./").unwrap(), "a|b");
    assert_eq!(c("/etc/passwd").unwrap(), "etc|passwd");
    assert_eq!(c("./").unwrap(), "");
    assert!(c("../x").unwrap_err().contains(".."));
    assert!(c("a/../../x").is_err());
    assert!(clean_name(b"a\0b", 4096).is_err());
    assert!(clean_name(&[b'a'; 300], 4096).is_err());
    assert!(clean_name(&[b'a'; 100], 50).is_err());
}

#[test]
fn media_types() {
    assert_eq!(Compression::from_media_type(OCI_LAYER_GZIP).unwrap(), Compression::Gzip);
    assert_eq!(Compression::from_media_type(DOCKER_LAYER_GZIP).unwrap(), Compression::Gzip);
    assert_eq!(Compression::from_media_type(OCI_LAYER_ZSTD).unwrap(), Compression::Zstd);
    assert_eq!(Compression::from_media_type(OCI_LAYER_TAR).unwrap(), Compression::None);
    assert!(Compression::from_media_type("application/vnd.oci.image.config.v1+json").is_err());
}

#[test]
fn gzip_and_multi_frame_zstd_decompress() {
    use std::io::{Read, Write};
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&data[..1000]).unwrap();
    let mut two = gz.finish().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&data[1000..]).unwrap();
    two.extend(gz.finish().unwrap());
    let mut out = Vec::new();
    decompress(OCI_LAYER_GZIP, &two[..]).unwrap().read_to_end(&mut out).unwrap();
    assert_eq!(out, data);
    // Two frames with a skippable frame between them.
    let lvl = || ruzstd::encoding::CompressionLevel::Fastest;
    let mut z = ruzstd::encoding::compress_to_vec(&data[..5000], lvl());
    z.extend(0x184D_2A5Eu32.to_le_bytes());
    z.extend(3u32.to_le_bytes());
    z.extend(b"abc");
    z.extend(ruzstd::encoding::compress_to_vec(&data[5000..], lvl()));
    let mut out = Vec::new();
    decompress(OCI_LAYER_ZSTD, &z[..]).unwrap().read_to_end(&mut out).unwrap();
    assert_eq!(out, data);
    // Truncated: an error, not a short stream.
    let mut out = Vec::new();
    assert!(decompress(OCI_LAYER_ZSTD, &z[..z.len() - 10]).unwrap().read_to_end(&mut out).is_err());
}

#[test]
fn pax_times() {
    // Through a PAX header on a real entry.
    let (_t, l) = scratch();
    let tar = Tar::new().pax(&[("mtime", b"1234567890.5")]).file("f", b"x", 0o644).finish();
    unpack(&tar[..], &l, &opts()).unwrap();
    let m = fs::symlink_metadata(l.join("f")).unwrap();
    assert_eq!((m.mtime(), m.mtime_nsec()), (1234567890, 500_000_000));
}

#[test]
fn files_dirs_links_metadata_and_diff_id() {
    let (t, l) = scratch();
    let tar = Tar::new()
        .dir("./", 0o755)
        .dir("bin/", 0o755)
        .file("bin/tool", b"#!/bin/sh\n", 0o755)
        .symlink("bin/sh", "/bin/tool")
        .hardlink("bin/tool2", "bin/tool")
        .file("implied/parent/file", b"data", 0o600)
        .dir("ro/", 0o555)
        .file("ro/inner", b"i", 0o444)
        .node("fifo", EntryType::Fifo, 0o600, 0, 0)
        .finish();
    let u = unpack(&tar[..], &l, &opts()).unwrap();
    assert_eq!(u.diff_id, sha256(&tar));
    assert_eq!(u.size, tar.len() as u64);
    assert_eq!(u.entries, 9);
    assert_eq!(fs::read(l.join("bin/tool")).unwrap(), b"#!/bin/sh\n");
    assert_eq!(fs::read_link(l.join("bin/sh")).unwrap(), Path::new("/bin/tool"));
    let a = fs::metadata(l.join("bin/tool")).unwrap();
    assert_eq!(a.ino(), fs::metadata(l.join("bin/tool2")).unwrap().ino());
    assert_eq!(a.mode() & 0o7777, 0o755);
    assert_eq!(a.mtime(), 1_000_000_000);
    assert_eq!(fs::metadata(l.join("implied/parent")).unwrap().mode() & 0o7777, 0o755);
    let ro = fs::metadata(l.join("ro")).unwrap();
    assert_eq!((ro.mode() & 0o7777, ro.mtime()), (0o555, 1_000_000_000), "directory mtime set last");
    assert!(fs::symlink_metadata(l.join("fifo")).unwrap().file_type().is_fifo());
    untouched(t.path());
}

#[test]
fn later_entries_replace_earlier_ones() {
    let (_t, l) = scratch();
    let tar = Tar::new()
        .dir("d/", 0o755)
        .file("d/keep", b"1", 0o644)
        .dir("d/", 0o700)
        .file("x", b"file", 0o644)
        .dir("x/", 0o755)
        .file("x/in", b"2", 0o644)
        .dir("y/", 0o755)
        .file("y/gone", b"3", 0o644)
        .file("y", b"now a file", 0o644)
        .symlink("s", "/etc")
        .file("s", b"replaced the link", 0o644)
        .finish();
    unpack(&tar[..], &l, &opts()).unwrap();
    assert_eq!(fs::read(l.join("d/keep")).unwrap(), b"1", "dir over dir merges");
    assert_eq!(fs::metadata(l.join("d")).unwrap().mode() & 0o7777, 0o700);
    assert_eq!(fs::read(l.join("x/in")).unwrap(), b"2");
    assert_eq!(fs::read(l.join("y")).unwrap(), b"now a file");
    assert!(fs::symlink_metadata(l.join("s")).unwrap().is_file());
}

fn refused(tar: &[u8], needle: &str) {
    let (t, l) = scratch();
    let e = format!("{:#}", unpack(tar, &l, &opts()).unwrap_err());
    assert!(e.contains(needle), "{e}");
    untouched(t.path());
}

#[test]
fn hostile_tars_are_refused_or_contained() {
    refused(&Tar::new().file("../outside/sentinel", b"pwned", 0o644).finish(), "`..`");
    refused(&Tar::new().file("a/../../outside/x", b"pwned", 0o644).finish(), "`..`");
    // A symlinked parent: `a -> <outside>`, then `a/sentinel`.
    let (t, l) = scratch();
    let out = t.path().join("outside");
    let tar = Tar::new().symlink("a", out.to_str().unwrap()).file("a/sentinel", b"pwned", 0o644).finish();
    let e = format!("{:#}", unpack(&tar[..], &l, &opts()).unwrap_err());
    assert!(e.contains("\"a/sentinel\"") && e.contains("symlink"), "{e}");
    untouched(t.path());
    // The same with a relative link, and a link to /etc.
    refused(&Tar::new().symlink("up", "../outside").file("up/new", b"x", 0o644).finish(), "symlink");
    refused(&Tar::new().symlink("a", "/etc").file("a/passwd", b"root::0:0::/:/bin/sh", 0o644).finish(), "symlink");
    refused(&Tar::new().symlink("a", "/etc").dir("a/sub/", 0o755).finish(), "symlink");
    // Hard links out of the layer.
    refused(&Tar::new().hardlink("pw", "../../etc/passwd").finish(), "`..`");
    refused(&Tar::new().hardlink("pw", "/etc/passwd").finish(), "not in the layer");
    refused(&Tar::new().symlink("e", "/etc").hardlink("pw", "e/passwd").finish(), "symlink");
    refused(&Tar::new().hardlink("early", "later").file("later", b"x", 0o644).finish(), "not in the layer");
    // A whiteout through a symlink.
    refused(&Tar::new().symlink("e", "/etc").file("e/.wh.passwd", b"", 0o644).finish(), "symlink");
    // Absolute names stay inside.
    let (t, l) = scratch();
    let tar = Tar::new().file("/abs/file", b"in", 0o644).finish();
    unpack(&tar[..], &l, &opts()).unwrap();
    assert_eq!(fs::read(l.join("abs/file")).unwrap(), b"in");
    untouched(t.path());
    // Unknown entry types.
    let mut t2 = Tar::new();
    t2.node("odd", EntryType::new(b'Z'), 0o644, 0, 0);
    refused(&t2.finish(), "unsupported entry type");
}

#[test]
fn limits_and_broken_streams() {
    let (_t, l) = scratch();
    let mut o = opts();
    o.limits.max_entries = 2;
    let tar = Tar::new().file("a", b"", 0o644).file("b", b"", 0o644).file("c", b"", 0o644).finish();
    assert!(format!("{:#}", unpack(&tar[..], &l, &o).unwrap_err()).contains("more than 2 entries"));
    let (_t, l) = scratch();
    let mut o = opts();
    o.limits.max_bytes = 1024;
    let tar = Tar::new().file("big", &[7u8; 4096], 0o644).finish();
    assert!(unpack(&tar[..], &l, &o).is_err());
    let (_t, l) = scratch();
    let mut o = opts();
    o.limits.max_header = 64;
    let tar = Tar::new().pax(&[("comment", &[b'x'; 200][..])]).file("f", b"", 0o644).finish();
    assert!(format!("{:#}", unpack(&tar[..], &l, &o).unwrap_err()).contains("PAX header"));
    let (_t, l) = scratch();
    let tar = Tar::new().file("f", &[1u8; 10_000], 0o644).finish();
    let e = unpack(Failing { data: &tar, n: 5000 }, &l, &opts()).unwrap_err();
    assert!(format!("{e:#}").contains("connection reset"), "{e:#}");
    let tar = Tar::new().pax(&[("size", b"5")]).file("f", b"abc", 0o644).finish();
    let (_t, l) = scratch();
    assert!(format!("{:#}", unpack(&tar[..], &l, &opts()).unwrap_err()).contains("PAX size"));
}

#[test]
fn devices_setuid_owners_and_xattrs_as_root() {
    if !root() {
        return;
    }
    let (t, l) = scratch();
    let cap = b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    let tar = Tar::new()
        .node("dev/null", EntryType::Char, 0o666, 1, 3)
        .node("dev/loop9", EntryType::Block, 0o660, 7, 9)
        .file_owned("usr/bin/su", b"elf", 0o4755, 0, 0)
        .file_owned("usr/bin/wall", b"elf", 0o2755, 0, 5)
        .dir("tmp/", 0o1777)
        .file_owned("home/u/f", b"mine", 0o640, 1234, 4321)
        .pax(&[("SCHILY.xattr.security.capability", &cap[..]), ("SCHILY.xattr.user.note", b"hi")])
        .file("bin/ping", b"elf", 0o755)
        .pax(&[("SCHILY.xattr.trusted.overlay.opaque", b"y")])
        .dir("sneaky/", 0o755)
        .finish();
    unpack(&tar[..], &l, &opts()).unwrap();
    let m = fs::symlink_metadata(l.join("dev/null")).unwrap();
    assert!(m.file_type().is_char_device());
    assert_eq!((m.rdev(), m.mode() & 0o7777), (nix::sys::stat::makedev(1, 3), 0o666));
    assert!(fs::symlink_metadata(l.join("dev/loop9")).unwrap().file_type().is_block_device());
    assert_eq!(fs::metadata(l.join("usr/bin/su")).unwrap().mode() & 0o7777, 0o4755);
    let w = fs::metadata(l.join("usr/bin/wall")).unwrap();
    assert_eq!((w.mode() & 0o7777, w.gid()), (0o2755, 5));
    assert_eq!(fs::metadata(l.join("tmp")).unwrap().mode() & 0o7777, 0o1777);
    let f = fs::metadata(l.join("home/u/f")).unwrap();
    assert_eq!((f.uid(), f.gid()), (1234, 4321));
    assert_eq!(dirfd::get_xattr(&l.join("bin/ping"), "security.capability").unwrap().as_deref(), Some(&cap[..]));
    assert_eq!(
        dirfd::get_xattr(&l.join("sneaky"), "trusted.overlay.opaque").unwrap(),
        None,
        "only whiteouts make overlay xattrs"
    );
    untouched(t.path());
}

/// Two layers unpacked, then mounted as an overlay: what the upper one deletes is gone.
#[test]
fn whiteouts_hide_lower_files_in_an_overlay() {
    if !root() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    // Runs in this test thread's private mount namespace; the mounts go with the thread.
    std::thread::scope(|s| {
        s.spawn(|| {
            dirfd::test_private_tmpfs(t.path()).unwrap();
            let (lo, up, mnt) = (t.path().join("lo"), t.path().join("up"), t.path().join("mnt"));
            for d in [&lo, &up, &mnt] {
                fs::create_dir(d).unwrap();
            }
            let lower = Tar::new()
                .file("etc/keep", b"k", 0o644)
                .file("etc/gone", b"g", 0o644)
                .file("opaque/old", b"o", 0o644)
                .file("plain/old", b"p", 0o644)
                .finish();
            let upper = Tar::new()
                .file("etc/.wh.gone", b"", 0o644)
                .dir("opaque/", 0o755)
                .file("opaque/.wh..wh..opq", b"", 0o644)
                .file("opaque/new", b"n", 0o644)
                .file("plain/new", b"n", 0o644)
                .file(".wh..wh.plnk", b"", 0o644)
                .finish();
            unpack(&lower[..], &lo, &opts()).unwrap();
            unpack(&upper[..], &up, &opts()).unwrap();
            let wh = fs::symlink_metadata(up.join("etc/gone")).unwrap();
            assert!(wh.file_type().is_char_device());
            assert_eq!(wh.rdev(), 0);
            assert!(!up.join("etc/.wh.gone").exists());
            assert_eq!(
                dirfd::get_xattr(&up.join("opaque"), "trusted.overlay.opaque").unwrap().as_deref(),
                Some(&b"y"[..])
            );
            assert!(!up.join("opaque/.wh..wh..opq").exists() && !up.join(".wh..wh.plnk").exists());
            let lowerdir = format!("{}:{}", up.display(), lo.display());
            dirfd::test_mount_overlay(&lowerdir, None, &mnt).unwrap();
            assert_eq!(fs::read(mnt.join("etc/keep")).unwrap(), b"k");
            assert!(!mnt.join("etc/gone").exists(), "the whiteout hides the lower file");
            assert!(!mnt.join("opaque/old").exists(), "the opaque dir hides the lower dir's files");
            assert!(mnt.join("opaque/new").exists());
            assert!(mnt.join("plain/old").exists() && mnt.join("plain/new").exists(), "plain dirs merge");
        })
        .join()
        .unwrap();
    });
}
