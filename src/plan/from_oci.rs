//! config.json (oci-spec types) → `ContainerPlan`, validating every field the runtime-spec says
//! a runtime MUST reject. Errors name the field: `linux.namespaces[2]: duplicate namespace "pid"`.

use crate::plan::caps;
use crate::plan::container::*;
use crate::plan::mounts::{parse_options, parse_rootfs_propagation};
use crate::plan::resources::{CgroupResources, DeviceRule};
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime as oci;
use std::collections::BTreeMap;
use std::path::{Component, Path};

/// Paths inside /proc that may be bind-mounted over (runc's checkProcMount allowlist).
const PROC_MOUNT_ALLOWLIST: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
];

/// The default device nodes every container gets (runtime-spec "Default Devices").
fn default_devices() -> Vec<DevicePlan> {
    let dev = |path: &str, major, minor| DevicePlan {
        path: path.to_string(),
        kind: DeviceKind::Char,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    };
    vec![
        dev("/dev/null", 1, 3),
        dev("/dev/zero", 1, 5),
        dev("/dev/full", 1, 7),
        dev("/dev/random", 1, 8),
        dev("/dev/urandom", 1, 9),
        dev("/dev/tty", 5, 0),
    ]
}

pub fn is_clean_abs(p: &str) -> bool {
    Path::new(p).is_absolute() && !Path::new(p).components().any(|c| matches!(c, Component::ParentDir))
}

fn ns_kind(t: oci::LinuxNamespaceType) -> NsKind {
    use oci::LinuxNamespaceType as T;
    match t {
        T::User => NsKind::User,
        T::Pid => NsKind::Pid,
        T::Ipc => NsKind::Ipc,
        T::Uts => NsKind::Uts,
        T::Network => NsKind::Net,
        T::Cgroup => NsKind::Cgroup,
        T::Mount => NsKind::Mount,
        T::Time => NsKind::Time,
    }
}

fn id_maps(maps: &Option<Vec<oci::LinuxIdMapping>>, field: &str) -> Result<Vec<IdMap>> {
    let maps: Vec<IdMap> = maps
        .iter()
        .flatten()
        .map(|m| IdMap { container: m.container_id(), host: m.host_id(), size: m.size() })
        .collect();
    if maps.len() > 340 {
        bail!("{field}: {} ranges, the kernel allows at most 340", maps.len());
    }
    for (i, m) in maps.iter().enumerate() {
        if m.size == 0 {
            bail!("{field}[{i}]: size must be greater than 0");
        }
        if m.container.checked_add(m.size).is_none() || m.host.checked_add(m.size).is_none() {
            bail!("{field}[{i}]: range overflows 32 bits");
        }
        for (j, o) in maps.iter().enumerate().take(i) {
            let overlap = |a: u32, b: u32| a < b + o.size.min(u32::MAX - b) && b < a + m.size;
            if overlap(m.container, o.container) || overlap(m.host, o.host) {
                bail!("{field}[{i}]: overlaps {field}[{j}]");
            }
        }
    }
    Ok(maps)
}

