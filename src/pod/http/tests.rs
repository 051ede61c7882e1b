//! Tests of pod::http's pure parts: the URL and Location resolution, the request head (the
//! same builder for probes and hooks), the response head parser and the body framing. The
//! client runs end to end in probe::http's tests and handlers' tests.

use super::request::{header_lines, request, Purpose};
use super::response::*;
use super::url::*;

fn rng(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

fn head(s: &str) -> (u16, Vec<(String, String)>, usize) {
    parse_response_head(s.as_bytes()).unwrap().unwrap()
}

#[test]
fn parses_heads() {
    let r = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A:  b c \r\n\r\nok";
    let (st, h, len) = head(r);
    assert_eq!((st, len), (200, r.len() - 2));
    assert_eq!(h, vec![("Content-Length".into(), "2".into()), ("X-A".into(), "b c".into())]);
    assert_eq!(header(&h, "content-length"), Some("2"));
    // bare LF, no reason phrase, HTTP/1.0, folded header
    let (st, h, len) = head("HTTP/1.0 302\nLocation: /x\n  /y\n\n");
    assert_eq!((st, len, h[0].1.as_str()), (302, 32, "/x /y"));
    assert_eq!(head("HTTP/1.1  404 Not Found\r\n\r\n").0, 404);
    assert_eq!(head("HTTP/2.0 099 x\r\n\r\n").0, 99);
    // every strict prefix of a valid head is incomplete, never an error
    let full = b"HTTP/1.1 301 Moved\r\nLocation: http://a/b\r\nServer: t\r\n\r\n";
    for i in 0..full.len() {
        assert!(parse_response_head(&full[..i]).unwrap().is_none(), "prefix {i}");
    }
    for bad in [
        "garbage\r\n\r\n",
        "SSH-2.0-OpenSSH\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/x.1 200 OK\r\n\r\n",
        "HTTP/1.1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
        "HTTP/1.1 200 OK\r\n folded-first\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 abc OK\r\n\r\n",
        "HTTP/11 200 OK\r\n\r\n",
    ] {
        assert!(parse_response_head(bad.as_bytes()).is_err(), "{bad:?}");
    }
    // garbage is rejected from its first byte, without waiting for a line end
    assert!(parse_response_head(b"X").is_err());
    assert!(parse_response_head(b"HTTP/1.1 200 OK\r\n").unwrap().is_none());
    let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'a', MAX_HEAD + 1));
    assert!(parse_response_head(&big).is_err());
}

#[test]
fn fuzz_parse_head_never_panics() {
    let mut next = rng(0x9e37_79b9_7f4a_7c15);
    let seeds: [&[u8]; 3] = [b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n", b"HTTP/1.0 302\nLocation: x\n\n", b"HTTP/"];
    for i in 0..30000 {
        let mut buf = seeds[i % 3].to_vec();
        if i % 2 == 0 {
            buf.truncate((next() % 40) as usize);
            let extra = next() % 40;
            let alphabet = b"HTP/1. 0\r\n:a";
            buf.extend((0..extra).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]));
        } else {
            for _ in 0..(next() % 4) {
                let at = (next() as usize) % buf.len().max(1);
                if at < buf.len() {
                    buf[at] = next() as u8;
                }
            }
        }
        if let Ok(Some((_, _, len))) = parse_response_head(&buf) {
            assert!(len <= buf.len());
        }
    }
}

#[test]
fn location_resolution() {
    let base = Url { host: "127.0.0.1".into(), port: 8080, target: "/a/b?q=1".into() };
    let res = |l: &str| resolve_location(&base, l).unwrap().map(|u| u.target);
    assert_eq!(res("/x"), Some("/x".into()));
    assert_eq!(res("c"), Some("/a/c".into()));
    assert_eq!(res("../c/./d?z"), Some("/c/d?z".into()));
    assert_eq!(res("?p"), Some("/a/b?p".into()));
    assert_eq!(res(""), Some("/a/b?q=1".into()));
    assert_eq!(res("#frag"), Some("/a/b?q=1".into()));
    assert_eq!(res("http://127.0.0.1:8080"), Some("/".into()));
    assert_eq!(res("HTTP://user@127.0.0.1:8080/p q"), Some("/p%20q".into()));
    assert_eq!(res("//127.0.0.1:8080/z"), Some("/z".into()));
    for other in [
        "http://127.0.0.1:9090/",
        "http://127.0.0.1/",
        "https://127.0.0.1:8080/",
        "http://localhost:8080/",
        "//evil:8080/",
        "mailto:x",
        "http:/x",
    ] {
        assert_eq!(res(other), None, "{other}");
    }
    assert!(resolve_location(&base, "http://127.0.0.1:99999/").is_err());
    let b80 = Url { host: "::1".into(), port: 80, target: "/".into() };
    assert!(resolve_location(&b80, "http://[::1]/x").unwrap().is_some());
    assert_eq!(b80.to_string(), "http://[::1]:80/");
    assert_eq!(normalize_target(""), "/");
    assert_eq!(normalize_target("healthz#x"), "/healthz");
    assert_eq!(normalize_target("/a b\r\nX: y"), "/a%20b%0D%0AX:%20y");
    assert_eq!(normalize_target("/a/../../b/."), "/b/");
}

