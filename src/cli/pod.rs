//! `runp pod ...` and `runp image ...`: kubectl-like verbs over the pod supervisor.

use crate::pod::backoff::BackoffConfig;
use crate::pod::images::{ImageConfig, Images};
use crate::pod::store::{self, PodDir, Roots};
use crate::pod::supervisor::{self, Options, Supervisor};
use crate::pod::{control, logs};
use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use serde_json::Value;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Subcommand, Debug)]
pub enum PodCmd {
    /// Run a Pod manifest (YAML or JSON; - for stdin). In the foreground, print events and
    /// exit when the pod ends (0 Succeeded, 1 Failed); SIGINT/SIGTERM stop it gracefully.
    Run {
        file: PathBuf,
        #[arg(short, long)]
        detach: bool,
    },
    /// List pods (NAME READY STATUS RESTARTS AGE).
    List {
        #[arg(short, long)]
        output: Option<String>,
    },
    /// Print a pod's status.
    Status {
        name: String,
        #[arg(short, long)]
        output: Option<String>,
    },
    /// Containers, conditions and events.
    Describe { name: String },
    /// A container's log.
    Logs {
        name: String,
        #[arg(short, long)]
        container: Option<String>,
        #[arg(short, long)]
        follow: bool,
        #[arg(short, long)]
        previous: bool,
        #[arg(long)]
        timestamps: bool,
    },
    /// Run a command in a container of the pod.
    Exec {
        name: String,
        #[arg(short, long)]
        container: Option<String>,
        #[arg(short, long)]
        interactive: bool,
        #[arg(short, long)]
        tty: bool,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Stop a pod: preStop hooks, then the stop signal, SIGKILL at the end of the grace period.
    Stop {
        name: String,
        #[arg(long)]
        grace_period: Option<i64>,
        #[arg(long)]
        force: bool,
    },
    /// Remove a stopped pod (--force: stop it first).
    Rm {
        name: String,
        #[arg(long)]
        force: bool,
    },
    /// The pod's events (-f: stream them until the pod is gone).
    Events {
        name: String,
        #[arg(short, long)]
        output: Option<String>,
        #[arg(short, long)]
        follow: bool,
    },
    /// Wait like kubectl wait: --for=condition=Ready, --for=phase=Succeeded, --for=delete.
    Wait {
        name: String,
        #[arg(long = "for")]
        condition: String,
        /// 30s, 500ms, 2m (default 30s).
        #[arg(long, default_value = "30s")]
        timeout: String,
    },
    /// Internal: the detached supervisor.
    #[command(hide = true)]
    Supervise {
        name: String,
        #[arg(long)]
        ready_fd: Option<i32>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImageCmd {
    /// Make a root filesystem directory available as image NAME.
    Import {
        name: String,
        dir: PathBuf,
        /// The image's default command (like Docker's CMD), space-separated.
        #[arg(long, default_value = "sh")]
        cmd: String,
    },
    List,
    Rm {
        name: String,
    },
}

/// `--data-root`, else $RUNP_DATA_ROOT, else /var/lib/runp.
pub fn data_root(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("RUNP_DATA_ROOT").filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(store::DEFAULT_DATA_ROOT))
}

/// `--image-dir`, else $RUNP_IMAGE_DIR, else `<data-root>/images`.
pub fn image_dir(flag: Option<&Path>, data_root: &Path) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("RUNP_IMAGE_DIR").filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| data_root.join("images"))
}

pub fn image(dir: &Path, cmd: ImageCmd) -> Result<i32> {
    let images = Images::new(dir);
    match cmd {
        ImageCmd::Import { name, dir: src, cmd } => {
            let cfg = ImageConfig { cmd: cmd.split_whitespace().map(String::from).collect(), ..Default::default() };
            let full = images.import(&name, &src, cfg)?;
            println!("{full}");
        }
        ImageCmd::List => {
            println!("{:<30} CREATED", "IMAGE");
            for i in images.list()? {
                println!("{:<30} {}", i.name, i.created);
            }
        }
        ImageCmd::Rm { name } => images.remove(&name)?,
    }
    Ok(0)
}

