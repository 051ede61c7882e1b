//! Raw system calls that nix 0.31 does not wrap. Every `libc::syscall` of the crate lives here.
//!
//! These functions allocate nothing and take no locks, so the cloned child may call them.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// `struct clone_args` for clone3(2), laid out as the kernel expects (version 2, 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// What a fork-like clone returned.
pub enum Forked {
    /// In the parent: the child's pid and, when the kernel supports it, a pidfd.
    Parent { pid: i32, pidfd: Option<OwnedFd> },
    /// In the child.
    Child,
}

/// Fork-like clone (no new stack, the child continues here) with namespace `flags`.
/// Uses clone3 with CLONE_PIDFD and falls back to clone(2) + pidfd_open when clone3 is missing.
///
/// # Safety
/// The caller must be single-threaded, and the child may only run async-signal-safe code.
pub unsafe fn fork_with_flags(flags: u64) -> io::Result<Forked> {
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: std::ptr::addr_of_mut!(pidfd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: args is a valid clone_args; with stack 0 the child resumes on a copy of this stack.
    let ret = libc::syscall(libc::SYS_clone3, std::ptr::addr_of_mut!(args), std::mem::size_of::<CloneArgs>());
    if ret == 0 {
        return Ok(Forked::Child);
    }
    if ret > 0 {
        // SAFETY: the kernel stored a fresh pidfd that nothing else owns.
        let fd = (pidfd >= 0).then(|| OwnedFd::from_raw_fd(pidfd));
        return Ok(Forked::Parent { pid: ret as i32, pidfd: fd });
    }
    let err = io::Error::last_os_error();
    if !matches!(err.raw_os_error(), Some(libc::ENOSYS) | Some(libc::E2BIG)) {
        return Err(err);
    }
    // SAFETY: clone(2) with a NULL stack behaves like fork(2) with extra namespace flags.
    let ret = libc::syscall(
        libc::SYS_clone,
        (flags as libc::c_ulong) | libc::SIGCHLD as libc::c_ulong,
        0usize,
        0usize,
        0usize,
        0usize,
    );
    match ret {
        0 => Ok(Forked::Child),
        r if r > 0 => Ok(Forked::Parent { pid: r as i32, pidfd: pidfd_open(r as i32).ok() }),
        _ => Err(io::Error::last_os_error()),
    }
}

/// pidfd_open(2). ENOSYS on old kernels and under valgrind.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// pidfd_send_signal(2): signals exactly the process the pidfd refers to, never a reused pid.
pub fn pidfd_send_signal(pidfd: RawFd, sig: i32) -> io::Result<()> {
    // SAFETY: plain syscall; a NULL siginfo means "as kill(2) would".
    let r = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd, sig, 0usize, 0u32) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// close_range(first, ~0, CLOSE_RANGE_CLOEXEC): marks every fd from `first` up close-on-exec.
/// Async-signal-safe. Returns -1 when the syscall is missing (the caller may ignore that).
pub fn cloexec_from(first: u32) -> i32 {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: plain syscall with integer arguments.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) as i32 }
}

/// Closes every fd from `first` up except those in `keep` (any order; negative entries are
/// ignored). Async-signal-safe: sorts `keep` in place and allocates nothing.
pub fn close_from_except(first: u32, keep: &mut [RawFd]) {
    keep.sort_unstable();
    let mut lo = first;
    for &k in keep.iter() {
        if k < 0 || (k as u32) < lo {
            continue;
        }
        if k as u32 > lo {
            // SAFETY: plain syscall with integer arguments.
            unsafe { libc::syscall(libc::SYS_close_range, lo, k as u32 - 1, 0u32) };
        }
        lo = k as u32 + 1;
    }
    // SAFETY: plain syscall with integer arguments.
    unsafe { libc::syscall(libc::SYS_close_range, lo, u32::MAX, 0u32) };
}