/// Builds the process part; shared with `exec --process`.
pub fn process_plan(p: &oci::Process, field: &str) -> Result<ProcessPlan> {
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() {
        bail!("{field}.args: must not be empty");
    }
    if let Some(i) = args.iter().position(|a| a.contains('\0')) {
        bail!("{field}.args[{i}]: contains a NUL byte");
    }
    let env = p.env().clone().unwrap_or_default();
    for (i, e) in env.iter().enumerate() {
        if !e.contains('=') || e.starts_with('=') {
            bail!("{field}.env[{i}]: {e:?} is not of the form KEY=value");
        }
        if e.contains('\0') {
            bail!("{field}.env[{i}]: contains a NUL byte");
        }
    }
    let cwd = p.cwd().to_string_lossy().into_owned();
    if !cwd.starts_with('/') {
        bail!("{field}.cwd: {cwd:?} must be an absolute path");
    }
    let user = p.user();
    let mut caps_sets = CapSets::default();
    if let Some(c) = p.capabilities() {
        let names =
            |set: &Option<oci::Capabilities>| -> Vec<String> { set.iter().flatten().map(|c| c.to_string()).collect() };
        let m = |set: &Option<oci::Capabilities>, name: &str| {
            let n = names(set);
            caps::mask(n.iter().map(String::as_str), &format!("{field}.capabilities.{name}"))
        };
        caps_sets = CapSets {
            bounding: m(c.bounding(), "bounding")?,
            effective: m(c.effective(), "effective")?,
            permitted: m(c.permitted(), "permitted")?,
            inheritable: m(c.inheritable(), "inheritable")?,
            ambient: m(c.ambient(), "ambient")?,
        };
        // An ambient capability must also be permitted and inheritable (runc drops it otherwise).
        let dropped = caps_sets.ambient & !(caps_sets.permitted & caps_sets.inheritable);
        if dropped != 0 {
            log::warn!(
                "{field}.capabilities.ambient: {:?} not in permitted and inheritable; ignored",
                caps::names(dropped)
            );
            caps_sets.ambient &= !dropped;
        }
    }
    let mut rlimits: Vec<Rlimit> = Vec::new();
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        let resource = rlimit_resource(r.typ());
        if rlimits.iter().any(|x| x.resource == resource) {
            bail!("{field}.rlimits[{i}]: duplicate type {:?}", r.typ());
        }
        if r.soft() > r.hard() {
            bail!("{field}.rlimits[{i}]: soft limit {} exceeds hard limit {}", r.soft(), r.hard());
        }
        rlimits.push(Rlimit { resource, soft: r.soft(), hard: r.hard() });
    }
    if let Some(adj) = p.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            bail!("{field}.oomScoreAdj: {adj} is outside [-1000, 1000]");
        }
    }
    let console_size = p.console_size().as_ref().map(|b| (b.height() as u16, b.width() as u16));
    Ok(ProcessPlan {
        args,
        env,
        cwd,
        terminal: p.terminal().unwrap_or(false),
        console_size,
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        caps: caps_sets,
        rlimits,
        no_new_privileges: p.no_new_privileges().unwrap_or(false),
        oom_score_adj: p.oom_score_adj(),
    })
}

fn rlimit_resource(t: oci::PosixRlimitType) -> i32 {
    use oci::PosixRlimitType as T;
    (match t {
        T::RlimitCpu => libc::RLIMIT_CPU,
        T::RlimitFsize => libc::RLIMIT_FSIZE,
        T::RlimitData => libc::RLIMIT_DATA,
        T::RlimitStack => libc::RLIMIT_STACK,
        T::RlimitCore => libc::RLIMIT_CORE,
        T::RlimitRss => libc::RLIMIT_RSS,
        T::RlimitNproc => libc::RLIMIT_NPROC,
        T::RlimitNofile => libc::RLIMIT_NOFILE,
        T::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        T::RlimitAs => libc::RLIMIT_AS,
        T::RlimitLocks => libc::RLIMIT_LOCKS,
        T::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        T::RlimitNice => libc::RLIMIT_NICE,
        T::RlimitRtprio => libc::RLIMIT_RTPRIO,
        T::RlimitRttime => libc::RLIMIT_RTTIME,
    }) as i32
}

fn mounts(spec: &oci::Spec, bundle: &Path) -> Result<Vec<MountPlan>> {
    let mut out = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let field = format!("mounts[{i}]");
        let dest = m.destination().to_string_lossy().into_owned();
        if !is_clean_abs(&dest) {
            bail!("{field}.destination: {dest:?} must be an absolute path without \"..\"");
        }
        let opts = parse_options(m.options().as_deref().unwrap_or(&[])).with_context(|| format!("{field}.options"))?;
        let fstype = m.typ().clone().unwrap_or_default();
        let source = m.source().as_ref().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if source.contains('\0') || dest.contains('\0') {
            bail!("{field}: contains a NUL byte");
        }
        if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
            bail!("{field}: idmapped mounts are not supported by runp yet");
        }
        let kind = if opts.bind || fstype == "bind" {
            MountKind::Bind { recursive: opts.recursive_bind }
        } else if fstype == "cgroup" || fstype == "cgroup2" {
            MountKind::Cgroup
        } else {
            if fstype.is_empty() {
                bail!("{field}.type: required for a non-bind mount");
            }
            MountKind::Fs
        };
        // CVE-2019-16884: only a real procfs may land on /proc, and little may land inside it.
        if dest == "/proc" && !(kind == MountKind::Fs && fstype == "proc") {
            bail!("{field}: {dest} may only be a mount of type proc");
        }
        if dest.starts_with("/proc/") && !PROC_MOUNT_ALLOWLIST.contains(&dest.as_str()) {
            bail!("{field}: mounting over {dest} is not allowed");
        }
        let source = match kind {
            // Relative bind sources are relative to the bundle, as runc does.
            MountKind::Bind { .. } if !source.starts_with('/') => bundle.join(&source).to_string_lossy().into_owned(),
            _ => source,
        };
        out.push(MountPlan {
            kind,
            source,
            fstype,
            dest,
            flags: opts.flags,
            propagation: opts.propagation,
            data: opts.data,
            beneath: None,
        });
    }
    Ok(out)
}

