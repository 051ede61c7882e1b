//! Removing a directory tree without ever leaving its mount. Pod directories hold mount
//! points (a bind of the host's /dev/shm under hostIPC, tmpfs volumes, pause's /proc); if one
//! of them failed to unmount, a plain recursive delete would empty what is mounted there,
//! the host's files included. This one does not follow symlinks, does not enter a directory
//! on another mount (a bind mount of the same filesystem included), and unmounts nothing:
//! it reports what it left.

use super::sys::{RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV};
use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};
use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What [`remove_tree_same_fs`] could not remove.
#[derive(Debug, Default)]
pub struct Removal {
    /// Mount points met in the tree: left as they are (and so are the directories holding
    /// them).
    pub skipped: Vec<PathBuf>,
    /// Entries that could not be removed, and why.
    pub failed: Vec<(PathBuf, io::Error)>,
}

impl Removal {
    /// The whole tree is gone.
    pub fn complete(&self) -> bool {
        self.skipped.is_empty() && self.failed.is_empty()
    }
}

/// Opens directory `name` of `dirfd` without following a symlink and without crossing into
/// another mount: EXDEV when `name` is a mount point (of any filesystem), ELOOP or ENOTDIR
/// when it is not a directory.
fn open_dir_same_mount(dirfd: BorrowedFd, name: &CStr) -> io::Result<OwnedFd> {
    super::sys::openat2(
        dirfd,
        name,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    )
}

/// Removes the directory tree at `path` (the path's own parents may be symlinks; nothing in
/// the tree is followed). A directory that is a mount point, `path` itself included, is left
/// alone with everything in it and reported in [`Removal::skipped`]; so are the directories
/// above it. Errors on single entries go to [`Removal::failed`] and the rest is still
/// removed. A missing `path` is nothing to do; a `path` that is not a directory is an error.
pub fn remove_tree_same_fs(path: &Path) -> io::Result<Removal> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{}: not a removable directory", path.display()))
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let parent = match nix::fcntl::open(parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
    {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(Removal::default()),
        Err(e) => return Err(e.into()),
    };
    let cname = cstring(name)?;
    let mut out = Removal::default();
    let top = match open_dir_same_mount(parent.as_fd(), &cname) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(out),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            out.skipped.push(path.to_path_buf());
            return Ok(out);
        }
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, format!("{}: not a directory", path.display())))
        }
        Err(e) => return Err(e),
    };
    let dev = fstat(&top)?.st_dev;
    if empty_dir(top, path, dev, &mut out) {
        match unlinkat(&parent, cname.as_c_str(), UnlinkatFlags::RemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => out.failed.push((path.to_path_buf(), e.into())),
        }
    }
    Ok(out)
}

fn cstring(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a file name"))
}