/// Resets `sig` to SIG_DFL with the raw rt_sigaction syscall: glibc's sigaction refuses its
/// internal signals 32 and 33, which a caller may have left ignored
/// (docs/security.md#what-a-container-process-inherits).
pub fn default_signal(sig: i32) -> i32 {
    // The kernel's struct sigaction on x86_64: handler, flags, restorer, mask (all zero = SIG_DFL).
    let act = [0u64; 4];
    // SAFETY: act is a valid kernel sigaction; the old action is not requested.
    unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, act.as_ptr(), std::ptr::null_mut::<u64>(), 8usize) as i32 }
}

/// `struct open_how` for openat2(2).
#[repr(C)]
pub struct OpenHow {
    pub flags: u64,
    pub mode: u64,
    pub resolve: u64,
}

pub const RESOLVE_NO_XDEV: u64 = 0x01;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

/// openat2(dirfd, name, flags | O_CLOEXEC, resolve) as an owned descriptor (not for the
/// child between clone and exec: it allocates nothing, but returns io::Error).
pub fn openat2(dirfd: std::os::fd::BorrowedFd, name: &std::ffi::CStr, flags: i32, resolve: u64) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let how = OpenHow { flags: (flags | libc::O_CLOEXEC) as u64, mode: 0, resolve };
    // SAFETY: `name` is NUL-terminated, `how` is a valid open_how on our stack and its size is
    // passed; the kernel only reads them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd.as_raw_fd(),
            name.as_ptr(),
            std::ptr::addr_of!(how),
            std::mem::size_of::<OpenHow>(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openat2 returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// openat2(dirfd, path, O_PATH|O_CLOEXEC [|extra], RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS):
/// resolves `path` as if `dirfd` were `/`, so symlinks in a hostile rootfs cannot escape it.
/// Async-signal-safe; returns the fd or -errno.
///
/// # Safety
/// `path` must point to a NUL-terminated string.
pub unsafe fn open_in_root(dirfd: RawFd, path: *const libc::c_char, extra_flags: i32) -> RawFd {
    let how = OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC | extra_flags) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `how` is a valid open_how on our stack; the caller guarantees `path`.
    let r = libc::syscall(libc::SYS_openat2, dirfd, path, std::ptr::addr_of!(how), std::mem::size_of::<OpenHow>());
    if r < 0 {
        -errno()
    } else {
        r as RawFd
    }
}

/// pivot_root(2).
///
/// # Safety
/// Both arguments must be NUL-terminated strings.
pub unsafe fn pivot_root(new_root: *const libc::c_char, put_old: *const libc::c_char) -> i32 {
    // SAFETY: forwarded from the caller.
    libc::syscall(libc::SYS_pivot_root, new_root, put_old) as i32
}

/// capset(2) with all three sets for the current thread (version 3: 64-bit masks).
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> i32 {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header { version: 0x2008_0522, pid: 0 };
    let lo = |m: u64| (m & 0xffff_ffff) as u32;
    let hi = |m: u64| (m >> 32) as u32;
    let data = [
        Data { effective: lo(effective), permitted: lo(permitted), inheritable: lo(inheritable) },
        Data { effective: hi(effective), permitted: hi(permitted), inheritable: hi(inheritable) },
    ];
    // SAFETY: header and data are valid for the duration of the call.
    unsafe { libc::syscall(libc::SYS_capset, std::ptr::addr_of!(header), data.as_ptr()) as i32 }
}

