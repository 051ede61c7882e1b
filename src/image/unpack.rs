//! Applies one image layer (a tar stream) to a fresh directory, in the form overlayfs reads
//! as a lower layer: `.wh.NAME` becomes a 0/0 character device NAME, `.wh..wh..opq` the
//! directory's `trusted.overlay.opaque=y`.
//!
//! The tar is hostile until proven otherwise. Every path is split into components: a leading
//! `/` is dropped (as tar does), `.` and empty components are skipped, and a `..` component
//! refuses the layer. Parents are walked one component at a time from the layer directory
//! with openat2 (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV`): a symlink or a
//! non-directory as a parent refuses the layer, a missing parent is created (0755, root).
//! Symlinks are created as they are (they resolve inside the container later). A hard link's
//! target is cleaned the same way and must already be in this layer. Nothing is ever opened
//! through a symlink, so nothing outside the layer directory can be written.
//!
//! Kept as containerd keeps them when running as root: ownership (lchown), mode with
//! setuid/setgid/sticky bits, modification time (directories' at the end, since their entries
//! change it), PAX `SCHILY.xattr.*` extended attributes (`security.capability` included;
//! `trusted.overlay.*` ones are dropped: only whiteouts make them), character and block
//! devices and fifos. Not root: ownership is not changed and device nodes are skipped (as
//! containerd does in a user namespace); whiteouts then fail (they are device nodes).
//!
//! Streaming and bounded: the stream is hashed (sha256, the layer's DiffID) and counted as it
//! is read, never held in memory; [`Limits`] bounds entries, names, PAX headers and bytes.

use crate::linux::dirfd::{self, Kind, Node};
use anyhow::{anyhow, bail, Context, Result};
use sha2::{Digest, Sha256};
use std::ffi::{CStr, OsStr};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Layer media types (OCI image spec and Docker's).
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// From a layer media type (OCI, OCI non-distributable, Docker, Docker foreign).
    pub fn from_media_type(media_type: &str) -> Result<Compression> {
        let m = media_type.trim();
        if m.ends_with("+gzip") || m.ends_with(".tar.gzip") {
            Ok(Compression::Gzip)
        } else if m.ends_with("+zstd") || m.ends_with(".tar.zstd") {
            Ok(Compression::Zstd)
        } else if m.ends_with(".tar") || m == "application/x-tar" {
            Ok(Compression::None)
        } else {
            bail!("unsupported layer media type {media_type:?}")
        }
    }
}

/// The uncompressed tar stream of a layer blob of `media_type`.
pub fn decompress<'a, R: Read + 'a>(media_type: &str, reader: R) -> Result<Box<dyn Read + 'a>> {
    Ok(match Compression::from_media_type(media_type)? {
        Compression::None => Box::new(reader),
        // Several gzip members in a row are one stream, as Go's reader (and so docker) has it.
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(ZstdFrames::new(reader)),
    })
}

/// A zstd stream of any number of frames; skippable frames (zstd:chunked's metadata) are
/// skipped. ruzstd's streaming decoder reads one frame.
struct ZstdFrames<R: Read> {
    src: Option<Peek<R>>,
    cur: Option<ruzstd::decoding::StreamingDecoder<Peek<R>, ruzstd::decoding::FrameDecoder>>,
}

/// A reader with a few bytes put back in front.
struct Peek<R> {
    head: Vec<u8>,
    inner: R,
}

impl<R: Read> Read for Peek<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.head.is_empty() {
            let n = self.head.len().min(buf.len());
            buf[..n].copy_from_slice(&self.head[..n]);
            self.head.drain(..n);
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

impl<R: Read> ZstdFrames<R> {
    fn new(r: R) -> Self {
        ZstdFrames { src: Some(Peek { head: Vec::new(), inner: r }), cur: None }
    }
}

/// Reads up to 4 bytes; fewer only at the end of the stream.
fn read_word<R: Read>(r: &mut R) -> io::Result<(usize, [u8; 4])> {
    let mut b = [0u8; 4];
    let mut n = 0;
    while n < 4 {
        match r.read(&mut b[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((n, b))
}

impl<R: Read> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(dec) = self.cur.as_mut() {
                let n = dec.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                if let Some(dec) = self.cur.take() {
                    self.src = Some(dec.into_inner());
                }
            }
            let mut src = self.src.take().ok_or_else(|| io::Error::other("zstd: stream lost after an error"))?;
            let (n, magic) = read_word(&mut src)?;
            if n == 0 {
                self.src = Some(src);
                return Ok(0);
            }
            if n < 4 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "zstd: truncated frame header"));
            }
            if u32::from_le_bytes(magic) & 0xFFFF_FFF0 == 0x184D_2A50 {
                let (n, len) = read_word(&mut src)?;
                if n < 4 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "zstd: truncated skippable frame"));
                }
                let len = u64::from(u32::from_le_bytes(len));
                if io::copy(&mut (&mut src).take(len), &mut io::sink())? < len {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "zstd: truncated skippable frame"));
                }
                self.src = Some(src);
                continue;
            }
            src.head.extend_from_slice(&magic);
            match ruzstd::decoding::StreamingDecoder::new(src) {
                Ok(d) => self.cur = Some(d),
                Err(e) => return Err(io::Error::other(format!("zstd: {e}"))),
            }
        }
    }
}

