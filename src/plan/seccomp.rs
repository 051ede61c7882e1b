//! Seccomp: turning an OCI `linux.seccomp` profile into a classic BPF program.
//!
//! The work is split in two halves that run in different processes:
//!
//! * [`compile`] runs in the PARENT (the runtime), before cloning the container
//!   process. It may allocate, log and call into libseccomp. Its output, a
//!   [`BpfProgram`], is a plain vector of `sock_filter` instructions plus the
//!   `SECCOMP_FILTER_FLAG_*` bits to pass to the kernel.
//! * [`load`] runs in the CHILD, between clone and execve, where only
//!   async-signal-safe operations are allowed. It performs exactly one
//!   `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)` system call.
//!
//! libseccomp is only ever used to *generate* BPF (`seccomp_export_bpf`); it
//! never loads a filter itself, so its `no_new_privs` handling (`ctl_nnp`) and
//! its TSYNC/LOG/SSB attributes do not apply: the flags are carried in
//! [`BpfProgram::flags`] and the child decides about `PR_SET_NO_NEW_PRIVS`.
//!
//! Behaviour follows runc (`libcontainer/seccomp/seccomp_linux.go`):
//! * `SCMP_ACT_KILL` is `SCMP_ACT_KILL_THREAD`; `SCMP_ACT_ERRNO` and
//!   `SCMP_ACT_TRACE` default to `EPERM` when no `errnoRet` is given.
//! * Syscall names unknown to libseccomp are skipped (logged at debug level).
//! * Rules whose action equals the default action are skipped (libseccomp
//!   refuses them).
//! * `args`: when two or more conditions use the same argument index, every
//!   condition becomes its own rule (the conditions are OR-ed); otherwise all
//!   conditions form a single rule (AND-ed).
//! * `SCMP_CMP_MASKED_EQ` uses `value` as the mask and `valueTwo` as the
//!   expected value: `(arg & value) == valueTwo` (Docker's `clone` rule is
//!   `value: 0x7E020000, valueTwo: 0`).
//! * More than 32 syscall names enable libseccomp's binary-tree optimisation.
//!
//! Future work: runc patches the generated program so that syscalls *newer*
//! than the newest syscall named in the profile return `ENOSYS` instead of the
//! default action's errno (so that glibc and friends fall back, e.g. from
//! `clone3` to `clone`). libseccomp 2.5 has no built-in support for this and
//! this module deliberately does not implement runc's BPF patching
//! (`libcontainer/seccomp/patchbpf`). Until then, the default action applies to
//! unknown syscalls as well.
//!
//! `SCMP_ACT_NOTIFY` (and thus `listenerPath`) is not supported.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{FromRawFd, OwnedFd};
use std::str::FromStr;

use anyhow::{anyhow, bail, Context, Result};
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

/// Linux system calls take at most six arguments.
const SYSCALL_MAX_ARGS: usize = 6;

/// Kernel limit on the length of a classic BPF program (`BPF_MAXINSNS`).
const BPF_MAXINSNS: usize = 4096;

/// Size of one `struct sock_filter` as written by `seccomp_export_bpf`.
const SOCK_FILTER_SIZE: usize = 8;

/// A compiled seccomp filter, ready for [`load`]. Serialised (as raw instructions) into the
/// container's state so `exec` applies the very same filter.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BpfProgram {
    #[serde(with = "sock_filters")]
    /// The classic BPF instructions, in the order the kernel expects them.
    pub filters: Vec<libc::sock_filter>,
    /// `SECCOMP_FILTER_FLAG_*` bits from the OCI `flags` list.
    pub flags: u32,
}

/// serde for `Vec<sock_filter>` as `[[code, jt, jf, k], ...]`.
mod sock_filters {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[libc::sock_filter], s: S) -> Result<S::Ok, S::Error> {
        let raw: Vec<(u16, u8, u8, u32)> = v.iter().map(|f| (f.code, f.jt, f.jf, f.k)).collect();
        raw.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<libc::sock_filter>, D::Error> {
        let raw: Vec<(u16, u8, u8, u32)> = Vec::deserialize(d)?;
        Ok(raw.into_iter().map(|(code, jt, jf, k)| libc::sock_filter { code, jt, jf, k }).collect())
    }
}

