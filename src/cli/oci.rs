//! The OCI verbs: argument handling and output formats. The work is in `runtime`.

use super::{Cli, Cmd, CreateArgs, VERSION_TEXT};
use crate::log::Format;
use crate::runtime::{create, delete, exec, kill, query, run, start};
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    pub id: String,
    /// The command and its arguments (unless --process is given).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    #[arg(long)]
    pub pidfd_socket: Option<PathBuf>,
    #[arg(long)]
    pub cwd: Option<String>,
    #[arg(short, long)]
    pub env: Vec<String>,
    #[arg(short, long)]
    pub tty: bool,
    /// uid[:gid] or name[:group].
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// An OCI process JSON file.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    #[arg(long)]
    pub process_label: Option<String>,
    #[arg(long)]
    pub apparmor: Option<String>,
    #[arg(long)]
    pub no_new_privs: bool,
    #[arg(short, long)]
    pub cap: Vec<String>,
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    #[arg(long)]
    pub cgroup: Vec<String>,
    #[arg(long)]
    pub ignore_paused: bool,
}

fn create_options(a: &CreateArgs) -> Result<create::CreateOptions> {
    if a.pidfd_socket.is_some() {
        bail!("--pidfd-socket is not supported yet");
    }
    Ok(create::CreateOptions {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        no_pivot: a.no_pivot,
        preserve_fds: a.preserve_fds,
        no_gate: false,
        detach: true,
        ..Default::default()
    })
}

/// Reports an error runc-style: to the log (file or stderr), and as a bare line on stderr
/// when the log goes to a file (podman/conmon read stderr, containerd reads the log).
fn report(err: &anyhow::Error, cmd: &str, log_to_file: bool, format: Format) {
    let msg = format!("{err:#}");
    let msg = if matches!(cmd, "create" | "run") { format!("runp {cmd} failed: {msg}") } else { msg };
    if log_to_file {
        log::error!("{msg}");
        eprintln!("{msg}");
    } else if format == Format::Json {
        eprint!("{}", crate::log::format_line(Format::Json, log::Level::Error, &msg));
    } else if msg.starts_with("runp ") {
        eprintln!("{msg}");
    } else {
        eprintln!("runp: {msg}");
    }
}

pub fn dispatch(cli: Cli) -> i32 {
    let format = match cli.log_format.as_str() {
        "text" => Format::Text,
        "json" => Format::Json,
        other => {
            eprintln!("runp: invalid log-format: {other}");
            return 1;
        }
    };
    let to_file = crate::log::init(cli.log.as_deref(), format, cli.debug);
    if cli.version {
        print!("{VERSION_TEXT}");
        return 0;
    }
    let Some(cmd) = cli.cmd else {
        eprintln!("runp: a command is required (see runp --help)");
        return 1;
    };
    let name = cmd_name(&cmd);
    let exec_cmd = matches!(cmd, Cmd::Exec(_));
    let root = match absolute(&cli.root, "--root") {
        Ok(r) => r,
        Err(e) => {
            report(&e, name, to_file, format);
            return 1;
        }
    };
    if cli.systemd_cgroup {
        report(
            &anyhow::anyhow!("--systemd-cgroup is not supported: runp manages cgroupfs directly"),
            name,
            to_file,
            format,
        );
        return 1;
    }
    let data = match absolute(&super::pod::data_root(cli.data_root.as_deref()), "--data-root") {
        Ok(d) => d,
        Err(e) => {
            report(&e, name, to_file, format);
            return 1;
        }
    };
    let images = super::pod::image_dir(cli.image_dir.as_deref(), &data);
    let roots = crate::pod::store::Roots { run: root, data };
    match run_cmd(&roots, &images, cmd) {
        Ok(code) => code,
        Err(e) => {
            report(&e, name, to_file, format);
            if exec_cmd {
                255
            } else {
                1
            }
        }
    }
}

fn cmd_name(cmd: &Cmd) -> &'static str {
    match cmd {
        Cmd::Create(_) => "create",
        Cmd::Start { .. } => "start",
        Cmd::Run { .. } => "run",
        Cmd::State { .. } => "state",
        Cmd::Kill { .. } => "kill",
        Cmd::Delete { .. } => "delete",
        Cmd::List { .. } => "list",
        Cmd::Ps { .. } => "ps",
        Cmd::Pause { .. } => "pause",
        Cmd::Resume { .. } => "resume",
        Cmd::Exec(_) => "exec",
        Cmd::Spec { .. } => "spec",
        Cmd::Features => "features",
        Cmd::Pod { .. } => "pod",
        Cmd::Image { .. } => "image",
    }
}

fn absolute(p: &Path, flag: &str) -> Result<PathBuf> {
    let abs = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir()?.join(p) };
    if abs == Path::new("/") {
        bail!("{flag} must not be /");
    }
    Ok(abs)
}

