//! Tests of probe::http end to end against in-test servers (the pure parsers are tested in
//! pod::http).

use super::*;
use crate::pod::http::MAX_BODY;
use nix::poll::{poll, PollFd, PollTimeout};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(crate) fn drive(p: &mut HttpProbe) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(10);
    if let Some(o) = p.progress() {
        return o;
    }
    while Instant::now() < deadline {
        let Some((fd, ev)) = p.poll_fd() else { panic!("no fd while running") };
        let mut fds = [PollFd::new(fd, ev)];
        if poll(&mut fds, PollTimeout::from(2000u16)).unwrap() > 0 {
            if let Some(o) = p.progress() {
                return o;
            }
        }
    }
    panic!("probe never finished");
}

/// Serves one canned response per connection (written in small pieces), returns the requests.
pub(crate) fn serve(responses: Vec<Vec<u8>>) -> (u16, JoinHandle<Vec<String>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let mut reqs = Vec::new();
        for resp in responses {
            let (mut s, _) = l.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..n]);
            }
            reqs.push(String::from_utf8_lossy(&req).into_owned());
            for piece in resp.chunks(7) {
                if s.write_all(piece).is_err() {
                    break;
                }
            }
        }
        reqs
    });
    (port, h)
}

fn r(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

#[test]
fn status_rules_and_request_shape() {
    let (port, h) = serve(vec![
        r("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        r("HTTP/1.1 399 X\r\n\r\n"),
        r("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"),
        r("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
        r("HTTP/1.0 200 OK\r\n\r\nuntil eof"),
    ]);
    assert_eq!(drive(&mut HttpProbe::start("", port, "healthz", &[])), Outcome::Success("ok".into()));
    assert_eq!(
        drive(&mut HttpProbe::start("127.0.0.1", port, "/", &[])),
        Outcome::Warning("Probe terminated redirects, Response body: ".into())
    );
    assert_eq!(
        drive(&mut HttpProbe::start("localhost", port, "/", &[])),
        Outcome::Failure("HTTP probe failed with statuscode: 404".into())
    );
    assert_eq!(drive(&mut HttpProbe::start("", port, "/", &[])), Outcome::Success(String::new()));
    assert_eq!(drive(&mut HttpProbe::start("", port, "/", &[])), Outcome::Success("until eof".into()));
    let reqs = h.join().unwrap();
    assert_eq!(reqs[0], format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: kube-probe/1.33\r\nAccept: */*\r\nConnection: close\r\n\r\n"));
    assert!(reqs[2].contains(&format!("Host: localhost:{port}\r\n")));
}

#[test]
fn header_overrides() {
    let (port, h) = serve(vec![r("HTTP/1.1 200 OK\r\n\r\n")]);
    let hs: Vec<(String, String)> =
        [("host", "example.com"), ("User-Agent", ""), ("accept", "text/plain"), ("x-custom", "1"), ("X-Custom", "2")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
    assert_eq!(drive(&mut HttpProbe::start("", port, "/p?x=1", &hs)), Outcome::Success(String::new()));
    let req = h.join().unwrap().remove(0);
    assert_eq!(req, "GET /p?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: text/plain\r\nConnection: close\r\nX-Custom: 1\r\nX-Custom: 2\r\n\r\n");
    let bad = vec![("X-A".to_string(), "a\r\nInjected: 1".to_string())];
    let o = drive(&mut HttpProbe::start("", 1, "/", &bad));
    assert_eq!(
        o,
        Outcome::Failure("Get \"http://127.0.0.1:1/\": net/http: invalid header field value for \"X-A\"".into())
    );
    assert_eq!(
        drive(&mut HttpProbe::start_scheme("HTTPS", "", 1, "/", &[])),
        Outcome::Failure("HTTPS probes are not supported".into())
    );
    let o = drive(&mut HttpProbe::start("example.com", 1, "/", &[]));
    assert!(matches!(o, Outcome::Failure(m) if m.contains("only IP addresses")));
}

#[test]
fn redirects_same_origin_only() {
    // a listener on another port must never see a connection (docs/security.md#probes-and-hooks)
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let op = other.local_addr().unwrap().port();
    let (port, h) = serve(vec![
        r("HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n"),
        r("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone"),
        format!("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{op}/\r\nContent-Length: 5\r\n\r\nmoved")
            .into_bytes(),
        r("HTTP/1.1 301 Moved\r\nLocation: http://evil.example/\r\n\r\n"),
    ]);
    assert_eq!(drive(&mut HttpProbe::start("", port, "/start", &[])), Outcome::Success("done".into()));
    assert_eq!(
        drive(&mut HttpProbe::start("", port, "/", &[])),
        Outcome::Warning("Probe terminated redirects, Response body: moved".into())
    );
    let mut p = HttpProbe::start("", port, "/", &[]);
    let o = std::thread::spawn(move || drive(&mut p));
    let reqs = h.join().unwrap(); // the 4th response has no length: the server's close ends it
    assert_eq!(o.join().unwrap(), Outcome::Warning("Probe terminated redirects, Response body: ".into()));
    assert!(reqs[1].starts_with("GET /next HTTP/1.1\r\n"), "{}", reqs[1]);
    assert!(other.accept().is_err(), "the other port was contacted");
    // same-origin redirects for ever: the kubelet's Go client gives up at the 10th
    let mut loop_resp = vec![r("HTTP/1.1 307 Again\r\nLocation: ./again\r\n\r\n"); 10];
    loop_resp.push(r("HTTP/1.1 200 OK\r\n\r\n"));
    let (port, h) = serve(loop_resp);
    let o = drive(&mut HttpProbe::start("", port, "/", &[]));
    assert_eq!(o, Outcome::Failure("Get \"./again\": stopped after 10 redirects".into()));
    drop(TcpStream::connect(("127.0.0.1", port))); // releases the server's last accept
    assert_eq!(h.join().unwrap().len(), 11); // 10 requests, and the release
}

#[test]
fn bodies_are_capped_and_never_waited_for_beyond_need() {
    let mut chunked = r("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for _ in 0..30 {
        chunked.extend(format!("400\r\n{}\r\n", "y".repeat(1024)).into_bytes());
    }
    chunked.extend(b"0\r\n\r\n");
    let (port, h) = serve(vec![chunked]);
    assert_eq!(drive(&mut HttpProbe::start("", port, "/", &[])), Outcome::Success("y".repeat(MAX_BODY)));
    h.join().unwrap();
    // keep-alive server that never closes: Content-Length, a failure head, and the cap all end it
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let srv = std::thread::spawn(move || {
        let mut keep = Vec::new();
        for resp in [
            r("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
            r("HTTP/1.1 503 Busy\r\nContent-Length: 100000\r\n\r\n"),
            [r("HTTP/1.1 200 OK\r\n\r\n"), vec![b'z'; 20000]].concat(),
        ] {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).unwrap();
            s.write_all(&resp).unwrap();
            keep.push(s);
        }
        let _ = rx.recv();
    });
    assert_eq!(drive(&mut HttpProbe::start("", port, "/", &[])), Outcome::Success("abc".into()));
    assert_eq!(
        drive(&mut HttpProbe::start("", port, "/", &[])),
        Outcome::Failure("HTTP probe failed with statuscode: 503".into())
    );
    assert_eq!(drive(&mut HttpProbe::start("", port, "/", &[])), Outcome::Success("z".repeat(MAX_BODY)));
    tx.send(()).unwrap();
    srv.join().unwrap();
}

#[test]
fn connection_errors_read_like_the_kubelet() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let o = drive(&mut HttpProbe::start("", port, "/healthz", &[]));
    assert_eq!(
        o,
        Outcome::Failure(format!(
            "Get \"http://127.0.0.1:{port}/healthz\": dial tcp 127.0.0.1:{port}: connect: connection refused"
        ))
    );
    let (port, h) = serve(vec![vec![], r("SSH-2.0-x\r\n"), r("HTTP/1.1 200 OK\r\nContent-Le")]);
    assert_eq!(
        drive(&mut HttpProbe::start("", port, "/", &[])),
        Outcome::Failure(format!("Get \"http://127.0.0.1:{port}/\": EOF"))
    );
    let o = drive(&mut HttpProbe::start("", port, "/", &[]));
    let want = format!("Get \"http://127.0.0.1:{port}/\": net/http: HTTP/1.x transport connection broken: malformed HTTP response \"SSH");
    assert!(matches!(&o, Outcome::Failure(m) if m.starts_with(&want)), "{o:?}");
    assert_eq!(
        drive(&mut HttpProbe::start("", port, "/", &[])),
        Outcome::Failure(format!("Get \"http://127.0.0.1:{port}/\": unexpected EOF"))
    );
    h.join().unwrap();
    let p = HttpProbe::start("", 8080, "/x", &[]);
    assert_eq!(
        p.timeout_message(),
        "Get \"http://127.0.0.1:8080/x\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    );
}

#[test]
fn dropping_mid_way_closes_the_socket() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut p = HttpProbe::start("", port, "/", &[]);
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !matches!(&p.state, State::Running(c) if c.awaiting_response()) && Instant::now() < deadline {
        assert!(p.progress().is_none());
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut buf = [0u8; 4096];
    assert!(s.read(&mut buf).unwrap() > 0); // the request
    drop(p);
    assert_eq!(s.read(&mut buf).unwrap(), 0, "probe socket still open after drop");
}
