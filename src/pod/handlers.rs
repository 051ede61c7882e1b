//! Lifecycle handlers (postStart, preStop) as non-blocking runs inside the supervisor's loop:
//! exec (a process in the container, reaped like any child), httpGet and tcpSocket (a
//! non-blocking socket in the pod's network namespace, which the supervisor has joined), sleep
//! (a timer). The kubelet's rules: any HTTP response is success; exec needs exit 0.
//! tcpSocket hooks WORK in runp (the kubelet's always fail): a completed connect is success.

use super::http::{self, Client, Purpose, Reply, Url};
use super::net;
use anyhow::{anyhow, Result};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Instant;

/// A running handler.
pub enum Run {
    /// An exec'd process (our child): done when it is reaped.
    Exec { pid: i32 },
    /// A socket: a tcpSocket connect, or an httpGet request (pod::http's client).
    Net(Box<Net>),
    /// Done at this instant.
    Sleep { until: Instant },
}

/// A network handler in flight.
pub enum Net {
    /// Connecting: a completed connect is success.
    Tcp { sock: TcpStream, addr: SocketAddr },
    /// A GET: any HTTP response is success.
    Http(Client),
}

/// Where a network handler connects: `host` (IP literal or "localhost"; none = the pod).
pub fn address(host: Option<&str>, port: u16) -> Result<SocketAddr> {
    let host = match host.map(str::trim).filter(|h| !h.is_empty()) {
        None | Some("localhost") => "127.0.0.1",
        Some(h) => h,
    };
    let ip: std::net::IpAddr =
        host.parse().map_err(|_| anyhow!("host {host:?}: only IP addresses and localhost are supported"))?;
    Ok(SocketAddr::new(ip, port))
}

/// An httpGet handler's request: path, the URL's authority ("host:port"; the port is
/// `addr`'s), headers (a `Host` among them is sent instead of the authority).
pub type HttpRequest = (String, String, Vec<(String, String)>);

/// Starts a non-blocking connect and, for httpGet, the request the kubelet would send
/// (`User-Agent: kube-lifecycle/<major>.<minor>`, the path escaped, headers validated: an
/// invalid one is an error naming it).
pub fn connect(addr: SocketAddr, http: Option<HttpRequest>) -> Result<Run> {
    let net = match http {
        None => Net::Tcp { sock: net::dial(addr).map_err(|e| anyhow!(e))?, addr },
        Some((path, host, headers)) => {
            let url = Url::new(http::host_of(&host), addr.port(), &path);
            Net::Http(Client::start(Purpose::Lifecycle, addr, url, &headers).map_err(|e| anyhow!(e))?)
        }
    };
    Ok(Run::Net(Box::new(net)))
}

impl Run {
    /// The fd and events to poll for, if any.
    pub fn poll_fd(&self) -> Option<(BorrowedFd<'_>, nix::poll::PollFlags)> {
        match self {
            Run::Net(n) => match &**n {
                Net::Tcp { sock, .. } => Some((sock.as_fd(), nix::poll::PollFlags::POLLOUT)),
                Net::Http(c) => c.poll_fd(),
            },
            _ => None,
        }
    }

