//! `runp pod ...` and `runp image ...`: kubectl-like verbs over the pod supervisor.

use crate::pod::backoff::BackoffConfig;
use crate::pod::images::Images;
use crate::pod::logs;
use crate::pod::manage;
use crate::pod::record::ContainerState;
use crate::pod::store::{self, PodDir, Roots};
use crate::pod::supervisor::{self, Options, Supervisor};
use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// Import an image: `import NAME DIR` stores a root filesystem directory as a one-layer
    /// image; `import ARCHIVE [NAME]` (or `--name`) an OCI image layout (directory or tar) or
    /// a docker-archive, every blob verified, named as the archive says unless NAME is given.
    Import {
        /// NAME for a rootfs directory, else the archive.
        first: String,
        /// The rootfs directory after NAME, or the name for an archive.
        second: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// A rootfs directory image's command (its CMD), space-separated.
        #[arg(long, default_value = "sh")]
        cmd: String,
    },
    /// REPOSITORY TAG DIGEST IMAGE ID SIZE, as podman images.
    List,
    /// The image config, as JSON.
    Inspect { name: String },
    /// Untag an image (an id: every name); its record goes when nothing uses it.
    Rm { name: String },
    /// Remove images without a name, and layers and blobs no image and no container uses.
    Prune,
    /// Pull image REF from its registry; prints the image id.
    Pull {
        reference: String,
        /// Credentials (docker config.json format); default $REGISTRY_AUTH_FILE, then
        /// ~/.docker/config.json.
        #[arg(long)]
        authfile: Option<PathBuf>,
        /// Per-registry hosts directory (containerd's certs.d layout); default
        /// $RUNP_CERTS_DIR, then /etc/runp/certs.d.
        #[arg(long)]
        certs_dir: Option<PathBuf>,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
    },
}

/// Whether `p` is an archive runp reads (an OCI layout directory or any tar file) rather than
/// a root filesystem directory.
fn is_archive(p: &Path) -> bool {
    p.is_file() || p.join("oci-layout").is_file() || p.join("manifest.json").is_file() && !p.join("bin").exists()
}