// ---------------------------------------------------------------------------
// Compilation (parent process)
// ---------------------------------------------------------------------------

/// Compiles an OCI seccomp profile into a BPF program.
///
/// Runs in the parent process; uses libseccomp and allocates freely. Errors
/// name the offending JSON field, e.g.
/// `linux.seccomp.syscalls[3].args[0].index: ...`.
///
/// # Errors
///
/// `SCMP_ACT_NOTIFY` / `listenerPath`, `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`,
/// architectures libseccomp does not support, `errnoRet` above 65535, argument
/// indexes above 5, empty syscall names, and any libseccomp failure. (Unknown
/// action, operator, architecture and flag *names* are already rejected by
/// oci-spec when the configuration is parsed.)
pub fn compile(profile: &LinuxSeccomp) -> Result<BpfProgram> {
    if profile.listener_path().is_some() {
        bail!("linux.seccomp.listenerPath: SCMP_ACT_NOTIFY is not supported");
    }

    let default_action = action(
        "linux.seccomp.defaultAction",
        "linux.seccomp.defaultErrnoRet",
        profile.default_action(),
        profile.default_errno_ret(),
    )?;

    let flags = filter_flags(profile.flags().as_deref().unwrap_or_default())?;

    let mut ctx = ScmpFilterContext::new(default_action).context("linux.seccomp: cannot create a libseccomp filter")?;
    // The filter is exported, never loaded by libseccomp, but make sure that
    // libseccomp would not touch no_new_privs: the child decides.
    ctx.set_ctl_nnp(false).context("linux.seccomp: cannot clear libseccomp's no_new_privs attribute")?;

    // The native architecture is always part of a new libseccomp filter.
    for (i, arch) in profile.architectures().as_deref().unwrap_or_default().iter().enumerate() {
        let name = arch.to_string();
        let scmp_arch = ScmpArch::from_str(&name)
            .map_err(|_| anyhow!("linux.seccomp.architectures[{i}]: unknown architecture {name:?}"))?;
        ctx.add_arch(scmp_arch).with_context(|| {
            format!("linux.seccomp.architectures[{i}]: architecture {name:?} is not supported by libseccomp")
        })?;
    }

    let syscalls = profile.syscalls().as_deref().unwrap_or_default();

    // Same threshold as runc: libseccomp <= 2.5.4 misbehaves with the binary
    // tree and no rules; with many rules it shortens the program a lot.
    let name_count: usize = syscalls.iter().map(|s| s.names().len()).sum();
    if name_count > 32 {
        if let Err(e) = ctx.set_ctl_optimize(2) {
            log::debug!("seccomp: binary tree optimisation not available: {e}");
        }
    }

    for (i, call) in syscalls.iter().enumerate() {
        let act = action(
            &format!("linux.seccomp.syscalls[{i}].action"),
            &format!("linux.seccomp.syscalls[{i}].errnoRet"),
            call.action(),
            call.errno_ret(),
        )?;
        let conditions = conditions(i, call.args().as_deref().unwrap_or_default())?;

        for (j, name) in call.names().iter().enumerate() {
            if name.is_empty() {
                bail!("linux.seccomp.syscalls[{i}].names[{j}]: empty syscall name");
            }
            if act == default_action {
                // Redundant, and libseccomp refuses rules that match the
                // default action.
                continue;
            }
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                log::debug!("seccomp: linux.seccomp.syscalls[{i}].names[{j}]: unknown syscall {name:?} ignored");
                continue;
            };
            let added = match &conditions {
                Conditions::None => ctx.add_rule(act, syscall).map(|_| ()),
                Conditions::And(conds) => ctx.add_rule_conditional(act, syscall, conds).map(|_| ()),
                Conditions::Or(conds) => conds
                    .iter()
                    .try_for_each(|c| ctx.add_rule_conditional(act, syscall, std::slice::from_ref(c)).map(|_| ())),
            };
            added.with_context(|| format!("linux.seccomp.syscalls[{i}].names[{j}]: cannot add a rule for {name:?}"))?;
        }
    }

    let filters = export(&ctx)?;
    Ok(BpfProgram { filters, flags })
}