#[test]
fn body_framing() {
    let full = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
    for split in 0..full.len() {
        let (mut f, mut raw, mut body) = (Framing::ChunkSize, full[..split].to_vec(), Vec::new());
        let mut done = feed(&mut f, &mut raw, &mut body).unwrap();
        raw.extend_from_slice(&full[split..]);
        done = done || feed(&mut f, &mut raw, &mut body).unwrap();
        assert!(done);
        assert_eq!(body, b"hello world", "split {split}");
    }
    assert!(feed(&mut Framing::ChunkSize, &mut b"zz\r\n".to_vec(), &mut Vec::new()).is_err());
    assert!(feed(&mut Framing::ChunkSize, &mut b"1\r\nab".to_vec(), &mut Vec::new()).is_err());
    let (mut f, mut body) = (Framing::Length(3), Vec::new());
    assert!(!feed(&mut f, &mut b"ab".to_vec(), &mut body).unwrap());
    assert!(feed(&mut f, &mut b"cdef".to_vec(), &mut body).unwrap());
    assert_eq!(body, b"abc");
    let (mut f, mut body) = (Framing::Eof, Vec::new());
    assert!(feed(&mut f, &mut vec![b'x'; 3 * MAX_BODY], &mut body).unwrap());
    assert_eq!(body.len(), MAX_BODY);
}

#[test]
fn paths_are_escaped_as_sent() {
    for (path, want) in [
        ("", "/"),
        ("/", "/"),
        ("healthz", "/healthz"),
        ("/a b", "/a%20b"),
        ("/a\r\nHost: evil", "/a%0D%0AHost:%20evil"),
        ("/caf\u{e9}", "/caf%C3%A9"),
        ("/q?x=1 2&y=<z>", "/q?x=1%202&y=%3Cz%3E"),
        ("/x#frag ment", "/x"),
        ("/a/./b/../c", "/a/c"),
        ("/\0", "/%00"),
        ("/%41", "/%41"), // already escaped: left alone, as the kubelet's url.Parse does
    ] {
        assert_eq!(normalize_target(path), want, "{path:?}");
        assert_eq!(Url::new("h", 1, path).target, want);
    }
    let u = Url::new(" [::1] ", 8080, "/p q");
    assert_eq!(
        (u.host.as_str(), u.authority(), u.to_string()),
        ("::1", "[::1]:8080".into(), "http://[::1]:8080/p%20q".into())
    );
    assert_eq!(Url::new("LocalHost", 80, "/").host, "localhost");
    assert_eq!(host_of("localhost:8080"), "localhost");
    assert_eq!(host_of("10.0.0.1"), "10.0.0.1");
    assert_eq!(host_of("[::1]:80"), "::1");
    assert_eq!(host_of("::1"), "::1");
}

fn hs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn probes_and_hooks_share_one_request_builder() {
    let url = Url::new("127.0.0.1", 8080, "/x y");
    let lines = |p: Purpose, h: &[(&str, &str)]| header_lines(p, &url, &hs(h)).unwrap();
    let probe = String::from_utf8(request(&url, &lines(Purpose::Probe, &[]))).unwrap();
    let hook = String::from_utf8(request(&url, &lines(Purpose::Lifecycle, &[]))).unwrap();
    let shape = |ua: &str| {
        format!("GET /x%20y HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: {ua}\r\nAccept: */*\r\nConnection: close\r\n\r\n")
    };
    assert_eq!(probe, shape("kube-probe/1.33"));
    assert_eq!(hook, shape("kube-lifecycle/1.33"));
    // the same overrides for both: Host and User-Agent replaced, empty Accept dropped,
    // names canonicalised, repeats kept in order
    let custom = [("host", "example.com"), ("user-agent", "me"), ("accept", ""), ("x-a", "1"), ("X-A", "2")];
    for p in [Purpose::Probe, Purpose::Lifecycle] {
        assert_eq!(
            lines(p, &custom),
            "Host: example.com\r\nUser-Agent: me\r\nConnection: close\r\nX-A: 1\r\nX-A: 2\r\n",
            "{p:?}"
        );
        assert_eq!(lines(p, &[("User-Agent", "")]), "Host: 127.0.0.1:8080\r\nAccept: */*\r\nConnection: close\r\n");
    }
}