/// 12 MB, 3.4 kB as podman prints sizes (SI units).
fn human_size(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{:.3} {}", v, units[u]).replace(".000 ", " ")
    }
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
    let images = Images::open(dir)?;
    match cmd {
        ImageCmd::Import { first, second, name, cmd } => {
            let first_path = Path::new(&first);
            let names = if is_archive(first_path) {
                let n = name.or(second);
                images.import_archive(first_path, n.as_deref())?
            } else {
                let src = second.ok_or_else(|| {
                    anyhow!("{first:?} is not an archive; to import a root filesystem: runp image import NAME DIR")
                })?;
                let src = PathBuf::from(src);
                if is_archive(&src) {
                    images.import_archive(&src, Some(name.as_deref().unwrap_or(&first)))?
                } else {
                    let cmd = cmd.split_whitespace().map(String::from).collect();
                    vec![images.import_dir(name.as_deref().unwrap_or(&first), &src, cmd)?]
                }
            };
            for n in names {
                println!("{n}");
            }
        }
        ImageCmd::Pull { reference, authfile, certs_dir, quiet } => {
            let id = crate::image::registry::pull_command(
                dir,
                &reference,
                authfile.as_deref(),
                certs_dir.as_deref(),
                quiet,
            )?;
            println!("{id}");
        }
        ImageCmd::List => {
            println!("{:<40} {:<16} {:<20} {:<14} SIZE", "REPOSITORY", "TAG", "DIGEST", "IMAGE ID");
            for s in images.store().list()? {
                let id = s.record.id.trim_start_matches("sha256:");
                let id = &id[..id.len().min(12)];
                let digest = s
                    .repo_digests
                    .first()
                    .and_then(|d| d.split_once('@'))
                    .map(|(_, d)| d.to_string())
                    .or(s.record.manifest_digest.clone())
                    .map(|d| d.chars().take(19).collect::<String>())
                    .unwrap_or_else(|| "<none>".into());
                let size = human_size(s.record.size);
                let mut rows: Vec<(String, String)> = s
                    .refs
                    .iter()
                    .map(|r| match crate::image::reference::Reference::parse(r) {
                        Ok(p) => (p.name(), p.tag().unwrap_or("<none>").to_string()),
                        Err(_) => (r.clone(), "<none>".into()),
                    })
                    .collect();
                if rows.is_empty() {
                    rows.push(("<none>".into(), "<none>".into()));
                }
                for (repo, tag) in rows {
                    println!("{repo:<40} {tag:<16} {digest:<20} {id:<14} {size}");
                }
            }
        }
        ImageCmd::Inspect { name } => {
            let id = match images.get(&name) {
                Ok(r) => r.record.id,
                Err(_) => images.store().resolve(&name)?.id,
            };
            let (_, bytes) = images.store().inspect(&id)?;
            let v: serde_json::Value = serde_json::from_slice(&bytes).context("the image config")?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        ImageCmd::Rm { name } => {
            let target = match crate::image::reference::Reference::parse(&name) {
                Ok(r) if images.store().resolve(&name).is_err() => crate::pod::images::key(&r),
                _ => name.clone(),
            };
            let id = images.store().remove(&target)?;
            println!("Untagged: {target}\n{id}");
        }
        ImageCmd::Prune => {
            let p = images.store().prune()?;
            for i in &p.images {
                println!("deleted image {i}");
            }
            println!(
                "{} images, {} layers, {} blobs removed ({} temporaries)",
                p.images.len(),
                p.layers.len(),
                p.blobs.len(),
                p.temporaries
            );
        }
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
        PodCmd::Stop { name, grace_period, force } => manage::stop(root, &name, grace_period, force).map(|_| 0),
        PodCmd::Rm { name, force } => manage::rm(root, images, &name, force).map(|_| 0),
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
    let dir = manage::create(root, image_dir, &pod)?;
    if detach {
        manage::spawn_supervisor(root, image_dir, &dir)?;
        println!("pod/{} created", dir.name);
        return Ok(0);
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

fn list(root: &Roots, output: Option<&str>) -> Result<i32> {
    let pods = manage::list(root);
    if output == Some("json") {
        let items: Vec<serde_json::Value> = pods.iter().map(|p| p.record.pod_object()).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}))?
        );
        return Ok(0);
    }
    println!("{:<30} {:<7} {:<20} {:<9} AGE", "NAME", "READY", "STATUS", "RESTARTS");
    for p in pods {
        let r = &p.record.runp;
        println!("{:<30} {:<7} {:<20} {:<9} {}", p.record.metadata.meta.name, r.ready, r.display, r.restarts, p.age);
    }
    Ok(0)
}

fn status(root: &Roots, name: &str, output: Option<&str>) -> Result<i32> {
    let (_, rec) = manage::load(root, name)?;
    match output.unwrap_or("json") {
        "json" => println!("{}", serde_json::to_string_pretty(&rec.pod_object())?),
        "yaml" => print!("{}", yaml_serde::to_string(&rec.pod_object()).context("formatting YAML")?),
        "wide" | "name" => println!("pod/{name} {}", rec.runp.display),
        o => bail!("unknown output format {o:?} (json, yaml)"),
    }
    Ok(0)
}