fn devices(linux: &oci::Linux) -> Result<Vec<DevicePlan>> {
    let mut out = default_devices();
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let field = format!("linux.devices[{i}]");
        let path = d.path().to_string_lossy().into_owned();
        if !is_clean_abs(&path) || !path.starts_with("/dev/") {
            bail!("{field}.path: {path:?} must be an absolute path under /dev");
        }
        let kind = match d.typ() {
            oci::LinuxDeviceType::C | oci::LinuxDeviceType::U => DeviceKind::Char,
            oci::LinuxDeviceType::B => DeviceKind::Block,
            oci::LinuxDeviceType::P => DeviceKind::Fifo,
            oci::LinuxDeviceType::A => bail!("{field}.type: \"a\" is not a device type"),
        };
        if d.major() < 0 || d.minor() < 0 {
            bail!("{field}: major and minor must not be negative");
        }
        let plan = DevicePlan {
            path: path.clone(),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        // A listed device replaces a default node of the same path.
        out.retain(|x| x.path != path);
        out.push(plan);
    }
    Ok(out)
}

/// runc's sysctl validation: each key must belong to a namespace the container has.
fn sysctls(linux: &oci::Linux, ns: &BTreeMap<NsKind, NsSource>) -> Result<Vec<(String, String)>> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let mut out: Vec<(String, String)> = Vec::new();
    for (key, value) in linux.sysctl().iter().flatten() {
        let field = format!("linux.sysctl[{key:?}]");
        let norm = key.replace('/', ".");
        if norm.split('.').any(|c| c.is_empty() || c == "..")
            || !norm.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            bail!("{field}: invalid key");
        }
        let has = |k: NsKind| ns.contains_key(&k);
        let ok = if IPC.contains(&norm.as_str()) || norm.starts_with("fs.mqueue.") {
            has(NsKind::Ipc)
        } else if norm.starts_with("net.") {
            has(NsKind::Net)
        } else if norm == "kernel.domainname" {
            has(NsKind::Uts)
        } else if norm.starts_with("user.") {
            has(NsKind::User)
        } else if norm == "kernel.hostname" {
            bail!("{field}: use the hostname field instead");
        } else {
            bail!("{field}: not namespaced, so a container may not set it");
        };
        if !ok {
            bail!("{field}: requires a private namespace for it (ipc, net, uts or user)");
        }
        out.push((norm, value.clone()));
    }
    out.sort();
    Ok(out)
}

