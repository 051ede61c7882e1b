//! The cloned child, from clone to execve. Async-signal-safe only: no allocation, no locks, no
//! logging, no panics. It reads `ChildArgs` (built by the parent) and makes raw libc calls.
//! Any failure sends one fixed-size `Report` to the parent and exits.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::child_args::ChildArgs;
use super::child_rootfs;
use super::sync::{Report, Step, GO, KIND_ERROR, KIND_HOOKS, KIND_PID, KIND_READY};
use super::sys;

/// Sends an error report and exits. Never returns.
pub(super) fn fail(args: &ChildArgs, step: Step, index: usize, errno: i32) -> ! {
    send(args, Report { kind: KIND_ERROR, step: step as u32, index: index as u32, errno });
    // SAFETY: _exit is async-signal-safe and skips atexit handlers and destructors.
    unsafe { libc::_exit(1) }
}

/// Fails with the current errno when `ret` is negative.
pub(super) fn check(args: &ChildArgs, ret: i64, step: Step, index: usize) {
    if ret < 0 {
        fail(args, step, index, sys::errno());
    }
}

fn send(args: &ChildArgs, r: Report) {
    let b = r.to_bytes();
    // SAFETY: b is a valid buffer; MSG_NOSIGNAL: a vanished parent must not SIGPIPE us.
    unsafe { libc::send(args.sync_fd, b.as_ptr().cast(), b.len(), libc::MSG_NOSIGNAL) };
}

/// Blocks until the parent sends GO. EOF (the parent died) or anything else ends the child,
/// so a killed `create` never leaves a half-built container behind.
fn wait_go(fd: i32) {
    let mut b = [0u8; 1];
    loop {
        // SAFETY: reading one byte into a stack buffer.
        let n = unsafe { libc::read(fd, b.as_mut_ptr().cast(), 1) };
        if n == 1 && b[0] == GO {
            return;
        }
        if n < 0 && sys::errno() == libc::EINTR {
            continue;
        }
        // SAFETY: see fail().
        unsafe { libc::_exit(1) }
    }
}

/// The child program. Never returns.
///
/// With `late_pid_ns`, this process (the first stage) runs outside the PID namespace it is to
/// join: nothing in that namespace can see it while it still holds the host's root and
/// capabilities. Once confined (root, ids, capabilities, no_new_privs), it forks the second
/// stage into the namespace, which only has to exec (see `split_into_pid_ns`).
pub(super) fn run(args: &ChildArgs) -> ! {
    sys::reset_signals();
    if args.late_pid_ns >= 0 {
        // Only changes where our children go; needs CAP_SYS_ADMIN, so done while we have it.
        // SAFETY: setns on a PID namespace fd the parent opened and checked.
        check(args, unsafe { libc::setns(args.late_pid_ns, libc::CLONE_NEWPID) } as i64, Step::PidNs, 0);
    }
    for (i, fd) in args.cgroup_procs.iter().enumerate() {
        // SAFETY: writing a static buffer to a cgroup.procs fd the parent opened ("0": us).
        check(args, unsafe { libc::write(*fd, b"0".as_ptr().cast(), 1) } as i64, Step::Cgroup, i);
    }
    for (target, fd) in args.stdio.iter().enumerate() {
        if *fd >= 0 {
            // SAFETY: dup2 of an fd the parent gave us.
            check(args, unsafe { libc::dup2(*fd, target as i32) } as i64, Step::Console, 2);
        }
    }
    // Until execve, nothing in the container may open our /proc entries (CVE-2019-5736).
    // SAFETY: prctl with integer arguments.
    check(args, unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } as i64, Step::Dumpable, 0);
    // Close, not just CLOEXEC, every other fd of runp and its caller now: the created init must
    // hold no host fd, and no /proc/self/fd/N cwd or argv[0] may reach one (CVE-2024-21626).
    let mut keep = [-1; 48];
    keep[0] = args.sync_fd;
    keep[1] = args.gate_fd;
    keep[2] = args.console_fd;
    let joined = args.joins.iter().map(|(fd, _)| std::os::fd::AsRawFd::as_raw_fd(fd));
    for (slot, fd) in keep.iter_mut().skip(3).zip(joined.chain(args.keep_fds.iter().copied())) {
        *slot = fd;
    }
    sys::close_from_except(args.first_closed_fd, &mut keep);

    for (i, (fd, nstype)) in args.joins.iter().enumerate() {
        // SAFETY: setns on a namespace fd the parent opened and checked.
        check(args, unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(fd), *nstype) } as i64, Step::Setns, i);
    }
    if !args.direct {
        wait_go(args.sync_fd);
    }
    if args.become_root {
        // Our ids are still the caller's, unmapped in the user namespace: mkdir on a tmpfs
        // mounted inside it would fail with EOVERFLOW. The maps exist now (runc does the same).
        // SAFETY: setres[ug]id with integer arguments.
        check(args, unsafe { libc::setresgid(0, 0, 0) } as i64, Step::Setgid, 1);
        // SAFETY: as above.
        check(args, unsafe { libc::setresuid(0, 0, 0) } as i64, Step::Setuid, 1);
    }
    if args.unshare_flags != 0 {
        // SAFETY: unshare with flags.
        check(args, unsafe { libc::unshare(args.unshare_flags) } as i64, Step::Unshare, 0);
    }
    if let Some(h) = &args.hostname {
        // SAFETY: pointer and length of a CString we own.
        check(args, unsafe { libc::sethostname(h.as_ptr(), h.as_bytes().len()) } as i64, Step::Hostname, 0);
    }
    if let Some(d) = &args.domainname {
        // SAFETY: pointer and length of a CString we own.
        check(args, unsafe { libc::setdomainname(d.as_ptr(), d.as_bytes().len()) } as i64, Step::Domainname, 0);
    }
    // Device nodes get exactly the modes asked for.
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(0) };
    for (i, (path, value)) in args.sysctls.iter().enumerate() {
        write_file(args, path.as_ptr(), value.as_bytes(), Step::Sysctl, i);
    }
    if let Some(rootfs) = &args.rootfs {
        child_rootfs::prepare(args, rootfs);
        if args.pause_for_hooks {
            send(args, Report { kind: KIND_HOOKS, ..Default::default() });
            wait_go(args.sync_fd);
        }
        child_rootfs::finish(args, rootfs);
    }
    for (i, (res, lim)) in args.rlimits.iter().enumerate() {
        // SAFETY: lim is a valid rlimit.
        check(args, unsafe { libc::setrlimit(*res as _, lim) } as i64, Step::Rlimit, i);
    }
    let exe = lookup(args);
    if !args.no_new_privs {
        // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it before dropping caps.
        load_seccomp(args);
    }
    set_user_and_caps(args);
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(args.umask) };
    chdir_checked(args);
    if args.no_new_privs {
        // SAFETY: prctl with integer arguments.
        check(args, unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } as i64, Step::NoNewPrivs, 0);
    }
    // Only stdio and preserved fds survive exec (CVE-2024-21626). Our own fds are CLOEXEC.
    sys::cloexec_from(args.first_closed_fd);
    if args.late_pid_ns >= 0 {
        split_into_pid_ns(args);
    }
    exec_stage(args, exe)
}

