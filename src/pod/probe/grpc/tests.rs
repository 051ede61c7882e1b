//! Tests of probe::grpc: pure pieces, an in-memory connection fuzzed with random bytes, and
//! end to end against an in-test h2c gRPC health server (std threads, blocking sockets).

use super::*;
use crate::pod::probe::hpack::{enc, encode_int};
use nix::poll::{poll, PollFd, PollTimeout};
use std::io::Write;
use std::net::TcpListener;
use std::thread::JoinHandle;
use std::time::Instant;

fn rng(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

fn fr(typ: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    frame(&mut v, typ, flags, stream, payload);
    v
}

fn msg(status: u8) -> Vec<u8> {
    vec![0, 0, 0, 0, 2, 0x08, status]
}

/// A server's whole answer to the call, exercising Huffman, the dynamic table (an entry
/// added by the headers is referenced from the trailers), a size update and CONTINUATION.
fn answer(status: Option<u8>, grpc_status: &str, grpc_message: &str) -> Vec<u8> {
    let mut h = vec![0x88]; // :status 200, static
    enc::indexed_literal("content-type", "application/grpc", true, &mut h);
    enc::indexed_literal("x-served-by", "test", true, &mut h);
    let mut t = Vec::new();
    if status.is_some() {
        encode_int(4096, 5, 0x20, &mut t); // a size update may only open a block
    }
    t.push(0xbe); // index 62: x-served-by, the newest entry
    enc::indexed_literal("grpc-status", grpc_status, true, &mut t);
    if !grpc_message.is_empty() {
        t.push(0);
        enc::string("grpc-message", false, &mut t);
        enc::string(grpc_message, true, &mut t);
    }
    let mut out = fr(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]);
    match status {
        None => {
            h.extend_from_slice(&t);
            out.extend(fr(HEADERS, END_HEADERS | END_STREAM, 1, &h));
        }
        Some(s) => {
            let (a, b) = h.split_at(3);
            out.extend(fr(HEADERS, 0, 1, a));
            out.extend(fr(CONTINUATION, END_HEADERS, 1, b));
            out.extend(fr(DATA, 0, 1, &msg(s)));
            out.extend(fr(HEADERS, END_HEADERS | END_STREAM, 1, &t));
        }
    }
    out
}

fn new_h2() -> H2 {
    H2::new("127.0.0.1:9".into(), "1s".into(), "")
}

#[test]
fn pure_pieces() {
    assert_eq!(go_duration(Duration::from_secs(1)), "1s");
    assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
    assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
    assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
    assert_eq!(go_duration(Duration::from_millis(250)), "250ms");
    assert_eq!(health_status(&[0x08, 0x02]), Some(2));
    assert_eq!(health_status(&[]), Some(0));
    assert_eq!(health_status(&[0x12, 0x01, 0xff, 0x08, 0x01, 0x1d, 1, 2, 3, 4]), Some(1));
    assert_eq!(health_status(&[0x08]), None);
    assert_eq!(health_status(&[0x12, 0x05, 0x00]), None);
    assert_eq!(percent_decode("unknown%20service%zz%4"), "unknown service%zz%4");
    assert_eq!(parse_frame(&[0, 0, 1, 0, 0, 0, 0, 0]), Ok(None));
    assert_eq!(parse_frame(&[0, 0, 1, 0, 0, 0, 0, 0, 1]), Ok(None));
    assert_eq!(parse_frame(&[0, 0, 1, 6, 1, 0x80, 0, 0, 1, 7]), Ok(Some((6, 1, 1, &[7u8][..]))));
    assert!(parse_frame(b"HTTP/1.1 400 Bad Request").is_err());
}

#[test]
fn request_bytes() {
    let h = H2::new("127.0.0.1:8080".into(), "1s".into(), "foo");
    assert!(h.out.starts_with(PREFACE));
    let mut rest = &h.out[PREFACE.len()..];
    let mut frames = Vec::new();
    while let Some((t, f, s, p)) = parse_frame(rest).unwrap() {
        frames.push((t, f, s, p.to_vec()));
        rest = &rest[9 + p.len()..];
    }
    assert!(rest.is_empty());
    let types: Vec<u8> = frames.iter().map(|f| f.0).collect();
    assert_eq!(types, [SETTINGS, WINDOW_UPDATE, HEADERS, DATA]);
    let hs = Decoder::new(4096).decode(&frames[2].3, 65536).unwrap();
    let want = [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/grpc.health.v1.Health/Check"),
        (":authority", "127.0.0.1:8080"),
        ("content-type", "application/grpc"),
        ("user-agent", "kube-probe/1.33"),
        ("te", "trailers"),
    ];
    assert_eq!(hs, want.map(|(a, b)| (a.to_string(), b.to_string())));
    assert_eq!((frames[2].1, frames[2].2), (END_HEADERS, 1));
    assert_eq!(frames[3], (DATA, END_STREAM, 1, vec![0, 0, 0, 0, 5, 0x0a, 3, b'f', b'o', b'o']));
    assert!(new_h2().out.ends_with(&[0, 0, 0, 0, 0])); // empty service: empty message
}