fn backoff_from_env() -> BackoffConfig {
    let ms = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok()).map(Duration::from_millis);
    let d = BackoffConfig::default();
    BackoffConfig {
        initial: ms("RUNP_BACKOFF_INITIAL_MS").unwrap_or(d.initial),
        cap: ms("RUNP_BACKOFF_CAP_MS").unwrap_or(d.cap),
    }
}

pub fn pod(root: &Roots, images: &Path, cmd: PodCmd) -> Result<i32> {
    match cmd {
        PodCmd::Run { file, detach } => run(root, images, &file, detach),
        PodCmd::Supervise { name, ready_fd } => supervise(root, images, &name, ready_fd),
        PodCmd::List { output } => list(root, output.as_deref()),
        PodCmd::Status { name, output } => status(root, &name, output.as_deref()),
        PodCmd::Describe { name } => describe(root, &name),
        PodCmd::Logs { name, container, follow, previous, timestamps } => {
            logs_cmd(root, &name, container.as_deref(), follow, previous, timestamps)
        }
        PodCmd::Exec { name, container, interactive: _, tty, command } => {
            exec(root, &name, container.as_deref(), tty, command)
        }
        PodCmd::Stop { name, grace_period, force } => stop(root, &name, grace_period, force).map(|_| 0),
        PodCmd::Rm { name, force } => rm(root, &name, force).map(|_| 0),
        PodCmd::Events { name, output, follow } => events(root, &name, output.as_deref(), follow),
        PodCmd::Wait { name, condition, timeout } => wait(root, &name, &condition, &timeout),
    }
}

fn run(root: &Roots, image_dir: &Path, file: &Path, detach: bool) -> Result<i32> {
    let (text, source) = if file == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).context("reading the manifest from stdin")?;
        (s, "<stdin>".to_string())
    } else {
        (
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?,
            file.display().to_string(),
        )
    };
    let pod = crate::spec::pod::parse_any(&text, &source)?;
    // Checked before anything exists (the supervisor reads the same variables).
    let log_rotation = crate::pod::logs::Rotation::from_env()?;
    let images = Images::new(image_dir);
    for (field, cs) in [("initContainers", &pod.spec.init_containers), ("containers", &pod.spec.containers)] {
        for (i, c) in cs.iter().enumerate() {
            images.get(&c.image).with_context(|| format!("spec.{field}[{i}] ({}): image {:?}", c.name, c.image))?;
        }
    }
    let dir = PodDir::new(root, &pod.metadata.name)?;
    dir.create()?;
    let saved = dir.write_json(&dir.manifest(), &pod);
    if let Err(e) = saved {
        let _ = dir.remove();
        return Err(e);
    }
    if detach {
        return spawn_supervisor(root, image_dir, &dir);
    }
    let sfd = supervisor::signal_fd()?;
    let opts = Options {
        root: root.run.clone(),
        image_dir: image_dir.to_path_buf(),
        backoff: backoff_from_env(),
        log_rotation,
        print_events: true,
    };
    let mut sup = Supervisor::new(opts, pod, dir)?;
    let phase = sup.run(&sfd, None)?;
    println!("pod/{} {}", sup.pod.metadata.name, phase.as_str());
    Ok(if phase == crate::pod::status::Phase::Succeeded { 0 } else { 1 })
}

