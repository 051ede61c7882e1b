//! The parent↔child protocol over a SOCK_SEQPACKET socketpair. Fixed-size records only.
//!
//! child → parent: `Report` (16 bytes). parent → child: one byte (`GO`).
//! EOF on the parent's end means the child exec'd (the child's end is close-on-exec) or died.

/// What the child reports.
pub const KIND_READY: u32 = 1;
pub const KIND_ERROR: u32 = 2;
pub const KIND_HOOKS: u32 = 3;
/// The first stage forked the process that goes on to exec (into the PID namespace it joined
/// late); `errno` carries that process's pid. See `child::split_into_pid_ns`.
pub const KIND_PID: u32 = 4;

/// The one byte the parent sends to let the child go on.
pub const GO: u8 = b'g';

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub kind: u32,
    pub step: u32,
    pub index: u32,
    pub errno: i32,
}

impl Report {
    pub fn to_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0..4].copy_from_slice(&self.kind.to_ne_bytes());
        b[4..8].copy_from_slice(&self.step.to_ne_bytes());
        b[8..12].copy_from_slice(&self.index.to_ne_bytes());
        b[12..16].copy_from_slice(&self.errno.to_ne_bytes());
        b
    }

    pub fn from_bytes(b: &[u8; 16]) -> Self {
        let w = |i: usize| [b[i], b[i + 1], b[i + 2], b[i + 3]];
        Report {
            kind: u32::from_ne_bytes(w(0)),
            step: u32::from_ne_bytes(w(4)),
            index: u32::from_ne_bytes(w(8)),
            errno: i32::from_ne_bytes(w(12)),
        }
    }
}

/// The step of the child program that failed; the parent turns it into a message.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Setns = 1,
    WaitGo,
    Unshare,
    Setsid,
    Console,
    Hostname,
    Domainname,
    RootPropagation,
    RootBind,
    RootOpen,
    OpTarget,
    Op,
    OpPropagation,
    OpRemount,
    ConsoleMount,
    Sysctl,
    Hooks,
    ReadonlyPath,
    MaskedPath,
    ReadonlyRoot,
    PivotRoot,
    Rlimit,
    Lookup,
    Seccomp,
    Bounding,
    Setgroups,
    Setgid,
    Setuid,
    Capset,
    Ambient,
    Chdir,
    NoNewPrivs,
    Ready,
    Gate,
    Exec,
    Dumpable,
    Cgroup,
    PidNs,
    Fork,
}

impl Step {
    pub fn from_u32(v: u32) -> Option<Step> {
        use Step::*;
        const ALL: [Step; 39] = [
            Setns,
            WaitGo,
            Unshare,
            Setsid,
            Console,
            Hostname,
            Domainname,
            RootPropagation,
            RootBind,
            RootOpen,
            OpTarget,
            Op,
            OpPropagation,
            OpRemount,
            ConsoleMount,
            Sysctl,
            Hooks,
            ReadonlyPath,
            MaskedPath,
            ReadonlyRoot,
            PivotRoot,
            Rlimit,
            Lookup,
            Seccomp,
            Bounding,
            Setgroups,
            Setgid,
            Setuid,
            Capset,
            Ambient,
            Chdir,
            NoNewPrivs,
            Ready,
            Gate,
            Exec,
            Dumpable,
            Cgroup,
            PidNs,
            Fork,
        ];
        ALL.iter().copied().find(|s| *s as u32 == v)
    }

    /// What the step was doing, for "<what>: <errno text>" messages.
    pub fn describe(self) -> &'static str {
        use Step::*;
        match self {
            Setns => "joining namespace",
            WaitGo | Ready | Gate | Hooks => "waiting for the runtime",
            Unshare => "creating cgroup namespace",
            Setsid => "creating a new session",
            Console => "setting up the console",
            Hostname => "setting hostname",
            Domainname => "setting domainname",
            RootPropagation => "setting rootfs propagation",
            RootBind => "bind-mounting the rootfs",
            RootOpen => "opening the rootfs",
            OpTarget => "resolving the mount point",
            Op => "mounting",
            OpPropagation => "setting mount propagation",
            OpRemount => "remounting",
            ConsoleMount => "mounting /dev/console",
            Sysctl => "writing sysctl",
            ReadonlyPath => "making path read-only",
            MaskedPath => "masking path",
            ReadonlyRoot => "remounting the rootfs read-only",
            PivotRoot => "pivot_root",
            Rlimit => "setting rlimit",
            Lookup => "looking up the executable",
            Seccomp => "loading the seccomp filter",
            Bounding => "dropping bounding capabilities",
            Setgroups => "setgroups",
            Setgid => "setgid",
            Setuid => "setuid",
            Capset => "setting capabilities",
            Ambient => "raising ambient capabilities",
            Chdir => "changing to the working directory",
            NoNewPrivs => "setting no_new_privs",
            Exec => "exec",
            Dumpable => "making the process non-dumpable",
            Cgroup => "joining the container's cgroup",
            PidNs => "joining the PID namespace",
            Fork => "forking into the PID namespace",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trip_and_steps() {
        let r = Report { kind: KIND_ERROR, step: Step::PivotRoot as u32, index: 7, errno: 22 };
        assert_eq!(Report::from_bytes(&r.to_bytes()), r);
        for v in 1..=39 {
            assert_eq!(Step::from_u32(v).map(|s| s as u32), Some(v));
        }
        assert_eq!(Step::from_u32(0), None);
        assert_eq!(Step::from_u32(40), None);
    }
}
