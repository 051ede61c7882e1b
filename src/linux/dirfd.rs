//! File operations relative to an open directory that never follow a symlink: what the layer
//! unpacker (`image/unpack.rs`) needs to write a hostile tar into a directory without anything
//! landing outside it. Every function takes a directory descriptor and one name component
//! (no `/`); the caller walks paths one component at a time with [`open_subdir`], which refuses
//! symlinks, `..` and mount crossings.

use super::sys::{RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fchmodat, fstatat, mkdirat, mknodat, utimensat, FchmodatFlags, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Whether the process runs as root (effective uid 0).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Opens directory `path` (its own parents may be symlinks; the last component may not) as an
/// `O_PATH` descriptor to work beneath.
pub fn open_root(path: &Path) -> io::Result<OwnedFd> {
    Ok(nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens the subdirectory `name` of `dir` as an `O_PATH` descriptor: ELOOP when `name` is a
/// symlink, ENOTDIR when it is not a directory, EXDEV when it is a mount point, ENOENT when
/// missing. `name` is one component; `..` is refused by RESOLVE_BENEATH.
pub fn open_subdir(dir: BorrowedFd, name: &CStr) -> io::Result<OwnedFd> {
    super::sys::openat2(
        dir,
        name,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    )
}

/// What is at a name, without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    Other,
}

/// The kind of `name` in `dir`, None when nothing is there.
pub fn kind(dir: BorrowedFd, name: &CStr) -> io::Result<Option<Kind>> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
            SFlag::S_IFDIR => Kind::Dir,
            SFlag::S_IFREG => Kind::File,
            SFlag::S_IFLNK => Kind::Symlink,
            _ => Kind::Other,
        })),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// mkdirat(2); the umask applies, so callers set the mode afterwards with [`chmod`].
pub fn mkdir(dir: BorrowedFd, name: &CStr, mode: u32) -> io::Result<()> {
    Ok(mkdirat(dir, name, Mode::from_bits_truncate(mode))?)
}

/// Creates a new regular file (never an existing one, never through a symlink), open for
/// writing.
pub fn create_file(dir: BorrowedFd, name: &CStr) -> io::Result<File> {
    let fd = nix::fcntl::openat(
        dir,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )?;
    Ok(File::from(fd))
}

/// symlinkat(2): `target` is stored as it is, never resolved here.
pub fn symlink(target: &CStr, dir: BorrowedFd, name: &CStr) -> io::Result<()> {
    Ok(symlinkat(target, dir, name)?)
}

/// linkat(2) without following a symlink at the source.
pub fn hardlink(from_dir: BorrowedFd, from: &CStr, dir: BorrowedFd, name: &CStr) -> io::Result<()> {
    Ok(linkat(from_dir, from, dir, name, AtFlags::empty())?)
}

/// Node types [`mknod`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Char,
    Block,
    Fifo,
}

/// mknodat(2) of a character or block device or a fifo.
pub fn mknod(dir: BorrowedFd, name: &CStr, node: Node, perm: u32, major: u64, minor: u64) -> io::Result<()> {
    let kind = match node {
        Node::Char => SFlag::S_IFCHR,
        Node::Block => SFlag::S_IFBLK,
        Node::Fifo => SFlag::S_IFIFO,
    };
    let dev = nix::sys::stat::makedev(major, minor);
    Ok(mknodat(dir, name, kind, Mode::from_bits_truncate(perm & 0o7777), dev)?)
}

/// lchown of `name` in `dir` (a symlink itself, never its target).
pub fn lchown(dir: BorrowedFd, name: &CStr, uid: u32, gid: u32) -> io::Result<()> {
    Ok(fchownat(dir, name, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)), AtFlags::AT_SYMLINK_NOFOLLOW)?)
}

/// chmod of `name` in `dir`, which must not be a symlink (Linux cannot chmod one; the caller
/// knows what it just created). Setuid, setgid and sticky bits are kept.
pub fn chmod(dir: BorrowedFd, name: &CStr, mode: u32) -> io::Result<()> {
    Ok(fchmodat(dir, name, Mode::from_bits_truncate(mode & 0o7777), FchmodatFlags::FollowSymlink)?)
}

/// Sets access and modification times of `name` in `dir` without following a symlink.
pub fn set_times(dir: BorrowedFd, name: &CStr, secs: i64, nsecs: u32) -> io::Result<()> {
    let t = TimeSpec::new(secs, i64::from(nsecs.min(999_999_999)));
    Ok(utimensat(dir, name, &t, &t, UtimensatFlags::NoFollowSymlink)?)
}

