//! The child's root filesystem setup, between clone and exec: async-signal-safe only.
//!
//! Every mount point is resolved with openat2(RESOLVE_IN_ROOT) from a fd of the rootfs and
//! mounted through /proc/self/fd/N, so a symlink in the rootfs (or one swapped in by a container
//! sharing a volume) can never redirect a mount to the host (CVE-2021-30465, CVE-2024-45310).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::child::{check, fail};
use super::child_args::{ChildArgs, PathWalk, RootOp, RootfsArgs};
use super::sync::Step;
use super::sys;
use std::ptr::null;

const NO_SYMLINKS: u64 = 0x04; // RESOLVE_NO_SYMLINKS

struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        if self.0 >= 0 {
            // SAFETY: we own this fd.
            unsafe { libc::close(self.0) };
        }
    }
}

fn open_in_root(root: i32, path: &std::ffi::CStr, extra_resolve: u64) -> i32 {
    let how = sys::OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS | extra_resolve,
    };
    // SAFETY: how is on our stack; path is NUL-terminated.
    let r = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root,
            path.as_ptr(),
            std::ptr::addr_of!(how),
            std::mem::size_of::<sys::OpenHow>(),
        )
    };
    if r < 0 {
        -sys::errno()
    } else {
        r as i32
    }
}

/// Opens `walk` inside the root, creating missing components one at a time (directories, or a
/// file for the last one when `file`). Returns an O_PATH fd or -errno.
fn ensure(root: i32, walk: &PathWalk, file: bool, extra_resolve: u64) -> i32 {
    let fd = open_in_root(root, &walk.full, extra_resolve);
    if fd != -libc::ENOENT {
        return fd;
    }
    let mut parent = Fd(-1);
    let n = walk.steps.len();
    for (i, (prefix, name)) in walk.steps.iter().enumerate() {
        let fd = open_in_root(root, prefix, extra_resolve);
        if fd >= 0 {
            parent = Fd(fd);
            continue;
        }
        if fd != -libc::ENOENT {
            return fd;
        }
        let dir = if parent.0 >= 0 { parent.0 } else { root };
        // SAFETY: dir is an open directory fd; name is a single NUL-terminated component.
        let r = unsafe {
            if i + 1 == n && file {
                let f = libc::openat(
                    dir,
                    name.as_ptr(),
                    libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY | libc::O_CLOEXEC,
                    0o644,
                );
                if f >= 0 {
                    libc::close(f);
                }
                f
            } else {
                libc::mkdirat(dir, name.as_ptr(), 0o755)
            }
        };
        if r < 0 && sys::errno() != libc::EEXIST {
            return -sys::errno();
        }
        let fd = open_in_root(root, prefix, extra_resolve);
        if fd < 0 {
            return fd;
        }
        parent = Fd(fd);
    }
    let fd = parent.0;
    std::mem::forget(parent);
    fd
}

fn mount_at(
    src: *const libc::c_char,
    target_fd: i32,
    fstype: *const libc::c_char,
    flags: libc::c_ulong,
    data: *const libc::c_char,
) -> i64 {
    let mut buf = [0u8; 32];
    let target = sys::proc_fd_path(&mut buf, target_fd);
    // SAFETY: all pointers are NUL-terminated strings or NULL.
    unsafe { libc::mount(src, target, fstype, flags, data.cast()) as i64 }
}

fn opt_ptr(s: &Option<std::ffi::CString>) -> *const libc::c_char {
    s.as_ref().map_or(null(), |c| c.as_ptr())
}

