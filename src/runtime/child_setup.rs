//! ContainerPlan → ChildArgs: every decision about the child is taken here, in the parent.

use crate::linux::cgroup::Cgroup;
use crate::linux::child_args::{cstr, CStringArray, ChildArgs, PathWalk, RootOp, RootfsArgs};
use crate::linux::ns;
use crate::plan::{ContainerPlan, DeviceKind, MountKind, MountPlan, NsKind, NsSource, ProcessPlan};
use anyhow::{Context, Result};
use std::os::fd::OwnedFd;
use std::path::Path;

/// The split of a container's namespaces between clone flags, setns and unshare.
pub struct NsSetup {
    pub clone_flags: u64,
    /// Joined in the child, user first.
    pub joins: Vec<(OwnedFd, libc::c_int)>,
    /// A PID namespace to join: setns'd in the parent (it only affects children).
    pub pid_ns: Option<OwnedFd>,
    pub unshare_flags: libc::c_int,
}

pub fn namespaces(plan: &ContainerPlan) -> Result<NsSetup> {
    let mut s = NsSetup { clone_flags: 0, joins: Vec::new(), pid_ns: None, unshare_flags: 0 };
    let joining_user = matches!(plan.namespaces.get(&NsKind::User), Some(NsSource::Join(_)));
    for (kind, src) in &plan.namespaces {
        match src {
            NsSource::Join(path) => {
                let fd = ns::open_checked(path, *kind)?;
                if *kind == NsKind::Pid {
                    s.pid_ns = Some(fd);
                } else {
                    s.joins.push((fd, kind.flag()));
                }
            }
            // The cgroup namespace is made after the parent put us in our cgroup, so that it
            // is the namespace's root.
            NsSource::New if *kind == NsKind::Cgroup => s.unshare_flags |= kind.flag(),
            // A new PID namespace only exists for children: it must be a clone flag.
            NsSource::New if *kind == NsKind::Pid => s.clone_flags |= kind.flag() as u64,
            // Namespaces owned by a joined user namespace are made after joining it.
            NsSource::New if joining_user => s.unshare_flags |= kind.flag(),
            NsSource::New => s.clone_flags |= kind.flag() as u64,
        }
    }
    // NsKind orders user first, so joins are already in the kernel's required order.
    Ok(s)
}

fn mount_op(m: &MountPlan, plan: &ContainerPlan) -> Result<RootOp> {
    let (fstype, flags, remount_flags, file) = match m.kind {
        MountKind::Bind { recursive } => {
            let mut f = libc::MS_BIND;
            if recursive {
                f |= libc::MS_REC;
            }
            // Flags beyond bind need a remount: mount(2) ignores them on the bind itself.
            let extra = m.flags & !libc::MS_REC;
            let file = match &m.beneath {
                Some(rel) => {
                    let fd = crate::linux::sys::open_beneath(Path::new(&m.source), rel, false)
                        .with_context(|| format!("bind mount source {rel:?} beneath {}", m.source))?;
                    std::fs::File::from(fd).metadata().map(|md| md.is_file()).unwrap_or(false)
                }
                None => {
                    std::fs::metadata(&m.source).with_context(|| format!("bind mount source {}", m.source))?.is_file()
                }
            };
            (None, f, extra, file)
        }
        _ => (Some(cstr(&m.fstype)?), m.flags, 0, false),
    };
    // sysfs needs a network namespace we own; without one, bind the host's /sys instead.
    if m.kind == MountKind::Fs && m.fstype == "sysfs" && !plan.has_new(NsKind::Net) {
        return Ok(RootOp::Mount {
            dest: PathWalk::new(&m.dest)?,
            source: cstr("/sys")?,
            fstype: None,
            flags: (libc::MS_BIND | libc::MS_REC) as libc::c_ulong,
            data: None,
            file: false,
            no_symlinks: true,
            propagation: vec![(libc::MS_SLAVE | libc::MS_REC) as libc::c_ulong],
            remount_flags: m.flags as libc::c_ulong,
            beneath: None,
            from_fd: -1,
        });
    }
    Ok(RootOp::Mount {
        dest: PathWalk::new(&m.dest)?,
        source: cstr(if m.source.is_empty() { &m.fstype } else { &m.source })?,
        fstype,
        flags: flags as libc::c_ulong,
        data: if m.data.is_empty() { None } else { Some(cstr(&m.data)?) },
        file,
        no_symlinks: m.kind == MountKind::Fs && (m.fstype == "proc" || m.fstype == "sysfs"),
        propagation: m.propagation.iter().map(|p| *p as libc::c_ulong).collect(),
        remount_flags: remount_flags as libc::c_ulong,
        beneath: m.beneath.as_deref().map(cstr).transpose()?,
        from_fd: -1,
    })
}

