//! The network probe clients (httpGet, grpc), behind one name so the probe workers do not
//! care where they live. Placeholders until the real clients land: every check fails loudly.

use std::os::fd::BorrowedFd;

pub enum Outcome {
    Success(String),
    Warning(String),
    Failure(String),
}

pub struct HttpProbe;
pub struct GrpcProbe;

impl HttpProbe {
    pub fn start(_host: &str, _port: u16, _path: &str, _headers: &[(String, String)]) -> HttpProbe {
        HttpProbe
    }
    pub fn poll_fd(&self) -> Option<(BorrowedFd<'_>, nix::poll::PollFlags)> {
        None
    }
    pub fn progress(&mut self) -> Option<Outcome> {
        Some(Outcome::Failure("httpGet probes are not available yet".into()))
    }
}

impl GrpcProbe {
    pub fn start(_port: u16, _service: &str) -> GrpcProbe {
        GrpcProbe
    }
    pub fn poll_fd(&self) -> Option<(BorrowedFd<'_>, nix::poll::PollFlags)> {
        None
    }
    pub fn progress(&mut self) -> Option<Outcome> {
        Some(Outcome::Failure("grpc probes are not available yet".into()))
    }
}