/// unlinkat(2) of a non-directory (`dir_entry` false) or an empty directory.
pub fn unlink(dir: BorrowedFd, name: &CStr, dir_entry: bool) -> io::Result<()> {
    let flag = if dir_entry { UnlinkatFlags::RemoveDir } else { UnlinkatFlags::NoRemoveDir };
    Ok(unlinkat(dir, name, flag)?)
}

/// lsetxattr(2) of `name` in `dir` (a symlink itself is not followed; `.` is `dir` itself).
/// There is no `*xattrat` call before Linux 6.13, so this goes through
/// `/proc/self/fd/<dir>/<name>`: the magic link resolves to `dir`, `name` is not followed.
pub fn set_xattr(dir: BorrowedFd, name: &CStr, key: &CStr, value: &[u8]) -> io::Result<()> {
    let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    path.extend_from_slice(name.to_bytes());
    let path = CString::new(path).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a file name"))?;
    // SAFETY: `path` and `key` are NUL-terminated C strings and `value` a valid slice whose
    // length is passed; the kernel only reads them.
    let r =
        unsafe { libc::lsetxattr(path.as_ptr(), key.as_ptr(), value.as_ptr().cast::<libc::c_void>(), value.len(), 0) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads an xattr of `path` without following a final symlink (tests and inspection).
pub fn get_xattr(path: &Path, key: &str) -> io::Result<Option<Vec<u8>>> {
    let p = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))?;
    let k = CString::new(key).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in an xattr name"))?;
    let mut buf = vec![0u8; 65536];
    // SAFETY: `p` and `k` are NUL-terminated, `buf` is a writable buffer of the length passed.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), k.as_ptr(), buf.as_mut_ptr().cast::<libc::c_void>(), buf.len()) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.raw_os_error() == Some(libc::ENODATA) { Ok(None) } else { Err(e) };
    }
    buf.truncate(r as usize);
    Ok(Some(buf))
}

/// One name component as a C string; NUL bytes are refused.
pub fn cname(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a file name"))
}

/// A path as a C string.
pub fn cpath(p: &OsStr) -> io::Result<CString> {
    cname(p.as_bytes())
}

/// An advisory lock (flock) on a file, created when missing; held until dropped.
pub struct FileLock(#[allow(dead_code)] nix::fcntl::Flock<File>);

impl FileLock {
    /// Waits for the lock: exclusive or shared.
    pub fn lock(path: &Path, exclusive: bool) -> io::Result<FileLock> {
        Self::take(path, exclusive, false).map(|l| l.ok_or_else(|| io::Error::from(io::ErrorKind::WouldBlock)))?
    }

    /// Takes the lock when nobody holds a conflicting one; None otherwise.
    pub fn try_lock(path: &Path, exclusive: bool) -> io::Result<Option<FileLock>> {
        Self::take(path, exclusive, true)
    }

    fn take(path: &Path, exclusive: bool, nonblock: bool) -> io::Result<Option<FileLock>> {
        use nix::fcntl::{Flock, FlockArg};
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)?;
        let arg = match (exclusive, nonblock) {
            (true, false) => FlockArg::LockExclusive,
            (true, true) => FlockArg::LockExclusiveNonblock,
            (false, false) => FlockArg::LockShared,
            (false, true) => FlockArg::LockSharedNonblock,
        };
        match Flock::lock(f, arg) {
            Ok(l) => Ok(Some(FileLock(l))),
            Err((_, Errno::EWOULDBLOCK)) if nonblock => Ok(None),
            Err((_, e)) => Err(e.into()),
        }
    }
}

/// Test support: moves the calling thread into a private mount namespace (the test harness
/// runs each test in its own thread; the namespace and every mount in it go when the thread
/// ends) and mounts a tmpfs at `dir`.
#[cfg(test)]
pub fn test_private_tmpfs(dir: &Path) -> io::Result<()> {
    use nix::mount::{mount, MsFlags};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS | nix::sched::CloneFlags::CLONE_FS)?;
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)?;
    mount(Some("tmpfs"), dir, Some("tmpfs"), MsFlags::empty(), Some("mode=0755"))?;
    Ok(())
}

/// Test support: a read-only overlay of `lowerdir` (top first) at `target`, in the calling
/// thread's mount namespace, with `cwd` as the working directory when the lowerdir is relative.
#[cfg(test)]
pub fn test_mount_overlay(lowerdir: &str, cwd: Option<&Path>, target: &Path) -> io::Result<()> {
    use nix::mount::{mount, MsFlags};
    let old = std::env::current_dir()?;
    if let Some(c) = cwd {
        nix::unistd::chdir(c)?;
    }
    let r = mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::MS_RDONLY,
        Some(format!("lowerdir={lowerdir}").as_str()),
    );
    if cwd.is_some() {
        nix::unistd::chdir(&old)?;
    }
    Ok(r?)
}
