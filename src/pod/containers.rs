//! The supervisor's container actions: create and start an instance (an OCI container whose
//! namespace entries point at pause), collect what an exited one leaves (its exit, OOM kill,
//! termination message, last log output), signal and kill it, and exec into it for probes and
//! handlers.

use super::images::{self, Lookup, Resolved};
use super::logs::{self, LogWriter, Stream};
use super::machine::Input;
use super::supervisor::{Instance, Supervisor};
use crate::plan::from_pod::{self, ImageDefaults, PodContext};
use crate::runtime::{create, delete, kill, run};
use crate::spec::pod::{Container, TerminationMessagePolicy};
use anyhow::{anyhow, Context, Result};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

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

/// A pipe whose read end (ours) does not block.
pub(super) fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    nix::fcntl::fcntl(&r, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK)).context("fcntl")?;
    Ok((r, w))
}

impl Supervisor {
    /// Starts an instance of container `i`; the answer for the machine.
    pub(super) fn start_container(&mut self, i: usize) -> Input {
        let mut container_id = String::new();
        let r = match self.images.find(&self.specs[i].image) {
            Ok(Lookup::Found(r)) => *r,
            Ok(Lookup::Missing) => return Input::ImageMissing { ctr: i },
            Ok(Lookup::Invalid { reason, message }) => return Input::ImageInvalid { ctr: i, reason, message },
            Err(e) => return Input::StartFailed { ctr: i, container_id, message: format!("{e:#}") },
        };
        self.machine.set_image(i, &r.image, &r.image_id);
        let image = match self.image_defaults(i, &r) {
            Ok(d) => d,
            Err(message) => return Input::ConfigError { ctr: i, message },
        };
        let user = self.image_user_key(i);
        if let Err(e) = self.images.acquire(&r, &user) {
            return Input::StartFailed { ctr: i, container_id, message: format!("{e:#}") };
        }
        match self.try_start(i, image, &mut container_id) {
            Ok(()) => Input::Started { ctr: i, container_id },
            Err(e) => {
                self.release_image(i);
                Input::StartFailed { ctr: i, container_id, message: format!("{e:#}") }
            }
        }
    }

    /// The marker name of container `i`'s current instance in the image store.
    fn image_user_key(&self, i: usize) -> String {
        let n = self.machine.ctrs[i].instance();
        format!("{}{}-{n}", images::pod_user_prefix(&self.pod.metadata.uid), self.specs[i].name)
    }

    /// Drops container `i`'s current instance's marker in the image store.
    pub(super) fn release_image(&self, i: usize) {
        let user = self.image_user_key(i);
        if let Err(e) = self.images.release_user(&user) {
            log::warn!("releasing the image of {}: {e:#}", self.specs[i].name);
        }
    }

    /// What the image gives the container: layers, command, env, workdir, user (the
    /// CreateContainerConfigError message when its USER cannot be used).
    fn image_defaults(&self, i: usize, r: &Resolved) -> std::result::Result<ImageDefaults, String> {
        let spec = &self.specs[i];
        let inst_dir = self.dir.instance(&spec.name, self.machine.ctrs[i].instance());
        let lower = self
            .images
            .lowerdir(r, &inst_dir.join("upper"), &inst_dir.join("work"))
            .map_err(|e| format!("image {}: {e:#}", r.image))?;
        let exec = r.config.exec();
        let user_spec = exec.user.clone().unwrap_or_default();
        let sc = spec.security_context.as_ref().and_then(|s| s.run_as_user);
        let psc = self.pod.spec.security_context.as_ref().and_then(|s| s.run_as_user);
        // runAsUser wins; the image's USER is only resolved when it is used.
        let user = if sc.or(psc).is_some() || user_spec.is_empty() {
            None
        } else {
            Some(images::image_user(&self.images, r).map_err(|e| format!("{e:#}"))?)
        };
        let d = ImageDefaults {
            lowerdir: lower.value,
            lower_cwd: lower.cwd,
            entrypoint: exec.entrypoint.unwrap_or_default(),
            cmd: exec.cmd.unwrap_or_default(),
            env: exec.env.unwrap_or_default(),
            working_dir: exec.working_dir.unwrap_or_default(),
            user,
            user_spec,
        };
        from_pod::check_non_root(&self.pod, spec, &d)?;
        Ok(d)
    }

