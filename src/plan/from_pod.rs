//! A Pod manifest's container → `ContainerPlan`. This is the whole idea of runp in one place:
//! a pod container is an OCI container whose namespace entries point at the pause process.
//! Pure: every path and id comes in through `PodContext`.

use crate::plan::caps;
use crate::plan::container::*;
use crate::plan::resources::{default_device_rules, CgroupResources};
use crate::spec::pod::{Container, Pod};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Docker's and containerd's default capabilities (docs/security.md#pod-containers).
pub const DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The image's runtime defaults.
#[derive(Debug, Clone, Default)]
pub struct ImageDefaults {
    /// The overlay's `lowerdir=` (top layer first) and, for short names, where it resolves.
    pub lowerdir: String,
    pub lower_cwd: Option<PathBuf>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    /// The image's USER, resolved in its /etc/passwd and /etc/group; None: root.
    pub user: Option<(u32, u32)>,
    /// The image's USER as written (for runAsNonRoot's message).
    pub user_spec: String,
}

/// Where one container instance lives and what it joins.
#[derive(Debug, Clone)]
pub struct PodContext {
    /// The pod's data directory: `etc/` (hosts, hostname, resolv.conf); the bundle path.
    pub pod_dir: PathBuf,
    /// The pod's /dev/shm on the host (in its run directory).
    pub shm: PathBuf,
    /// The pause process whose namespaces the container joins.
    pub pause_pid: i32,
    /// Join pause's PID namespace (runp's default) instead of getting a private one.
    pub share_pid: bool,
    /// This instance's directory: `upper`, `work` and `rootfs` (the overlay mount point).
    pub instance_dir: PathBuf,
    /// Host file bind-mounted at terminationMessagePath.
    pub termination_file: PathBuf,
    /// Host directory of each volume, by name (emptyDir dirs, hostPath paths).
    pub volumes: BTreeMap<String, PathBuf>,
    pub pod_ip: String,
    pub host_ip: String,
    pub node_name: String,
    pub cgroup_parent: String,
}

fn mount(kind: MountKind, source: &str, fstype: &str, dest: &str, flags: u64, data: &str) -> MountPlan {
    MountPlan {
        kind,
        source: source.into(),
        fstype: fstype.into(),
        dest: dest.into(),
        flags,
        propagation: Vec::new(),
        data: data.into(),
        beneath: None,
    }
}

fn bind(source: &str, dest: &str, ro: bool) -> MountPlan {
    let flags = if ro { libc::MS_RDONLY } else { 0 };
    mount(MountKind::Bind { recursive: true }, source, "", dest, flags, "")
}

/// The mounts every container gets (as `runp spec`), then the pod's files and volumes.
fn mounts(c: &Container, ctx: &PodContext) -> Result<Vec<MountPlan>> {
    let nosuid = libc::MS_NOSUID;
    let (noexec, nodev, ro) = (libc::MS_NOEXEC, libc::MS_NODEV, libc::MS_RDONLY);
    let mut m = vec![
        mount(MountKind::Fs, "proc", "proc", "/proc", nosuid | noexec | nodev, ""),
        mount(MountKind::Fs, "tmpfs", "tmpfs", "/dev", nosuid | libc::MS_STRICTATIME, "mode=755,size=65536k"),
        mount(
            MountKind::Fs,
            "devpts",
            "devpts",
            "/dev/pts",
            nosuid | noexec,
            "newinstance,ptmxmode=0666,mode=0620,gid=5",
        ),
        // One /dev/shm for the whole pod (it shares the IPC namespace): the sandbox's tmpfs.
        mount(
            MountKind::Bind { recursive: false },
            &ctx.shm.to_string_lossy(),
            "",
            "/dev/shm",
            nosuid | noexec | nodev,
            "",
        ),
        mount(MountKind::Fs, "mqueue", "mqueue", "/dev/mqueue", nosuid | noexec | nodev, ""),
        mount(MountKind::Fs, "sysfs", "sysfs", "/sys", nosuid | noexec | nodev | ro, ""),
        mount(MountKind::Cgroup, "cgroup", "cgroup", "/sys/fs/cgroup", nosuid | noexec | nodev | ro, ""),
    ];
    let etc = ctx.pod_dir.join("etc");
    for f in ["hosts", "hostname", "resolv.conf"] {
        let dest = format!("/etc/{f}");
        if !c.volume_mounts.iter().any(|v| v.mount_path == dest) {
            m.push(bind(&etc.join(f).to_string_lossy(), &dest, false));
        }
    }
    if !c.termination_message_path.is_empty() {
        m.push(bind(&ctx.termination_file.to_string_lossy(), &c.termination_message_path, false));
    }
    for (i, vm) in c.volume_mounts.iter().enumerate() {
        let src = ctx.volumes.get(&vm.name).with_context(|| {
            format!("spec.containers[{}].volumeMounts[{i}].name: volume {:?} not found", c.name, vm.name)
        })?;
        let mut b = bind(&src.to_string_lossy(), &vm.mount_path, vm.read_only);
        // Never a plain join: a symlink in the volume could point anywhere on the host.
        b.beneath = vm.sub_path.clone().filter(|s| !s.is_empty());
        m.push(b);
    }
    Ok(m)
}

/// `$(VAR)`-expanded env: the image's, then the container's (with the downward API).
fn env(pod: &Pod, c: &Container, image: &ImageDefaults, ctx: &PodContext) -> Result<Vec<String>> {
    let mut vars: Vec<(String, String)> = Vec::new();
    let set = |vars: &mut Vec<(String, String)>, k: String, v: String| {
        vars.retain(|(n, _)| *n != k);
        vars.push((k, v));
    };
    set(&mut vars, "PATH".into(), DEFAULT_PATH["PATH=".len()..].into());
    for e in &image.env {
        if let Some((k, v)) = e.split_once('=') {
            set(&mut vars, k.into(), v.into());
        }
    }
    let hostname = pod_hostname(pod);
    set(&mut vars, "HOSTNAME".into(), hostname);
    for e in &c.env {
        let value = if let Some(v) = &e.value {
            crate::spec::pod::env::expand(v, &vars)
        } else if let Some(src) = e.value_from.as_ref().and_then(|f| f.field_ref.as_ref()) {
            match src.field_path.as_str() {
                "metadata.name" => pod.metadata.name.clone(),
                "metadata.namespace" => pod.metadata.namespace.clone(),
                "metadata.uid" => pod.metadata.uid.clone(),
                "status.podIP" => ctx.pod_ip.clone(),
                "status.hostIP" => ctx.host_ip.clone(),
                "spec.nodeName" => ctx.node_name.clone(),
                other => bail!("env {}: fieldRef {other} is not supported", e.name),
            }
        } else {
            String::new()
        };
        set(&mut vars, e.name.clone(), value);
    }
    Ok(vars.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

/// The hostname: spec.hostname, else the pod name cut to 63 characters, trailing `-` and `.`
/// removed (docs/pod-lifecycle.md#network-hostname-and-dns).
pub fn pod_hostname(pod: &Pod) -> String {
    if let Some(h) = pod.spec.hostname.as_deref().filter(|h| !h.is_empty()) {
        return h.to_string();
    }
    let mut n: String = pod.metadata.name.chars().take(63).collect();
    while n.ends_with('-') || n.ends_with('.') {
        n.pop();
    }
    n
}

/// The kubelet's runAsNonRoot check (CreateContainerConfigError when it fails): runAsUser
/// when set, else the image's USER, which must then be numeric and not 0.
pub fn check_non_root(pod: &Pod, c: &Container, image: &ImageDefaults) -> Result<(), String> {
    let sc = c.security_context.clone().unwrap_or_default();
    let psc = pod.spec.security_context.clone().unwrap_or_default();
    if sc.run_as_non_root.or(psc.run_as_non_root) != Some(true) {
        return Ok(());
    }
    let m = &pod.metadata;
    let pod_ref = format!("{}_{}({})", m.name, m.namespace, m.uid);
    match sc.run_as_user.or(psc.run_as_user) {
        Some(0) => {
            Err(format!("container's runAsUser breaks non-root policy (pod: {pod_ref:?}, container: {})", c.name))
        }
        Some(_) => Ok(()),
        None => {
            let user = image.user_spec.split(':').next().unwrap_or("");
            if !user.is_empty() && !user.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "container has runAsNonRoot and image has non-numeric user ({user}), cannot verify user is non-root (pod: {pod_ref:?}, container: {})",
                    c.name
                ));
            }
            if image.user.unwrap_or((0, 0)).0 == 0 {
                return Err(format!(
                    "container has runAsNonRoot and image will run as root (pod: {pod_ref:?}, container: {})",
                    c.name
                ));
            }
            Ok(())
        }
    }
}