/// The first stage forks the second into the PID namespace it joined (CLONE_PARENT: the second
/// is our parent's child, which waits for and signals it), reports its pid and exits. Returns
/// in the second stage only. The second stage is born confined: the container's mount
/// namespace and root, its ids and capabilities; it has its own copy of memory (never our
/// parent's, which a direct spawn shares), so a process of the container that may ptrace it
/// gains nothing. It is forked like fork(2), on a copy of this stack.
fn split_into_pid_ns(args: &ChildArgs) {
    // The second stage gets no fd it does not need: not the namespace fds, not the mount
    // sources of the rootfs setup (a host directory would be a way out through /proc/<pid>/fd).
    let mut keep = [args.sync_fd, args.gate_fd, args.console_fd];
    sys::close_from_except(args.first_closed_fd, &mut keep);
    // The second stage says nothing until our report is sent (we exit right after it: EOF on
    // this pipe), or its READY could reach the parent before the pid it belongs to.
    let mut order = [-1i32; 2];
    // SAFETY: pipe2 into a two-int array on our stack.
    check(args, unsafe { libc::pipe2(order.as_mut_ptr(), libc::O_CLOEXEC) } as i64, Step::Fork, 1);
    // SAFETY: a fork-like clone (no new stack, no shared memory); the exit signal is ours.
    let pid =
        unsafe { libc::syscall(libc::SYS_clone, libc::CLONE_PARENT as libc::c_ulong, 0usize, 0usize, 0usize, 0usize) };
    if pid == 0 {
        let mut b = 0u8;
        // SAFETY: close/read on the pipe fds made above, into a stack byte.
        unsafe {
            libc::close(order[1]);
            while libc::read(order[0], std::ptr::addr_of_mut!(b).cast(), 1) < 0 && sys::errno() == libc::EINTR {}
            libc::close(order[0]);
        }
        return;
    }
    check(args, pid, Step::Fork, 0);
    send(args, Report { kind: KIND_PID, errno: pid as i32, ..Default::default() });
    // SAFETY: see fail(); exiting closes our end of the pipe, which lets the second stage go on.
    unsafe { libc::_exit(0) }
}

