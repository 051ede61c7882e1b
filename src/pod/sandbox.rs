//! The pod sandbox: its directories and /etc files, its volumes, the pause process holding the
//! pod's namespaces (the supervisor joins its network namespace), and the teardown at the end.

use super::supervisor::Supervisor;
use crate::linux::mounts;
use crate::plan::from_pod;
use crate::spec::pod::StorageMedium;
use anyhow::{Context, Result};
use std::path::Path;
use std::time::Duration;

impl Supervisor {
    /// Directories, /etc files, volumes, the pause process; then the supervisor joins the pod's
    /// network namespace so that httpGet/tcpSocket handlers reach `localhost` of the pod.
    pub fn create_sandbox(&mut self) -> Result<()> {
        self.dir.make_dirs()?;
        let shm = self.dir.shm();
        if self.pod.spec.host_ipc {
            mounts::bind(Path::new("/dev/shm"), &shm).context("the pod's /dev/shm (hostIPC)")?;
        } else {
            mounts::tmpfs("shm", &shm, "mode=1777,size=65536k", true).context("the pod's /dev/shm")?;
        }
        let hostname = from_pod::pod_hostname(&self.pod);
        let hosts = format!("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t{hostname}\n");
        std::fs::write(self.dir.etc("hosts"), hosts)?;
        std::fs::write(self.dir.etc("hostname"), format!("{hostname}\n"))?;
        let resolv = match &self.pod.spec.dns_config {
            Some(cfg) if self.pod.spec.dns_policy.as_str() == "None" => {
                let mut s = String::new();
                for n in &cfg.nameservers {
                    s.push_str(&format!("nameserver {n}\n"));
                }
                if !cfg.searches.is_empty() {
                    s.push_str(&format!("search {}\n", cfg.searches.join(" ")));
                }
                s
            }
            _ => std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        };
        std::fs::write(self.dir.etc("resolv.conf"), resolv)?;
        if self.pod.spec.dns_policy.as_str().starts_with("ClusterFirst") {
            let m = format!("pod: \"{}_{}({})\". kubelet does not have ClusterDNS IP configured and cannot create Pod using \"ClusterFirst\" policy. Falling back to \"Default\" policy.", self.pod.metadata.name, self.pod.metadata.namespace, self.pod.metadata.uid);
            self.event("Warning", "MissingClusterDNS", "", &m);
        }
        self.setup_volumes()?;
        self.pause = Some(self.spawn_pause()?);
        Ok(())
    }

    /// A pause process holding new namespaces (those the pod does not take from the host); the
    /// supervisor then joins its network namespace so that handlers and probes reach `localhost`.
    pub(super) fn spawn_pause(&self) -> Result<crate::linux::pause::Pause> {
        let s = &self.pod.spec;
        let mut flags = 0u64;
        if !s.host_pid {
            flags |= libc::CLONE_NEWPID as u64;
        }
        if !s.host_network {
            flags |= (libc::CLONE_NEWNET | libc::CLONE_NEWUTS) as u64;
        }
        if !s.host_ipc {
            flags |= libc::CLONE_NEWIPC as u64;
        }
        let hostname = from_pod::pod_hostname(&self.pod);
        let host = if s.host_network { None } else { Some(hostname.as_str()) };
        let mut pause = crate::linux::pause::spawn(flags, host)?;
        // The /proc of the pod's containers (see runtime::create::late_proc_mounts): pause's,
        // mounted on the host at <pod>/proc; a re-created sandbox replaces the old one.
        let proc_dir = self.dir.proc_dir();
        mounts::detach(&proc_dir);
        if let Some(fd) = pause.proc_mount.take() {
            if let Err(e) = mounts::attach(&fd, &proc_dir) {
                pause.stop(Duration::from_secs(2));
                return Err(e.context("the pod's /proc"));
            }
        }
        if !s.host_network {
            mounts::join_net_ns_of(pause.pid)?;
        }
        Ok(pause)
    }

    fn setup_volumes(&mut self) -> Result<()> {
        for (i, v) in self.pod.spec.volumes.clone().iter().enumerate() {
            let field = format!("spec.volumes[{i}]");
            if let Some(ed) = &v.empty_dir {
                let dir = if ed.medium == StorageMedium::Memory {
                    self.dir.memory_volume(&v.name)
                } else {
                    self.dir.volume(&v.name)
                };
                std::fs::create_dir_all(&dir).with_context(|| format!("{field}: creating {}", dir.display()))?;
                std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(&dir)?.permissions(), 0o777);
                std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))?;
                if ed.medium == StorageMedium::Memory {
                    let size = ed.size_limit.as_ref().and_then(|q| q.bytes()).unwrap_or(64 << 20);
                    mounts::tmpfs("tmpfs", &dir, &format!("size={size},mode=1777"), false)
                        .with_context(|| format!("{field}.emptyDir"))?;
                }
                self.volumes.insert(v.name.clone(), dir);
            } else if let Some(hp) = &v.host_path {
                let p = std::path::PathBuf::from(&hp.path);
                super::volumes::prepare_host_path(&p, hp.type_.as_str())
                    .with_context(|| format!("{field}.hostPath"))?;
                self.volumes.insert(v.name.clone(), p);
            }
        }
        Ok(())
    }

    /// Stops pause, unmounts memory volumes, removes the pod's cgroup directories.
    pub fn teardown(&mut self) {
        if let Some(p) = self.pause.take() {
            p.stop(Duration::from_secs(2));
            self.reap_quietly(p.pid);
        }
        for v in &self.pod.spec.volumes {
            if v.empty_dir.as_ref().is_some_and(|e| e.medium == StorageMedium::Memory) {
                let dir = self.dir.memory_volume(&v.name);
                mounts::detach(&dir);
            }
        }
        mounts::detach(&self.dir.shm());
        mounts::detach(&self.dir.proc_dir());
        super::volumes::remove_cgroup_dirs(&self.cgroup_parent);
        if let Err(e) = super::store::remove_tree(&self.dir.containers()) {
            log::warn!("{e:#}");
        }
        let _ = std::fs::remove_file(self.dir.control());
        if let Err(e) = self.images.release_pod(&self.pod.metadata.uid) {
            log::warn!("{e:#}");
        }
    }

    fn reap_quietly(&self, pid: i32) {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
    }
}