/// Bounds on what one layer may contain.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Entries (files, directories, links, ...), extension headers not counted.
    pub max_entries: u64,
    /// Bytes of a path or link target (PATH_MAX).
    pub max_path: usize,
    /// Bytes of one PAX or GNU long-name header, read into memory.
    pub max_header: u64,
    /// Bytes of the uncompressed stream.
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_entries: 1_000_000, max_path: 4096, max_header: 1 << 20, max_bytes: 256 << 30 }
    }
}

/// How to unpack.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub limits: Limits,
    /// Apply the tar's owners (lchown). Default: when root.
    pub owners: bool,
    /// Create character and block devices. Default: when root.
    pub devices: bool,
}

impl Default for Options {
    fn default() -> Self {
        let root = dirfd::is_root();
        Options { limits: Limits::default(), owners: root, devices: root }
    }
}

/// What an unpacked layer measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// `sha256:<hex>` of the uncompressed stream: the layer's DiffID.
    pub diff_id: String,
    /// Bytes of the uncompressed stream.
    pub size: u64,
    /// Entries applied (whiteouts included).
    pub entries: u64,
}

/// Hashes and counts what passes through, and refuses to pass more than `max` bytes.
pub(crate) struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    n: u64,
    max: u64,
}

impl<R: Read> Hashing<R> {
    pub(crate) fn new(inner: R, max: u64) -> Self {
        Hashing { inner, hasher: Sha256::new(), n: 0, max }
    }