/// Removes everything in the open directory `dir` (at `path`, on device `dev`); true when it
/// is empty afterwards.
fn empty_dir(dir: OwnedFd, path: &Path, dev: u64, out: &mut Removal) -> bool {
    let mut d = match Dir::from_fd(dir) {
        Ok(d) => d,
        Err(e) => {
            out.failed.push((path.to_path_buf(), e.into()));
            return false;
        }
    };
    let mut entries: Vec<(CString, Option<Type>)> = Vec::new();
    let mut clean = true;
    for e in d.iter() {
        match e {
            Ok(e) => {
                let n = e.file_name();
                if n != c"." && n != c".." {
                    entries.push((n.to_owned(), e.file_type()));
                }
            }
            Err(e) => {
                out.failed.push((path.to_path_buf(), e.into()));
                clean = false;
                break;
            }
        }
    }
    let fd = d.as_fd();
    for (name, ty) in entries {
        let child = path.join(OsStr::from_bytes(name.to_bytes()));
        let is_dir = match ty {
            Some(t) => t == Type::Directory,
            None => fstatat(fd, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                .map(|s| SFlag::from_bits_truncate(s.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
                .unwrap_or(false),
        };
        clean &= remove_entry(fd, &name, &child, is_dir, dev, out);
    }
    clean
}

/// Removes one entry of `dir`; true when it is gone.
fn remove_entry(dir: BorrowedFd, name: &CStr, path: &Path, is_dir: bool, dev: u64, out: &mut Removal) -> bool {
    if !is_dir {
        match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => return true,
            // It became a directory since it was listed: below.
            Err(Errno::EISDIR) => {}
            // A file mount point (a bind mount of a file) in our mount namespace.
            Err(Errno::EBUSY) => {
                out.skipped.push(path.to_path_buf());
                return false;
            }
            Err(e) => {
                out.failed.push((path.to_path_buf(), e.into()));
                return false;
            }
        }
    }
    let sub = match open_dir_same_mount(dir, name) {
        Ok(fd) => fd,
        Err(e) => {
            return match e.raw_os_error() {
                Some(libc::ENOENT) => true,
                Some(libc::EXDEV) => {
                    out.skipped.push(path.to_path_buf());
                    false
                }
                // Not a directory (any more): a symlink or a file, unlinked as such.
                Some(libc::ELOOP | libc::ENOTDIR) if is_dir => remove_entry(dir, name, path, false, dev, out),
                _ => {
                    out.failed.push((path.to_path_buf(), e));
                    false
                }
            };
        }
    };
    // RESOLVE_NO_XDEV already refused any mount point; a different device would be one too.
    match fstat(&sub) {
        Ok(st) if st.st_dev == dev => {}
        Ok(_) => {
            out.skipped.push(path.to_path_buf());
            return false;
        }
        Err(e) => {
            out.failed.push((path.to_path_buf(), e.into()));
            return false;
        }
    }
    if !empty_dir(sub, path, dev, out) {
        return false;
    }
    match unlinkat(dir, name, UnlinkatFlags::RemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => true,
        Err(Errno::EBUSY) => {
            out.skipped.push(path.to_path_buf());
            false
        }
        Err(e) => {
            out.failed.push((path.to_path_buf(), e.into()));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    #[test]
    fn removes_a_tree_without_following_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("keep"), "x").unwrap();
        let top = t.path().join("top");
        std::fs::create_dir_all(top.join("a/b/c")).unwrap();
        std::fs::write(top.join("a/b/c/f"), "x").unwrap();
        std::fs::write(top.join("a/f"), "x").unwrap();
        std::os::unix::fs::symlink(&outside, top.join("a/link")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", top.join("dangling")).unwrap();
        let r = remove_tree_same_fs(&top).unwrap();
        assert!(r.complete(), "{r:?}");
        assert!(!top.exists());
        assert!(outside.join("keep").exists());
        // Nothing there: nothing to do.
        assert!(remove_tree_same_fs(&top).unwrap().complete());
        // Not a directory: an error, and the file stays.
        std::fs::write(&top, "x").unwrap();
        assert!(remove_tree_same_fs(&top).is_err());
        assert!(top.exists());
        // A symlink to a directory is not followed.
        std::fs::remove_file(&top).unwrap();
        std::os::unix::fs::symlink(&outside, &top).unwrap();
        assert!(remove_tree_same_fs(&top).is_err());
        assert!(outside.join("keep").exists());
    }

    /// Unmounts (detached) on drop, so a failing test leaves no mount behind.
    struct Mounted(PathBuf);

    impl Drop for Mounted {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }

    fn bind(src: &Path, dst: &Path) -> Mounted {
        nix::mount::mount(Some(src), dst, None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>).unwrap();
        Mounted(dst.to_path_buf())
    }

    #[test]
    fn stops_at_bind_mounts_of_the_same_filesystem() {
        if !is_root() {
            eprintln!("SKIP: needs root");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let host = t.path().join("host");
        std::fs::create_dir(&host).unwrap();
        std::fs::write(host.join("precious"), "x").unwrap();
        let host_file = t.path().join("host-file");
        std::fs::write(&host_file, "y").unwrap();
        let top = t.path().join("pod");
        std::fs::create_dir_all(top.join("deep/shm")).unwrap();
        std::fs::create_dir_all(top.join("other/x")).unwrap();
        std::fs::write(top.join("other/x/f"), "x").unwrap();
        std::fs::write(top.join("hosts"), "").unwrap();
        let m1 = bind(&host, &top.join("deep/shm"));
        let m2 = bind(&host_file, &top.join("hosts"));
        let r = remove_tree_same_fs(&top).unwrap();
        let mut skipped = r.skipped.clone();
        skipped.sort();
        assert_eq!(skipped, [top.join("deep/shm"), top.join("hosts")], "{r:?}");
        assert!(r.failed.is_empty(), "{r:?}");
        assert!(host.join("precious").exists(), "the bind-mounted directory was emptied");
        assert_eq!(std::fs::read_to_string(&host_file).unwrap(), "y");
        assert!(!top.join("other").exists(), "the rest of the tree is removed");
        assert!(top.join("deep/shm/precious").exists());
        // The top itself a mount point: left whole.
        drop((m1, m2));
        let _m3 = bind(&host, &top);
        let r = remove_tree_same_fs(&top).unwrap();
        assert_eq!(r.skipped, std::slice::from_ref(&top));
        assert!(host.join("precious").exists());
    }

    #[test]
    fn stops_at_other_filesystems() {
        if !is_root() {
            eprintln!("SKIP: needs root");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let top = t.path().join("pod");
        let vol = top.join("volumes/mem");
        std::fs::create_dir_all(&vol).unwrap();
        nix::mount::mount(Some("tmpfs"), &vol, Some("tmpfs"), nix::mount::MsFlags::empty(), None::<&str>).unwrap();
        let _m = Mounted(vol.clone());
        std::fs::write(vol.join("data"), "x").unwrap();
        let r = remove_tree_same_fs(&top).unwrap();
        assert_eq!(r.skipped, std::slice::from_ref(&vol));
        assert!(vol.join("data").exists());
    }
}