    /// Makes progress after poll said the socket is ready: Some(result) when finished.
    pub fn progress(&mut self) -> Option<Result<()>> {
        let Run::Net(n) = self else { return None };
        match &mut **n {
            Net::Tcp { sock, addr } => net::connected(sock, *addr).map(|r| r.map_err(|e| anyhow!(e))),
            // Any HTTP response counts, whatever the status (the kubelet's hook rule).
            Net::Http(c) => c.progress().map(|r| match r {
                Reply::Response { .. } => Ok(()),
                Reply::Error(e) => Err(anyhow!(e)),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn drive(mut r: Run) -> Result<()> {
        for _ in 0..1000 {
            let ready = match r.poll_fd() {
                Some((fd, ev)) => {
                    let mut fds = [nix::poll::PollFd::new(fd, ev)];
                    nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(1000u16)).unwrap() > 0
                }
                None => true,
            };
            if ready {
                if let Some(res) = r.progress() {
                    return res;
                }
            }
        }
        panic!("handler never finished");
    }

    /// The probe tests' server: one canned response per connection; returns the requests.
    fn serve(responses: Vec<&'static [u8]>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
        crate::pod::probe::http::tests::serve(responses.into_iter().map(<[u8]>::to_vec).collect())
    }

    fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> Result<Run> {
        let headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        connect(address(Some("localhost"), port)?, Some((path.into(), format!("localhost:{port}"), headers)))
    }

    /// The kubelet's hook rule: any HTTP response is success, a 500 as much as a 200
    /// (pod-lifecycle.md §6, L-50); only getting no response fails.
    #[test]
    fn http_hook_any_response_succeeds_and_no_response_fails() {
        let (port, server) = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
            b"",
            b"SSH-2.0-x\r\n",
        ]);
        drive(get(port, "/index.html", &[]).unwrap()).unwrap();
        drive(get(port, "/fail", &[]).unwrap()).unwrap();
        let e = drive(get(port, "/", &[]).unwrap()).unwrap_err().to_string();
        assert_eq!(e, format!("Get \"http://localhost:{port}/\": EOF"));
        let e = drive(get(port, "/", &[]).unwrap()).unwrap_err().to_string();
        assert!(e.contains("malformed HTTP response \"SSH-2.0-x\""), "{e}");
        let reqs = server.join().unwrap();
        let want = format!("GET /index.html HTTP/1.1\r\nHost: localhost:{port}\r\nUser-Agent: kube-lifecycle/1.33\r\nAccept: */*\r\nConnection: close\r\n\r\n");
        assert_eq!(reqs[0], want);
        // a closed port: refused, in Go's words
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let e = drive(get(port, "/", &[]).unwrap()).unwrap_err().to_string();
        assert!(e.ends_with(&format!("dial tcp 127.0.0.1:{port}: connect: connection refused")), "{e}");
        assert!(address(Some("example.com"), 80).is_err());
    }

    #[test]
    fn http_hook_path_is_escaped_and_headers_kept() {
        let (port, server) = serve(vec![b"HTTP/1.1 204 No Content\r\n\r\n"]);
        drive(get(port, "pre stop?why=a b\r\nX-Injected: 1#frag", &[("x-reason", "shutdown")]).unwrap()).unwrap();
        let req = server.join().unwrap().remove(0);
        assert!(req.starts_with("GET /pre%20stop?why=a%20b%0D%0AX-Injected:%201 HTTP/1.1\r\n"), "{req}");
        assert!(req.ends_with("Connection: close\r\nX-Reason: shutdown\r\n\r\n"), "{req}");
        assert!(!req.contains("\nX-Injected"), "{req}");
    }

    #[test]
    fn http_hook_invalid_header_fails_before_connecting() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        for (name, value, bad) in [
            ("X-A", "a\r\nInjected: 1", "value for \"X-A\""),
            ("X-B", "a\0", "value for \"X-B\""),
            ("X-C\n", "1", "name \"X-C\\n\""),
        ] {
            let Err(e) = get(port, "/", &[(name, value)]) else { panic!("{name:?} accepted") };
            let want = format!("Get \"http://localhost:{port}/\": net/http: invalid header field {bad}");
            assert_eq!(e.to_string(), want);
        }
        assert!(l.accept().is_err(), "a request with an invalid header reached the server");
    }

    #[test]
    fn tcp_socket_connects() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drive(connect(address(Some("127.0.0.1"), port).unwrap(), None).unwrap()).unwrap();
        drop(l);
        let e = drive(connect(address(None, port).unwrap(), None).unwrap()).unwrap_err().to_string();
        assert_eq!(e, format!("dial tcp 127.0.0.1:{port}: connect: connection refused"));
    }
}