#[test]
fn in_memory_answers_in_any_chunking() {
    let cases: [(Vec<u8>, Outcome); 4] = [
        (answer(Some(1), "0", ""), Outcome::Success("service healthy".into())),
        (answer(Some(2), "0", ""), Outcome::Failure("service unhealthy (responded with \"NOT_SERVING\")".into())),
        (answer(Some(3), "0", ""), Outcome::Failure("service unhealthy (responded with \"SERVICE_UNKNOWN\")".into())),
        (answer(None, "12", "unknown%20service"), Outcome::Failure("error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service".into())),
    ];
    let mut next = rng(7);
    for (bytes, want) in &cases {
        for _ in 0..50 {
            let mut h = new_h2();
            let mut got = None;
            let mut rest = &bytes[..];
            while !rest.is_empty() && got.is_none() {
                let n = 1 + (next() as usize) % rest.len().min(13);
                got = h.feed(&rest[..n]);
                rest = &rest[n..];
            }
            assert_eq!(got.as_ref(), Some(want));
            assert!(rest.is_empty());
        }
    }
    // the client ACKs the server's SETTINGS and answers PING
    let mut h = new_h2();
    h.out.clear();
    assert!(h
        .feed(&[fr(SETTINGS, 0, 0, &[]), fr(PING, 0, 0, b"12345678"), fr(PING, ACK, 0, b"abcdefgh")].concat())
        .is_none());
    assert_eq!(h.out, [fr(SETTINGS, ACK, 0, &[]), fr(PING, ACK, 0, b"12345678")].concat());
}

#[test]
fn in_memory_errors() {
    let s = fr(SETTINGS, 0, 0, &[]);
    let check = |bytes: Vec<u8>, want: &str| {
        let got = new_h2().feed(&bytes);
        assert!(matches!(&got, Some(Outcome::Failure(m)) if m.contains(want)), "{got:?} lacks {want:?}");
    };
    check(
        fr(PING, 0, 0, b"12345678"),
        "timeout: failed to connect service \"127.0.0.1:9\" within 1s: the server's first frame is not SETTINGS",
    );
    check(
        [s.clone(), fr(RST_STREAM, 0, 1, &[0, 0, 0, 7])].concat(),
        "code = Unavailable desc = stream terminated by RST_STREAM with error code: REFUSED_STREAM",
    );
    check(
        [s.clone(), fr(GOAWAY, 0, 0, &[0, 0, 0, 0, 0, 0, 0, 0])].concat(),
        "code = Unavailable desc = the connection is draining",
    );
    check([s.clone(), fr(HEADERS, END_HEADERS, 1, &[0x80])].concat(), "COMPRESSION_ERROR");
    check([s.clone(), fr(HEADERS, 0, 1, &[0x88]), fr(DATA, 0, 1, &[])].concat(), "expected a CONTINUATION frame");
    check([s.clone(), fr(DATA, 0, 1, &msg(1))].concat(), "before HEADERS");
    check([s.clone(), fr(PUSH_PROMISE, END_HEADERS, 1, &[0, 0, 0, 2])].concat(), "PUSH_PROMISE");
    check(
        [s.clone(), fr(HEADERS, END_HEADERS | END_STREAM, 1, &[0x8d])].concat(),
        "(grpc.health.v1.Health): unexpected HTTP status code received from server: 404",
    );
    check([s.clone(), fr(HEADERS, END_HEADERS | END_STREAM | PADDED, 1, &[5, 0x88])].concat(), "bad padding");
    let mut h = vec![0x88];
    enc::indexed_literal("content-type", "application/grpc", false, &mut h);
    check(
        [s.clone(), fr(HEADERS, END_HEADERS, 1, &h), fr(DATA, END_STREAM, 1, &msg(1))].concat(),
        "server closed the stream without sending trailers",
    );
    let mut big = vec![s.clone(), fr(HEADERS, END_HEADERS, 1, &h)];
    big.extend(std::iter::repeat_n(fr(DATA, 0, 1, &[0; 16384]), 5));
    check(big.concat(), "code = ResourceExhausted desc = grpc: received message larger than max");
    assert!(new_h2().closed("EOF") == Outcome::Failure("timeout: failed to connect service \"127.0.0.1:9\" within 1s: connection closed before server preface received (EOF)".into()));
    let flood: Vec<u8> = std::iter::repeat_n(fr(PING, 0, 0, b"12345678"), 5000).flatten().collect();
    check([s.clone(), flood].concat(), "too many unanswered control frames");
    let mut h2 = new_h2();
    assert!(h2.feed(&s).is_none());
    assert_eq!(
        h2.closed("EOF"),
        Outcome::Failure(
            "error: health rpc probe failed: rpc error: code = Unavailable desc = error reading from server: EOF"
                .into()
        )
    );
}