/// `type: cgroup` → a tmpfs with one mount per hierarchy (v1) or one cgroup2 mount (v2). With
/// a cgroup namespace the kernel shows the container's cgroup as the root; without one, the
/// container's own directories are bind-mounted, so it never sees its siblings.
fn cgroup_ops(m: &MountPlan, plan: &ContainerPlan, cg: Option<&Cgroup>, ops: &mut Vec<(RootOp, String)>) -> Result<()> {
    let ro = m.flags & libc::MS_RDONLY != 0;
    let base = m.flags & !libc::MS_RDONLY;
    let cgroupns = plan.has_ns(NsKind::Cgroup);
    let bind = |dest: String, src: &Path| -> Result<RootOp> {
        Ok(RootOp::Mount {
            dest: PathWalk::new(&dest)?,
            source: cstr(&src.to_string_lossy())?,
            fstype: None,
            flags: (libc::MS_BIND | libc::MS_REC) as libc::c_ulong,
            data: None,
            file: false,
            no_symlinks: true,
            propagation: Vec::new(),
            remount_flags: (base | if ro { libc::MS_RDONLY } else { 0 }) as libc::c_ulong,
            beneath: None,
            from_fd: -1,
        })
    };
    let fs = |dest: String, fstype: &str, data: Option<String>| -> Result<RootOp> {
        Ok(RootOp::Mount {
            dest: PathWalk::new(&dest)?,
            source: cstr(fstype)?,
            fstype: Some(cstr(fstype)?),
            flags: m.flags as libc::c_ulong,
            data: data.map(|d| cstr(&d)).transpose()?,
            file: false,
            no_symlinks: true,
            propagation: Vec::new(),
            remount_flags: 0,
            beneath: None,
            from_fd: -1,
        })
    };
    match cg {
        None => Ok(()),
        Some(Cgroup::V2(v2)) => {
            let op = if cgroupns { fs(m.dest.clone(), "cgroup2", None)? } else { bind(m.dest.clone(), &v2.path)? };
            ops.push((op, format!("cgroup2 on {}", m.dest)));
            Ok(())
        }
        Some(Cgroup::V1(v1)) => {
            ops.push((
                RootOp::Mount {
                    dest: PathWalk::new(&m.dest)?,
                    source: cstr("tmpfs")?,
                    fstype: Some(cstr("tmpfs")?),
                    flags: base as libc::c_ulong,
                    data: Some(cstr("mode=755")?),
                    file: false,
                    no_symlinks: true,
                    propagation: Vec::new(),
                    remount_flags: 0,
                    beneath: None,
                    from_fd: -1,
                },
                format!("tmpfs on {}", m.dest),
            ));
            for d in &v1.dirs {
                let name = d.mountpoint.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if name.is_empty() {
                    continue;
                }
                let dest = format!("{}/{name}", m.dest.trim_end_matches('/'));
                let op = if cgroupns {
                    let opts =
                        d.controllers
                            .iter()
                            .map(|c| if c.starts_with("name=") { format!("none,{c}") } else { c.clone() });
                    fs(dest.clone(), "cgroup", Some(opts.collect::<Vec<_>>().join(",")))?
                } else {
                    bind(dest.clone(), &d.path)?
                };
                ops.push((op, format!("cgroup {name} on {dest}")));
                // cpu,cpuacct is also reachable as cpu and cpuacct, as on the host.
                if d.controllers.len() > 1 {
                    for c in &d.controllers {
                        let c = c.trim_start_matches("name=");
                        if c != name {
                            ops.push((
                                RootOp::Symlink {
                                    parent: PathWalk::new(&m.dest)?,
                                    name: cstr(c)?,
                                    target: cstr(&name)?,
                                },
                                format!("linking {}/{c}", m.dest),
                            ));
                        }
                    }
                }
            }
            if ro {
                ops.push((
                    RootOp::Remount { dest: PathWalk::new(&m.dest)?, flags: (base | libc::MS_RDONLY) as libc::c_ulong },
                    format!("remounting {} read-only", m.dest),
                ));
            }
            Ok(())
        }
    }
}

fn dev_ops(plan: &ContainerPlan, ops: &mut Vec<(RootOp, String)>) -> Result<()> {
    // A bind-mounted /dev is the host's (or the user's) business: leave it alone, as runc does.
    if plan.mounts.iter().any(|m| m.dest == "/dev" && matches!(m.kind, MountKind::Bind { .. })) {
        return Ok(());
    }
    for d in &plan.devices {
        let (parent, name) = d.path.rsplit_once('/').unwrap_or(("/dev", d.path.as_str()));
        let kind = match d.kind {
            DeviceKind::Char => libc::S_IFCHR,
            DeviceKind::Block => libc::S_IFBLK,
            DeviceKind::Fifo => libc::S_IFIFO,
        };
        ops.push((
            RootOp::Device {
                parent: PathWalk::new(parent)?,
                name: cstr(name)?,
                host_path: cstr(&d.path)?,
                mode: kind | d.mode,
                dev: libc::makedev(d.major as u32, d.minor as u32),
                uid: d.uid,
                gid: d.gid,
            },
            format!("device {}", d.path),
        ));
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
        ("ptmx", "pts/ptmx"),
    ] {
        ops.push((
            RootOp::Symlink { parent: PathWalk::new("/dev")?, name: cstr(name)?, target: cstr(target)? },
            format!("linking /dev/{name}"),
        ));
    }
    Ok(())
}

