//! `ContainerPlan`: a validated, resolved description of one container (runc's configs.Config).

use crate::plan::resources::CgroupResources;
use crate::plan::seccomp::BpfProgram;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A namespace kind, in the order the kernel needs them joined (user first, mount last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum NsKind {
    User,
    Pid,
    Ipc,
    Uts,
    Net,
    Cgroup,
    Mount,
    Time,
}

impl NsKind {
    pub const ALL: [NsKind; 8] =
        [NsKind::User, NsKind::Pid, NsKind::Ipc, NsKind::Uts, NsKind::Net, NsKind::Cgroup, NsKind::Mount, NsKind::Time];

    /// The CLONE_NEW* flag.
    pub fn flag(self) -> i32 {
        match self {
            NsKind::User => libc::CLONE_NEWUSER,
            NsKind::Pid => libc::CLONE_NEWPID,
            NsKind::Ipc => libc::CLONE_NEWIPC,
            NsKind::Uts => libc::CLONE_NEWUTS,
            NsKind::Net => libc::CLONE_NEWNET,
            NsKind::Cgroup => libc::CLONE_NEWCGROUP,
            NsKind::Mount => libc::CLONE_NEWNS,
            NsKind::Time => 0x80, // CLONE_NEWTIME
        }
    }

    /// The file name under /proc/<pid>/ns/.
    pub fn proc_name(self) -> &'static str {
        match self {
            NsKind::User => "user",
            NsKind::Pid => "pid",
            NsKind::Ipc => "ipc",
            NsKind::Uts => "uts",
            NsKind::Net => "net",
            NsKind::Cgroup => "cgroup",
            NsKind::Mount => "mnt",
            NsKind::Time => "time",
        }
    }
}

/// How the container gets one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsSource {
    /// A fresh namespace.
    New,
    /// Join the namespace at this path (e.g. /proc/<pause>/ns/net).
    Join(PathBuf),
}

/// One uid_map / gid_map line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

/// What a mount entry becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// mount(source, dest, fstype, flags, data).
    Fs,
    /// A bind mount of a host path (recursive for rbind).
    Bind { recursive: bool },
    /// `type: cgroup`: expanded by the engine once the container's cgroup is known.
    Cgroup,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPlan {
    pub kind: MountKind,
    pub source: String,
    pub fstype: String,
    /// Absolute path inside the container.
    pub dest: String,
    /// MS_* flags other than propagation.
    pub flags: u64,
    /// MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC), applied after the mount.
    pub propagation: Vec<u64>,
    /// fs-specific options, comma-joined.
    pub data: String,
    /// For binds: the real source is this relative path resolved *beneath* `source` (as if
    /// `source` were `/`), in the container's mount namespace: a volume's subPath, where a
    /// container may have planted symlinks (CVE-2017-1002101).
    pub beneath: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Char,
    Block,
    Fifo,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePlan {
    /// Absolute path inside the container, under /dev.
    pub path: String,
    pub kind: DeviceKind,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Capability sets as bit masks (bit N = capability N).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rlimit {
    pub resource: i32,
    pub soft: u64,
    pub hard: u64,
}

/// The process to run: the container's init, or an exec'd process. Saved with the container's
/// state: `exec` starts from it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ProcessPlan {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub terminal: bool,
    pub console_size: Option<(u16, u16)>,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
    pub caps: CapSets,
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
    pub oom_score_adj: Option<i32>,
}

impl ProcessPlan {
    /// Executable candidates: args[0] itself when it has a '/', else each $PATH entry joined with
    /// it. The child picks the first that exists inside the container.
    pub fn exec_candidates(&self) -> Vec<String> {
        let Some(arg0) = self.args.first() else { return Vec::new() };
        if arg0.contains('/') {
            return vec![arg0.clone()];
        }
        let path = self
            .env
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        path.split(':')
            .map(|d| if d.is_empty() { "." } else { d })
            .map(|d| format!("{}/{arg0}", d.trim_end_matches('/')))
            .collect()
    }
}

/// One OCI hook.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HookPlan {
    pub path: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HooksPlan {
    pub prestart: Vec<HookPlan>,
    pub create_runtime: Vec<HookPlan>,
    pub create_container: Vec<HookPlan>,
    pub start_container: Vec<HookPlan>,
    pub poststart: Vec<HookPlan>,
    pub poststop: Vec<HookPlan>,
}

/// An overlay root: the image read-only below, the container's own writable layer above.
/// Mounted inside the container's mount namespace, so the host never sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlay {
    /// The `lowerdir=` value: the image's layer directories, top first, `:`-separated.
    pub lower: String,
    /// Some: `lower` is relative to this directory (short layer names, see
    /// `image::rootfs`); the overlay is mounted with it as the working directory.
    pub lower_cwd: Option<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
}

/// Everything the engine needs to create one container.
#[derive(Debug, Clone)]
pub struct ContainerPlan {
    pub bundle: PathBuf,
    /// Absolute host path of the root filesystem (the overlay's mount point when `overlay`).
    pub rootfs: PathBuf,
    pub overlay: Option<Overlay>,
    pub readonly_root: bool,
    pub namespaces: BTreeMap<NsKind, NsSource>,
    pub uid_mappings: Vec<IdMap>,
    pub gid_mappings: Vec<IdMap>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub mounts: Vec<MountPlan>,
    /// Propagation of `/` inside the container's mount namespace (MS_SLAVE|MS_REC by default).
    pub rootfs_propagation: u64,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    pub devices: Vec<DevicePlan>,
    pub sysctls: Vec<(String, String)>,
    pub process: ProcessPlan,
    pub cgroups_path: Option<String>,
    pub resources: CgroupResources,
    pub seccomp: Option<BpfProgram>,
    pub hooks: HooksPlan,
    pub annotations: BTreeMap<String, String>,
}

impl ContainerPlan {
    pub fn has_new(&self, kind: NsKind) -> bool {
        self.namespaces.get(&kind) == Some(&NsSource::New)
    }

    /// True when the container gets this namespace at all (new or joined) rather than the host's.
    pub fn has_ns(&self, kind: NsKind) -> bool {
        self.namespaces.contains_key(&kind)
    }
}