    fn try_start(&mut self, i: usize, image: ImageDefaults, container_id: &mut String) -> Result<()> {
        let spec: Container = self.specs[i].clone();
        let n = self.machine.ctrs[i].instance();
        let name = spec.name.clone();
        let inst_dir = self.dir.instance(&name, n);
        for d in ["upper", "work", "rootfs"] {
            std::fs::create_dir_all(inst_dir.join(d)).with_context(|| format!("creating {}", inst_dir.display()))?;
        }
        let term = inst_dir.join("termination-log");
        std::fs::write(&term, b"")?;
        std::fs::set_permissions(&term, std::os::unix::fs::PermissionsExt::from_mode(0o666))?;
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
        let null = self.devnull.try_clone().context("duplicating /dev/null")?;
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
        *container_id = format!("runp://{oci_id}");
        let mut created = create::create_plan(&self.opts.root, plan, &opts)?;
        if let Err(e) = run::release(&mut created) {
            let _ = delete::delete(&self.opts.root, &oci_id, true);
            return Err(e);
        }
        drop((out_w, err_w, null));
        let log_path = logs::path(&self.dir.logs(), &name, n);
        let log = match LogWriter::create(&log_path, self.opts.log_rotation) {
            Ok(l) => l,
            Err(e) => {
                let _ = delete::delete(&self.opts.root, &oci_id, true);
                return Err(e);
            }
        };
        self.insts[i] = Some(Instance {
            oci_id,
            pid: created.state.pid,
            dir: inst_dir,
            termination_file: term,
            stdout: Some(out_r),
            stderr: Some(err_r),
            log,
            log_path,
            exec: None,
        });
        Ok(())
    }

    /// Container `i`'s main process exited with `code`: drain its output, remove the OCI
    /// container (and whatever is left in it) and say what the machine needs.
    pub(super) fn collect_exit(&mut self, i: usize, code: i32) -> Option<Input> {
        let mut inst = self.insts[i].take()?;
        self.checks[i].clear();
        self.hooks[i] = None;
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
        let oom_killed = crate::runtime::query::state(&self.opts.root, &inst.oci_id)
            .ok()
            .and_then(|e| e.state.cgroup.and_then(|cg| cg.oom_kill_count().ok()))
            .unwrap_or(0)
            > 0;
        // Also kills what is left of it (a shared PID namespace leaves children behind).
        if let Err(e) = delete::delete(&self.opts.root, &inst.oci_id, true) {
            log::warn!("removing container {}: {e:#}", inst.oci_id);
        }
        let message = termination_message(&inst, &self.specs[i], code);
        let _ = super::store::remove_tree(&inst.dir.join("upper"));
        let _ = super::store::remove_tree(&inst.dir.join("work"));
        self.release_image(i);
        Some(Input::Exited { ctr: i, exit_code: code, oom_killed, message })
    }

    /// A signal to container `i`'s main process.
    pub(super) fn signal_container(&self, i: usize, sig: i32) {
        if let Some(inst) = &self.insts[i] {
            if let Err(e) = crate::linux::process::signal_child(inst.pid, sig) {
                log::debug!("stop signal: {e:#}");
            }
        }
    }

    /// SIGKILL to every process of container `i` (its whole tree, through its cgroup).
    pub(super) fn kill_container(&self, i: usize) {
        if let Some(inst) = &self.insts[i] {
            if let Err(e) = kill::kill(&self.opts.root, &inst.oci_id, libc::SIGKILL, true) {
                log::debug!("kill: {e:#}");
                let _ = crate::linux::process::signal_child(inst.pid, libc::SIGKILL);
            }
        }
    }

    /// Starts `args` inside container `i` (exec probes and handlers) with the given stdio; the
    /// process is ours to reap.
    pub(super) fn exec_spawn(&mut self, i: usize, args: Vec<String>, stdio: [RawFd; 3]) -> Result<i32> {
        let inst = self.insts[i].as_mut().ok_or_else(|| anyhow!("container is not running"))?;
        let target = match &mut inst.exec {
            Some(t) => t,
            slot @ None => slot.insert(crate::runtime::exec::Target::open(&self.opts.root, &inst.oci_id, false)?),
        };
        let opts = crate::runtime::exec::ExecOptions { args, detach: true, stdio: Some(stdio), ..Default::default() };
        target.spawn(&opts)
    }
}

/// The kubelet's termination message: the file's last 4096 bytes; with
/// FallbackToLogsOnError and an empty file after a failure, the log's last 80 lines (2 KiB).
fn termination_message(inst: &Instance, c: &Container, code: i32) -> String {
    let data = std::fs::read(&inst.termination_file).unwrap_or_default();
    let tail = &data[data.len().saturating_sub(4096)..];
    let msg = String::from_utf8_lossy(tail).into_owned();
    if msg.is_empty() && code != 0 && c.termination_message_policy == TerminationMessagePolicy::FallbackToLogsOnError {
        return logs::tail_message(&inst.log_path, 80, 2048);
    }
    msg
}