/// From a new session to execve: all that a process visible in the container does.
fn exec_stage(args: &ChildArgs, exe: *const libc::c_char) -> ! {
    // A new session: the container never shares the caller's controlling tty (CVE-2017-5226).
    // SAFETY: setsid has no arguments; we are not a process group leader.
    check(args, unsafe { libc::setsid() } as i64, Step::Setsid, 0);
    if args.console_fd >= 0 {
        // SAFETY: the fd is the pty slave the parent opened for us.
        unsafe {
            check(args, libc::ioctl(args.console_fd, libc::TIOCSCTTY, 0) as i64, Step::Console, 0);
            for target in 0..3 {
                check(args, libc::dup2(args.console_fd, target) as i64, Step::Console, 1);
            }
        }
    }
    if !args.direct {
        send(args, Report { kind: KIND_READY, ..Default::default() });
        wait_go(args.sync_fd);
    }
    if args.gate_fd >= 0 {
        wait_go(args.gate_fd);
    }
    if let Some(parent) = args.die_with_parent {
        // SAFETY: prctl/getppid with integer arguments.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            // getppid() reads 0 when the parent is outside our PID namespace.
            let ppid = libc::getppid();
            if ppid != parent && ppid != 0 {
                libc::_exit(1);
            }
        }
    }
    if args.no_new_privs {
        load_seccomp(args);
    }
    // SAFETY: exe, argv and envp are NUL-terminated arrays built by the parent.
    unsafe { libc::execve(exe, args.argv.as_ptr(), args.envp.as_ptr()) };
    fail(args, Step::Exec, 0, sys::errno())
}

/// Writes `data` to a file that must already exist (sysctls), never creating or following links.
pub(super) fn write_file(args: &ChildArgs, path: *const libc::c_char, data: &[u8], step: Step, i: usize) {
    // SAFETY: path is a CString owned by args; data is a valid slice.
    unsafe {
        let fd = libc::open(path, libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW);
        check(args, fd as i64, step, i);
        let n = libc::write(fd, data.as_ptr().cast(), data.len());
        if n < 0 {
            fail(args, step, i, sys::errno());
        }
        libc::close(fd);
    }
}

/// Finds the first executable candidate inside the container (PATH lookup without allocation).
fn lookup(args: &ChildArgs) -> *const libc::c_char {
    let mut err = libc::ENOENT;
    for c in &args.candidates {
        // SAFETY: stat into a zeroed stack struct; c is a CString.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: c is a NUL-terminated path; st is a valid out-pointer.
        if unsafe { libc::stat(c.as_ptr(), &mut st) } != 0 {
            continue;
        }
        if st.st_mode & libc::S_IFMT == libc::S_IFREG && st.st_mode & 0o111 != 0 {
            return c.as_ptr();
        }
        err = libc::EACCES;
    }
    fail(args, Step::Lookup, 0, err)
}

fn load_seccomp(args: &ChildArgs) {
    if let Some(prog) = &args.seccomp {
        // SAFETY: the program was compiled and checked by the parent.
        if let Err(e) = unsafe { super::seccomp::load(prog) } {
            fail(args, Step::Seccomp, 0, e);
        }
    }
}

/// Bounding set, then groups and ids (keeping capabilities across setuid), then the other sets.
fn set_user_and_caps(args: &ChildArgs) {
    let caps = &args.caps;
    // SAFETY: prctl/setgroups/setres[ug]id with integer arguments or our own buffers.
    unsafe {
        for cap in 0..=args.last_cap {
            if caps.bounding & (1u64 << cap) == 0 {
                check(
                    args,
                    libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) as i64,
                    Step::Bounding,
                    cap as usize,
                );
            }
        }
        check(args, libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) as i64, Step::Capset, 0);
        // Exactly the spec's groups, never the caller's (CVE-2022-36109).
        check(args, libc::setgroups(args.groups.len(), args.groups.as_ptr()) as i64, Step::Setgroups, 0);
        check(args, libc::setresgid(args.gid, args.gid, args.gid) as i64, Step::Setgid, 0);
        check(args, libc::setresuid(args.uid, args.uid, args.uid) as i64, Step::Setuid, 0);
        check(args, libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) as i64, Step::Capset, 1);
    }
    check(args, sys::capset(caps.effective, caps.permitted, caps.inheritable) as i64, Step::Capset, 2);
    for cap in 0..=args.last_cap {
        if caps.ambient & (1u64 << cap) != 0 {
            // SAFETY: prctl with integer arguments.
            let r = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                    cap as libc::c_ulong,
                    0,
                    0,
                )
            };
            check(args, r as i64, Step::Ambient, cap as usize);
        }
    }
}

/// chdir(cwd), then make sure the kernel agrees we are inside the root (CVE-2024-21626: a cwd
/// reached through a leaked fd shows as "(unreachable)" and getcwd fails).
fn chdir_checked(args: &ChildArgs) {
    // SAFETY: cwd is a CString; buf is a stack buffer.
    unsafe {
        check(args, libc::chdir(args.cwd.as_ptr()) as i64, Step::Chdir, 0);
        let mut buf = [0 as libc::c_char; 4096];
        let p = libc::getcwd(buf.as_mut_ptr(), buf.len());
        if p.is_null() {
            fail(args, Step::Chdir, 1, sys::errno());
        }
        if buf[0] != b'/' as libc::c_char {
            fail(args, Step::Chdir, 1, libc::ENOENT);
        }
    }
}
