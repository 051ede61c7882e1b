//! Command line: runc's global flags and subcommands, flag for flag where clients depend on
//! them (podman/conmon, containerd's shim, CRI-O). Only this module names clap types.
#![forbid(unsafe_code)]

mod oci;
pub mod pod;
mod spec_default;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "runp", about = "runc runs a container; runp runs a pod.", disable_version_flag = true)]
pub struct Cli {
    /// Directory for runtime state: containers, and the pods' sockets, pids and mounts
    /// (a tmpfs: gone at reboot).
    #[arg(long, default_value = "/run/runp")]
    pub root: PathBuf,
    /// Directory for persistent data: pod records, logs, volumes, writable layers, images
    /// (default $RUNP_DATA_ROOT, else /var/lib/runp).
    #[arg(long, value_name = "DIR")]
    pub data_root: Option<PathBuf>,
    /// Log file (default: stderr).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long, default_value = "text")]
    pub log_format: String,
    /// Debug logging.
    #[arg(long)]
    pub debug: bool,
    /// Use systemd to manage cgroups (not supported: runp manages cgroupfs directly).
    #[arg(long)]
    pub systemd_cgroup: bool,
    /// Accepted for runc compatibility (runp runs as root).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = false)]
    pub rootless: Option<String>,
    /// Accepted for runc compatibility; ignored.
    #[arg(long, hide = true)]
    pub criu: Option<String>,
    /// Accepted for podman compatibility; only "cgroupfs" and "disabled" are understood.
    #[arg(long, hide = true)]
    pub cgroup_manager: Option<String>,
    /// Where images live (default $RUNP_IMAGE_DIR, else <data-root>/images).
    #[arg(long)]
    pub image_dir: Option<PathBuf>,
    /// Print the version.
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct CreateArgs {
    pub id: String,
    /// Path to the bundle (default: the current directory).
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master (process.terminal).
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// File to write the container init's pid to.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root.
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a session keyring (runp never does).
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N extra fds (3 .. 3+N-1) to the container.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Not supported yet.
    #[arg(long, hide = true)]
    pub pidfd_socket: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create a container from a bundle; it waits for `start`.
    Create(CreateArgs),
    /// Start a created container.
    Start { id: String },
    /// Create and start a container; in the foreground, wait for it and exit with its status.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Return once the container runs.
        #[arg(short, long)]
        detach: bool,
        /// Keep the container's state after it exits.
        #[arg(long)]
        keep: bool,
        /// Accepted for runc compatibility.
        #[arg(long)]
        no_subreaper: bool,
    },
    /// Print a container's state as JSON.
    State { id: String },
    /// Send a signal (default SIGTERM) to a container's init.
    Kill {
        id: String,
        signal: Option<String>,
        /// Signal every process of the container.
        #[arg(short, long)]
        all: bool,
    },
    /// Delete a container.
    Delete {
        id: String,
        /// Kill a running container first; succeed on unknown ids.
        #[arg(short, long)]
        force: bool,
    },
    /// List containers.
    List {
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Only the ids.
        #[arg(short, long)]
        quiet: bool,
    },
    /// List a container's processes.
    Ps {
        id: String,
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Arguments for ps(1) in table format.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Freeze every process of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// Run a new process in a running container.
    Exec(Box<oci::ExecArgs>),
    /// Write a default config.json.
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        rootless: bool,
    },
    /// Print what this runtime supports, as JSON.
    Features,
    /// Run Kubernetes Pods: a pause process, init and app containers, kubelet semantics.
    Pod {
        #[command(subcommand)]
        cmd: pod::PodCmd,
    },
    /// Local images for pods.
    Image {
        #[command(subcommand)]
        cmd: pod::ImageCmd,
    },
}

pub const VERSION_TEXT: &str =
    concat!("runp version ", env!("CARGO_PKG_VERSION"), "\ncommit: none\nspec: ", "1.2.1", "\nlibseccomp: static\n");

/// Parses argv, runs the command, returns the exit code.
pub fn main() -> i32 {
    crate::time::start_clock();
    // Commands that put processes into containers run from a read-only copy of runp
    // (CVE-2019-5736); the others (state, list, kill...) need not pay for the re-exec.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let enters = args.iter().enumerate().any(|(i, a)| match a.as_str() {
        "create" | "run" | "exec" => true,
        "pod" => matches!(args.get(i + 1).map(String::as_str), Some("run" | "supervise" | "exec")),
        _ => false,
    });
    if enters {
        crate::linux::exeseal::reexec_sealed();
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => 1,
            };
            let _ = e.print();
            return if code == 0 && e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand { 1 } else { code };
        }
    };
    oci::dispatch(cli)
}