fn describe(root: &Roots, name: &str) -> Result<i32> {
    let (dir, rec) = manage::load(root, name)?;
    let mut out = std::io::stdout().lock();
    let m = &rec.metadata.meta;
    let s = &rec.status;
    writeln!(out, "Name:         {}", m.name)?;
    writeln!(out, "Namespace:    {}", m.namespace)?;
    writeln!(out, "UID:          {}", m.uid)?;
    writeln!(out, "Start Time:   {}", s.start_time)?;
    writeln!(out, "Status:       {}", rec.runp.display)?;
    writeln!(out, "Phase:        {}", s.phase.as_str())?;
    if let Some(r) = &s.reason {
        writeln!(out, "Reason:       {r}")?;
        writeln!(out, "Message:      {}", s.message.as_deref().unwrap_or(""))?;
    }
    writeln!(out, "IP:           {}", s.pod_ip)?;
    for (title, list) in [("Init Containers", &s.init_container_statuses), ("Containers", &s.container_statuses)] {
        // initContainerStatuses is left out when empty: no section then.
        if list.is_empty() && title == "Init Containers" {
            continue;
        }
        writeln!(out, "{title}:")?;
        for c in list {
            writeln!(out, "  {}:", c.name)?;
            writeln!(out, "    Container ID:   {}", c.container_id)?;
            writeln!(out, "    Image:          {}", c.image)?;
            describe_state(&mut out, "State", &c.state)?;
            if !c.last_state.is_empty() {
                describe_state(&mut out, "Last State", &c.last_state)?;
            }
            writeln!(out, "    Ready:          {}", c.ready)?;
            writeln!(out, "    Restart Count:  {}", c.restart_count)?;
        }
    }
    writeln!(out, "Conditions:\n  Type                        Status")?;
    for c in &s.conditions {
        writeln!(out, "  {:<27} {}", c.type_, c.status)?;
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

fn describe_state(out: &mut impl Write, title: &str, st: &ContainerState) -> Result<()> {
    // (label, the fields shown: reason, message, exit code, started, finished)
    let (kind, fields): (&str, Vec<(&str, String)>) = if let Some(w) = &st.waiting {
        let mut f = vec![("Reason", w.reason.clone())];
        if !w.message.is_empty() {
            f.push(("Message", w.message.clone()));
        }
        ("Waiting", f)
    } else if let Some(r) = &st.running {
        ("Running", vec![("Started", r.started_at.clone())])
    } else if let Some(t) = &st.terminated {
        let mut f = vec![("Reason", t.reason.clone())];
        if !t.message.is_empty() {
            f.push(("Message", t.message.clone()));
        }
        f.extend([
            ("Exit Code", t.exit_code.to_string()),
            ("Started", t.started_at.clone()),
            ("Finished", t.finished_at.clone()),
        ]);
        ("Terminated", f)
    } else {
        return Ok(());
    };
    let label = format!("{title}:");
    writeln!(out, "    {label:<16}{kind}")?;
    for (name, v) in fields {
        writeln!(out, "      {:<14}{v}", format!("{name}:"))?;
    }
    Ok(())
}

fn logs_cmd(
    root: &Roots,
    name: &str,
    container: Option<&str>,
    follow: bool,
    previous: bool,
    timestamps: bool,
) -> Result<i32> {
    let (dir, rec) = manage::load(root, name)?;
    let target = manage::log_target(&dir, &rec, container, previous)?;
    let path = &target.path;
    let mut out = std::io::stdout().lock();
    let mut offset = 0usize;
    loop {
        let mut text = logs::read_lossy(path);
        if text.len() < offset {
            // Rotated since the last round: the rest of the file we were reading, then the new one.
            if let Some(last) = logs::rotated_files(path).pop() {
                let old = logs::read_lossy(&last);
                if old.len() > offset {
                    logs::render(&old[offset..], timestamps, &mut out)?;
                }
            }
            offset = 0;
            text = logs::read_lossy(path);
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
        let (_, now) = manage::load(root, name)?;
        let done = now.status.phase.is_terminal();
        let still_this = target.still_running(&now);
        if done || (!still_this && offset >= text.len()) {
            if !still_this {
                let text = logs::read_lossy(path);
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
    let (_, rec) = manage::load(root, name)?;
    let cname = &rec.container(container)?.name;
    let id =
        rec.container_oci_id(cname).ok_or_else(|| anyhow!("container {cname:?} in pod {name:?} is not running"))?;
    let o = crate::runtime::exec::ExecOptions { id: id.to_string(), args: command, tty, ..Default::default() };
    crate::runtime::exec::exec(&root.run, &o)
}

fn events(root: &Roots, name: &str, output: Option<&str>, follow: bool) -> Result<i32> {
    let dir = manage::open_any(root, name)?;
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

/// `kubectl wait`: exits 0 when the condition holds, 1 with an error at the timeout.
fn wait(root: &Roots, name: &str, cond: &str, timeout: &str) -> Result<i32> {
    manage::wait(root, name, cond, manage::parse_duration(timeout)?)?;
    if cond != "delete" {
        println!("pod/{name} condition met");
    }
    Ok(0)
}
