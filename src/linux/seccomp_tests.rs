//! Behaviour of compiled filters once loaded, in forked children: `plan::seccomp::compile`
//! followed by `linux::seccomp::load`.

use super::seccomp::load;
use crate::plan::seccomp::*;
use oci_spec::runtime::LinuxSeccomp;
use serde_json::json;

/// Syscalls a (forked) Rust test process needs to run the child bodies
/// below and to exit.
const BASE_ALLOW: &[&str] = &[
    "read",
    "write",
    "close",
    "exit",
    "exit_group",
    "rt_sigreturn",
    "rt_sigaction",
    "rt_sigprocmask",
    "sigaltstack",
    "mmap",
    "munmap",
    "mprotect",
    "madvise",
    "brk",
    "futex",
    "getpid",
    "gettid",
    "tgkill",
    "sched_yield",
    "clock_gettime",
    "wait4",
];

fn parse(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).expect("test profile must parse")
}

/// An allow-list profile: default ERRNO(38), `BASE_ALLOW` allowed, plus
/// the given extra rules.
fn allow_list(extra: serde_json::Value) -> LinuxSeccomp {
    let mut syscalls = vec![json!({"names": BASE_ALLOW, "action": "SCMP_ACT_ALLOW"})];
    syscalls.extend(extra.as_array().expect("array").iter().cloned());
    parse(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": syscalls,
    }))
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Exited(i32),
    Signaled(i32),
}

/// Result of a raw syscall: `Ok(return value)` or `Err(errno)`.
/// Async-signal-safe.
fn sys(nr: libc::c_long, a: [libc::c_ulong; 6]) -> Result<libc::c_long, i32> {
    // SAFETY: the tests only issue syscalls whose pointer arguments are
    // null or point to live, NUL-terminated data prepared before fork.
    let rc = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if rc == -1 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(rc)
    }
}

/// Forks; the child sets no_new_privs, loads `prog`, runs `body` and
/// `_exit`s with its return value. Child exit codes 200..=202 mean the
/// set-up failed. `body` must be async-signal-safe (no allocation).
fn run_filtered(prog: &BpfProgram, body: &dyn Fn() -> i32) -> Outcome {
    // SAFETY: after fork the child only calls async-signal-safe functions
    // (setrlimit, prctl, seccomp, raw syscalls, _exit) and never returns.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: plain system calls on values owned by this frame; the
        // child ends with _exit and never unwinds into the test harness.
        unsafe {
            let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            if libc::setrlimit(libc::RLIMIT_CORE, &no_core) != 0 {
                libc::_exit(200);
            }
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                libc::_exit(201);
            }
            if load(prog).is_err() {
                libc::_exit(202);
            }
            libc::_exit(body());
        }
    }
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child with a valid status pointer.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        assert_eq!(err.raw_os_error(), Some(libc::EINTR), "waitpid: {err}");
    }
    if libc::WIFEXITED(status) {
        Outcome::Exited(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        Outcome::Signaled(libc::WTERMSIG(status))
    } else {
        panic!("unexpected wait status {status:#x}");
    }
}

#[test]
fn allow_list_default_errno() {
    let prog = compile(&allow_list(json!([]))).expect("compile");
    let body = || {
        if sys(libc::SYS_getpid, [0; 6]).is_err() {
            return 100; // allowed syscall failed
        }
        match sys(libc::SYS_getppid, [0; 6]) {
            Err(e) => e,
            Ok(_) => 101, // getppid is not in the allow list
        }
    };
    assert_eq!(run_filtered(&prog, &body), Outcome::Exited(libc::ENOSYS));
}

