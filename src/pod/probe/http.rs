//! The kubelet's httpGet probe (pod-lifecycle.md §7.4, design-notes.md §8) over pod::http's
//! client: 200 <= status < 400 is success (3xx, a redirect not followed: a warning), with up
//! to 10 KiB of the body as output; same-origin redirects are followed until the 10th
//! redirect response (Go's client, a Failure); other hosts (or ports, security.md S-53) are
//! never contacted. The caller enforces the timeout by dropping the probe, which closes its
//! socket.

use crate::pod::http::{Client, Purpose, Reply, Url};
use nix::poll::PollFlags;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::BorrowedFd;

/// The User-Agent the kubelet sends (`kube-probe/<major>.<minor>`).
pub use crate::pod::http::PROBE_USER_AGENT as USER_AGENT;

/// A probe's result. Warning counts as success (with a ProbeWarning event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success(String),
    Warning(String),
    Failure(String),
}

/// A running httpGet probe. Poll `poll_fd()` afresh before every wait: a redirect opens a
/// new socket.
pub struct HttpProbe {
    url: Url,
    state: State,
}

enum State {
    Running(Client),
    Done(Option<Outcome>),
}

impl HttpProbe {
    /// Starts an HTTP probe; never blocks. `host` is an IP literal, "localhost", or empty (the
    /// pod: 127.0.0.1). `headers` are the probe's httpHeaders. Errors surface as a Failure
    /// on the first `progress()`.
    pub fn start(host: &str, port: u16, path: &str, headers: &[(String, String)]) -> HttpProbe {
        HttpProbe::start_scheme("HTTP", host, port, path, headers)
    }

    /// Like `start`, with the probe's scheme: HTTPS is refused (no TLS in runp).
    pub fn start_scheme(scheme: &str, host: &str, port: u16, path: &str, headers: &[(String, String)]) -> HttpProbe {
        let host = host.trim().trim_start_matches('[').trim_end_matches(']');
        let (url_host, ip) = match host {
            "" => ("127.0.0.1", Some(IpAddr::V4(Ipv4Addr::LOCALHOST))),
            h if h.eq_ignore_ascii_case("localhost") => ("localhost", Some(IpAddr::V4(Ipv4Addr::LOCALHOST))),
            h => (h, h.parse().ok()),
        };
        let url = Url::new(url_host, port, path);
        let fail = |m: String| State::Done(Some(Outcome::Failure(m)));
        let state = match ip {
            _ if !scheme.eq_ignore_ascii_case("http") => fail("HTTPS probes are not supported".into()),
            None => {
                fail(format!("Get \"{url}\": dial tcp: lookup {host}: only IP addresses and localhost are supported"))
            }
            Some(ip) => match Client::start(Purpose::Probe, SocketAddr::new(ip, port), url.clone(), headers) {
                Ok(c) => State::Running(c),
                Err(e) => fail(e),
            },
        };
        HttpProbe { url, state }
    }

    /// The message for a probe the caller timed out, as the kubelet words it.
    pub fn timeout_message(&self) -> String {
        let url = match &self.state {
            State::Running(c) => c.url(),
            State::Done(_) => &self.url,
        };
        format!("Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
    }

    /// The fd and events to wait for; None once finished (or before the first `progress()`
    /// hands out an immediate error).
    pub fn poll_fd(&self) -> Option<(BorrowedFd<'_>, PollFlags)> {
        match &self.state {
            State::Running(c) => c.poll_fd(),
            State::Done(_) => None,
        }
    }

    /// Makes all the progress possible without blocking; Some(outcome) when finished.
    pub fn progress(&mut self) -> Option<Outcome> {
        match &mut self.state {
            State::Done(o) => o.take(),
            State::Running(c) => {
                let reply = c.progress()?;
                self.url = c.url().clone();
                self.state = State::Done(None);
                Some(verdict(reply))
            }
        }
    }
}

/// The kubelet's DoHTTPProbe rules.
fn verdict(reply: Reply) -> Outcome {
    match reply {
        Reply::Error(e) => Outcome::Failure(e),
        Reply::Response { status, .. } if !(200..400).contains(&status) => {
            Outcome::Failure(format!("HTTP probe failed with statuscode: {status}"))
        }
        Reply::Response { status, body } => {
            let body = String::from_utf8_lossy(&body).into_owned();
            if status >= 300 {
                Outcome::Warning(format!("Probe terminated redirects, Response body: {body}"))
            } else {
                Outcome::Success(body)
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
