//! runp: an OCI runtime (runc's CLI) whose engine will also run Kubernetes pods.
//!
//! Read top-down: `cli` → `runtime` (one file per OCI verb) → `plan` (what to do, decided
//! once from config.json) → `linux` (namespaces, mounts, cgroups, capabilities, seccomp; the
//! only place with `unsafe`). `spec` parses inputs.

pub mod cli;
pub mod image;
pub mod linux;
pub mod log;
pub mod plan;
pub mod pod;
pub mod runtime;
pub mod spec;
pub mod time;

/// The runtime-spec version runp implements (reported by `state`, `spec`, `features`).
pub const OCI_VERSION: &str = "1.2.1";