#[test]
fn deny_list_mkdir() {
    let profile = parse(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
    }));
    let prog = compile(&profile).expect("compile");
    assert_eq!(prog.flags, libc::SECCOMP_FILTER_FLAG_TSYNC as u32);

    let dir = std::env::temp_dir().join(format!("runp-seccomp-{}", std::process::id()));
    let _ = std::fs::remove_dir(&dir);
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).expect("path");
    let body = || {
        let at_fdcwd = libc::AT_FDCWD as libc::c_ulong;
        let p = path.as_ptr() as libc::c_ulong;
        match sys(libc::SYS_mkdirat, [at_fdcwd, p, 0o700, 0, 0, 0]) {
            Err(libc::EPERM) => {}
            Err(_) => return 100,
            Ok(_) => return 101,
        }
        match sys(libc::SYS_mkdir, [p, 0o700, 0, 0, 0, 0]) {
            Err(libc::EPERM) => {}
            _ => return 102,
        }
        if sys(libc::SYS_getppid, [0; 6]).is_err() {
            return 103;
        }
        0
    };
    assert_eq!(run_filtered(&prog, &body), Outcome::Exited(0));
    assert!(!dir.exists(), "mkdir must have been blocked");
}

#[test]
fn args_eq_personality() {
    let prog = compile(&allow_list(json!([{
        "names": ["personality"],
        "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}],
    }])))
    .expect("compile");
    let body = || {
        if sys(libc::SYS_personality, [0; 6]).is_err() {
            return 100;
        }
        match sys(libc::SYS_personality, [8, 0, 0, 0, 0, 0]) {
            Err(e) => e,
            Ok(_) => 101,
        }
    };
    assert_eq!(run_filtered(&prog, &body), Outcome::Exited(libc::ENOSYS));
}

#[test]
fn args_with_distinct_indexes_are_anded() {
    // getpriority(which, who) allowed only for (PRIO_PROCESS, 0).
    let prog = compile(&allow_list(json!([{
        "names": ["getpriority"],
        "action": "SCMP_ACT_ALLOW",
        "args": [
            {"index": 0, "value": libc::PRIO_PROCESS, "op": "SCMP_CMP_EQ"},
            {"index": 1, "value": 0, "op": "SCMP_CMP_EQ"},
        ],
    }])))
    .expect("compile");
    let prio_process = libc::PRIO_PROCESS as libc::c_ulong;
    let prio_pgrp = libc::PRIO_PGRP as libc::c_ulong;
    let body = || {
        if sys(libc::SYS_getpriority, [prio_process, 0, 0, 0, 0, 0]).is_err() {
            return 100;
        }
        // Only arg0 matches: must be denied.
        if sys(libc::SYS_getpriority, [prio_process, 1, 0, 0, 0, 0]) != Err(libc::ENOSYS) {
            return 101;
        }
        // Only arg1 matches: must be denied.
        if sys(libc::SYS_getpriority, [prio_pgrp, 0, 0, 0, 0, 0]) != Err(libc::ENOSYS) {
            return 102;
        }
        0
    };
    assert_eq!(run_filtered(&prog, &body), Outcome::Exited(0));
}

#[test]
fn args_with_same_index_are_ored() {
    let prog = compile(&allow_list(json!([{
        "names": ["personality"],
        "action": "SCMP_ACT_ALLOW",
        "args": [
            {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
            {"index": 0, "value": 0xffff_ffffu32, "op": "SCMP_CMP_EQ"},
        ],
    }])))
    .expect("compile");
    let body = || {
        if sys(libc::SYS_personality, [0; 6]).is_err() {
            return 100;
        }
        if sys(libc::SYS_personality, [0xffff_ffff, 0, 0, 0, 0, 0]).is_err() {
            return 101;
        }
        match sys(libc::SYS_personality, [0x0002_0000, 0, 0, 0, 0, 0]) {
            Err(e) => e,
            Ok(_) => 102,
        }
    };
    assert_eq!(run_filtered(&prog, &body), Outcome::Exited(libc::ENOSYS));
}

#[test]
fn masked_eq_clone_like_docker() {
    // Docker's rule: allow clone unless any namespace flag is set:
    // (flags & 0x7E020000) == 0.
    let prog = compile(&allow_list(json!([{
        "names": ["clone"],
        "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": 0x7E02_0000u32, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
    }])))
    .expect("compile");
    // CLONE_SIGHAND without CLONE_VM passes the filter but is rejected by
    // the kernel with EINVAL before anything is created.
    let sighand = libc::CLONE_SIGHAND as libc::c_ulong;
    let newuser = libc::CLONE_NEWUSER as libc::c_ulong;
    let newns = libc::CLONE_NEWNS as libc::c_ulong;
    let body = || {
        if sys(libc::SYS_clone, [sighand, 0, 0, 0, 0, 0]) != Err(libc::EINVAL) {
            return 100;
        }
        if sys(libc::SYS_clone, [sighand | newuser, 0, 0, 0, 0, 0]) != Err(libc::ENOSYS) {
            return 101;
        }
        if sys(libc::SYS_clone, [sighand | newns, 0, 0, 0, 0, 0]) != Err(libc::ENOSYS) {
            return 102;
        }
        0
    };
    assert_eq!(run_filtered(&prog, &body), Outcome::Exited(0));
}

#[test]
fn kill_and_trap_actions_raise_sigsys() {
    for action in ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"] {
        let profile = parse(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": action}],
        }));
        let prog = compile(&profile).expect("compile");
        let body = || {
            let _ = sys(libc::SYS_getppid, [0; 6]);
            100
        };
        assert_eq!(run_filtered(&prog, &body), Outcome::Signaled(libc::SIGSYS), "{action}");
    }
}