#[test]
fn invalid_headers_are_refused_naming_the_header() {
    let url = Url::new("127.0.0.1", 80, "/");
    for p in [Purpose::Probe, Purpose::Lifecycle] {
        for (name, value, want) in [
            ("X-A", "a\r\nInjected: 1", "net/http: invalid header field value for \"X-A\""),
            ("X-B", "a\nb", "net/http: invalid header field value for \"X-B\""),
            ("X-C", "a\rb", "net/http: invalid header field value for \"X-C\""),
            ("X-D", "a\0b", "net/http: invalid header field value for \"X-D\""),
            ("x-e", "\x7f", "net/http: invalid header field value for \"X-E\""),
            ("Host", "h\r\nX: y", "net/http: invalid header field value for \"Host\""),
            ("X-F\r\nInjected", "1", "net/http: invalid header field name \"X-F\\r\\nInjected\""),
            ("X-G\0", "1", "net/http: invalid header field name \"X-G\\0\""),
            ("Bad Name", "1", "net/http: invalid header field name \"Bad Name\""),
            ("", "1", "net/http: invalid header field name \"\""),
        ] {
            assert_eq!(header_lines(p, &url, &hs(&[(name, value)])), Err(want.to_string()), "{p:?} {name:?}");
        }
        // a tab and non-ASCII text are fine
        assert!(header_lines(p, &url, &hs(&[("X-T", "a\tb \u{e9}")])).is_ok());
    }
}

#[test]
fn heads_split_across_reads() {
    let full =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Long: a b c\r\n\tfolded\r\nContent-Length: 3\r\n\r\nabc";
    let head_len = full.len() - 3;
    // one byte at a time, as a slow server would send it
    let mut buf = Vec::new();
    let mut got = None;
    for (i, &b) in full.iter().enumerate() {
        buf.push(b);
        match parse_response_head(&buf).unwrap() {
            None => assert!(i + 1 < head_len, "incomplete at {i}"),
            Some(h) => {
                got = Some(h);
                break;
            }
        }
    }
    let (status, headers, len) = got.unwrap();
    assert_eq!((status, len), (200, head_len));
    assert_eq!(header(&headers, "x-long"), Some("a b c folded"));
    assert_eq!(header(&headers, "CONTENT-LENGTH"), Some("3"));
    assert_eq!(headers.len(), 3);
    // any split point in two reads gives the same result
    for split in 0..full.len() {
        let mut buf = full[..split].to_vec();
        if split < head_len {
            assert!(parse_response_head(&buf).unwrap().is_none(), "split {split}");
        }
        buf.extend_from_slice(&full[split..]);
        assert_eq!(parse_response_head(&buf).unwrap().unwrap().2, head_len);
    }
    // many headers: more than the parser's first guess
    let mut many = b"HTTP/1.1 204 No Content\r\n".to_vec();
    for i in 0..500 {
        many.extend(format!("X-{i}: {i}\r\n").into_bytes());
    }
    many.extend(b"\r\n");
    let (status, headers, _) = parse_response_head(&many).unwrap().unwrap();
    assert_eq!((status, headers.len(), header(&headers, "x-499")), (204, 500, Some("499")));
}

#[test]
fn head_errors_read_like_go() {
    let err = |s: &[u8]| parse_response_head(s).unwrap_err().to_string();
    assert_eq!(err(b"SSH-2.0-OpenSSH_9\r\n"), "malformed HTTP response \"SSH-2.0-OpenSSH_9\"");
    assert_eq!(err(b"HTTP/1.1 2x0 OK\r\n\r\n"), "malformed HTTP status code \"2x0\"");
    assert_eq!(err(b"HTTP/1.x 200 OK\r\n\r\n"), "malformed HTTP version \"HTTP/1.x\"");
    assert!(err(b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n").starts_with("malformed MIME header line: \"Bad Name: x\""));
    // any HTTP/<digit>.<digit> is read, as Go does
    assert_eq!(parse_response_head(b"HTTP/1.0 200 OK\r\n\r\n").unwrap().unwrap().0, 200);
    assert_eq!(parse_response_head(b"HTTP/3.1 500 X\r\n\r\n").unwrap().unwrap().0, 500);
    assert!(parse_response_head(b"HTTP/2").unwrap().is_none());
}

#[test]
fn bodies_are_capped() {
    // Content-Length beyond the cap: the cap ends it
    let (mut f, mut body) = (Framing::Length(3 * MAX_BODY), Vec::new());
    assert!(!feed(&mut f, &mut vec![b'a'; MAX_BODY - 1], &mut body).unwrap());
    assert!(feed(&mut f, &mut vec![b'b'; 10], &mut body).unwrap());
    assert_eq!(body.len(), MAX_BODY);
    assert_eq!(body[MAX_BODY - 1], b'b');
    // chunks beyond the cap, fed in pieces
    let mut chunked = Vec::new();
    for _ in 0..12 {
        chunked.extend(format!("400\r\n{}\r\n", "c".repeat(1024)).into_bytes());
    }
    let (mut f, mut body, mut raw) = (Framing::ChunkSize, Vec::new(), Vec::new());
    let mut done = false;
    for piece in chunked.chunks(1000) {
        raw.extend_from_slice(piece);
        done = feed(&mut f, &mut raw, &mut body).unwrap();
        if done {
            break;
        }
    }
    assert!(done);
    assert_eq!(body, vec![b'c'; MAX_BODY]);
    // a 16-hex-digit chunk size is refused rather than overflowing
    assert!(feed(&mut Framing::ChunkSize, &mut b"fffffffffffffffff\r\n".to_vec(), &mut Vec::new()).is_err());
}