/// Everything up to (not including) the read-only/masked paths and pivot_root.
pub(super) fn prepare(args: &ChildArgs, r: &RootfsArgs) {
    let empty = c"";
    // SAFETY: mount with NUL-terminated strings.
    unsafe {
        // Shared or unbindable here would make pivot_root (shared parent) or the rootfs bind
        // (unbindable source) fail: start from rslave and apply those after pivot_root, as runc.
        let early = if r.propagation & (libc::MS_SHARED | libc::MS_UNBINDABLE) != 0 {
            libc::MS_SLAVE | libc::MS_REC
        } else {
            r.propagation
        };
        check(args, libc::mount(null(), c"/".as_ptr(), null(), early, null()) as i64, Step::RootPropagation, 0);
        // A mount of its own, so pivot_root can move it and nothing we mount leaks to the host:
        // the image's overlay, or a bind of the rootfs onto itself.
        let ret = match &r.overlay {
            Some(data) => {
                // Short (relative) lowerdir names resolve against the working directory when
                // the mount is made; pivot_root later sets the container's own.
                let cwd_ok = match &r.overlay_cwd {
                    Some(d) => libc::chdir(d.as_ptr()) as i64,
                    None => 0,
                };
                check(args, cwd_ok, Step::RootBind, 0);
                libc::mount(c"overlay".as_ptr(), r.rootfs.as_ptr(), c"overlay".as_ptr(), 0, data.as_ptr().cast())
            }
            None => {
                libc::mount(r.rootfs.as_ptr(), r.rootfs.as_ptr(), empty.as_ptr(), libc::MS_BIND | libc::MS_REC, null())
            }
        };
        check(args, ret as i64, Step::RootBind, 0);
    }
    // SAFETY: open of our own CString.
    let root = unsafe { libc::open(r.rootfs.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    check(args, root as i64, Step::RootOpen, 0);
    ROOT_FD.store(root, std::sync::atomic::Ordering::Relaxed);

    for (i, op) in r.ops.iter().enumerate() {
        run_op(args, root, op, i);
    }
    if let Some(console) = &r.console {
        let fd = Fd(ensure(root, console, true, 0));
        check(args, fd.0 as i64, Step::ConsoleMount, 0);
        // The slave was opened in runp's mount namespace: a bind of /proc/self/fd/N would name
        // a mount outside ours (EINVAL). Bind its path instead, resolved in our copy of the
        // host's mounts (we are not in the rootfs yet), after checking it is the same device.
        let mut buf = [0u8; 32];
        let link = sys::proc_fd_path(&mut buf, args.console_fd);
        let mut path = [0u8; 256];
        // SAFETY: readlink into a stack buffer, leaving its last byte 0 (NUL-terminated).
        let n = unsafe { libc::readlink(link, path.as_mut_ptr().cast(), path.len() - 1) };
        check(args, n as i64, Step::ConsoleMount, 2);
        // SAFETY: fstat/stat into zeroed stack structs; path is NUL-terminated.
        let same = unsafe {
            let (mut a, mut b): (libc::stat, libc::stat) = (std::mem::zeroed(), std::mem::zeroed());
            libc::fstat(args.console_fd, &mut a) == 0
                && libc::stat(path.as_ptr().cast(), &mut b) == 0
                && a.st_rdev == b.st_rdev
        };
        if !same {
            fail(args, Step::ConsoleMount, 2, libc::ENODEV);
        }
        check(args, mount_at(path.as_ptr().cast(), fd.0, null(), libc::MS_BIND, null()), Step::ConsoleMount, 1);
    }
}

static ROOT_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

fn run_op(args: &ChildArgs, root: i32, op: &RootOp, i: usize) {
    match op {
        RootOp::Mount {
            dest,
            source,
            fstype,
            flags,
            data,
            file,
            no_symlinks,
            propagation,
            remount_flags,
            beneath,
            from_fd,
        } => {
            let extra = if *no_symlinks { NO_SYMLINKS } else { 0 };
            let fd = Fd(ensure(root, dest, *file, extra));
            if fd.0 < 0 {
                fail(args, Step::OpTarget, i, -fd.0);
            }
            match beneath {
                // SAFETY: move_mount of a detached mount fd onto our O_PATH target fd.
                None if *from_fd >= 0 => check(
                    args,
                    unsafe {
                        sys::mount_api::move_mount(
                            *from_fd,
                            fd.0,
                            c"".as_ptr(),
                            sys::mount_api::MOVE_MOUNT_T_EMPTY_PATH,
                        )
                    } as i64,
                    Step::Op,
                    i,
                ),
                None => {
                    check(args, mount_at(source.as_ptr(), fd.0, opt_ptr(fstype), *flags, opt_ptr(data)), Step::Op, i)
                }
                Some(rel) => {
                    // Resolved here, in our own mount namespace, through fds: no swapped-in
                    // symlink can lead outside `source`.
                    // SAFETY: open of a NUL-terminated path owned by args.
                    let base =
                        Fd(unsafe { libc::open(source.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) });
                    check(args, base.0 as i64, Step::Op, i);
                    let src = Fd(open_in_root(base.0, rel, 0));
                    if src.0 < 0 {
                        fail(args, Step::Op, i, -src.0);
                    }
                    let mut buf = [0u8; 32];
                    let p = sys::proc_fd_path(&mut buf, src.0);
                    check(args, mount_at(p, fd.0, null(), *flags, null()), Step::Op, i);
                }
            }
            if propagation.is_empty() && *remount_flags == 0 {
                return;
            }
            // The old fd is the covered directory; the new mount needs a fresh one.
            let top = Fd(open_in_root(root, &dest.full, extra));
            if top.0 < 0 {
                fail(args, Step::OpTarget, i, -top.0);
            }
            if *remount_flags != 0 {
                let f = libc::MS_REMOUNT | libc::MS_BIND | remount_flags | statvfs_flags(top.0);
                check(args, mount_at(null(), top.0, null(), f, null()), Step::OpRemount, i);
            }
            for p in propagation {
                check(args, mount_at(null(), top.0, null(), *p, null()), Step::OpPropagation, i);
            }
        }
        RootOp::Remount { dest, flags } => {
            let fd = Fd(open_in_root(root, &dest.full, 0));
            if fd.0 < 0 {
                fail(args, Step::OpTarget, i, -fd.0);
            }
            check(args, mount_at(null(), fd.0, null(), libc::MS_REMOUNT | flags, null()), Step::OpRemount, i);
        }
        RootOp::Symlink { parent, name, target } => {
            let dir = Fd(ensure(root, parent, false, 0));
            if dir.0 < 0 {
                fail(args, Step::OpTarget, i, -dir.0);
            }
            // SAFETY: NUL-terminated strings and an open directory fd.
            let r = unsafe { libc::symlinkat(target.as_ptr(), dir.0, name.as_ptr()) };
            if r < 0 && sys::errno() != libc::EEXIST {
                fail(args, Step::Op, i, sys::errno());
            }
        }
        RootOp::Device { parent, name, host_path, mode, dev, uid, gid } => {
            let dir = Fd(ensure(root, parent, false, 0));
            if dir.0 < 0 {
                fail(args, Step::OpTarget, i, -dir.0);
            }
            // SAFETY: NUL-terminated strings and an open directory fd.
            let r = unsafe { libc::mknodat(dir.0, name.as_ptr(), *mode, *dev) };
            if r == 0 {
                // SAFETY: as above; never follow a link swapped in after mknod.
                let c = unsafe { libc::fchownat(dir.0, name.as_ptr(), *uid, *gid, libc::AT_SYMLINK_NOFOLLOW) };
                check(args, c as i64, Step::Op, i);
                return;
            }
            match sys::errno() {
                libc::EEXIST => {}
                // In a user namespace mknod is not allowed: bind the host's node instead.
                libc::EPERM => {
                    // SAFETY: as above.
                    let f = unsafe {
                        libc::openat(
                            dir.0,
                            name.as_ptr(),
                            libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY | libc::O_CLOEXEC,
                            0o644,
                        )
                    };
                    check(args, f as i64, Step::Op, i);
                    // SAFETY: we own f.
                    unsafe { libc::close(f) };
                    // SAFETY: as above.
                    let target = Fd(unsafe {
                        libc::openat(dir.0, name.as_ptr(), libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    });
                    check(args, target.0 as i64, Step::Op, i);
                    check(args, mount_at(host_path.as_ptr(), target.0, null(), libc::MS_BIND, null()), Step::Op, i);
                }
                e => fail(args, Step::Op, i, e),
            }
        }
    }
}

/// The MS_* flags a mount already has (nosuid, nodev, noexec...), which a bind remount must keep.
fn statvfs_flags(fd: i32) -> libc::c_ulong {
    // SAFETY: fstatvfs into a zeroed stack struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid out-pointer.
    if unsafe { libc::fstatvfs(fd, &mut st) } != 0 {
        return 0;
    }
    let mut f = 0;
    for (st_flag, ms) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if st.f_flag & st_flag != 0 {
            f |= ms;
        }
    }
    f
}

/// Read-only and masked paths, the read-only root, then pivot_root (or MS_MOVE + chroot).
pub(super) fn finish(args: &ChildArgs, r: &RootfsArgs) {
    let root = ROOT_FD.load(std::sync::atomic::Ordering::Relaxed);
    for (i, p) in r.readonly_paths.iter().enumerate() {
        let fd = Fd(open_in_root(root, &p.full, 0));
        if fd.0 == -libc::ENOENT {
            continue;
        }
        if fd.0 < 0 {
            fail(args, Step::ReadonlyPath, i, -fd.0);
        }
        let mut buf = [0u8; 32];
        let path = sys::proc_fd_path(&mut buf, fd.0);
        check(args, mount_at(path, fd.0, null(), libc::MS_BIND | libc::MS_REC, null()), Step::ReadonlyPath, i);
        let top = Fd(open_in_root(root, &p.full, 0));
        check(args, top.0 as i64, Step::ReadonlyPath, i);
        let f = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | statvfs_flags(top.0);
        check(args, mount_at(null(), top.0, null(), f, null()), Step::ReadonlyPath, i);
    }
    for (i, p) in r.masked_paths.iter().enumerate() {
        let fd = Fd(open_in_root(root, &p.full, 0));
        if fd.0 == -libc::ENOENT {
            continue;
        }
        if fd.0 < 0 {
            fail(args, Step::MaskedPath, i, -fd.0);
        }
        // SAFETY: fstat into a zeroed stack struct.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: st is a valid out-pointer.
        check(args, unsafe { libc::fstat(fd.0, &mut st) } as i64, Step::MaskedPath, i);
        let ret = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            mount_at(c"tmpfs".as_ptr(), fd.0, c"tmpfs".as_ptr(), libc::MS_RDONLY, c"size=0k,nr_inodes=1".as_ptr())
        } else {
            // The host's /dev/null, not the container's (CVE-2025-31133).
            mount_at(c"/dev/null".as_ptr(), fd.0, null(), libc::MS_BIND, null())
        };
        check(args, ret, Step::MaskedPath, i);
    }
    if r.readonly_root {
        let f = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | statvfs_flags(root);
        check(args, mount_at(null(), root, null(), f, null()), Step::ReadonlyRoot, 0);
    }
    // SAFETY: fchdir to our rootfs fd, then path-less mount calls on ".".
    unsafe {
        check(args, libc::fchdir(root) as i64, Step::PivotRoot, 0);
        libc::close(root);
        if r.no_pivot {
            check(
                args,
                libc::mount(c".".as_ptr(), c"/".as_ptr(), null(), libc::MS_MOVE, null()) as i64,
                Step::PivotRoot,
                1,
            );
            check(args, libc::chroot(c".".as_ptr()) as i64, Step::PivotRoot, 2);
        } else {
            // pivot_root(".", "."): the old root ends up stacked on "." and is detached at once.
            check(args, sys::pivot_root(c".".as_ptr(), c".".as_ptr()) as i64, Step::PivotRoot, 3);
            check(
                args,
                libc::mount(null(), c".".as_ptr(), null(), libc::MS_SLAVE | libc::MS_REC, null()) as i64,
                Step::PivotRoot,
                4,
            );
            check(args, libc::umount2(c".".as_ptr(), libc::MNT_DETACH) as i64, Step::PivotRoot, 5);
        }
        check(args, libc::chdir(c"/".as_ptr()) as i64, Step::PivotRoot, 6);
        if r.propagation & (libc::MS_SHARED | libc::MS_UNBINDABLE) != 0 {
            check(
                args,
                libc::mount(null(), c"/".as_ptr(), null(), r.propagation, null()) as i64,
                Step::RootPropagation,
                1,
            );
        }
    }
}
