//! Pods with kubelet semantics. A pause process holds the pod's namespaces; each container is
//! an OCI container (runtime::create_plan) whose namespace entries point at pause. One
//! supervisor process per pod runs the lifecycle; the CLI talks to it or reads its status.
#![forbid(unsafe_code)]

pub mod backoff;
pub mod control;
pub mod events;
pub mod handlers;
pub mod http;
pub mod images;
mod lifecycle;
pub mod logs;
pub mod net;
pub mod probe;
mod probe_runner;
pub mod status;
pub mod store;
pub mod supervisor;
pub mod volumes;