/// Everything about the root filesystem.
fn rootfs_args(plan: &ContainerPlan, cg: Option<&Cgroup>, no_pivot: bool) -> Result<RootfsArgs> {
    let mut ops: Vec<(RootOp, String)> = Vec::new();
    for m in &plan.mounts {
        if m.kind == MountKind::Cgroup {
            cgroup_ops(m, plan, cg, &mut ops)?;
        } else {
            let what = if m.fstype.is_empty() { "bind".to_string() } else { m.fstype.clone() };
            ops.push((mount_op(m, plan)?, format!("{what} on {}", m.dest)));
        }
    }
    dev_ops(plan, &mut ops)?;
    let walks = |v: &[String]| v.iter().map(|p| PathWalk::new(p)).collect::<Result<Vec<_>>>();
    let (ops, op_names): (Vec<RootOp>, Vec<String>) = ops.into_iter().unzip();
    Ok(RootfsArgs {
        rootfs: cstr(&plan.rootfs.to_string_lossy())?,
        overlay: plan
            .overlay
            .as_ref()
            // volatile: a container's writable layer is thrown away, so its unmount at exit
            // need not sync it (that sync took ~150 ms per container exit).
            .map(|o| {
                cstr(&format!(
                    "lowerdir={},upperdir={},workdir={},volatile",
                    o.lower,
                    o.upper.display(),
                    o.work.display()
                ))
            })
            .transpose()?,
        overlay_cwd: plan
            .overlay
            .as_ref()
            .and_then(|o| o.lower_cwd.as_ref())
            .map(|d| cstr(&d.to_string_lossy()))
            .transpose()?,
        propagation: plan.rootfs_propagation as libc::c_ulong,
        ops,
        op_names,
        console: if plan.process.terminal { Some(PathWalk::new("/dev/console")?) } else { None },
        readonly_paths: walks(&plan.readonly_paths)?,
        masked_paths: walks(&plan.masked_paths)?,
        readonly_root: plan.readonly_root,
        no_pivot,
    })
}

/// The parts of ChildArgs that depend only on the process (shared by create and exec).
pub fn process_args(
    p: &ProcessPlan,
    seccomp: Option<crate::plan::seccomp::BpfProgram>,
    preserve_fds: u32,
) -> Result<ChildArgs> {
    // fds 3 .. 3+N-1 must exist in this process: N is bounded by the open file limit.
    let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    if u64::from(preserve_fds) + 3 > limit {
        anyhow::bail!("--preserve-fds {preserve_fds}: more than the open file limit ({limit})");
    }
    let mut groups: Vec<libc::gid_t> = p.additional_gids.clone();
    groups.sort_unstable();
    groups.dedup();
    let rlimits = p.rlimits.iter().map(|r| (r.resource, libc::rlimit { rlim_cur: r.soft, rlim_max: r.hard })).collect();
    Ok(ChildArgs {
        sync_fd: -1,
        gate_fd: -1,
        joins: Vec::new(),
        unshare_flags: 0,
        hostname: None,
        domainname: None,
        rootfs: None,
        pause_for_hooks: false,
        sysctls: Vec::new(),
        rlimits,
        umask: p.umask.unwrap_or(0o022) as libc::mode_t,
        console_fd: -1,
        uid: p.uid,
        gid: p.gid,
        groups,
        caps: p.caps,
        last_cap: crate::plan::caps::last_cap(),
        no_new_privs: p.no_new_privileges,
        seccomp,
        cwd: cstr(&p.cwd)?,
        candidates: p.exec_candidates().iter().map(|c| cstr(c)).collect::<Result<_>>()?,
        argv: CStringArray::new(&p.args)?,
        envp: CStringArray::new(&p.env)?,
        first_closed_fd: 3 + preserve_fds,
        stdio: [-1; 3],
        die_with_parent: None,
        keep_fds: Vec::new(),
        late_pid_ns: -1,
        become_root: false,
        direct: false,
        cgroup_procs: Vec::new(),
    })
}

/// ChildArgs for a container's init.
pub fn init_args(
    plan: &ContainerPlan,
    ns: NsSetup,
    cg: Option<&Cgroup>,
    no_pivot: bool,
    preserve_fds: u32,
) -> Result<ChildArgs> {
    let mut a = process_args(&plan.process, plan.seccomp.clone(), preserve_fds)?;
    a.joins = ns.joins;
    a.unshare_flags = ns.unshare_flags;
    a.become_root = plan.has_ns(NsKind::User);
    a.hostname = plan.hostname.as_deref().map(cstr).transpose()?;
    a.domainname = plan.domainname.as_deref().map(cstr).transpose()?;
    a.rootfs = Some(rootfs_args(plan, cg, no_pivot)?);
    let h = &plan.hooks;
    a.pause_for_hooks = !(h.prestart.is_empty() && h.create_runtime.is_empty() && h.create_container.is_empty());
    a.sysctls = plan
        .sysctls
        .iter()
        .map(|(k, v)| Ok((cstr(&format!("/proc/sys/{}", k.replace('.', "/")))?, cstr(v)?)))
        .collect::<Result<_>>()?;
    Ok(a)
}
