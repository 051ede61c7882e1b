//! probe::grpc wire pieces: HTTP/2 frame constants, framing, the protobuf bits of the
//! health messages, gRPC and HTTP/2 code names, Go-style durations.

use std::time::Duration;

pub(super) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
pub(super) const MAX_FRAME: usize = 16384;
pub(super) const MAX_HEADER_LIST: usize = 64 * 1024;
pub(super) const MAX_MESSAGE: usize = 64 * 1024;
pub(super) const WINDOW: u32 = 1 << 20;
pub(super) const MAX_SERVICE: usize = 16000;
pub(super) const MAX_PENDING_OUT: usize = 64 * 1024;

pub(super) const DATA: u8 = 0;
pub(super) const HEADERS: u8 = 1;
pub(super) const RST_STREAM: u8 = 3;
pub(super) const SETTINGS: u8 = 4;
pub(super) const PUSH_PROMISE: u8 = 5;
pub(super) const PING: u8 = 6;
pub(super) const GOAWAY: u8 = 7;
pub(super) const WINDOW_UPDATE: u8 = 8;
pub(super) const CONTINUATION: u8 = 9;
pub(super) const END_STREAM: u8 = 0x1;
pub(super) const ACK: u8 = 0x1;
pub(super) const END_HEADERS: u8 = 0x4;
pub(super) const PADDED: u8 = 0x8;
pub(super) const PRIORITY: u8 = 0x20;

pub(super) const CODES: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];
pub(super) const UNKNOWN: u32 = 2;
pub(super) const INTERNAL: u32 = 13;
pub(super) const UNAVAILABLE: u32 = 14;
pub(super) const H2_ERRORS: [&str; 14] = [
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY",
    "HTTP_1_1_REQUIRED",
];

pub(super) fn h2_error(code: u32) -> String {
    H2_ERRORS.get(code as usize).map_or_else(|| format!("unknown error code 0x{code:x}"), |s| s.to_string())
}

/// Go's time.Duration text for whole and fractional seconds ("1s", "1m30s", "1.5s").
pub(super) fn go_duration(d: Duration) -> String {
    let (s, ms) = (d.as_secs(), d.subsec_millis());
    let frac = if ms == 0 { String::new() } else { format!(".{ms:03}").trim_end_matches('0').to_string() };
    match s {
        0 if ms > 0 => format!("{ms}ms"),
        0..=59 => format!("{s}{frac}s"),
        60..=3599 => format!("{}m{}{frac}s", s / 60, s % 60),
        _ => format!("{}h{}m{}{frac}s", s / 3600, s % 3600 / 60, s % 60),
    }
}

/// Appends one frame.
pub(super) fn frame(out: &mut Vec<u8>, typ: u8, flags: u8, stream: u32, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&[typ, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// A frame: type, flags, stream id, payload.
pub(super) type Frame<'a> = (u8, u8, u32, &'a [u8]);

/// Splits one complete frame off `buf`: Ok(None) until all of it is there.
pub(super) fn parse_frame(buf: &[u8]) -> Result<Option<Frame<'_>>, String> {
    if buf.len() < 9 {
        return Ok(None);
    }
    let len = usize::from(buf[0]) << 16 | usize::from(buf[1]) << 8 | usize::from(buf[2]);
    if len > MAX_FRAME {
        return Err(format!("frame of {len} bytes exceeds the maximum frame size"));
    }
    let stream = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]) & 0x7fff_ffff;
    Ok(buf.get(9..9 + len).map(|p| (buf[3], buf[4], stream, p)))
}

/// Reads a protobuf varint.
pub(super) fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..70).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// HealthCheckResponse.status (field 1, an enum); other fields are skipped.
pub(super) fn health_status(msg: &[u8]) -> Option<i32> {
    let (mut pos, mut status) = (0, 0i32);
    while pos < msg.len() {
        let key = varint(msg, &mut pos)?;
        let skip = match key & 7 {
            0 => {
                let v = varint(msg, &mut pos)?;
                if key >> 3 == 1 {
                    status = v as i32;
                }
                0
            }
            1 => 8,
            2 => usize::try_from(varint(msg, &mut pos)?).ok()?,
            5 => 4,
            _ => return None,
        };
        pos = pos.checked_add(skip).filter(|&p| p <= msg.len())?;
    }
    Some(status)
}

/// Decodes grpc-message's percent-encoding.
pub(super) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let (mut out, mut i) = (Vec::with_capacity(b.len()), 0);
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).and_then(|&c| hex(c)), b.get(i + 2).and_then(|&c| hex(c))) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn find<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}