/// Maps an OCI action (and its optional errno) to a libseccomp action.
fn action(
    action_field: &str,
    errno_field: &str,
    act: LinuxSeccompAction,
    errno_ret: Option<u32>,
) -> Result<ScmpAction> {
    let ret_or_eperm = || -> Result<u16> {
        match errno_ret {
            None => Ok(libc::EPERM as u16),
            Some(v) => u16::try_from(v).map_err(|_| anyhow!("{errno_field}: {v} is out of range (0..=65535)")),
        }
    };
    Ok(match act {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => ScmpAction::KillThread,
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(i32::from(ret_or_eperm()?)),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(ret_or_eperm()?),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => {
            bail!("{action_field}: SCMP_ACT_NOTIFY is not supported")
        }
    })
}

/// Maps the OCI `flags` list to `SECCOMP_FILTER_FLAG_*` bits.
fn filter_flags(flags: &[LinuxSeccompFilterFlag]) -> Result<u32> {
    let mut bits = 0u32;
    for (i, flag) in flags.iter().enumerate() {
        bits |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            // Only meaningful together with SECCOMP_FILTER_FLAG_NEW_LISTENER
            // (SCMP_ACT_NOTIFY); the kernel rejects it otherwise.
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                bail!("linux.seccomp.flags[{i}]: {flag} is not supported (it requires SCMP_ACT_NOTIFY)")
            }
        } as u32;
    }
    Ok(bits)
}

/// How the `args` of one `syscalls[i]` entry turn into libseccomp rules.
enum Conditions {
    /// No `args`: one unconditional rule.
    None,
    /// All conditions in a single rule (AND).
    And(Vec<ScmpArgCompare>),
    /// Some index appears more than once: one rule per condition (OR).
    Or(Vec<ScmpArgCompare>),
}

fn conditions(i: usize, args: &[LinuxSeccompArg]) -> Result<Conditions> {
    if args.is_empty() {
        return Ok(Conditions::None);
    }
    let mut counts = [0usize; SYSCALL_MAX_ARGS];
    let mut conds = Vec::with_capacity(args.len());
    for (k, arg) in args.iter().enumerate() {
        let index = arg.index();
        if index >= SYSCALL_MAX_ARGS {
            bail!("linux.seccomp.syscalls[{i}].args[{k}].index: {index} is out of range (0..{SYSCALL_MAX_ARGS})");
        }
        counts[index] += 1;
        let (op, datum) = match arg.op() {
            LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, arg.value()),
            LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, arg.value()),
            LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, arg.value()),
            LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, arg.value()),
            LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, arg.value()),
            LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, arg.value()),
            // (arg & value) == valueTwo, as in runc / libseccomp-golang.
            LinuxSeccompOperator::ScmpCmpMaskedEq => {
                (ScmpCompareOp::MaskedEqual(arg.value()), arg.value_two().unwrap_or(0))
            }
        };
        // `index < 6` was checked above, so this conversion cannot truncate.
        conds.push(ScmpArgCompare::new(index as u32, op, datum));
    }
    if counts.iter().any(|&c| c > 1) {
        Ok(Conditions::Or(conds))
    } else {
        Ok(Conditions::And(conds))
    }
}