#[test]
fn multi_arch_x86_64_x86_x32() {
    let mut profile = allow_list(json!([]));
    profile.set_architectures(Some(
        serde_json::from_value(json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])).expect("arches"),
    ));
    let prog = compile(&profile).expect("compile");
    let body = || match sys(libc::SYS_getppid, [0; 6]) {
        Err(e) => e,
        Ok(_) => 100,
    };
    assert_eq!(run_filtered(&prog, &body), Outcome::Exited(libc::ENOSYS));
}

#[test]
fn export_decodes_instructions() {
    let prog = compile(&allow_list(json!([]))).expect("compile");
    assert!(prog.filters.len() > BASE_ALLOW.len());
    // libseccomp always starts by loading seccomp_data.arch (offset 4).
    let first = prog.filters[0];
    assert_eq!(first.code, (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16);
    assert_eq!(first.k, 4);
    // ... and ends with a return.
    let last = prog.filters[prog.filters.len() - 1];
    assert_eq!(last.code & 0x07, libc::BPF_RET as u16);
    assert_eq!(prog.flags, 0);
}

#[test]
fn notify_is_rejected() {
    let profile = parse(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"},
        ],
    }));
    let err = compile(&profile).expect_err("notify must fail").to_string();
    assert_eq!(err, "linux.seccomp.syscalls[1].action: SCMP_ACT_NOTIFY is not supported");

    let profile = parse(json!({"defaultAction": "SCMP_ACT_NOTIFY"}));
    let err = compile(&profile).expect_err("notify must fail").to_string();
    assert_eq!(err, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not supported");

    let profile = parse(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock",
    }));
    let err = compile(&profile).expect_err("listener must fail").to_string();
    assert!(err.contains("SCMP_ACT_NOTIFY is not supported"), "{err}");
    assert!(err.starts_with("linux.seccomp.listenerPath"), "{err}");
}

#[test]
fn flags_are_mapped_and_unknown_flags_rejected() {
    let profile = parse(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": [
            "SECCOMP_FILTER_FLAG_TSYNC",
            "SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        ],
    }));
    let prog = compile(&profile).expect("compile");
    assert_eq!(prog.flags, 0b111);

    // Unknown names never reach compile(): oci-spec rejects them.
    let bad: Result<LinuxSeccomp, _> = serde_json::from_value(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_FOO"],
    }));
    assert!(bad.is_err());

    // Known to oci-spec, not supported here.
    let profile = parse(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
    }));
    let err = compile(&profile).expect_err("must fail").to_string();
    assert!(err.starts_with("linux.seccomp.flags[1]: "), "{err}");
    assert!(err.contains("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"), "{err}");
}

