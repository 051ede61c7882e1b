//! What the supervisor does to containers, with the kubelet's rules: init containers one at a
//! time, app containers in order (each after its postStart), restarts with CrashLoopBackOff,
//! and termination: preStop, then the stop signal, then SIGKILL when the grace ends (at least
//! 2 s after the stop signal), sidecars last in reverse order, pause at the very end.

use super::backoff::Decision;
use super::handlers::{self, Run};
use super::logs::{self, LogWriter, Stream};
use super::status::{self, Kind, State, Terminated};
use super::supervisor::{HookKind, Instance, Stopping, Supervisor};
use crate::plan::from_pod::{self, ImageDefaults, PodContext};
use crate::runtime::{create, delete, kill, run};
use crate::spec::pod::{Action, RestartPolicy, StorageMedium, TerminationMessagePolicy};
use anyhow::{anyhow, bail, Context, Result};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

fn now() -> String {
    crate::time::rfc3339(std::time::SystemTime::now())
}

fn random_hex() -> String {
    let mut b = [0u8; 32];
    let ok = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b)).is_ok();
    if !ok {
        // Unique enough as a fallback: time and pid.
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        return format!("{:032x}{:08x}", t, std::process::id());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    nix::fcntl::fcntl(&r, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK)).context("fcntl")?;
    Ok((r, w))
}