#[test]
fn fuzz_frames_never_panic() {
    let mut next = rng(0xdead_beef_cafe_f00d);
    let valid = answer(Some(1), "0", "");
    for i in 0..20000 {
        let mut h = new_h2();
        let mut bytes = if i % 2 == 0 { valid.clone() } else { (0..(next() % 200)).map(|_| next() as u8).collect() };
        if i % 2 == 0 {
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % bytes.len();
                bytes[at] = next() as u8;
            }
            bytes.truncate((next() as usize) % (bytes.len() + 1));
        } else if i % 4 == 1 {
            bytes.splice(0..0, fr(SETTINGS, 0, 0, &[]));
        }
        for c in bytes.chunks(1 + (next() % 40) as usize) {
            if h.feed(c).is_some() {
                break;
            }
            assert!(h.inbuf.len() <= MAX_FRAME + 9);
        }
        let _ = h.closed("EOF");
    }
}

fn drive(p: &mut GrpcProbe) -> Outcome {
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

type OwnedFrame = (u8, u8, u32, Vec<u8>);

fn read_frame(s: &mut TcpStream) -> Option<OwnedFrame> {
    let mut h = [0u8; 9];
    s.read_exact(&mut h).ok()?;
    let mut p = vec![0u8; usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2])];
    s.read_exact(&mut p).ok()?;
    Some((h[3], h[4], u32::from_be_bytes([h[5], h[6], h[7], h[8]]), p))
}

/// A blocking h2c health server for `n` connections; the reply depends on the service name.
/// Returns each call's request headers.
type Calls = Vec<Vec<(String, String)>>;

fn grpc_server(n: usize) -> (u16, JoinHandle<Calls>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let mut calls = Vec::new();
        for _ in 0..n {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut preface = [0u8; 24];
            s.read_exact(&mut preface).unwrap();
            assert_eq!(&preface[..], PREFACE);
            let mut dec = Decoder::new(4096);
            let (mut headers, mut service, mut acked, mut ended) = (Vec::new(), None, false, false);
            s.write_all(&fr(SETTINGS, 0, 0, &[0, 4, 0, 1, 0, 0])).unwrap();
            while !(acked && ended) {
                let (t, f, _, p) = read_frame(&mut s).unwrap();
                match t {
                    SETTINGS => acked |= f & ACK != 0,
                    HEADERS => headers = dec.decode(&p, 65536).unwrap(),
                    DATA => {
                        ended = f & END_STREAM != 0;
                        service = Some(String::from_utf8_lossy(p.get(7..).unwrap_or_default()).into_owned());
                    }
                    _ => {}
                }
            }
            calls.push(headers);
            let service = service.unwrap();
            let reply = match service.as_str() {
                "" | "ping" => answer(Some(1), "0", ""),
                "down" => answer(Some(2), "0", ""),
                "unimpl" => answer(None, "12", "unknown%20service%20grpc.health.v1.Health"),
                "missing" => answer(None, "5", "unknown service"),
                "rst" => [fr(SETTINGS, 0, 0, &[]), fr(RST_STREAM, 0, 1, &[0, 0, 0, 7])].concat(),
                _ => Vec::new(), // "close": hang up without an answer
            };
            if service == "ping" {
                s.write_all(&fr(PING, 0, 0, b"pingpong")).unwrap();
                while read_frame(&mut s).unwrap() != (PING, ACK, 0, b"pingpong".to_vec()) {}
            }
            for b in reply.chunks(3) {
                s.write_all(b).unwrap();
                s.flush().unwrap();
            }
            if service != "close" {
                let _ = s.read_to_end(&mut Vec::new()); // until the client hangs up: no RST races
            }
        }
        calls
    });
    (port, h)
}