#[test]
fn architectures_are_validated() {
    let bad: Result<LinuxSeccomp, _> = serde_json::from_value(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_FOO"],
    }));
    assert!(bad.is_err());

    // Known to oci-spec, but libseccomp 2.5 predates LoongArch.
    let profile = parse(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_NATIVE"],
    }));
    compile(&profile).expect("x86_64 + aarch64 + native");
    let profile = parse(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_LOONGARCH64"],
    }));
    let v = libseccomp::ScmpVersion::current().expect("libseccomp version");
    if (v.major, v.minor) < (2, 6) {
        let err = compile(&profile).expect_err("no LoongArch in libseccomp < 2.6");
        let err = format!("{err:#}");
        assert!(err.starts_with("linux.seccomp.architectures[1]: "), "{err}");
        assert!(err.contains("SCMP_ARCH_LOONGARCH64"), "{err}");
    }
}

#[test]
fn out_of_range_values_are_rejected() {
    let profile = parse(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000},
        ],
    }));
    let err = compile(&profile).expect_err("errno").to_string();
    assert!(err.starts_with("linux.seccomp.syscalls[1].errnoRet: "), "{err}");

    let profile = parse(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 65536,
    }));
    let err = compile(&profile).expect_err("errno").to_string();
    assert!(err.starts_with("linux.seccomp.defaultErrnoRet: "), "{err}");

    let profile = parse(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{
            "names": ["getpid"],
            "action": "SCMP_ACT_ERRNO",
            "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                {"index": 6, "value": 1, "op": "SCMP_CMP_EQ"},
            ],
        }],
    }));
    let err = compile(&profile).expect_err("index").to_string();
    assert!(err.starts_with("linux.seccomp.syscalls[0].args[1].index: "), "{err}");

    let profile = parse(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getpid", ""], "action": "SCMP_ACT_ERRNO"}],
    }));
    let err = compile(&profile).expect_err("empty name").to_string();
    assert!(err.starts_with("linux.seccomp.syscalls[0].names[1]: "), "{err}");

    // Unknown actions and operators are rejected by oci-spec itself.
    let bad: Result<LinuxSeccomp, _> = serde_json::from_value(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_FOO"}],
    }));
    assert!(bad.is_err());
}

#[test]
fn redundant_rules_and_unknown_names_are_skipped() {
    let profile = parse(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "syscalls": [
            {"names": BASE_ALLOW, "action": "SCMP_ACT_ALLOW"},
            // Same action as the default: skipped.
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            // Unknown name skipped, known one kept.
            {"names": ["runp_no_such_syscall", "getuid"], "action": "SCMP_ACT_ALLOW"},
            // A different errno is not redundant.
            {"names": ["getgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5},
        ],
    }));
    let prog = compile(&profile).expect("compile");
    let body = || {
        if sys(libc::SYS_getuid, [0; 6]).is_err() {
            return 100;
        }
        if sys(libc::SYS_getgid, [0; 6]) != Err(libc::EIO) {
            return 101;
        }
        if sys(libc::SYS_getppid, [0; 6]) != Err(libc::ENOSYS) {
            return 102;
        }
        0
    };
    assert_eq!(run_filtered(&prog, &body), Outcome::Exited(0));
}

#[test]
fn load_rejects_empty_program_without_syscall() {
    let prog = BpfProgram { filters: Vec::new(), flags: 0 };
    // SAFETY: an empty program is rejected before the seccomp syscall,
    // so nothing is installed on the test process.
    assert_eq!(unsafe { load(&prog) }, Err(libc::EINVAL));
}