/// Starts `runp pod supervise NAME` in its own session and waits until it accepted the pod.
fn spawn_supervisor(root: &Roots, image_dir: &Path, dir: &PodDir) -> Result<i32> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::empty()).context("pipe")?;
    // Our own (read-only, sealed) image: its path may not exist in the mount table.
    let exe = std::path::PathBuf::from("/proc/self/exe");
    let log = std::fs::File::create(dir.supervisor_log()).context("creating supervisor.log")?;
    let mut cmd = crate::linux::command::clean_command(&exe.to_string_lossy(), &[]);
    cmd.arg("--root")
        .arg(&root.run)
        .arg("--data-root")
        .arg(&root.data)
        .arg("--image-dir")
        .arg(image_dir)
        .args(["pod", "supervise", &dir.name, "--ready-fd", &w.as_raw_fd().to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().context("starting the pod supervisor")?;
    drop(w);
    let mut msg = String::new();
    let mut f = std::fs::File::from(r);
    let _ = std::io::Read::read_to_string(&mut f, &mut msg);
    if msg.trim() == "ok" {
        drop(child);
        println!("pod/{} created", dir.name);
        return Ok(0);
    }
    // It failed: let it finish its teardown (it still writes into the pod dir) first.
    let mut child = child;
    let _ = child.wait();
    let log = std::fs::read_to_string(dir.supervisor_log()).unwrap_or_default();
    let _ = dir.remove();
    if msg.trim().is_empty() {
        let last = log.lines().last().unwrap_or("").trim().trim_start_matches("runp: ");
        bail!(
            "the pod supervisor exited before accepting the pod: {}",
            if last.is_empty() { "(no message)" } else { last }
        );
    }
    bail!("{}", msg.trim())
}

fn supervise(root: &Roots, image_dir: &Path, name: &str, ready_fd: Option<i32>) -> Result<i32> {
    // The pipe to our parent: it must not leak into pause or containers.
    let ready = ready_fd.and_then(crate::linux::process::adopt_inherited_fd);
    let dir = PodDir::new(root, name)?;
    let pod: crate::spec::pod::Pod = dir.read_json(&dir.manifest())?;
    let sfd = supervisor::signal_fd()?;
    let opts = Options {
        root: root.run.clone(),
        image_dir: image_dir.to_path_buf(),
        backoff: backoff_from_env(),
        log_rotation: crate::pod::logs::Rotation::from_env()?,
        print_events: false,
    };
    let mut sup = Supervisor::new(opts, pod, dir)?;
    let phase = sup.run(&sfd, ready)?;
    Ok(if phase == crate::pod::status::Phase::Succeeded { 0 } else { 1 })
}

fn read_status(root: &Roots, name: &str) -> Result<(PodDir, Value)> {
    let dir = PodDir::new(root, name)?;
    if !dir.exists() {
        bail!("pod {name:?} not found");
    }
    let mut v: Value = dir.read_json(&dir.status())?;
    // A supervisor that died leaves a status that claims life: report what is true.
    let terminal = matches!(v["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
    if !terminal && !dir.supervisor_alive() {
        v["status"]["phase"] = Value::from("Failed");
        v["status"]["reason"] = Value::from("SupervisorLost");
        v["status"]["message"] = Value::from("the pod's supervisor is gone; its containers were killed with it");
        v["runp"]["display"] = Value::from("Unknown");
    }
    Ok((dir, v))
}

/// kubectl's AGE column, from the modification time of a file written at creation.
fn age(created_file: &Path) -> String {
    let created = std::fs::metadata(created_file).ok().and_then(|m| m.modified().ok());
    let secs = created.and_then(|c| c.elapsed().ok()).map(|d| d.as_secs()).unwrap_or(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s => format!("{}h", s / 3600),
    }
}

fn list(root: &Roots, output: Option<&str>) -> Result<i32> {
    let mut items = Vec::new();
    for name in store::list(root) {
        if let Ok((dir, mut v)) = read_status(root, &name) {
            v["runp"]["age"] = Value::from(age(&dir.manifest()));
            items.push(v);
        }
    }
    if output == Some("json") {
        let list: Vec<Value> = items.into_iter().map(strip).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": list}))?
        );
        return Ok(0);
    }
    println!("{:<30} {:<7} {:<20} {:<9} AGE", "NAME", "READY", "STATUS", "RESTARTS");
    for v in items {
        let r = &v["runp"];
        println!(
            "{:<30} {:<7} {:<20} {:<9} {}",
            v["metadata"]["name"].as_str().unwrap_or(""),
            r["ready"].as_str().unwrap_or(""),
            r["display"].as_str().unwrap_or(""),
            r["restarts"].as_u64().unwrap_or(0),
            r["age"].as_str().unwrap_or("")
        );
    }
    Ok(0)
}

/// The Pod object without runp's bookkeeping.
fn strip(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("runp");
    }
    v
}

fn status(root: &Roots, name: &str, output: Option<&str>) -> Result<i32> {
    let (_, v) = read_status(root, name)?;
    match output.unwrap_or("json") {
        "json" => println!("{}", serde_json::to_string_pretty(&strip(v))?),
        "yaml" => print!("{}", yaml_serde::to_string(&strip(v)).context("formatting YAML")?),
        "wide" | "name" => println!("pod/{name} {}", v["runp"]["display"].as_str().unwrap_or("")),
        o => bail!("unknown output format {o:?} (json, yaml)"),
    }
    Ok(0)
}

fn describe(root: &Roots, name: &str) -> Result<i32> {
    let (dir, v) = read_status(root, name)?;
    let mut out = std::io::stdout().lock();
    let m = &v["metadata"];
    let s = &v["status"];
    writeln!(out, "Name:         {}", m["name"].as_str().unwrap_or(""))?;
    writeln!(out, "Namespace:    {}", m["namespace"].as_str().unwrap_or(""))?;
    writeln!(out, "UID:          {}", m["uid"].as_str().unwrap_or(""))?;
    writeln!(out, "Start Time:   {}", s["startTime"].as_str().unwrap_or(""))?;
    writeln!(out, "Status:       {}", v["runp"]["display"].as_str().unwrap_or(""))?;
    writeln!(out, "Phase:        {}", s["phase"].as_str().unwrap_or(""))?;
    if let Some(r) = s["reason"].as_str() {
        writeln!(out, "Reason:       {r}")?;
        writeln!(out, "Message:      {}", s["message"].as_str().unwrap_or(""))?;
    }
    writeln!(out, "IP:           {}", s["podIP"].as_str().unwrap_or(""))?;
    for (title, key) in [("Init Containers", "initContainerStatuses"), ("Containers", "containerStatuses")] {
        let Some(list) = s[key].as_array() else { continue };
        writeln!(out, "{title}:")?;
        for c in list {
            writeln!(out, "  {}:", c["name"].as_str().unwrap_or(""))?;
            writeln!(out, "    Container ID:   {}", c["containerID"].as_str().unwrap_or(""))?;
            writeln!(out, "    Image:          {}", c["image"].as_str().unwrap_or(""))?;
            describe_state(&mut out, "State", &c["state"])?;
            if c["lastState"].as_object().is_some_and(|o| !o.is_empty()) {
                describe_state(&mut out, "Last State", &c["lastState"])?;
            }
            writeln!(out, "    Ready:          {}", c["ready"])?;
            writeln!(out, "    Restart Count:  {}", c["restartCount"])?;
        }
    }
    writeln!(out, "Conditions:\n  Type                        Status")?;
    for c in s["conditions"].as_array().into_iter().flatten() {
        writeln!(out, "  {:<27} {}", c["type"].as_str().unwrap_or(""), c["status"].as_str().unwrap_or(""))?;
    }
    writeln!(out, "Events:")?;
    let ev = crate::pod::events::Events::load(dir.data());
    writeln!(out, "  {:<8} {:<22} {:<25} {:<10} Message", "Type", "Reason", "Last seen", "From")?;
    for e in ev.items {
        let count = if e.count > 1 { format!(" (x{} since {})", e.count, e.first_timestamp) } else { String::new() };
        writeln!(
            out,
            "  {:<8} {:<22} {:<25} {:<10} {}{count}",
            e.kind, e.reason, e.last_timestamp, "kubelet", e.message
        )?;
    }
    Ok(0)
}

fn describe_state(out: &mut impl Write, title: &str, st: &Value) -> Result<()> {
    let Some((k, d)) = st.as_object().and_then(|o| o.iter().next()) else { return Ok(()) };
    let label = format!("{title}:");
    writeln!(out, "    {label:<16}{}", capitalize(k))?;
    for (key, name) in [
        ("reason", "Reason"),
        ("message", "Message"),
        ("exitCode", "Exit Code"),
        ("startedAt", "Started"),
        ("finishedAt", "Finished"),
    ] {
        if let Some(v) = d.get(key) {
            let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            writeln!(out, "      {:<14}{v}", format!("{name}:"))?;
        }
    }
    Ok(())
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// The container's status entry and its kind key.
fn container_entry<'a>(v: &'a Value, name: Option<&str>) -> Result<&'a Value> {
    let apps = v["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
    let all: Vec<&Value> = v["status"]["initContainerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(v["status"]["containerStatuses"].as_array().into_iter().flatten())
        .collect();
    let want = match name {
        Some(n) => n.to_string(),
        // The first app container in spec order, as kubectl's default container.
        None => v["spec"]["containers"][0]["name"]
            .as_str()
            .map(str::to_string)
            .or_else(|| apps.first().and_then(|c| c["name"].as_str().map(str::to_string)))
            .unwrap_or_default(),
    };
    all.into_iter()
        .find(|c| c["name"].as_str() == Some(want.as_str()))
        .ok_or_else(|| anyhow!("container {want:?} not found in pod"))
}

fn logs_cmd(
    root: &Roots,
    name: &str,
    container: Option<&str>,
    follow: bool,
    previous: bool,
    timestamps: bool,
) -> Result<i32> {
    let (dir, v) = read_status(root, name)?;
    let c = container_entry(&v, container)?;
    let cname = c["name"].as_str().unwrap_or_default().to_string();
    let restarts = c["restartCount"].as_u64().unwrap_or(0) as u32;
    let instance = if previous {
        if restarts == 0 {
            bail!("previous terminated container {cname:?} in pod {name:?} not found");
        }
        restarts - 1
    } else {
        restarts
    };
    let path = logs::path(&dir.logs(), &cname, instance);
    let mut out = std::io::stdout().lock();
    let mut offset = 0usize;
    loop {
        let mut text = logs::read_lossy(&path);
        if text.len() < offset {
            // Rotated since the last round: the rest of the file we were reading, then the new one.
            if let Some(last) = logs::rotated_files(&path).pop() {
                let old = logs::read_lossy(&last);
                if old.len() > offset {
                    logs::render(&old[offset..], timestamps, &mut out)?;
                }
            }
            offset = 0;
            text = logs::read_lossy(&path);
        }
        // Only whole lines; a partial last line waits for the next round.
        let end = text.rfind('\n').map(|i| i + 1).unwrap_or(0);
        if end > offset {
            logs::render(&text[offset..end], timestamps, &mut out)?;
            out.flush()?;
            offset = end;
        }
        if !follow {
            return Ok(0);
        }
        let (_, now) = read_status(root, name)?;
        let done = matches!(now["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
        let still_this = container_entry(&now, Some(&cname))
            .map(|c| c["restartCount"].as_u64().unwrap_or(0) as u32 == instance && c["state"].get("running").is_some())
            .unwrap_or(false);
        if done || (!still_this && offset >= text.len()) {
            if !still_this {
                let text = logs::read_lossy(&path);
                if text.len() > offset {
                    logs::render(&text[offset..], timestamps, &mut out)?;
                }
            }
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn exec(root: &Roots, name: &str, container: Option<&str>, tty: bool, command: Vec<String>) -> Result<i32> {
    let (_, v) = read_status(root, name)?;
    let c = container_entry(&v, container)?;
    let cname = c["name"].as_str().unwrap_or_default();
    let id = v["runp"]["containerIDs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|x| x["name"].as_str() == Some(cname))
        .and_then(|x| x["id"].as_str())
        .ok_or_else(|| anyhow!("container {cname:?} in pod {name:?} is not running"))?;
    let o = crate::runtime::exec::ExecOptions { id: id.to_string(), args: command, tty, ..Default::default() };
    crate::runtime::exec::exec(&root.run, &o)
}

/// Asks the supervisor to stop the pod and waits until it has.
pub fn stop(root: &Roots, name: &str, grace: Option<i64>, force: bool) -> Result<()> {
    let dir = PodDir::new(root, name)?;
    if !dir.exists() {
        bail!("pod {name:?} not found");
    }
    if !dir.supervisor_alive() {
        cleanup_orphans(root, &dir);
        return Ok(());
    }
    if let Err(e) = control::call(&dir.control(), &control::Request::Stop { grace, force }, Duration::from_secs(10)) {
        // The pod may have ended on its own since the check above (socket gone, or the
        // connection reset as the supervisor exited): then it is stopped.
        let deadline = Instant::now() + Duration::from_secs(5);
        while dir.supervisor_alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if dir.supervisor_alive() {
            return Err(e);
        }
        return Ok(());
    }
    let spec_grace: i64 = dir
        .read_json::<crate::spec::pod::Pod>(&dir.manifest())
        .map(|p| p.spec.termination_grace_period_seconds)
        .unwrap_or(30);
    let g = if force { 1 } else { grace.unwrap_or(spec_grace).max(1) };
    let deadline = crate::time::deadline(crate::time::secs(g).saturating_add(Duration::from_secs(15)));
    while dir.supervisor_alive() {
        if Instant::now() > deadline {
            bail!("pod {name:?} did not stop in time");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// After a supervisor died: kill and remove whatever of the pod is left.
fn cleanup_orphans(root: &Roots, dir: &PodDir) {
    if let Ok(v) = dir.read_json::<Value>(&dir.status()) {
        for c in v["runp"]["containerIDs"].as_array().into_iter().flatten() {
            if let Some(id) = c["id"].as_str() {
                let _ = crate::runtime::delete::delete(&root.run, id, true);
            }
        }
        if let Some(uid) = v["metadata"]["uid"].as_str() {
            crate::pod::volumes::remove_cgroup_dirs(&format!("/runp/pod_{uid}"));
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir.memory_volumes()) {
        for e in entries.flatten() {
            crate::linux::mounts::detach(&e.path());
        }
    }
    crate::linux::mounts::detach(&dir.shm());
    crate::linux::mounts::detach(&dir.proc_dir());
}

fn rm(root: &Roots, name: &str, force: bool) -> Result<()> {
    let dir = PodDir::new(root, name)?;
    if !dir.any_exists() {
        bail!("pod {name:?} not found");
    }
    if dir.supervisor_alive() {
        if !force {
            bail!("pod {name:?} is running: stop it first, or use --force");
        }
        if let Err(e) = stop(root, name, Some(0), true) {
            // Forced: a supervisor that does not stop is killed, and what it leaves is removed.
            log::warn!("pod {name:?}: {e:#}; killing its supervisor");
            let _ = dir.kill_supervisor();
            let deadline = Instant::now() + Duration::from_secs(5);
            while dir.supervisor_alive() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    cleanup_orphans(root, &dir);
    dir.remove()
}

fn events(root: &Roots, name: &str, output: Option<&str>, follow: bool) -> Result<i32> {
    let dir = PodDir::new(root, name)?;
    if !dir.any_exists() {
        bail!("pod {name:?} not found");
    }
    // Events are identified by (id, count): a merged repeat is printed again.
    let mut seen: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    let mut out = std::io::stdout().lock();
    loop {
        // Checked before reading, so the last events of a supervisor that just exited are shown.
        let alive = dir.supervisor_alive();
        let ev = crate::pod::events::Events::load(dir.data());
        for e in &ev.items {
            if seen.insert(e.id, e.count) == Some(e.count) {
                continue;
            }
            if output == Some("json") {
                writeln!(out, "{}", serde_json::to_string(e)?)?;
            } else {
                writeln!(out, "{} {:<7} {:<20} {} {}", e.last_timestamp, e.kind, e.reason, e.field_path, e.message)?;
            }
        }
        out.flush()?;
        if !follow || !alive {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// "30s", "500ms", "2m", "1h" or plain seconds.
fn parse_duration(s: &str) -> Result<Duration> {
    let (num, unit) = s.trim().split_at(s.trim().find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.trim().len()));
    let n: f64 = num.parse().map_err(|_| anyhow!("invalid duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("invalid duration {s:?}"),
    };
    if !(0.0..1e9).contains(&secs) {
        bail!("invalid duration {s:?}");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `kubectl wait`: exits 0 when the condition holds, 1 with an error at the timeout.
fn wait(root: &Roots, name: &str, cond: &str, timeout: &str) -> Result<i32> {
    let deadline = Instant::now() + parse_duration(timeout)?;
    let check = |v: &Value| -> Result<bool> {
        if let Some(c) = cond.strip_prefix("condition=") {
            let (ty, want) = c.split_once('=').unwrap_or((c, "True"));
            let want = if want.eq_ignore_ascii_case("true") { "True" } else { "False" };
            return Ok(v["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|x| x["type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(ty)) && x["status"] == want));
        }
        if let Some(p) = cond.strip_prefix("phase=") {
            return Ok(v["status"]["phase"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(p)));
        }
        bail!("--for must be condition=NAME[=true|false], phase=PHASE or delete")
    };
    loop {
        let state = read_status(root, name);
        match (cond, &state) {
            ("delete", Err(_)) => return Ok(0),
            ("delete", Ok(_)) => {}
            (_, Ok((_, v))) => {
                if check(v)? {
                    println!("pod/{name} condition met");
                    return Ok(0);
                }
            }
            (_, Err(e)) => bail!("{e:#}"),
        }
        if Instant::now() >= deadline {
            bail!("timed out waiting for the condition on pods/{name}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