fn resources(linux: &oci::Linux) -> Result<CgroupResources> {
    // runc's order: the spec's device rules, then the default nodes allowed on top (a spec
    // that starts with "deny all" must not take away /dev/null). No rules at all = deny all.
    let defaults = crate::plan::resources::default_device_rules();
    let mut r = CgroupResources::default();
    let finish = |mut r: CgroupResources| {
        if r.devices.is_empty() {
            r.devices.extend(defaults.iter().filter(|d| d.is_deny_all()).cloned());
        }
        r.devices.extend(defaults.iter().filter(|d| !d.is_deny_all()).cloned());
        r
    };
    let Some(res) = linux.resources() else { return Ok(finish(r)) };
    if let Some(m) = res.memory() {
        r.memory_limit = m.limit();
        r.memory_reservation = m.reservation();
        r.memory_swap = m.swap();
        r.memory_swappiness = m.swappiness();
        r.disable_oom_killer = m.disable_oom_killer();
        if let Some(s) = m.swappiness() {
            if s > 100 {
                bail!("linux.resources.memory.swappiness: {s} is greater than 100");
            }
        }
    }
    if let Some(c) = res.cpu() {
        r.cpu_shares = c.shares();
        r.cpu_quota = c.quota();
        r.cpu_period = c.period();
        r.cpu_rt_runtime = c.realtime_runtime();
        r.cpu_rt_period = c.realtime_period();
        r.cpuset_cpus = c.cpus().clone();
        r.cpuset_mems = c.mems().clone();
    }
    if let Some(p) = res.pids() {
        r.pids_limit = Some(p.limit());
    }
    if let Some(b) = res.block_io() {
        r.blkio_weight = b.weight();
    }
    for h in res.hugepage_limits().iter().flatten() {
        r.hugepage_limits.push((h.page_size().clone(), h.limit().max(0) as u64));
    }
    for (i, d) in res.devices().iter().flatten().enumerate() {
        let access = d.access().clone().unwrap_or_else(|| "rwm".to_string());
        if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
            bail!("linux.resources.devices[{i}].access: {access:?} must be a subset of \"rwm\"");
        }
        let kind = d.typ().map(|t| t.as_str().chars().next().unwrap_or('a')).unwrap_or('a');
        r.devices.push(DeviceRule { allow: d.allow(), kind, major: d.major(), minor: d.minor(), access });
    }
    if let Some(u) = res.unified() {
        let mut v: Vec<(String, String)> = u.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort();
        for (k, _) in &v {
            if k.contains('/') || k.starts_with('.') {
                bail!("linux.resources.unified[{k:?}]: invalid file name");
            }
        }
        r.unified = v;
    }
    Ok(finish(r))
}

fn hooks(spec: &oci::Spec) -> Result<HooksPlan> {
    let Some(h) = spec.hooks() else { return Ok(HooksPlan::default()) };
    let conv = |list: &Option<Vec<oci::Hook>>, name: &str| -> Result<Vec<HookPlan>> {
        list.iter()
            .flatten()
            .enumerate()
            .map(|(i, hk)| {
                let path = hk.path().to_string_lossy().into_owned();
                if !path.starts_with('/') {
                    bail!("hooks.{name}[{i}].path: {path:?} must be absolute");
                }
                let timeout = match hk.timeout() {
                    Some(t) if t <= 0 => bail!("hooks.{name}[{i}].timeout: must be greater than 0"),
                    t => t.map(|t| t as u64),
                };
                Ok(HookPlan {
                    path,
                    args: hk.args().clone().unwrap_or_default(),
                    env: hk.env().clone().unwrap_or_default(),
                    timeout,
                })
            })
            .collect()
    };
    Ok(HooksPlan {
        prestart: conv(h.prestart(), "prestart")?,
        create_runtime: conv(h.create_runtime(), "createRuntime")?,
        create_container: conv(h.create_container(), "createContainer")?,
        start_container: conv(h.start_container(), "startContainer")?,
        poststart: conv(h.poststart(), "poststart")?,
        poststop: conv(h.poststop(), "poststop")?,
    })
}