/// A resolved, compact version of moby's default profile (profiles/seccomp/
/// default.json) for amd64, as Docker would write it into config.json for a
/// container with the default capabilities plus CAP_SYS_PTRACE:
/// `includes.caps` / `excludes.caps` / `minKernel` are already applied
/// (e.g. `chroot` comes from `includes.caps: [CAP_SYS_CHROOT]`, `kcmp` and
/// friends from `includes.caps: [CAP_SYS_PTRACE]`, `clone`/`clone3` from
/// `excludes.caps: [CAP_SYS_ADMIN]`, `arch_prctl` from `includes.arches`).
/// Names unknown to the installed libseccomp (e.g. `cachestat`) are
/// skipped, as with runc.
const DOCKER_DEFAULT: &str = r#"{
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 1,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      "syscalls": [
        {
          "names": [
            "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat",
            "capget", "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime",
            "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
            "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close",
            "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3",
            "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
            "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve",
            "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
            "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
            "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync",
            "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
            "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
            "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait",
            "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents",
            "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid",
            "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid",
            "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
            "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
            "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid",
            "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch",
            "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl",
            "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
            "ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc", "kill",
            "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
            "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr",
            "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
            "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret",
            "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall",
            "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
            "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
            "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv",
            "msgsnd", "msync", "munlock", "munlockall", "munmap", "name_to_handle_at",
            "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2", "pause",
            "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
            "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv",
            "preadv2", "prlimit64", "process_mrelease", "pselect6", "pselect6_time64",
            "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat",
            "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
            "remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
            "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
            "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
            "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
            "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
            "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
            "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
            "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
            "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
            "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid",
            "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
            "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
            "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
            "setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
            "set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt",
            "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
            "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
            "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
            "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
            "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
            "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
            "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate",
            "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime",
            "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4",
            "waitid", "waitpid", "write", "writev"
          ],
          "action": "SCMP_ACT_ALLOW"
        },
        {"names": ["process_vm_readv", "process_vm_writev", "ptrace"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 131072, "op": "SCMP_CMP_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 131080, "op": "SCMP_CMP_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]},
        {"names": ["arch_prctl", "modify_ldt"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["chroot"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["kcmp", "pidfd_getfd", "process_madvise"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
      ]
    }"#;

#[test]
fn docker_default_profile_is_accepted_by_the_kernel() {
    let profile: LinuxSeccomp = serde_json::from_str(DOCKER_DEFAULT).expect("fixture");
    let names: usize = profile.syscalls().as_ref().map(|s| s.iter().map(|c| c.names().len()).sum()).unwrap_or(0);
    assert!(names >= 40, "{names}");
    let prog = compile(&profile).expect("compile");
    assert!(prog.filters.len() <= BPF_MAXINSNS);

    let af_vsock = libc::AF_VSOCK as libc::c_ulong;
    let af_unix = libc::AF_UNIX as libc::c_ulong;
    let stream = libc::SOCK_STREAM as libc::c_ulong;
    let newuser = libc::CLONE_NEWUSER as libc::c_ulong;
    let body = || {
        if sys(libc::SYS_getppid, [0; 6]).is_err() {
            return 100;
        }
        // unshare needs CAP_SYS_ADMIN in Docker's profile: default EPERM.
        if sys(libc::SYS_unshare, [newuser, 0, 0, 0, 0, 0]) != Err(libc::EPERM) {
            return 101;
        }
        // clone3 gets ENOSYS so that libc falls back to clone.
        if sys(libc::SYS_clone3, [0; 6]) != Err(libc::ENOSYS) {
            return 102;
        }
        // socket(AF_VSOCK) is denied (SCMP_CMP_NE), AF_UNIX allowed.
        if sys(libc::SYS_socket, [af_vsock, stream, 0, 0, 0, 0]) != Err(libc::EPERM) {
            return 103;
        }
        match sys(libc::SYS_socket, [af_unix, stream, 0, 0, 0, 0]) {
            Ok(fd) => {
                let _ = sys(libc::SYS_close, [fd as libc::c_ulong, 0, 0, 0, 0, 0]);
            }
            Err(_) => return 104,
        }
        // personality: query allowed, arbitrary persona denied.
        if sys(libc::SYS_personality, [0xffff_ffff, 0, 0, 0, 0, 0]).is_err() {
            return 105;
        }
        if sys(libc::SYS_personality, [0x1234, 0, 0, 0, 0, 0]) != Err(libc::EPERM) {
            return 106;
        }
        // Namespace flags in clone are denied.
        if sys(libc::SYS_clone, [newuser, 0, 0, 0, 0, 0]) != Err(libc::EPERM) {
            return 107;
        }
        0
    };
    assert_eq!(run_filtered(&prog, &body), Outcome::Exited(0));
}
