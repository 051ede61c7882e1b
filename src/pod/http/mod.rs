//! The one HTTP/1.1 client of pods, for httpGet probes (probe::http) and httpGet lifecycle
//! hooks (handlers): `url` (the path as sent, redirect targets), `request` (the head, by the
//! kubelet's rules, with each purpose's User-Agent), `response` (head parsing by httparse,
//! body framing, the 10 KiB cap) and `client` (the non-blocking state machine). Redirects are
//! followed on the same origin only (security.md S-53). The kubelet's lifecycle client would
//! follow any; here a hook redirected elsewhere ends at that redirect response, a success as
//! any response is (the kubelet's would fail if the other host could not be reached).

mod client;
mod request;
mod response;
mod url;

pub use client::{Client, Reply};
pub use request::{Purpose, LIFECYCLE_USER_AGENT, PROBE_USER_AGENT};
pub use response::{header, parse_response_head, Head, MAX_BODY, MAX_HEAD};
pub use url::{host_of, Url};

#[cfg(test)]
mod tests;