#[test]
fn end_to_end_against_a_test_server() {
    let services = ["", "down", "unimpl", "missing", "ping", "rst", "close"];
    let (port, h) = grpc_server(services.len());
    let got: Vec<Outcome> = services.iter().map(|s| drive(&mut GrpcProbe::start(port, s))).collect();
    let calls = h.join().unwrap();
    let f = |s: &str| Outcome::Failure(s.to_string());
    assert_eq!(got, [
        Outcome::Success("service healthy".into()),
        f("service unhealthy (responded with \"NOT_SERVING\")"),
        f("error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health"),
        f("error: health rpc probe failed: rpc error: code = NotFound desc = unknown service"),
        Outcome::Success("service healthy".into()),
        f("error: health rpc probe failed: rpc error: code = Unavailable desc = stream terminated by RST_STREAM with error code: REFUSED_STREAM"),
        f("error: health rpc probe failed: rpc error: code = Unavailable desc = error reading from server: EOF"),
    ]);
    assert!(calls[0].contains(&(":authority".to_string(), format!("127.0.0.1:{port}"))));
}

#[test]
fn connection_failures() {
    // nothing listening
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let o = drive(&mut GrpcProbe::start_with_timeout(port, "", Duration::from_secs(2)));
    assert_eq!(o, Outcome::Failure(format!("timeout: failed to connect service \"127.0.0.1:{port}\" within 2s: dial tcp 127.0.0.1:{port}: connect: connection refused")));
    // a server that closes at once, and one that speaks HTTP/1.1
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let srv = std::thread::spawn(move || {
        drop(l.accept().unwrap());
        let (mut s, _) = l.accept().unwrap();
        let _ = s.read(&mut [0u8; 512]);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    });
    let o = drive(&mut GrpcProbe::start(port, ""));
    let pre = format!("timeout: failed to connect service \"127.0.0.1:{port}\" within 1s: ");
    assert!(
        matches!(&o, Outcome::Failure(m) if m.starts_with(&format!("{pre}connection closed before server preface received"))),
        "{o:?}"
    );
    let o = drive(&mut GrpcProbe::start(port, ""));
    assert!(
        matches!(&o, Outcome::Failure(m) if m.starts_with(&pre) && m.ends_with("(is it an HTTP/2 server?)")),
        "{o:?}"
    );
    srv.join().unwrap();
    let p = GrpcProbe::start(port, "");
    assert_eq!(p.timeout_message(), format!("{pre}context deadline exceeded"));
    // dropping the probe closes its socket
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut p = GrpcProbe::start(l.local_addr().unwrap().port(), "");
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut preface = [0u8; 24];
    while p.progress().is_none() && p.sent == 0 && !matches!(p.state, State::Open(_)) {}
    s.read_exact(&mut preface).unwrap();
    drop(p);
    let mut rest = Vec::new();
    assert!(s.read_to_end(&mut rest).is_ok(), "socket not closed after drop");
}

/// Against grpcio's reference health server, when Python has it (pip install grpcio
/// grpcio-health-checking): `cargo test --lib pod::probe::grpc -- --ignored`.
#[test]
#[ignore]
fn against_grpcio_health_server() {
    let script = "import sys, grpc\nfrom concurrent import futures\nfrom grpc_health.v1 import health, health_pb2, health_pb2_grpc\n\
        s = grpc.server(futures.ThreadPoolExecutor(max_workers=2))\nh = health.HealthServicer()\n\
        h.set('', health_pb2.HealthCheckResponse.SERVING)\nh.set('down', health_pb2.HealthCheckResponse.NOT_SERVING)\n\
        health_pb2_grpc.add_HealthServicer_to_server(h, s)\nport = s.add_insecure_port('127.0.0.1:0')\ns.start()\n\
        print(port, flush=True)\nsys.stdin.read()\ns.stop(0)\n";
    let mut child = match std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return eprintln!("skipped: python3: {e}"),
    };
    let mut line = String::new();
    let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line);
    let Ok(port) = line.trim().parse::<u16>() else {
        let _ = child.kill();
        return eprintln!("skipped: no grpcio health server (pip install grpcio grpcio-health-checking)");
    };
    let got: Vec<Outcome> = ["", "down", "nosuch"].iter().map(|s| drive(&mut GrpcProbe::start(port, s))).collect();
    drop(child.stdin.take());
    let _ = child.wait();
    assert_eq!(
        got,
        [
            Outcome::Success("service healthy".into()),
            Outcome::Failure("service unhealthy (responded with \"NOT_SERVING\")".into()),
            // grpcio sends no grpc-message here (grpc-go's server says "unknown service")
            Outcome::Failure("error: health rpc probe failed: rpc error: code = NotFound desc = ".into()),
        ]
    );
}