/// Exports the filter as BPF through a memfd and decodes the instructions.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>> {
    // SAFETY: the name is a valid NUL-terminated C string and memfd_create has
    // no other preconditions; the returned descriptor is checked below.
    let raw = unsafe { libc::memfd_create(c"runp-seccomp-bpf".as_ptr(), libc::MFD_CLOEXEC) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error()).context("linux.seccomp: memfd_create for the BPF export failed");
    }
    // SAFETY: `raw` is a freshly created descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    ctx.export_bpf(&fd).context("linux.seccomp: libseccomp cannot export the BPF program")?;

    let mut file = File::from(fd);
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .context("linux.seccomp: cannot read back the exported BPF program")?;

    if bytes.is_empty() || bytes.len() % SOCK_FILTER_SIZE != 0 {
        bail!(
            "linux.seccomp: libseccomp exported {} bytes, not a whole number of {SOCK_FILTER_SIZE}-byte BPF instructions",
            bytes.len()
        );
    }
    let filters: Vec<libc::sock_filter> = bytes
        .chunks_exact(SOCK_FILTER_SIZE)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    if filters.len() > BPF_MAXINSNS {
        bail!(
            "linux.seccomp: the compiled filter has {} BPF instructions, more than the kernel limit of {BPF_MAXINSNS}",
            filters.len()
        );
    }
    Ok(filters)
}

// ---------------------------------------------------------------------------
// Loading (child process, between clone and execve)
//
// Everything below must stay async-signal-safe: no allocation, no locks, no
// logging, no panics.
// ---------------------------------------------------------------------------

/// Installs `prog` on the calling thread (all threads with
/// `SECCOMP_FILTER_FLAG_TSYNC`) with `seccomp(SECCOMP_SET_MODE_FILTER)`.
///
/// Async-signal-safe: does not allocate, lock or log; the `sock_fprog` lives
/// on the stack and points into `prog.filters`. Returns the errno on failure
/// (`EACCES` when neither `no_new_privs` is set nor `CAP_SYS_ADMIN` is held,
/// `EINVAL` for an empty or over-long program, `ESRCH` when TSYNC could not
/// synchronise another thread).
///
/// # Safety
///
/// After a successful call every later system call of this thread (and of its
/// descendants) is filtered: operations the surrounding Rust code relies on
/// (allocation via `mmap`/`brk`, futexes, writes to a status pipe, `execve`)
/// may start failing or may kill the process. Call it only as the last step
/// before `execve` in a freshly cloned child, with a program produced by
/// [`compile`].
///
/// # Errors
///
/// The errno of the failed `seccomp` system call, as described above.
pub unsafe fn load(prog: &BpfProgram) -> Result<(), i32> {
    let len = match u16::try_from(prog.filters.len()) {
        Ok(len) if len > 0 => len,
        _ => return Err(libc::EINVAL),
    };
    let fprog = libc::sock_fprog {
        len,
        // The kernel only reads the instructions; the `*mut` is an artefact
        // of the C declaration.
        filter: prog.filters.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` is a valid `sock_fprog` on our stack whose `filter`
    // points to `len` initialised `sock_filter`s owned by `prog`, and both
    // outlive the call; the kernel copies the program before returning and
    // never writes through the pointer.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::c_ulong::from(libc::SECCOMP_SET_MODE_FILTER),
            libc::c_ulong::from(prog.flags),
            &raw const fprog,
        )
    };
    match rc {
        0 => Ok(()),
        // With SECCOMP_FILTER_FLAG_TSYNC the kernel returns the id of the
        // thread that could not be synchronised.
        rc if rc > 0 => Err(libc::ESRCH),
        // Reading errno does not allocate.
        _ => Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EINVAL)),
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// A filter that kills the process on every system call but `names`: what the pod's pause
/// process keeps once it is set up (it only waits for signals and reaps children).
pub fn allow_only(names: &[&str]) -> Result<BpfProgram> {
    let mut ctx =
        ScmpFilterContext::new(ScmpAction::KillProcess).context("seccomp: cannot create a libseccomp filter")?;
    ctx.set_ctl_nnp(false).context("seccomp: cannot clear libseccomp's no_new_privs attribute")?;
    for name in names {
        let syscall = ScmpSyscall::from_name(name).with_context(|| format!("seccomp: unknown syscall {name:?}"))?;
        ctx.add_rule(ScmpAction::Allow, syscall).with_context(|| format!("seccomp: cannot allow {name:?}"))?;
    }
    Ok(BpfProgram { filters: export(&ctx)?, flags: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