/// Builds the plan for one instance of container `c`.
pub fn container_plan(pod: &Pod, c: &Container, image: &ImageDefaults, ctx: &PodContext) -> Result<ContainerPlan> {
    let env = env(pod, c, image, ctx)?;
    let vars: Vec<(String, String)> =
        env.iter().filter_map(|e| e.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let expand = |v: &[String]| -> Vec<String> { v.iter().map(|s| crate::spec::pod::env::expand(s, &vars)).collect() };
    // The kubelet's rules: command replaces the entrypoint (and drops the image's cmd); args
    // replace the cmd; $(VAR) expands in the container's command and args only.
    let args = crate::image::config::effective_command(
        Some(&image.entrypoint),
        Some(&image.cmd),
        &expand(&c.command),
        &expand(&c.args),
    )
    .map_err(|e| anyhow::anyhow!("container {}: {e}", c.name))?;
    let sc = c.security_context.clone().unwrap_or_default();
    let psc = pod.spec.security_context.clone().unwrap_or_default();
    if let Err(m) = check_non_root(pod, c, image) {
        bail!("{m}");
    }
    let (image_uid, image_gid) = image.user.unwrap_or((0, 0));
    let run_as_user = sc.run_as_user.or(psc.run_as_user);
    let uid = run_as_user.unwrap_or(i64::from(image_uid));
    let gid =
        sc.run_as_group.or(psc.run_as_group).unwrap_or(if run_as_user.is_some() { 0 } else { i64::from(image_gid) });
    let mut capmask = caps::mask(DEFAULT_CAPS, "capabilities")?;
    if let Some(cs) = &sc.capabilities {
        let norm = |v: &[String]| v.iter().map(|s| s.to_ascii_uppercase()).collect::<Vec<_>>();
        let (add, drop) = (norm(&cs.add), norm(&cs.drop));
        if drop.iter().any(|d| d == "ALL") {
            capmask = 0;
        } else {
            capmask &= !caps::mask(drop.iter().map(String::as_str), "securityContext.capabilities.drop")?;
        }
        if add.iter().any(|a| a == "ALL") {
            capmask = caps::all_available();
        } else {
            capmask |= caps::mask(add.iter().map(String::as_str), "securityContext.capabilities.add")?;
        }
    }
    if sc.privileged == Some(true) {
        capmask = caps::all_available();
    }
    let mut groups: Vec<u32> = psc.supplemental_groups.iter().filter_map(|g| u32::try_from(*g).ok()).collect();
    if let Some(fs) = psc.fs_group.and_then(|g| u32::try_from(g).ok()) {
        groups.push(fs);
    }
    let process = ProcessPlan {
        args,
        env,
        cwd: c.working_dir.clone().filter(|w| !w.is_empty()).unwrap_or_else(|| {
            if image.working_dir.is_empty() {
                "/".into()
            } else {
                image.working_dir.clone()
            }
        }),
        terminal: false,
        console_size: None,
        uid: u32::try_from(uid).context("runAsUser")?,
        gid: u32::try_from(gid).context("runAsGroup")?,
        additional_gids: groups,
        umask: None,
        caps: CapSets { bounding: capmask, effective: capmask, permitted: capmask, inheritable: 0, ambient: 0 },
        rlimits: Vec::new(),
        no_new_privileges: sc.allow_privilege_escalation == Some(false),
        oom_score_adj: None,
    };
    let mut namespaces = BTreeMap::new();
    namespaces.insert(NsKind::Mount, NsSource::New);
    let join = |k: NsKind| NsSource::Join(PathBuf::from(format!("/proc/{}/ns/{}", ctx.pause_pid, k.proc_name())));
    if !pod.spec.host_network {
        namespaces.insert(NsKind::Net, join(NsKind::Net));
        namespaces.insert(NsKind::Uts, join(NsKind::Uts));
    }
    if !pod.spec.host_ipc {
        namespaces.insert(NsKind::Ipc, join(NsKind::Ipc));
    }
    if !pod.spec.host_pid {
        namespaces.insert(NsKind::Pid, if ctx.share_pid { join(NsKind::Pid) } else { NsSource::New });
    }
    let mut resources = CgroupResources { devices: default_device_rules(), ..Default::default() };
    if let Some(q) = c.resources.limits.get("memory") {
        resources.memory_limit = Some(q.value());
    }
    if let Some(q) = c.resources.limits.get("cpu") {
        resources.cpu_period = Some(100_000);
        resources.cpu_quota = Some((q.milli_value() * 100).max(1000));
    }
    if let Some(q) = c.resources.requests.get("cpu") {
        resources.cpu_shares = Some(((q.milli_value() * 1024) / 1000).max(2) as u64);
    }
    let (ro, masked) = default_paths();
    Ok(ContainerPlan {
        bundle: ctx.pod_dir.clone(),
        rootfs: ctx.instance_dir.join("rootfs"),
        overlay: Some(Overlay {
            lower: image.lowerdir.clone(),
            lower_cwd: image.lower_cwd.clone(),
            upper: ctx.instance_dir.join("upper"),
            work: ctx.instance_dir.join("work"),
        }),
        readonly_root: sc.read_only_root_filesystem == Some(true),
        namespaces,
        uid_mappings: Vec::new(),
        gid_mappings: Vec::new(),
        hostname: None,
        domainname: None,
        mounts: mounts(c, ctx)?,
        rootfs_propagation: (libc::MS_SLAVE | libc::MS_REC),
        masked_paths: if sc.privileged == Some(true) { Vec::new() } else { masked },
        readonly_paths: if sc.privileged == Some(true) { Vec::new() } else { ro },
        devices: default_devices(),
        sysctls: Vec::new(),
        process,
        cgroups_path: Some(format!("{}/{}", ctx.cgroup_parent, c.name)),
        resources,
        seccomp: None,
        hooks: HooksPlan::default(),
        annotations: BTreeMap::from([
            ("io.kubernetes.pod.name".to_string(), pod.metadata.name.clone()),
            ("io.kubernetes.pod.namespace".to_string(), pod.metadata.namespace.clone()),
            ("io.kubernetes.container.name".to_string(), c.name.clone()),
        ]),
    })
}

fn default_devices() -> Vec<DevicePlan> {
    [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ]
    .into_iter()
    .map(|(p, major, minor)| DevicePlan {
        path: p.into(),
        kind: DeviceKind::Char,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// runc's default read-only and masked paths.
fn default_paths() -> (Vec<String>, Vec<String>) {
    let ro = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];
    let masked = [
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
        "/proc/interrupts",
        "/sys/devices/virtual/powercap",
    ];
    (ro.iter().map(|s| s.to_string()).collect(), masked.iter().map(|s| s.to_string()).collect())
}
