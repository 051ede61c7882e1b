//! The network probe clients (httpGet, grpc), behind one name so the probe workers do not
//! care where they live.

pub use super::probe_grpc::GrpcProbe;
pub use super::probe_http::{HttpProbe, Outcome};
