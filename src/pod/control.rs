//! The supervisor's control socket: `<pod dir>/control.sock` (a path, not an abstract socket,
//! in a 0700 directory; CVE-2020-15257), one JSON request line, one JSON reply line. The peer
//! must be root or the supervisor's own uid (SO_PEERCRED).

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Request {
    /// Terminate the pod gracefully (or with the given grace; `force` = grace 0).
    Stop { grace: Option<i64>, force: bool },
    /// Is the supervisor alive?
    Ping,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// sun_path holds 107 bytes: a longer path (a long pod name) is reached through a descriptor
/// of its directory, `/proc/self/fd/N/control.sock`.
fn short_path<T>(path: &Path, f: impl FnOnce(&Path) -> std::io::Result<T>) -> std::io::Result<T> {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(file)) if path.as_os_str().len() > 100 => {
            let d = std::fs::File::open(dir)?;
            f(&Path::new(&format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&d))).join(file))
        }
        _ => f(path),
    }
}

pub fn listen(path: &Path) -> Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    let l = short_path(path, |p| UnixListener::bind(p)).with_context(|| format!("binding {}", path.display()))?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Checks the peer's credentials: root or our own uid.
pub fn peer_allowed(s: &UnixStream) -> bool {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    match getsockopt(s, PeerCredentials) {
        // SAFETY-free: getuid cannot fail.
        Ok(c) => c.uid() == 0 || c.uid() == nix::unistd::getuid().as_raw(),
        Err(_) => false,
    }
}

/// Reads one request from an accepted connection (bounded in size and time).
pub fn read_request(s: &UnixStream) -> Result<Request> {
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut line = String::new();
    BufReader::new(s.take_ref(64 * 1024)).read_line(&mut line).context("reading request")?;
    serde_json::from_str(line.trim()).context("parsing request")
}

trait TakeRef {
    fn take_ref(&self, n: u64) -> std::io::Take<&UnixStream>;
}

impl TakeRef for UnixStream {
    fn take_ref(&self, n: u64) -> std::io::Take<&UnixStream> {
        std::io::Read::take(self, n)
    }
}

pub fn write_reply(mut s: &UnixStream, r: &Reply) -> Result<()> {
    let mut line = serde_json::to_vec(r)?;
    line.push(b'\n');
    s.write_all(&line).context("writing reply")
}

/// Client side: sends a request and waits for the reply.
pub fn call(path: &Path, req: &Request, timeout: Duration) -> Result<Reply> {
    let s = short_path(path, |p| UnixStream::connect(p))
        .with_context(|| format!("connecting to the pod supervisor at {}", path.display()))?;
    s.set_read_timeout(Some(timeout))?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    (&s).write_all(&line)?;
    let mut reply = String::new();
    BufReader::new(&s).read_line(&mut reply).context("reading the supervisor's reply")?;
    let r: Reply = serde_json::from_str(reply.trim()).context("parsing the supervisor's reply")?;
    if !r.ok {
        bail!("{}", r.error);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("control.sock");
        let l = listen(&p).unwrap();
        let path = p.clone();
        let client = std::thread::spawn(move || {
            call(&path, &Request::Stop { grace: Some(3), force: false }, Duration::from_secs(5))
        });
        let s = loop {
            match l.accept() {
                Ok((s, _)) => break s,
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        s.set_nonblocking(false).unwrap();
        assert!(peer_allowed(&s));
        assert_eq!(read_request(&s).unwrap(), Request::Stop { grace: Some(3), force: false });
        write_reply(&s, &Reply { ok: true, error: String::new() }).unwrap();
        assert!(client.join().unwrap().is_ok());
    }
}
