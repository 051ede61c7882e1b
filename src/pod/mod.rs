//! Pods with kubelet semantics. A pause process holds the pod's namespaces; each container is
//! an OCI container (runtime::create_plan) whose namespace entries point at pause. One
//! supervisor process per pod runs the lifecycle; the CLI talks to it or reads its status.
//!
//! Read top-down: `machine/` decides (pure, unit-tested), `supervisor.rs` is the loop that
//! acts (`containers.rs`, `checks.rs`, `sandbox.rs`), the rest are its parts (status, events,
//! logs, probes, handlers, the pod's directory, images, volumes). `record.rs` is the typed
//! status.json it writes; `manage.rs` is what the CLI does to pods from outside (load, list,
//! stop, rm, wait).
#![forbid(unsafe_code)]

pub mod backoff;
mod checks;
mod containers;
pub mod control;
pub mod events;
pub mod handlers;
pub mod http;
pub mod images;
pub mod logs;
pub mod machine;
pub mod manage;
pub mod net;
pub mod probe;
pub mod record;
mod sandbox;
pub mod status;
pub mod store;
pub mod supervisor;
pub mod volumes;