fn run_cmd(roots: &crate::pod::store::Roots, images: &Path, cmd: Cmd) -> Result<i32> {
    let root = roots.run.as_path();
    match cmd {
        Cmd::Pod { cmd } => super::pod::pod(roots, images, cmd),
        Cmd::Image { cmd } => super::pod::image(images, cmd),
        Cmd::Create(a) => {
            let c = create::create(root, &create_options(&a)?)?;
            // Acknowledge: the init now waits on exec.fifo for `start`.
            c.spawned.go()?;
            Ok(0)
        }
        Cmd::Start { id } => start::start(root, &id).map(|()| 0),
        Cmd::Run { create: a, detach, keep, no_subreaper: _ } => {
            let mut co = create_options(&a)?;
            co.detach = detach;
            run::run(root, run::RunOptions { create: co, detach, keep })
        }
        Cmd::State { id } => {
            let e = query::state(root, &id)?;
            let v = e.state.oci_json(e.status, "");
            // runc prints MarshalIndent output without a trailing newline.
            print!("{}", serde_json::to_string_pretty(&v)?);
            Ok(0)
        }
        Cmd::Kill { id, signal, all } => {
            let sig = crate::spec::signal::parse(signal.as_deref().unwrap_or("SIGTERM"))?;
            kill::kill(root, &id, sig, all).map(|()| 0)
        }
        Cmd::Delete { id, force } => delete::delete(root, &id, force).map(|()| 0),
        Cmd::List { format, quiet } => list(root, &format, quiet).map(|()| 0),
        Cmd::Ps { id, format, ps_args } => ps(root, &id, &format, &ps_args).map(|()| 0),
        Cmd::Pause { id } => query::pause(root, &id).map(|()| 0),
        Cmd::Resume { id } => query::resume(root, &id).map(|()| 0),
        Cmd::Exec(a) => exec_cmd(root, *a),
        Cmd::Spec { bundle, rootless } => {
            if rootless {
                bail!("--rootless specs are not supported: runp runs as root");
            }
            let path = bundle.join("config.json");
            if path.exists() {
                bail!("File {} exists. Remove it first", path.display());
            }
            let text = serde_json::to_string_pretty(&super::spec_default::config())?;
            std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
            Ok(0)
        }
        Cmd::Features => {
            println!("{}", serde_json::to_string_pretty(&super::spec_default::features())?);
            Ok(0)
        }
    }
}

fn exec_cmd(root: &Path, a: ExecArgs) -> Result<i32> {
    if a.process.is_none() && a.command.is_empty() {
        bail!("exec: a command or --process is required");
    }
    if a.pidfd_socket.is_some() || !a.cgroup.is_empty() {
        bail!("--pidfd-socket and --cgroup are not supported yet");
    }
    let o = exec::ExecOptions {
        id: a.id,
        process_file: a.process,
        args: a.command,
        env: a.env,
        cwd: a.cwd,
        user: a.user,
        additional_gids: a.additional_gids,
        caps: a.cap,
        tty: a.tty,
        no_new_privs: a.no_new_privs,
        detach: a.detach,
        pid_file: a.pid_file,
        console_socket: a.console_socket,
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
        stdio: None,
    };
    exec::exec(root, &o)
}

/// The host's name for a uid, from /etc/passwd (no NSS in a static binary).
fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|t| crate::spec::user::parse_passwd(&t).into_iter().find(|e| e.uid == uid).map(|e| e.name))
        .unwrap_or_else(|| format!("#{uid}"))
}

fn list(root: &Path, format: &str, quiet: bool) -> Result<()> {
    let entries = query::list(root)?;
    let mut out = std::io::stdout().lock();
    if quiet {
        for e in &entries {
            writeln!(out, "{}", e.state.id)?;
        }
        return Ok(());
    }
    let owner = |e: &query::Entry| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(root.join(&e.state.id)).map(|m| user_name(m.uid())).unwrap_or_default()
    };
    match format {
        "json" => {
            if entries.is_empty() {
                writeln!(out, "null")?;
            } else {
                let v: Vec<_> = entries.iter().map(|e| e.state.oci_json(e.status, &owner(e))).collect();
                writeln!(out, "{}", serde_json::to_string(&v)?)?;
            }
        }
        "table" => {
            let rows: Vec<[String; 6]> = entries
                .iter()
                .map(|e| {
                    let pid = if e.status == crate::runtime::state::Status::Stopped { 0 } else { e.state.pid };
                    [
                        e.state.id.clone(),
                        pid.to_string(),
                        e.status.as_str().to_string(),
                        e.state.bundle.display().to_string(),
                        e.state.created.clone(),
                        owner(e),
                    ]
                })
                .collect();
            let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
            let mut widths = [0usize; 6];
            for r in std::iter::once(&header).chain(rows.iter()) {
                for (w, c) in widths.iter_mut().zip(r.iter()) {
                    *w = (*w).max(c.len());
                }
            }
            for r in std::iter::once(&header).chain(rows.iter()) {
                let line: Vec<String> = r.iter().zip(widths.iter()).map(|(c, w)| format!("{c:<w$}")).collect();
                writeln!(out, "{}", line.join("   ").trim_end())?;
            }
        }
        other => bail!("invalid format option {other:?}"),
    }
    Ok(())
}

fn ps(root: &Path, id: &str, format: &str, ps_args: &[String]) -> Result<()> {
    let pids = query::pids(root, id)?;
    match format {
        "json" => {
            println!("{}", serde_json::to_string(&pids)?);
            Ok(())
        }
        "table" => {
            let args: Vec<String> = if ps_args.is_empty() { vec!["-ef".into()] } else { ps_args.to_vec() };
            let out = std::process::Command::new("ps").args(&args).output().context("running ps")?;
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let col = header.split_whitespace().position(|c| c == "PID").context("ps output has no PID column")?;
            println!("{header}");
            for l in lines {
                let pid: Option<i32> = l.split_whitespace().nth(col).and_then(|p| p.parse().ok());
                if pid.is_some_and(|p| pids.contains(&p)) {
                    println!("{l}");
                }
            }
            Ok(())
        }
        other => bail!("invalid format option {other:?}"),
    }
}