/// Converts and validates a loaded config.json. `bundle` must be absolute.
pub fn build(spec: &oci::Spec, bundle: &Path) -> Result<ContainerPlan> {
    let root = spec.root().as_ref().ok_or_else(|| anyhow!("root: required"))?;
    let rootfs = bundle.join(root.path());
    // runc's validator: the rootfs itself must not be a symlink.
    if std::fs::symlink_metadata(&rootfs).is_ok_and(|m| m.file_type().is_symlink()) {
        bail!("root.path: invalid rootfs {}: not an absolute path, or a symlink", rootfs.display());
    }
    let rootfs = std::fs::canonicalize(&rootfs)
        .with_context(|| format!("root.path: rootfs {} does not exist", rootfs.display()))?;
    if !rootfs.is_dir() {
        bail!("root.path: rootfs {} is not a directory", rootfs.display());
    }
    let process = spec.process().as_ref().ok_or_else(|| anyhow!("process: required"))?;
    let process = process_plan(process, "process")?;
    let default_linux = oci::Linux::default();
    let linux = spec.linux().as_ref().unwrap_or(&default_linux);

    let mut namespaces = BTreeMap::new();
    for (i, n) in linux.namespaces().iter().flatten().enumerate() {
        let kind = ns_kind(n.typ());
        let src = match n.path() {
            Some(p) if !p.as_os_str().is_empty() => {
                if !p.is_absolute() {
                    bail!("linux.namespaces[{i}].path: {} must be absolute", p.display());
                }
                NsSource::Join(p.clone())
            }
            _ => NsSource::New,
        };
        if namespaces.insert(kind, src).is_some() {
            bail!("linux.namespaces[{i}]: duplicate namespace {:?}", kind.proc_name());
        }
    }
    if kind_missing(&namespaces, NsKind::Mount) {
        bail!("linux.namespaces: a mount namespace is required");
    }
    let uid_mappings = id_maps(linux.uid_mappings(), "linux.uidMappings")?;
    let gid_mappings = id_maps(linux.gid_mappings(), "linux.gidMappings")?;
    match namespaces.get(&NsKind::User) {
        Some(NsSource::New) if uid_mappings.is_empty() || gid_mappings.is_empty() => {
            bail!("linux.uidMappings: a new user namespace needs uid and gid mappings")
        }
        Some(NsSource::Join(_)) | None if !uid_mappings.is_empty() || !gid_mappings.is_empty() => {
            bail!("linux.uidMappings: mappings are only allowed with a new user namespace")
        }
        _ => {}
    }
    let hostname = spec.hostname().clone().filter(|h| !h.is_empty());
    let domainname = spec.domainname().clone().filter(|h| !h.is_empty());
    for (field, v) in [("hostname", &hostname), ("domainname", &domainname)] {
        if let Some(v) = v {
            if !namespaces.contains_key(&NsKind::Uts) {
                bail!("{field}: setting it requires a UTS namespace");
            }
            if v.len() > 64 || v.contains('\0') {
                bail!("{field}: {v:?} is longer than 64 bytes or contains NUL");
            }
        }
    }
    let mounts = mounts(spec, bundle)?;
    let rootfs_propagation = match linux.rootfs_propagation().as_deref() {
        None | Some("") => libc::MS_SLAVE | libc::MS_REC,
        Some(p) => parse_rootfs_propagation(p).context("linux.rootfsPropagation")?,
    };
    let check_paths = |v: &Option<Vec<String>>, field: &str| -> Result<Vec<String>> {
        let v = v.clone().unwrap_or_default();
        for (i, p) in v.iter().enumerate() {
            if !is_clean_abs(p) {
                bail!("{field}[{i}]: {p:?} must be an absolute path without \"..\"");
            }
        }
        Ok(v)
    };
    let masked_paths = check_paths(linux.masked_paths(), "linux.maskedPaths")?;
    let readonly_paths = check_paths(linux.readonly_paths(), "linux.readonlyPaths")?;
    let cgroups_path = linux.cgroups_path().as_ref().map(|p| p.to_string_lossy().into_owned());
    if let Some(p) = &cgroups_path {
        if Path::new(p).components().any(|c| matches!(c, Component::ParentDir | Component::CurDir)) || p.contains('\0')
        {
            bail!("linux.cgroupsPath: {p:?} must not contain \".\" or \"..\" components");
        }
    }
    let seccomp = match linux.seccomp() {
        Some(s) => Some(crate::plan::seccomp::compile(s)?),
        None => None,
    };
    if linux.personality().is_some() {
        log::warn!("linux.personality is not supported yet; ignored");
    }
    let annotations = spec.annotations().clone().unwrap_or_default().into_iter().collect();
    Ok(ContainerPlan {
        bundle: bundle.to_path_buf(),
        rootfs,
        overlay: None,
        readonly_root: root.readonly().unwrap_or(false),
        sysctls: sysctls(linux, &namespaces)?,
        devices: devices(linux)?,
        resources: resources(linux)?,
        namespaces,
        uid_mappings,
        gid_mappings,
        hostname,
        domainname,
        mounts,
        rootfs_propagation,
        masked_paths,
        readonly_paths,
        process,
        cgroups_path,
        seccomp,
        hooks: hooks(spec)?,
        annotations,
    })
}

