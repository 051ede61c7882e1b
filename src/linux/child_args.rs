//! Everything the cloned child needs, built in the PARENT: every string is a CString, every
//! pointer array is ready, every mask is computed. The child only reads this structure.

use crate::plan::seccomp::BpfProgram;
use crate::plan::CapSets;
use anyhow::{anyhow, Result};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// A NULL-terminated array of C strings (argv / envp) that owns its strings.
pub struct CStringArray {
    _owned: Vec<CString>,
    ptrs: Vec<*const libc::c_char>,
}

impl CStringArray {
    pub fn new(items: &[String]) -> Result<Self> {
        let owned: Vec<CString> = items.iter().map(|s| cstr(s)).collect::<Result<_>>()?;
        let mut ptrs: Vec<*const libc::c_char> = owned.iter().map(|c| c.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        Ok(CStringArray { _owned: owned, ptrs })
    }

    pub fn as_ptr(&self) -> *const *const libc::c_char {
        self.ptrs.as_ptr()
    }
}

pub fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| anyhow!("{s:?} contains a NUL byte"))
}

/// A path inside the rootfs, relative to it, with the prefixes needed to create it one
/// component at a time (`dev/pts` → [`dev`, `dev/pts`]).
pub struct PathWalk {
    pub full: CString,
    /// (prefix relative to the rootfs, last component of that prefix)
    pub steps: Vec<(CString, CString)>,
}

impl PathWalk {
    /// `path` is absolute inside the container.
    pub fn new(path: &str) -> Result<Self> {
        let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
        if comps.contains(&"..") {
            return Err(anyhow!("{path:?} contains \"..\""));
        }
        let full = if comps.is_empty() { ".".to_string() } else { comps.join("/") };
        let mut steps = Vec::with_capacity(comps.len());
        for i in 0..comps.len() {
            steps.push((cstr(&comps[..=i].join("/"))?, cstr(comps[i])?));
        }
        Ok(PathWalk { full: cstr(&full)?, steps })
    }
}

/// One step of building the container's root filesystem.
pub enum RootOp {
    /// mount(source, <dest>, fstype, flags, data), then propagation changes, then a read-only
    /// (or flag) remount for bind mounts.
    Mount {
        dest: PathWalk,
        source: CString,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
        /// The mount point is a file (bind of a non-directory).
        file: bool,
        /// proc and sysfs must land on a real directory: refuse symlinks (CVE-2019-19921).
        no_symlinks: bool,
        propagation: Vec<libc::c_ulong>,
        /// For binds: flags to apply with MS_REMOUNT|MS_BIND afterwards (0 = none).
        remount_flags: libc::c_ulong,
        /// Bind the path resolved beneath `source` (RESOLVE_IN_ROOT), not `source` itself.
        beneath: Option<CString>,
        /// A detached mount (fsmount) to move onto the target instead of mounting `source`:
        /// the proc filesystem of a PID namespace the child is not in yet. -1 = none.
        from_fd: RawFd,
    },
    /// MS_REMOUNT an existing mount point with these flags (e.g. the cgroup tmpfs read-only).
    Remount { dest: PathWalk, flags: libc::c_ulong },
    /// symlinkat(target, <parent>, name); an existing entry is left alone.
    Symlink { parent: PathWalk, name: CString, target: CString },
    /// A device node: mknodat, or a bind of the host node where mknod is not permitted.
    Device {
        parent: PathWalk,
        name: CString,
        host_path: CString,
        mode: libc::mode_t,
        dev: libc::dev_t,
        uid: u32,
        gid: u32,
    },
}

pub struct RootfsArgs {
    pub rootfs: CString,
    /// overlay mount data (`lowerdir=..,upperdir=..,workdir=..`) mounted on `rootfs` first.
    pub overlay: Option<CString>,
    /// Where a relative `lowerdir=` resolves: the overlay is mounted from this directory.
    pub overlay_cwd: Option<CString>,
    pub propagation: libc::c_ulong,
    pub ops: Vec<RootOp>,
    /// Human descriptions of `ops`, for error messages (never read by the child).
    pub op_names: Vec<String>,
    /// /dev/console target, when the process has a terminal.
    pub console: Option<PathWalk>,
    pub readonly_paths: Vec<PathWalk>,
    pub masked_paths: Vec<PathWalk>,
    pub readonly_root: bool,
    pub no_pivot: bool,
}

/// The whole child program's input.
pub struct ChildArgs {
    /// Our end of the parent↔child socketpair (SOCK_SEQPACKET, CLOEXEC).
    pub sync_fd: RawFd,
    /// Read one byte from it before exec (the exec.fifo of `create`); -1 = none.
    pub gate_fd: RawFd,
    /// Namespaces to join, in order (user first): (fd, CLONE_NEW* type).
    pub joins: Vec<(OwnedFd, libc::c_int)>,
    /// Namespaces to unshare once the parent has placed us in our cgroup (the cgroup namespace).
    pub unshare_flags: libc::c_int,
    pub hostname: Option<CString>,
    pub domainname: Option<CString>,
    pub rootfs: Option<RootfsArgs>,
    /// Stop before pivot_root so that the parent can run createRuntime/createContainer hooks.
    pub pause_for_hooks: bool,
    /// (/proc/sys/... path, value), written through the host's procfs before pivot_root.
    pub sysctls: Vec<(CString, CString)>,
    pub rlimits: Vec<(libc::c_int, libc::rlimit)>,
    pub umask: libc::mode_t,
    /// The pty slave to become fds 0-2 and the controlling terminal; -1 = none.
    pub console_fd: RawFd,
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    pub groups: Vec<libc::gid_t>,
    pub caps: CapSets,
    pub last_cap: u8,
    pub no_new_privs: bool,
    pub seccomp: Option<BpfProgram>,
    pub cwd: CString,
    pub candidates: Vec<CString>,
    pub argv: CStringArray,
    pub envp: CStringArray,
    /// Every fd from this number up is marked close-on-exec before exec.
    pub first_closed_fd: u32,
    /// fds to become 0, 1, 2 (-1: keep the inherited one).
    pub stdio: [RawFd; 3],
    /// Our parent's pid when the container must die with it (a pod supervisor): SIGKILL on
    /// parent death, set right before exec (a uid change clears it).
    pub die_with_parent: Option<i32>,
    /// More fds the child needs until exec (mount sources given as /proc/self/fd/N).
    pub keep_fds: Vec<RawFd>,
    /// A PID namespace to join only once confined (-1: none, or joined by the parent): the
    /// process that execs is forked into it by a first stage that runs outside it.
    pub late_pid_ns: RawFd,
    /// In a new or joined user namespace: become its root (setresuid/setresgid 0) once the id
    /// maps are written, so the mounts and mkdirs of the rootfs setup are done by a mapped id.
    pub become_root: bool,
    /// Spawned with `spawn::spawn_direct` (vfork-style, the parent suspended until exec): no
    /// handshake with the parent, which cannot answer; errors are still reported.
    pub direct: bool,
    /// cgroup.procs files the child writes "0" to first thing (the parent cannot attach a
    /// direct child: it is suspended).
    pub cgroup_procs: Vec<RawFd>,
}

impl ChildArgs {
    pub fn set_sync(&mut self, fd: &OwnedFd) {
        self.sync_fd = fd.as_raw_fd();
    }
}
