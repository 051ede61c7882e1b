//! Probes: `worker` decides when each probe runs and what its results mean (periods,
//! thresholds, gating); the network clients (`http`, `grpc` over h2c with `hpack`) run one
//! check without blocking the supervisor's loop. Exec probes are processes the supervisor
//! starts (checks.rs).

pub mod grpc;
mod hpack;
pub mod http;
pub mod worker;

pub use grpc::GrpcProbe;
pub use http::{HttpProbe, Outcome};