/// The current errno, async-signal-safe.
pub fn errno() -> i32 {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Writes "/proc/self/fd/<fd>\0" into `buf` without allocating; returns a pointer to it.
pub fn proc_fd_path(buf: &mut [u8; 32], fd: RawFd) -> *const libc::c_char {
    const PREFIX: &[u8] = b"/proc/self/fd/";
    buf[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut digits = [0u8; 12];
    let mut n = fd.max(0) as u32;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        buf[PREFIX.len() + i] = digits[len - 1 - i];
    }
    buf[PREFIX.len() + len] = 0;
    buf.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fd_path_formats_without_allocating() {
        let mut buf = [0u8; 32];
        for (fd, want) in [(0, "/proc/self/fd/0"), (7, "/proc/self/fd/7"), (1234, "/proc/self/fd/1234")] {
            let p = proc_fd_path(&mut buf, fd);
            // SAFETY: proc_fd_path NUL-terminates the buffer.
            let s = unsafe { std::ffi::CStr::from_ptr(p) };
            assert_eq!(s.to_str().unwrap(), want);
        }
    }
}

/// Reads a file inside `root` (a directory path on the host, e.g. /proc/<pid>/root or a
/// rootfs), resolving `rel` as if `root` were `/`: a symlinked /etc/passwd in a hostile image
/// cannot make runp read a host file (docs/security.md#what-a-container-process-inherits).
/// Reads at most `limit` bytes.
pub fn read_in_root(root: &std::path::Path, rel: &str, limit: usize) -> io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::ffi::OsStrExt;
    let root_c =
        std::ffi::CString::new(root.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let rel_c =
        std::ffi::CString::new(rel.trim_start_matches('/')).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: open of a NUL-terminated path.
    let dir = unsafe { libc::open(root_c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    if dir < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: dir is a new fd we own.
    let dir = unsafe { OwnedFd::from_raw_fd(dir) };
    let how = OpenHow {
        flags: (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    use std::os::fd::AsRawFd;
    // SAFETY: how is a valid open_how; rel_c is NUL-terminated.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            rel_c.as_ptr(),
            std::ptr::addr_of!(how),
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a new fd we own.
    let f = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
    if !f.metadata()?.is_file() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut buf = Vec::new();
    f.take(limit as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Opens `rel` beneath the directory `root` (O_PATH), resolving every symlink as if `root`
/// were `/`, so nothing a container planted in a shared volume can lead outside it
/// (CVE-2017-1002101, subPath). With `create`, missing components are made as directories.
pub fn open_beneath(root: &std::path::Path, rel: &str, create: bool) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c = |s: &[u8]| std::ffi::CString::new(s).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL));
    let root_c = c(root.as_os_str().as_bytes())?;
    // SAFETY: open of a NUL-terminated path.
    let dir = unsafe { libc::open(root_c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    if dir < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: dir is a new fd we own.
    let dir = unsafe { OwnedFd::from_raw_fd(dir) };
    use std::os::fd::AsRawFd;
    let comps: Vec<&str> = rel.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    if comps.contains(&"..") {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut cur = dir.try_clone()?;
    for i in 0..comps.len() {
        let prefix = c(comps[..=i].join("/").as_bytes())?;
        // SAFETY: prefix is NUL-terminated.
        let mut fd = unsafe { open_in_root(dir.as_raw_fd(), prefix.as_ptr(), 0) };
        if fd == -libc::ENOENT && create {
            let name = c(comps[i].as_bytes())?;
            // SAFETY: cur is an open directory fd; name is one component.
            let r = unsafe { libc::mkdirat(cur.as_raw_fd(), name.as_ptr(), 0o755) };
            if r < 0 && errno() != libc::EEXIST {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: as above.
            fd = unsafe { open_in_root(dir.as_raw_fd(), prefix.as_ptr(), 0) };
        }
        if fd < 0 {
            return Err(io::Error::from_raw_os_error(-fd));
        }
        // SAFETY: fd is a new fd we own.
        cur = unsafe { OwnedFd::from_raw_fd(fd) };
    }
    Ok(cur)
}

/// An empty signal mask and every handler back to SIG_DFL (signals 32/33 included, which
/// glibc's sigaction refuses). Rust ignores SIGPIPE and a supervisor blocks what it reads
/// through signalfd: neither may reach a container or a hook. Async-signal-safe.
pub fn reset_signals() {
    // SAFETY: a zeroed sigset on our stack; sigemptyset/sigprocmask are async-signal-safe.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
    for sig in 1..65 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            default_signal(sig);
        }
    }
}

/// The new mount API (Linux 5.2): fsopen, fsconfig, fsmount, move_mount, open_tree.
pub mod mount_api {
    use std::io;
    use std::os::fd::{FromRawFd, OwnedFd, RawFd};

    pub const FSCONFIG_SET_STRING: u32 = 1;
    pub const FSCONFIG_SET_FD: u32 = 5;
    pub const FSCONFIG_CMD_CREATE: u32 = 6;
    pub const MOUNT_ATTR_RDONLY: u32 = 0x1;
    pub const MOUNT_ATTR_NOSUID: u32 = 0x2;
    pub const MOUNT_ATTR_NODEV: u32 = 0x4;
    pub const MOUNT_ATTR_NOEXEC: u32 = 0x8;
    pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
    pub const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
    const FSOPEN_CLOEXEC: u32 = 1;
    const FSMOUNT_CLOEXEC: u32 = 1;

    fn fd_or_err(r: libc::c_long) -> io::Result<OwnedFd> {
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel returned a new fd that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
    }

    /// fsopen(fstype, FSOPEN_CLOEXEC): a filesystem context to configure.
    pub fn fsopen(fstype: &std::ffi::CStr) -> io::Result<OwnedFd> {
        // SAFETY: fstype is NUL-terminated.
        fd_or_err(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) })
    }

    /// fsconfig(fd, FSCONFIG_SET_STRING, key, value).
    pub fn set_string(fs: RawFd, key: &std::ffi::CStr, value: &std::ffi::CStr) -> io::Result<()> {
        // SAFETY: key and value are NUL-terminated.
        let r = unsafe { libc::syscall(libc::SYS_fsconfig, fs, FSCONFIG_SET_STRING, key.as_ptr(), value.as_ptr(), 0) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// fsconfig(fd, FSCONFIG_SET_FD, key, NULL, value_fd).
    pub fn set_fd(fs: RawFd, key: &std::ffi::CStr, value: RawFd) -> io::Result<()> {
        // SAFETY: key is NUL-terminated; the value is an fd.
        let r = unsafe {
            libc::syscall(libc::SYS_fsconfig, fs, FSCONFIG_SET_FD, key.as_ptr(), std::ptr::null::<u8>(), value)
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// fsconfig(FSCONFIG_CMD_CREATE) then fsmount: a detached mount with `attrs`.
    pub fn create_and_mount(fs: RawFd, attrs: u32) -> io::Result<OwnedFd> {
        // SAFETY: integer arguments.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs,
                FSCONFIG_CMD_CREATE,
                std::ptr::null::<u8>(),
                std::ptr::null::<u8>(),
                0,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: integer arguments.
        fd_or_err(unsafe { libc::syscall(libc::SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs) })
    }

    /// move_mount(from_fd, "", to_dirfd, to_path, flags). Async-signal-safe; returns 0 or -1.
    ///
    /// # Safety
    /// `to_path` must be NUL-terminated.
    pub unsafe fn move_mount(from: RawFd, to_dirfd: RawFd, to_path: *const libc::c_char, flags: u32) -> i32 {
        // SAFETY: forwarded from the caller; the source path is the empty string.
        libc::syscall(libc::SYS_move_mount, from, c"".as_ptr(), to_dirfd, to_path, MOVE_MOUNT_F_EMPTY_PATH | flags)
            as i32
    }
}

/// Attaches a detached mount (an fsmount fd) at `path` in our mount namespace.
pub fn attach_mount(mount: &OwnedFd, path: &std::path::Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let p =
        std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: p is NUL-terminated; the fd is a mount fd we own.
    if unsafe { mount_api::move_mount(mount.as_raw_fd(), libc::AT_FDCWD, p.as_ptr(), 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// memfd_create(name, MFD_CLOEXEC): an anonymous file (libseccomp exports its BPF into one).
pub fn memfd(name: &std::ffi::CStr) -> io::Result<std::fs::File> {
    // SAFETY: name is NUL-terminated; memfd_create has no other preconditions.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd that nothing else owns.
    Ok(std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}
