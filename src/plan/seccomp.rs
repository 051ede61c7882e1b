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

use std::io::{Read, Seek, SeekFrom};
use std::str::FromStr;

use anyhow::{anyhow, bail, Context, Result};
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

/// Linux system calls take at most six arguments.
const SYSCALL_MAX_ARGS: usize = 6;

/// Kernel limit on the length of a classic BPF program (`BPF_MAXINSNS`).
pub(crate) const BPF_MAXINSNS: usize = 4096;

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
    let mut file = crate::linux::sys::memfd(c"runp-seccomp-bpf")
        .context("linux.seccomp: memfd_create for the BPF export failed")?;
    ctx.export_bpf(&file).context("linux.seccomp: libseccomp cannot export the BPF program")?;

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