fn devnull() -> Result<OwnedFd> {
    Ok(std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").context("opening /dev/null")?.into())
}

impl Supervisor {
    /// Directories, /etc files, volumes, the pause process; then the supervisor joins the pod's
    /// network namespace so that httpGet/tcpSocket handlers reach `localhost` of the pod.
    pub fn create_sandbox(&mut self) -> Result<()> {
        self.dir.make_dirs()?;
        let shm = self.dir.shm();
        if self.pod.spec.host_ipc {
            nix::mount::mount(Some("/dev/shm"), &shm, None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>)
                .context("binding the host's /dev/shm")?;
        } else {
            use nix::mount::MsFlags as F;
            nix::mount::mount(
                Some("shm"),
                &shm,
                Some("tmpfs"),
                F::MS_NOSUID | F::MS_NODEV | F::MS_NOEXEC,
                Some("mode=1777,size=65536k"),
            )
            .context("mounting the pod's /dev/shm")?;
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
        // Every image must be there before anything starts.
        for c in self.pod.spec.all_containers() {
            self.images.get(&c.image).with_context(|| format!("container {}", c.name))?;
        }
        self.pause = Some(self.spawn_pause()?);
        Ok(())
    }

    /// A pause process holding new namespaces (those the pod does not take from the host); the
    /// supervisor then joins its network namespace so that handlers and probes reach `localhost`.
    fn spawn_pause(&self) -> Result<crate::linux::pause::Pause> {
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
        let _ = nix::mount::umount2(&proc_dir, nix::mount::MntFlags::MNT_DETACH);
        if let Some(fd) = pause.proc_mount.take() {
            if let Err(e) = crate::linux::sys::attach_mount(&fd, &proc_dir) {
                pause.stop(Duration::from_secs(2));
                return Err(anyhow!("mounting the pod's /proc on {}: {e}", proc_dir.display()));
            }
        }
        if !s.host_network {
            let ns = std::fs::File::open(format!("/proc/{}/ns/net", pause.pid))
                .context("opening the pod's network namespace")?;
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .context("joining the pod's network namespace")?;
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
                    nix::mount::mount(
                        Some("tmpfs"),
                        &dir,
                        Some("tmpfs"),
                        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
                        Some(format!("size={size},mode=1777").as_str()),
                    )
                    .with_context(|| format!("{field}: mounting tmpfs on {}", dir.display()))?;
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
                let _ = nix::mount::umount2(&dir, nix::mount::MntFlags::MNT_DETACH);
            }
        }
        let _ = nix::mount::umount2(&self.dir.shm(), nix::mount::MntFlags::MNT_DETACH);
        let _ = nix::mount::umount2(&self.dir.proc_dir(), nix::mount::MntFlags::MNT_DETACH);
        super::volumes::remove_cgroup_dirs(&self.cgroup_parent);
        if let Err(e) = super::store::remove_tree(&self.dir.containers()) {
            log::warn!("{e:#}");
        }
        let _ = std::fs::remove_file(self.dir.control());
    }

    fn reap_quietly(&self, pid: i32) {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
    }

    /// Once every container of a dead sandbox has stopped: a new pause, and everything runs
    /// again from the first init container.
    pub fn recreate_sandbox(&mut self) {
        if !self.resandbox || self.ctrs.iter().any(|c| c.inst.is_some()) {
            return;
        }
        let pause = self.spawn_pause();
        self.resandbox = false;
        match pause {
            Ok(p) => self.pause = Some(p),
            Err(e) => {
                self.event("Warning", "FailedCreatePodSandBox", "", &format!("Failed to create pod sandbox: {e:#}"));
                self.request_stop(0, false);
                return;
            }
        }
        for c in &mut self.ctrs {
            // An app container that finished for good (OnFailure, exit 0) is not run again.
            if c.kind == Kind::App && c.done {
                continue;
            }
            c.done = false;
            c.rerun = true;
            if c.kind != Kind::App {
                let reason = status::INITIALIZING.to_string();
                if let State::Terminated(t) = &c.status.state {
                    c.status.last_state = Some(t.clone());
                }
                c.status.state = State::Waiting { reason, message: String::new() };
            }
        }
        self.advance();
    }

    /// Starts whatever may start now; finishes the pod when it is done.
    pub fn advance(&mut self) {
        if self.finished {
            return;
        }
        if self.terminating.is_some() {
            self.advance_termination();
            return;
        }
        if self.phase.is_terminal() {
            // Succeeded or Failed: stop whatever still runs (sidecars), then finish.
            let g = self.pod.spec.termination_grace_period_seconds;
            self.request_stop(g, false);
            return;
        }
        for i in 0..self.ctrs.len() {
            let c = &self.ctrs[i];
            match c.kind {
                Kind::App => break,
                Kind::Init => {
                    if matches!(c.status.state, State::Terminated(ref t) if t.exit_code == 0) {
                        continue;
                    }
                    if c.inst.is_none() && c.restart_at.is_none() && (c.instances == 0 || c.rerun) {
                        self.start_container(i);
                    }
                    return;
                }
                Kind::Sidecar => {
                    if c.status.started {
                        continue;
                    }
                    if c.inst.is_none() && c.restart_at.is_none() && (c.instances == 0 || c.rerun) {
                        self.start_container(i);
                        // Started at once (no postStart, no startup probe): nothing else would
                        // wake the loop to go on with the next container.
                        if self.ctrs[i].status.started {
                            continue;
                        }
                    }
                    return;
                }
            }
        }
        for i in 0..self.ctrs.len() {
            if self.ctrs[i].kind != Kind::App {
                continue;
            }
            if (self.ctrs[i].instances == 0 || self.ctrs[i].rerun) && self.ctrs[i].inst.is_none() {
                self.start_container(i);
            }
            // The next container starts only after this one's postStart returned.
            if matches!(self.ctrs[i].hook, Some((HookKind::PostStart, _))) {
                return;
            }
        }
        // Never/OnFailure: once every app container is done for good, the pod completes
        // (sidecars are stopped; the phase comes from the app containers).
        let apps_done = self.ctrs.iter().filter(|c| c.kind == Kind::App).all(|c| c.done);
        if apps_done && self.pod.spec.restart_policy != RestartPolicy::Always {
            let g = self.pod.spec.termination_grace_period_seconds;
            self.request_stop(g, false);
        }
    }

    /// Creates and starts one instance of container `i`.
    pub fn start_container(&mut self, i: usize) {
        if let Err(e) = self.try_start(i) {
            let msg = format!("{e:#}");
            let fp = self.ctrs[i].field_path.clone();
            self.event("Warning", "Failed", &fp, &format!("Error: {msg}"));
            let t = Terminated {
                exit_code: 128,
                reason: "StartError".into(),
                message: msg,
                started_at: now(),
                finished_at: now(),
                container_id: self.ctrs[i].status.container_id.clone(),
            };
            self.after_exit(i, t, Instant::now());
        }
    }

    fn try_start(&mut self, i: usize) -> Result<()> {
        let (rootfs, cfg) = self.images.get(&self.ctrs[i].spec.image)?;
        let n = self.ctrs[i].instances;
        self.ctrs[i].instances += 1;
        self.ctrs[i].rerun = false;
        {
            let st = &mut self.ctrs[i].status;
            if n > 0 {
                st.restart_count += 1;
                if let State::Terminated(t) = &st.state {
                    st.last_state = Some(t.clone());
                }
            }
        }
        let name = self.ctrs[i].spec.name.clone();
        let inst_dir = self.dir.instance(&name, n);
        for d in ["upper", "work", "rootfs"] {
            std::fs::create_dir_all(inst_dir.join(d)).with_context(|| format!("creating {}", inst_dir.display()))?;
        }
        let term = inst_dir.join("termination-log");
        std::fs::write(&term, b"")?;
        std::fs::set_permissions(&term, std::os::unix::fs::PermissionsExt::from_mode(0o666))?;
        let image = ImageDefaults {
            rootfs,
            entrypoint: cfg.entrypoint,
            cmd: cfg.cmd,
            env: cfg.env,
            working_dir: cfg.working_dir,
        };
        let pause_pid = self.pause.as_ref().map(|p| p.pid).ok_or_else(|| anyhow!("the pod sandbox is gone"))?;
        let ctx = PodContext {
            pod_dir: self.dir.data().to_path_buf(),
            shm: self.dir.shm(),
            pause_pid,
            share_pid: self.share_pid,
            instance_dir: inst_dir.clone(),
            termination_file: term.clone(),
            volumes: self.volumes.clone(),
            pod_ip: self.pod_ip.clone(),
            host_ip: self.host_ip.clone(),
            node_name: self.pod.spec.node_name.clone().unwrap_or_default(),
            cgroup_parent: self.cgroup_parent.clone(),
        };
        let spec = self.ctrs[i].spec.clone();
        for (k, vm) in spec.volume_mounts.iter().enumerate() {
            let Some(sub) = vm.sub_path.as_deref().filter(|s| !s.is_empty()) else { continue };
            let base = self.volumes.get(&vm.name).ok_or_else(|| anyhow!("volume {:?} not found", vm.name))?;
            // The kubelet creates a missing subPath as a directory (resolved beneath the volume).
            crate::linux::sys::open_beneath(base, sub, true)
                .with_context(|| format!("volumeMounts[{k}]: subPath {sub:?} of volume {:?}", vm.name))?;
        }
        let plan = from_pod::container_plan(&self.pod, &spec, &image, &ctx)?;
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let null = devnull()?;
        let oci_id = random_hex();
        let opts = create::CreateOptions {
            id: oci_id.clone(),
            no_gate: true,
            stdio: Some([null.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd()]),
            die_with_parent: true,
            // Used only when the container joins pause's PID namespace.
            pid_ns_proc: Some(self.dir.proc_dir()),
            ..Default::default()
        };
        self.ctrs[i].status.container_id = format!("runp://{oci_id}");
        let mut created = create::create_plan(&self.opts.root, plan, &opts)?;
        if let Err(e) = run::release(&mut created) {
            let _ = delete::delete(&self.opts.root, &oci_id, true);
            return Err(e);
        }
        drop((out_w, err_w, null));
        let log_path = logs::path(&self.dir.logs(), &name, n);
        let inst = Instance {
            oci_id,
            pid: created.state.pid,
            started: Instant::now(),
            started_at: now(),
            dir: inst_dir,
            termination_file: term,
            stdout: Some(out_r),
            stderr: Some(err_r),
            log: LogWriter::create(&log_path, self.opts.log_rotation)?,
            log_path,
            exec: None,
        };
        drop(created);
        self.ctrs[i].probes = super::probe::worker::workers(&spec, inst.started);
        self.ctrs[i].inst = Some(inst);
        let fp = self.ctrs[i].field_path.clone();
        self.event("Normal", "Pulled", &fp, &format!("Container image \"{}\" already present on machine", spec.image));
        self.event("Normal", "Created", &fp, &format!("Created container: {name}"));
        self.event("Normal", "Started", &fp, &format!("Started container {name}"));
        if self.ctrs[i].kind == Kind::App {
            self.app_started = true;
        }
        if spec.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()).is_some() {
            self.start_hook(i, HookKind::PostStart);
        } else {
            self.mark_running(i);
        }
        Ok(())
    }

    fn mark_running(&mut self, i: usize) {
        let c = &mut self.ctrs[i];
        let Some(inst) = &c.inst else { return };
        c.status.state = State::Running { started_at: inst.started_at.clone() };
        // Without a startup probe a running container is started; with one, when it passes.
        let has_startup = c.probes.iter().any(|w| w.kind == super::probe::worker::Kind::Startup);
        c.status.started = c.kind != Kind::Init && !has_startup;
        self.update_ready(i);
    }

    /// A container's main process exited with `code`.
    pub fn on_exit(&mut self, i: usize, code: i32) {
        let Some(mut inst) = self.ctrs[i].inst.take() else { return };
        let finished = Instant::now();
        for s in [Stream::Stdout, Stream::Stderr] {
            let fd = match s {
                Stream::Stdout => inst.stdout.take(),
                Stream::Stderr => inst.stderr.take(),
            };
            if let Some(fd) = fd {
                let mut buf = [0u8; 65536];
                while let Ok(n) = nix::unistd::read(&fd, &mut buf) {
                    if n == 0 {
                        break;
                    }
                    let _ = inst.log.write(s, &buf[..n]);
                }
            }
            let _ = inst.log.finish(s);
        }
        let oom = crate::runtime::query::state(&self.opts.root, &inst.oci_id)
            .ok()
            .and_then(|e| e.state.cgroup.and_then(|cg| cg.oom_kill_count().ok()))
            .unwrap_or(0)
            > 0;
        // Also kills what is left of it (a shared PID namespace leaves children behind).
        if let Err(e) = delete::delete(&self.opts.root, &inst.oci_id, true) {
            log::warn!("removing container {}: {e:#}", inst.oci_id);
        }
        let c = &self.ctrs[i];
        let reason = if oom && code != 0 {
            "OOMKilled"
        } else if code == 0 {
            "Completed"
        } else {
            "Error"
        };
        let message = termination_message(&inst, &c.spec, code);
        let t = Terminated {
            exit_code: code,
            reason: reason.into(),
            message,
            started_at: inst.started_at.clone(),
            finished_at: now(),
            container_id: c.status.container_id.clone(),
        };
        let _ = super::store::remove_tree(&inst.dir.join("upper"));
        let _ = super::store::remove_tree(&inst.dir.join("work"));
        self.after_exit(i, t, finished);
    }

    /// Records a terminated instance and decides about a restart.
    fn after_exit(&mut self, i: usize, t: Terminated, finished: Instant) {
        let policy = self.pod.spec.restart_policy;
        let c = &mut self.ctrs[i];
        c.hook = None;
        c.stopping = None;
        c.probes.clear();
        c.status.started = false;
        c.status.ready = c.kind == Kind::Init && t.exit_code == 0;
        let code = t.exit_code;
        c.status.state = State::Terminated(t.clone());
        if self.terminating.is_some() || self.phase.is_terminal() {
            c.done = true;
            return;
        }
        if self.resandbox {
            self.recreate_sandbox();
            return;
        }
        let restart = match c.kind {
            Kind::Sidecar => true,
            Kind::Init => code != 0 && policy != RestartPolicy::Never,
            Kind::App => match policy {
                RestartPolicy::Always => true,
                RestartPolicy::OnFailure => code != 0,
                RestartPolicy::Never => false,
            },
        };
        if !restart {
            c.done = true;
            if c.kind == Kind::Init && code != 0 {
                // A regular init container failed under Never: the pod fails.
                let g = self.pod.spec.termination_grace_period_seconds;
                self.request_stop(g, false);
            }
            return;
        }
        let cfg = self.opts.backoff;
        match c.backoff.decide(&cfg, finished, Instant::now()) {
            Decision::Now => self.start_container(i),
            Decision::At { when, delay } => {
                let c = &mut self.ctrs[i];
                c.status.last_state = Some(t);
                let pod = &self.pod.metadata;
                c.status.state = State::Waiting {
                    reason: "CrashLoopBackOff".into(),
                    message: format!(
                        "back-off {} restarting failed container={} pod={}_{}({})",
                        super::backoff::go_duration(delay),
                        c.spec.name,
                        pod.name,
                        pod.namespace,
                        pod.uid
                    ),
                };
                c.restart_at = Some(when);
                let fp = c.field_path.clone();
                let msg = format!(
                    "Back-off restarting failed container {} in pod {}_{}({})",
                    c.spec.name, pod.name, pod.namespace, pod.uid
                );
                self.event("Warning", "BackOff", &fp, &msg);
            }
        }
    }

    /// Terminates the pod with grace `grace` seconds (0 = force: still 1 s + the 2 s minimum).
    pub fn request_stop(&mut self, grace: i64, deletion: bool) {
        if self.terminating.is_some() || self.finished {
            return;
        }
        let grace = crate::time::secs(grace.max(1));
        self.terminating = Some((Instant::now(), grace));
        if deletion {
            self.deletion_timestamp = Some(now());
        }
        for c in &mut self.ctrs {
            c.restart_at = None;
        }
        for i in 0..self.ctrs.len() {
            if self.ctrs[i].inst.is_some() {
                let msg = format!("Stopping container {}", self.ctrs[i].spec.name);
                self.stop_container(i, grace, &msg, false);
            }
        }
        // Nothing running (or everything already signalled): finish now, not at the next wake-up.
        self.advance_termination();
    }

    /// The kubelet's killContainer: Killing event, preStop within the grace, stop signal.
    pub fn stop_container(&mut self, i: usize, grace: Duration, message: &str, restart: bool) {
        if self.ctrs[i].stopping.is_some() {
            return;
        }
        let fp = self.ctrs[i].field_path.clone();
        self.event("Normal", "Killing", &fp, message);
        self.ctrs[i].hook = None;
        self.ctrs[i].stopping =
            Some(Stopping { deadline: crate::time::deadline(grace), signalled: false, kill_at: None, restart });
        let has_prestop = self.ctrs[i].spec.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()).is_some();
        if has_prestop && !grace.is_zero() {
            self.start_hook(i, HookKind::PreStop);
        } else {
            self.after_prestop(i);
        }
    }

    fn after_prestop(&mut self, i: usize) {
        if self.ctrs[i].kind == Kind::Sidecar && self.terminating.is_some() && !self.sidecar_turn(i) {
            return; // advance_termination signals it when its turn comes
        }
        self.send_stop_signal(i);
    }

    /// A sidecar stops after every app container and every later sidecar has exited.
    fn sidecar_turn(&self, i: usize) -> bool {
        self.ctrs
            .iter()
            .enumerate()
            .all(|(j, c)| c.inst.is_none() || !(c.kind == Kind::App || (c.kind == Kind::Sidecar && j > i)))
    }

    fn send_stop_signal(&mut self, i: usize) {
        let sig = self.stop_signal(i);
        let c = &mut self.ctrs[i];
        let Some(s) = c.stopping.as_mut() else { return };
        if s.signalled {
            return;
        }
        s.signalled = true;
        // What is left of the grace: G minus the whole seconds used (so rounded up), at least
        // 2 s (the kubelet's minimum).
        let left = s.deadline.saturating_duration_since(Instant::now());
        let left = Duration::from_secs(left.as_secs() + u64::from(left.subsec_nanos() > 0));
        s.kill_at = Some(crate::time::deadline(left.max(Duration::from_secs(2))));
        if let Some(inst) = &c.inst {
            if let Err(e) = crate::linux::process::signal_child(inst.pid, sig) {
                log::debug!("stop signal: {e:#}");
            }
        }
    }

    fn stop_signal(&self, i: usize) -> i32 {
        let c = &self.ctrs[i];
        let name =
            c.spec.lifecycle.as_ref().and_then(|l| l.stop_signal.clone()).or_else(|| {
                self.images.get(&c.spec.image).ok().map(|(_, cfg)| cfg.stop_signal).filter(|s| !s.is_empty())
            });
        name.and_then(|n| crate::spec::signal::parse(&n).ok()).unwrap_or(libc::SIGTERM)
    }

    /// The grace ran out before the stop signal (preStop still running, or a sidecar's turn).
    pub fn grace_expired(&mut self, i: usize) {
        self.send_stop_signal(i);
    }

    /// SIGKILL to every process of the container (its whole tree, through its cgroup).
    pub fn kill_now(&mut self, i: usize) {
        if let Some(s) = self.ctrs[i].stopping.as_mut() {
            s.kill_at = None;
        }
        if let Some(inst) = &self.ctrs[i].inst {
            if let Err(e) = kill::kill(&self.opts.root, &inst.oci_id, libc::SIGKILL, true) {
                log::debug!("kill: {e:#}");
                let _ = crate::linux::process::signal_child(inst.pid, libc::SIGKILL);
            }
        }
    }

    fn advance_termination(&mut self) {
        for i in (0..self.ctrs.len()).rev() {
            let c = &self.ctrs[i];
            if c.kind == Kind::Sidecar
                && c.inst.is_some()
                && c.hook.is_none()
                && c.stopping.as_ref().is_some_and(|s| !s.signalled)
                && self.sidecar_turn(i)
            {
                self.send_stop_signal(i);
            }
        }
        if self.ctrs.iter().all(|c| c.inst.is_none()) {
            self.finished = true;
            for c in &mut self.ctrs {
                if c.kind == Kind::App && c.instances == 0 {
                    c.done = true;
                }
            }
            if let Some(p) = self.pause.take() {
                p.stop(Duration::from_secs(2));
            }
            if !self.phase.is_terminal() {
                // The final phase: Succeeded iff every app container's last exit was 0.
                let records: Vec<_> = self.ctrs.iter().map(|c| c.status.clone()).collect();
                let p = status::phase(&records, self.pod.spec.restart_policy.as_str(), true, self.app_started);
                self.phase = if p.is_terminal() { p } else { status::Phase::Failed };
            }
        }
    }

    /// Starts a postStart or preStop handler.
    pub fn start_hook(&mut self, i: usize, kind: HookKind) {
        let spec = self.ctrs[i].spec.clone();
        let handler = spec.lifecycle.as_ref().and_then(|l| {
            if kind == HookKind::PostStart {
                l.post_start.clone()
            } else {
                l.pre_stop.clone()
            }
        });
        let Some(handler) = handler else { return };
        let result: Result<Run> = (|| match handler.action() {
            Some(Action::Exec(e)) => {
                let null = devnull()?;
                // Hook commands are not $(VAR)-expanded (L-105).
                let pid = self.exec_spawn(i, e.command.clone(), [null.as_raw_fd(); 3])?;
                Ok(Run::Exec { pid })
            }
            Some(Action::HttpGet(h)) => {
                let port = super::probe::worker::port(&h.port, &spec).map_err(|e| anyhow!(e))?;
                let addr = handlers::address(h.host.as_deref(), port)?;
                let host = format!("{}:{port}", h.host.as_deref().unwrap_or("localhost"));
                let path = if h.path.is_empty() { "/".to_string() } else { h.path.clone() };
                let headers = h.http_headers.iter().map(|x| (x.name.clone(), x.value.clone())).collect();
                handlers::connect(addr, Some((path, host, headers)))
            }
            Some(Action::TcpSocket(t)) => {
                let port = super::probe::worker::port(&t.port, &spec).map_err(|e| anyhow!(e))?;
                handlers::connect(handlers::address(t.host.as_deref(), port)?, None)
            }
            Some(Action::Sleep(s)) => Ok(Run::Sleep { until: crate::time::deadline(crate::time::secs(s.seconds)) }),
            _ => bail!("unsupported handler"),
        })();
        match result {
            Ok(run) => {
                let done_now = matches!(&run, Run::Sleep { until } if *until <= Instant::now());
                self.ctrs[i].hook = Some((kind, run));
                if done_now {
                    self.on_hook_done(i, Ok(()));
                }
            }
            Err(e) => {
                self.ctrs[i].hook = Some((kind, Run::Sleep { until: Instant::now() }));
                self.on_hook_done(i, Err(e));
            }
        }
    }

    /// A handler finished.
    pub fn on_hook_done(&mut self, i: usize, result: Result<()>) {
        let Some((kind, _)) = self.ctrs[i].hook.take() else { return };
        let fp = self.ctrs[i].field_path.clone();
        match (kind, result) {
            (HookKind::PostStart, Ok(())) => self.mark_running(i),
            (HookKind::PostStart, Err(e)) => {
                log::debug!("postStart of {}: {e:#}", self.ctrs[i].spec.name);
                self.event("Warning", "FailedPostStartHook", &fp, "PostStartHook failed");
                let g = crate::time::secs(self.pod.spec.termination_grace_period_seconds.max(1));
                self.stop_container(i, g, "FailedPostStartHook", true);
            }
            (HookKind::PreStop, r) => {
                if let Err(e) = r {
                    log::debug!("preStop of {}: {e:#}", self.ctrs[i].spec.name);
                    self.event("Warning", "FailedPreStopHook", &fp, "PreStopHook failed");
                }
                if self.ctrs[i].stopping.as_ref().is_some_and(|s| !s.signalled) {
                    self.after_prestop(i);
                }
            }
        }
    }
}

/// The kubelet's termination message: the file's last 4096 bytes; with
/// FallbackToLogsOnError and an empty file after a failure, the log's last 80 lines (2 KiB).
fn termination_message(inst: &Instance, c: &crate::spec::pod::Container, code: i32) -> String {
    let data = std::fs::read(&inst.termination_file).unwrap_or_default();
    let tail = &data[data.len().saturating_sub(4096)..];
    let msg = String::from_utf8_lossy(tail).into_owned();
    if msg.is_empty() && code != 0 && c.termination_message_policy == TerminationMessagePolicy::FallbackToLogsOnError {
        return logs::tail_message(&inst.log_path, 80, 2048);
    }
    msg
}