    /// `sha256:<hex>` and the byte count.
    pub(crate) fn finish(self) -> (String, u64) {
        (format!("sha256:{}", hex(&self.hasher.finalize())), self.n)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        if self.n > self.max {
            return Err(io::Error::other(format!("more than {} bytes", self.max)));
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Splits a tar entry name into the components it has inside the layer: a leading `/` is
/// dropped, empty and `.` components skipped; `..`, NUL bytes, a name longer than `max`
/// bytes or a component longer than 255 are errors. The layer root itself is no component.
pub fn clean_name(raw: &[u8], max: usize) -> Result<Vec<&[u8]>, String> {
    if raw.len() > max {
        return Err(format!("name longer than {max} bytes"));
    }
    if raw.contains(&0) {
        return Err("NUL byte in the name".into());
    }
    let mut out = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("`..` in the name".into()),
            c if c.len() > 255 => return Err("a name component longer than 255 bytes".into()),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn show(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// Metadata of one entry, after PAX and GNU extension headers.
struct Meta {
    path: Vec<u8>,
    link: Option<Vec<u8>>,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, u32),
    /// Device major and minor.
    devs: (u64, u64),
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Extension headers waiting for the entry they describe.
#[derive(Default)]
struct Pending {
    pax: Option<Vec<u8>>,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
}

/// PAX `mtime` (`secs[.frac]`, maybe negative) as seconds and nanoseconds.
fn pax_time(v: &[u8]) -> Option<(i64, u32)> {
    let s = std::str::from_utf8(v).ok()?;
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = whole.parse().ok()?;
    let mut digits: String = frac.chars().take(9).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    while digits.len() < 9 {
        digits.push('0');
    }
    let nanos: u32 = digits.parse().ok()?;
    if s.starts_with('-') && nanos > 0 {
        return Some((secs - 1, 1_000_000_000 - nanos));
    }
    Some((secs, nanos))
}

fn read_bounded<R: Read>(r: &mut R, size: u64, max: u64, what: &str) -> Result<Vec<u8>> {
    if size > max {
        bail!("{what} header of {size} bytes (at most {max})");
    }
    let mut v = Vec::with_capacity(size as usize);
    r.take(size).read_to_end(&mut v)?;
    if let Some(&0) = v.last() {
        v.pop();
    }
    Ok(v)
}

/// Unpacks the tar stream `tar` (already decompressed: see [`decompress`]) into `dest`, an
/// existing empty directory. On error `dest` holds part of the layer: the caller removes it.
pub fn unpack<R: Read>(tar: R, dest: &Path, opts: &Options) -> Result<Unpacked> {
    let root = dirfd::open_root(dest).with_context(|| format!("opening {}", dest.display()))?;
    let mut u = Unpacker { root, dest: dest.to_path_buf(), opts: *opts, cache: None, dirs: Vec::new() };
    let mut archive = tar::Archive::new(Hashing::new(tar, opts.limits.max_bytes));
    let mut pending = Pending::default();
    let mut count = 0u64;
    {
        let entries = archive.entries().context("reading the layer")?.raw(true);
        for entry in entries {
            let mut entry = entry.with_context(|| format!("reading the layer after {count} entries"))?;
            let ty = entry.header().entry_type();
            let size = entry.size();
            let max = opts.limits.max_header;
            if ty.is_pax_local_extensions() {
                pending.pax = Some(read_bounded(&mut entry, size, max, "PAX")?);
                continue;
            }
            if ty.is_pax_global_extensions() {
                // Ignored, as containerd does.
                read_bounded(&mut entry, size, max, "PAX global")?;
                continue;
            }
            if ty.is_gnu_longname() {
                pending.long_name = Some(read_bounded(&mut entry, size, max, "GNU long name")?);
                continue;
            }
            if ty.is_gnu_longlink() {
                pending.long_link = Some(read_bounded(&mut entry, size, max, "GNU long link")?);
                continue;
            }
            count += 1;
            if count > opts.limits.max_entries {
                bail!("the layer has more than {} entries", opts.limits.max_entries);
            }
            let meta = meta(&entry, std::mem::take(&mut pending))?;
            let name = show(&meta.path);
            u.entry(&mut entry, ty, meta).with_context(|| format!("layer entry {name:?}"))?;
        }
    }
    u.finish_dirs()?;
    // The end-of-archive blocks and any padding after them are part of the DiffID.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).context("reading the end of the layer")?;
    let (diff_id, size) = rest.finish();
    Ok(Unpacked { diff_id, size, entries: count })
}

fn meta<R: Read>(entry: &tar::Entry<R>, p: Pending) -> Result<Meta> {
    let h = entry.header();
    let raw_path = h.path_bytes();
    let mut m = Meta {
        path: raw_path.into_owned(),
        link: h.link_name_bytes().map(|l| l.into_owned()),
        mode: h.mode().map_err(|e| anyhow!("entry {:?}: mode: {e}", show(&h.path_bytes())))?,
        uid: 0,
        gid: 0,
        mtime: (0, 0),
        devs: (0, 0),
        xattrs: Vec::new(),
    };
    let name = show(&m.path);
    let uid = h.uid().map_err(|e| anyhow!("entry {name:?}: uid: {e}"))?;
    let gid = h.gid().map_err(|e| anyhow!("entry {name:?}: gid: {e}"))?;
    let mtime = h.mtime().map_err(|e| anyhow!("entry {name:?}: mtime: {e}"))?;
    let (mut uid, mut gid) = (uid, gid);
    let ty = h.entry_type();
    if ty.is_character_special() || ty.is_block_special() {
        let major = h.device_major().map_err(|e| anyhow!("entry {name:?}: device major: {e}"))?;
        let minor = h.device_minor().map_err(|e| anyhow!("entry {name:?}: device minor: {e}"))?;
        m.devs = (u64::from(major.unwrap_or(0)), u64::from(minor.unwrap_or(0)));
    }
    m.mtime = (i64::try_from(mtime).unwrap_or(i64::MAX), 0);
    if let Some(pax) = p.pax.as_deref() {
        for ext in tar::PaxExtensions::new(pax) {
            let ext = ext.map_err(|e| anyhow!("entry {name:?}: PAX header: {e}"))?;
            let (k, v) = (ext.key_bytes(), ext.value_bytes());
            let num = || std::str::from_utf8(v).ok().and_then(|s| s.parse::<u64>().ok());
            match k {
                b"path" => m.path = v.to_vec(),
                b"linkpath" => m.link = Some(v.to_vec()),
                b"uid" => uid = num().ok_or_else(|| anyhow!("entry {name:?}: bad PAX uid"))?,
                b"gid" => gid = num().ok_or_else(|| anyhow!("entry {name:?}: bad PAX gid"))?,
                b"mtime" => m.mtime = pax_time(v).ok_or_else(|| anyhow!("entry {name:?}: bad PAX mtime"))?,
                // tar reads the data by the header's size; one that disagrees would make this
                // parser and others see different files.
                b"size" if num() != Some(entry.size()) => {
                    bail!("entry {name:?}: a PAX size that differs from the header's is not supported")
                }
                k if k.starts_with(b"GNU.sparse.") => bail!("entry {name:?}: sparse files are not supported"),
                k if k.starts_with(b"SCHILY.xattr.") => {
                    m.xattrs.push((k[b"SCHILY.xattr.".len()..].to_vec(), v.to_vec()));
                }
                _ => {}
            }
        }
    }
    if let Some(n) = p.long_name {
        m.path = n;
    }
    if let Some(l) = p.long_link {
        m.link = Some(l);
    }
    m.uid = u32::try_from(uid).map_err(|_| anyhow!("entry {name:?}: uid {uid} out of range"))?;
    m.gid = u32::try_from(gid).map_err(|_| anyhow!("entry {name:?}: gid {gid} out of range"))?;
    Ok(m)
}

/// A directory (its components) and the mtime it gets at the end.
type DirTime = (Vec<Vec<u8>>, (i64, u32));

struct Unpacker {
    root: OwnedFd,
    dest: PathBuf,
    opts: Options,
    /// The parent directory of the previous entry (entries come grouped by directory).
    cache: Option<(Vec<Vec<u8>>, OwnedFd)>,
    /// Directories whose mtime is set once all entries are in.
    dirs: Vec<DirTime>,
}

/// The error of a file operation on `what`.
fn op(e: io::Error, what: &str, name: &[u8]) -> anyhow::Error {
    anyhow!("{what} {:?}: {e}", show(name))
}

impl Unpacker {
    /// The open parent directory `comps`, created (0755) where missing; a symlink or a
    /// non-directory on the way is an error. `create` false: missing is ENOENT.
    fn parent(&mut self, comps: &[&[u8]], create: bool) -> Result<BorrowedFd<'_>> {
        let hit =
            matches!(&self.cache, Some((c, _)) if c.len() == comps.len() && c.iter().zip(comps).all(|(a, b)| a == b));
        if !hit {
            let mut cur: Option<OwnedFd> = None;
            for (i, c) in comps.iter().enumerate() {
                let name = dirfd::cname(c)?;
                let at = cur.as_ref().map(|f| f.as_fd()).unwrap_or(self.root.as_fd());
                let next = match dirfd::open_subdir(at, &name) {
                    Ok(fd) => fd,
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) && create => {
                        dirfd::mkdir(at, &name, 0o755)
                            .map_err(|e| op(e, "creating directory", &comps[..=i].join(&b'/')))?;
                        dirfd::chmod(at, &name, 0o755).map_err(|e| op(e, "chmod", c))?;
                        dirfd::open_subdir(at, &name).map_err(|e| op(e, "opening", &comps[..=i].join(&b'/')))?
                    }
                    Err(e) => {
                        let p = show(&comps[..=i].join(&b'/'));
                        // O_NOFOLLOW|O_DIRECTORY on a symlink says ENOTDIR: tell which it is.
                        let link = matches!(dirfd::kind(at, &name), Ok(Some(Kind::Symlink)));
                        return Err(match e.raw_os_error() {
                            _ if link => anyhow!("parent {p:?} is a symlink: refused"),
                            Some(libc::ELOOP) => anyhow!("parent {p:?} is a symlink: refused"),
                            Some(libc::ENOTDIR) => anyhow!("parent {p:?} is not a directory"),
                            Some(libc::EXDEV) => anyhow!("parent {p:?} is a mount point"),
                            _ => anyhow!("opening parent {p:?}: {e}"),
                        });
                    }
                };
                cur = Some(next);
            }
            let fd = match cur {
                Some(fd) => fd,
                None => self.root.try_clone().context("duplicating the layer directory")?,
            };
            self.cache = Some((comps.iter().map(|c| c.to_vec()).collect(), fd));
        }
        match &self.cache {
            Some((_, fd)) => Ok(fd.as_fd()),
            None => bail!("no parent directory"),
        }
    }

    /// Removes whatever is at `comps` (a directory with all it holds).
    fn remove(&mut self, parent: &[&[u8]], name: &CStr, kind: Kind) -> Result<()> {
        self.cache = None;
        if kind != Kind::Dir {
            let p = self.parent(parent, false)?;
            return dirfd::unlink(p, name, false).map_err(|e| op(e, "removing", name.to_bytes()));
        }
        let mut path = self.dest.clone();
        for c in parent {
            path.push(OsStr::from_bytes(c));
        }
        path.push(OsStr::from_bytes(name.to_bytes()));
        let r = crate::linux::fs::remove_tree_same_fs(&path).with_context(|| format!("removing {}", path.display()))?;
        if !r.complete() {
            bail!("could not remove {}: {r:?}", path.display());
        }
        self.cache = None;
        Ok(())
    }

    fn entry<R: Read>(&mut self, data: &mut R, ty: tar::EntryType, m: Meta) -> Result<()> {
        let opts = self.opts;
        let limits = opts.limits;
        let comps = clean_name(&m.path, limits.max_path).map_err(|e| anyhow!("{e}: refused"))?;
        let Some((last, parent)) = comps.split_last() else {
            // The layer root ("./"): its attributes are the image's business, not the layer's.
            return Ok(());
        };
        // A V7 "regular file" whose name ends in '/' is a directory.
        let is_dir = ty.is_dir() || (ty == tar::EntryType::Regular && m.path.ends_with(b"/"));

        if let Some(wh) = last.strip_prefix(b".wh.") {
            if wh == b".wh..opq" {
                let p = self.parent(parent, true)?;
                return dirfd::set_xattr(p, c".", c"trusted.overlay.opaque", b"y")
                    .map_err(|e| op(e, "marking opaque", &parent.join(&b'/')));
            }
            if wh.starts_with(b".wh.") || wh.is_empty() {
                return Ok(());
            }
            let name = dirfd::cname(wh)?;
            let p = self.parent(parent, true)?;
            if let Some(k) = dirfd::kind(p, &name)? {
                self.remove(parent, &name, k)?;
            }
            let p = self.parent(parent, true)?;
            dirfd::mknod(p, &name, Node::Char, 0, 0, 0).map_err(|e| op(e, "creating whiteout", wh))?;
            if opts.owners {
                dirfd::lchown(p, &name, 0, 0).map_err(|e| op(e, "chown", wh))?;
            }
            return Ok(());
        }

        let name = dirfd::cname(last)?;
        let p = self.parent(parent, true)?;
        let existing = dirfd::kind(p, &name)?;
        match existing {
            Some(Kind::Dir) if is_dir => {}
            Some(k) => self.remove(parent, &name, k)?,
            None => {}
        }
        let p = self.parent(parent, true)?;
        let owners = opts.owners;
        if is_dir {
            if existing != Some(Kind::Dir) {
                dirfd::mkdir(p, &name, 0o700).map_err(|e| op(e, "mkdir", last))?;
            }
        } else if ty.is_file() || ty.is_contiguous() {
            let mut f = dirfd::create_file(p, &name).map_err(|e| op(e, "creating", last))?;
            io::copy(data, &mut f).with_context(|| format!("writing {:?}", show(last)))?;
        } else if ty.is_symlink() {
            let target = m.link.as_deref().ok_or_else(|| anyhow!("symlink without a target"))?;
            if target.is_empty() || target.len() > limits.max_path {
                bail!("symlink target of {} bytes", target.len());
            }
            dirfd::symlink(&dirfd::cname(target)?, p, &name).map_err(|e| op(e, "symlink", last))?;
        } else if ty.is_hard_link() {
            let target = m.link.as_deref().ok_or_else(|| anyhow!("hard link without a target"))?;
            let t =
                clean_name(target, limits.max_path).map_err(|e| anyhow!("hard link target {:?}: {e}", show(target)))?;
            let Some((tlast, tparent)) = t.split_last() else { bail!("hard link to the layer root") };
            let tname = dirfd::cname(tlast)?;
            // Resolved beneath the layer without creating anything: the target must be here.
            let tdir = self.walk(tparent).map_err(|e| match e.raw_os_error() {
                Some(libc::ENOENT) => anyhow!("hard link target {:?} is not in the layer (yet)", show(target)),
                Some(libc::ELOOP | libc::ENOTDIR) => {
                    anyhow!("hard link target {:?}: a parent is a symlink or not a directory: refused", show(target))
                }
                _ => anyhow!("hard link target {:?}: {e}", show(target)),
            })?;
            match dirfd::kind(tdir.as_fd(), &tname)? {
                None => bail!("hard link target {:?} is not in the layer (yet)", show(target)),
                Some(Kind::Dir) => bail!("hard link target {:?} is a directory", show(target)),
                Some(_) => {}
            }
            let p = self.parent(parent, true)?;
            dirfd::hardlink(tdir.as_fd(), &tname, p, &name).map_err(|e| op(e, "hard link", last))?;
            // A hard link shares the target's inode: its metadata is the target's.
            return Ok(());
        } else if ty.is_character_special() || ty.is_block_special() || ty.is_fifo() {
            let node = if ty.is_fifo() {
                Node::Fifo
            } else if ty.is_block_special() {
                Node::Block
            } else {
                Node::Char
            };
            if node != Node::Fifo && !opts.devices {
                log::debug!("skipping device node {:?}: not root", show(&m.path));
                return Ok(());
            }
            dirfd::mknod(p, &name, node, m.mode, m.devs.0, m.devs.1).map_err(|e| op(e, "mknod", last))?;
        } else {
            bail!("unsupported entry type {:?}", ty.as_byte() as char);
        }
        let p = self.parent(parent, true)?;
        if owners {
            dirfd::lchown(p, &name, m.uid, m.gid).map_err(|e| op(e, "chown", last))?;
        }
        // After chown, which clears setuid/setgid.
        if !ty.is_symlink() {
            dirfd::chmod(p, &name, m.mode).map_err(|e| op(e, "chmod", last))?;
        }
        for (k, v) in &m.xattrs {
            if k.starts_with(b"trusted.overlay.") || k.starts_with(b"user.overlay.") {
                log::debug!("dropping {:?} of {:?}", show(k), show(&m.path));
                continue;
            }
            let key = dirfd::cname(k)?;
            if let Err(e) = dirfd::set_xattr(p, &name, &key, v) {
                match e.raw_os_error() {
                    // As containerd: a filesystem or a privilege that does not allow it.
                    Some(libc::EPERM | libc::ENOTSUP) => log::debug!("xattr {:?} of {:?}: {e}", show(k), show(last)),
                    _ => return Err(op(e, &format!("setting xattr {:?} on", show(k)), last)),
                }
            }
        }
        if is_dir {
            let mut all: Vec<Vec<u8>> = parent.iter().map(|c| c.to_vec()).collect();
            all.push(last.to_vec());
            self.dirs.push((all, m.mtime));
        } else {
            dirfd::set_times(p, &name, m.mtime.0, m.mtime.1).map_err(|e| op(e, "setting times of", last))?;
        }
        Ok(())
    }

    /// Opens existing directory `comps` beneath the root (nothing created).
    fn walk(&self, comps: &[&[u8]]) -> io::Result<OwnedFd> {
        let mut cur = self.root.try_clone()?;
        for c in comps {
            cur = dirfd::open_subdir(cur.as_fd(), &dirfd::cname(c)?)?;
        }
        Ok(cur)
    }

    fn finish_dirs(&mut self) -> Result<()> {
        self.cache = None;
        let dirs = std::mem::take(&mut self.dirs);
        for (comps, (s, ns)) in dirs.iter().rev() {
            let refs: Vec<&[u8]> = comps.iter().map(|c| c.as_slice()).collect();
            let Some((last, parent)) = refs.split_last() else { continue };
            // Gone since (a later whiteout or replacement): nothing to do.
            let Ok(p) = self.walk(parent) else { continue };
            let name = dirfd::cname(last)?;
            if dirfd::kind(p.as_fd(), &name)? != Some(Kind::Dir) {
                continue;
            }
            dirfd::set_times(p.as_fd(), &name, *s, *ns).map_err(|e| op(e, "setting times of", &comps.join(&b'/')))?;
        }
        Ok(())
    }
}