fn kind_missing(ns: &BTreeMap<NsKind, NsSource>, k: NsKind) -> bool {
    !ns.contains_key(&k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> oci::Spec {
        serde_json::from_str(json).unwrap()
    }

    fn base(linux: &str, extra: &str) -> String {
        format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"/"}},
            "process":{{"cwd":"/","user":{{"uid":0,"gid":0}},"args":["true"]}},
            "linux":{{"namespaces":[{{"type":"mount"}},{{"type":"pid"}}]{linux}}}{extra}}}"#
        )
    }

    fn err(json: &str) -> String {
        build(&spec(json), Path::new("/")).unwrap_err().to_string()
    }

    #[test]
    fn valid_minimal_config() {
        let p = build(&spec(&base("", "")), Path::new("/")).unwrap();
        assert!(p.has_new(NsKind::Pid));
        assert_eq!(p.devices.len(), 6);
    }

    #[test]
    fn rejections_name_the_field() {
        assert!(err(&base(r#","sysctl":{"net.ipv4.ip_forward":"1"}"#, "")).starts_with("linux.sysctl"));
        assert!(err(&base(r#","sysctl":{"kernel.core_pattern":"x"}"#, "")).contains("not namespaced"));
        assert!(err(&base("", r#","hostname":"h""#)).starts_with("hostname"));
        assert!(err(&base(r#","cgroupsPath":"../../x""#, "")).starts_with("linux.cgroupsPath"));
        assert!(err(&base("", r#","mounts":[{"destination":"/proc","type":"tmpfs","source":"t"}]"#))
            .starts_with("mounts[0]"));
        assert!(
            err(&base("", r#","mounts":[{"destination":"rel","type":"tmpfs"}]"#)).starts_with("mounts[0].destination")
        );
        assert!(err(&base(r#","maskedPaths":["rel"]"#, "")).starts_with("linux.maskedPaths[0]"));
        let dup = base("", "").replace(r#"{"type":"pid"}"#, r#"{"type":"pid"},{"type":"pid"}"#);
        assert!(err(&dup).starts_with("linux.namespaces[2]: duplicate"));
        let userns = base("", "").replace(r#"{"type":"pid"}"#, r#"{"type":"user"}"#);
        assert!(err(&userns).contains("mappings"));
    }

    #[test]
    fn id_map_validation() {
        let m = |c: u32, h: u32, s: u32| {
            oci::LinuxIdMappingBuilder::default().container_id(c).host_id(h).size(s).build().unwrap()
        };
        assert!(id_maps(&Some(vec![m(0, 1000, 0)]), "m").is_err());
        assert!(id_maps(&Some(vec![m(0, u32::MAX, 2)]), "m").is_err());
        assert!(id_maps(&Some(vec![m(0, 1000, 10), m(5, 5000, 10)]), "m").is_err());
        assert!(id_maps(&Some(vec![m(0, 1000, 10), m(10, 2000, 10)]), "m").is_ok());
        assert!(id_maps(&Some((0..341).map(|i| m(i * 2, i * 2, 1)).collect()), "m").is_err());
    }

    #[test]
    fn rlimit_and_oom_validation() {
        let p =
            |proc_extra: &str| base("", "").replace(r#""args":["true"]"#, &format!(r#""args":["true"]{proc_extra}"#));
        assert!(err(&p(r#","rlimits":[{"type":"RLIMIT_NOFILE","soft":10,"hard":5}]"#)).contains("exceeds"));
        assert!(err(&p(
            r#","rlimits":[{"type":"RLIMIT_NOFILE","soft":1,"hard":5},{"type":"RLIMIT_NOFILE","soft":1,"hard":5}]"#
        ))
        .contains("duplicate"));
        assert!(err(&p(r#","oomScoreAdj":1001"#)).contains("oomScoreAdj"));
        assert!(err(&p(r#","env":["NOEQUALS"]"#)).contains("process.env[0]"));
        let rel = base("", "").replace(r#""cwd":"/""#, r#""cwd":"rel""#);
        assert!(err(&rel).contains("process.cwd"));
    }
}
