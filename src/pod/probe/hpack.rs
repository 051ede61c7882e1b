//! HPACK (RFC 7541) for the gRPC probe's HTTP/2 client: a complete decoder (static and
//! dynamic tables, size updates, integers, literals, Huffman) and the small encoder the client
//! needs (literals without indexing, no Huffman). Every input is bounded and checked: a bad
//! block is an error, never a panic.

use std::collections::VecDeque;
use std::fmt;

/// The dynamic table size we announce (SETTINGS_HEADER_TABLE_SIZE default).
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// A decoding error (always a connection error, COMPRESSION_ERROR in HTTP/2 terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HpackError(pub &'static str);

impl fmt::Display for HpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hpack: {}", self.0)
    }
}

impl std::error::Error for HpackError {}

const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// RFC 7541 Appendix B: (code, bit length) for symbols 0..=255 and EOS (256).
const HUFFMAN: [(u32, u8); 257] = [
    (0x1ff8, 13),
    (0x7fffd8, 23),
    (0xfffffe2, 28),
    (0xfffffe3, 28),
    (0xfffffe4, 28),
    (0xfffffe5, 28),
    (0xfffffe6, 28),
    (0xfffffe7, 28),
    (0xfffffe8, 28),
    (0xffffea, 24),
    (0x3ffffffc, 30),
    (0xfffffe9, 28),
    (0xfffffea, 28),
    (0x3ffffffd, 30),
    (0xfffffeb, 28),
    (0xfffffec, 28),
    (0xfffffed, 28),
    (0xfffffee, 28),
    (0xfffffef, 28),
    (0xffffff0, 28),
    (0xffffff1, 28),
    (0xffffff2, 28),
    (0x3ffffffe, 30),
    (0xffffff3, 28),
    (0xffffff4, 28),
    (0xffffff5, 28),
    (0xffffff6, 28),
    (0xffffff7, 28),
    (0xffffff8, 28),
    (0xffffff9, 28),
    (0xffffffa, 28),
    (0xffffffb, 28),
    (0x14, 6),
    (0x3f8, 10),
    (0x3f9, 10),
    (0xffa, 12),
    (0x1ff9, 13),
    (0x15, 6),
    (0xf8, 8),
    (0x7fa, 11),
    (0x3fa, 10),
    (0x3fb, 10),
    (0xf9, 8),
    (0x7fb, 11),
    (0xfa, 8),
    (0x16, 6),
    (0x17, 6),
    (0x18, 6),
    (0x0, 5),
    (0x1, 5),
    (0x2, 5),
    (0x19, 6),
    (0x1a, 6),
    (0x1b, 6),
    (0x1c, 6),
    (0x1d, 6),
    (0x1e, 6),
    (0x1f, 6),
    (0x5c, 7),
    (0xfb, 8),
    (0x7ffc, 15),
    (0x20, 6),
    (0xffb, 12),
    (0x3fc, 10),
    (0x1ffa, 13),
    (0x21, 6),
    (0x5d, 7),
    (0x5e, 7),
    (0x5f, 7),
    (0x60, 7),
    (0x61, 7),
    (0x62, 7),
    (0x63, 7),
    (0x64, 7),
    (0x65, 7),
    (0x66, 7),
    (0x67, 7),
    (0x68, 7),
    (0x69, 7),
    (0x6a, 7),
    (0x6b, 7),
    (0x6c, 7),
    (0x6d, 7),
    (0x6e, 7),
    (0x6f, 7),
    (0x70, 7),
    (0x71, 7),
    (0x72, 7),
    (0xfc, 8),
    (0x73, 7),
    (0xfd, 8),
    (0x1ffb, 13),
    (0x7fff0, 19),
    (0x1ffc, 13),
    (0x3ffc, 14),
    (0x22, 6),
    (0x7ffd, 15),
    (0x3, 5),
    (0x23, 6),
    (0x4, 5),
    (0x24, 6),
    (0x5, 5),
    (0x25, 6),
    (0x26, 6),
    (0x27, 6),
    (0x6, 5),
    (0x74, 7),
    (0x75, 7),
    (0x28, 6),
    (0x29, 6),
    (0x2a, 6),
    (0x7, 5),
    (0x2b, 6),
    (0x76, 7),
    (0x2c, 6),
    (0x8, 5),
    (0x9, 5),
    (0x2d, 6),
    (0x77, 7),
    (0x78, 7),
    (0x79, 7),
    (0x7a, 7),
    (0x7b, 7),
    (0x7ffe, 15),
    (0x7fc, 11),
    (0x3ffd, 14),
    (0x1ffd, 13),
    (0xffffffc, 28),
    (0xfffe6, 20),
    (0x3fffd2, 22),
    (0xfffe7, 20),
    (0xfffe8, 20),
    (0x3fffd3, 22),
    (0x3fffd4, 22),
    (0x3fffd5, 22),
    (0x7fffd9, 23),
    (0x3fffd6, 22),
    (0x7fffda, 23),
    (0x7fffdb, 23),
    (0x7fffdc, 23),
    (0x7fffdd, 23),
    (0x7fffde, 23),
    (0xffffeb, 24),
    (0x7fffdf, 23),
    (0xffffec, 24),
    (0xffffed, 24),
    (0x3fffd7, 22),
    (0x7fffe0, 23),
    (0xffffee, 24),
    (0x7fffe1, 23),
    (0x7fffe2, 23),
    (0x7fffe3, 23),
    (0x7fffe4, 23),
    (0x1fffdc, 21),
    (0x3fffd8, 22),
    (0x7fffe5, 23),
    (0x3fffd9, 22),
    (0x7fffe6, 23),
    (0x7fffe7, 23),
    (0xffffef, 24),
    (0x3fffda, 22),
    (0x1fffdd, 21),
    (0xfffe9, 20),
    (0x3fffdb, 22),
    (0x3fffdc, 22),
    (0x7fffe8, 23),
    (0x7fffe9, 23),
    (0x1fffde, 21),
    (0x7fffea, 23),
    (0x3fffdd, 22),
    (0x3fffde, 22),
    (0xfffff0, 24),
    (0x1fffdf, 21),
    (0x3fffdf, 22),
    (0x7fffeb, 23),
    (0x7fffec, 23),
    (0x1fffe0, 21),
    (0x1fffe1, 21),
    (0x3fffe0, 22),
    (0x1fffe2, 21),
    (0x7fffed, 23),
    (0x3fffe1, 22),
    (0x7fffee, 23),
    (0x7fffef, 23),
    (0xfffea, 20),
    (0x3fffe2, 22),
    (0x3fffe3, 22),
    (0x3fffe4, 22),
    (0x7ffff0, 23),
    (0x3fffe5, 22),
    (0x3fffe6, 22),
    (0x7ffff1, 23),
    (0x3ffffe0, 26),
    (0x3ffffe1, 26),
    (0xfffeb, 20),
    (0x7fff1, 19),
    (0x3fffe7, 22),
    (0x7ffff2, 23),
    (0x3fffe8, 22),
    (0x1ffffec, 25),
    (0x3ffffe2, 26),
    (0x3ffffe3, 26),
    (0x3ffffe4, 26),
    (0x7ffffde, 27),
    (0x7ffffdf, 27),
    (0x3ffffe5, 26),
    (0xfffff1, 24),
    (0x1ffffed, 25),
    (0x7fff2, 19),
    (0x1fffe3, 21),
    (0x3ffffe6, 26),
    (0x7ffffe0, 27),
    (0x7ffffe1, 27),
    (0x3ffffe7, 26),
    (0x7ffffe2, 27),
    (0xfffff2, 24),
    (0x1fffe4, 21),
    (0x1fffe5, 21),
    (0x3ffffe8, 26),
    (0x3ffffe9, 26),
    (0xffffffd, 28),
    (0x7ffffe3, 27),
    (0x7ffffe4, 27),
    (0x7ffffe5, 27),
    (0xfffec, 20),
    (0xfffff3, 24),
    (0xfffed, 20),
    (0x1fffe6, 21),
    (0x3fffe9, 22),
    (0x1fffe7, 21),
    (0x1fffe8, 21),
    (0x7ffff3, 23),
    (0x3fffea, 22),
    (0x3fffeb, 22),
    (0x1ffffee, 25),
    (0x1ffffef, 25),
    (0xfffff4, 24),
    (0xfffff5, 24),
    (0x3ffffea, 26),
    (0x7ffff4, 23),
    (0x3ffffeb, 26),
    (0x7ffffe6, 27),
    (0x3ffffec, 26),
    (0x3ffffed, 26),
    (0x7ffffe7, 27),
    (0x7ffffe8, 27),
    (0x7ffffe9, 27),
    (0x7ffffea, 27),
    (0x7ffffeb, 27),
    (0xffffffe, 28),
    (0x7ffffec, 27),
    (0x7ffffed, 27),
    (0x7ffffee, 27),
    (0x7ffffef, 27),
    (0x7fffff0, 27),
    (0x3ffffee, 26),
    (0x3fffffff, 30),
];

/// The Huffman code is canonical (codes of each length are consecutive, in symbol order), so
/// decoding needs only, per length, the first code, how many codes there are, and where its
/// symbols start in the (length, symbol)-sorted list. Built at compile time.
struct Canonical {
    first: [u32; 31],
    count: [u32; 31],
    start: [u16; 31],
    syms: [u16; 257],
}

const fn canonical() -> Canonical {
    let mut c = Canonical { first: [0; 31], count: [0; 31], start: [0; 31], syms: [0; 257] };
    let mut n = 0;
    let mut len = 1;
    while len <= 30 {
        c.start[len] = n as u16;
        let mut s = 0;
        while s < 257 {
            if HUFFMAN[s].1 as usize == len {
                if c.count[len] == 0 {
                    c.first[len] = HUFFMAN[s].0;
                }
                c.count[len] += 1;
                c.syms[n] = s as u16;
                n += 1;
            }
            s += 1;
        }
        len += 1;
    }
    c
}

static CANON: Canonical = canonical();

/// Decodes a Huffman string. Padding must be the most significant bits of EOS (all ones),
/// shorter than 8 bits; EOS itself inside the string is an error.
pub fn huffman_decode(src: &[u8], out: &mut Vec<u8>) -> Result<(), HpackError> {
    let (mut code, mut len) = (0u32, 0usize);
    for &byte in src {
        for bit in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> bit) & 1);
            len += 1;
            if len > 30 {
                return Err(HpackError("invalid Huffman code"));
            }
            let off = code.wrapping_sub(CANON.first[len]);
            if CANON.count[len] > 0 && code >= CANON.first[len] && off < CANON.count[len] {
                let sym = CANON.syms[CANON.start[len] as usize + off as usize];
                if sym == 256 {
                    return Err(HpackError("EOS in Huffman string"));
                }
                out.push(sym as u8);
                code = 0;
                len = 0;
            }
        }
    }
    if len >= 8 || code != (1u32 << len) - 1 {
        return Err(HpackError("invalid Huffman padding"));
    }
    Ok(())
}

/// Decodes an integer with an N-bit prefix at `buf[*pos]` (RFC 7541 5.1); values above
/// u32::MAX and over-long encodings are errors.
pub fn decode_int(buf: &[u8], pos: &mut usize, prefix: u8) -> Result<usize, HpackError> {
    let max = (1usize << prefix) - 1;
    let first = *buf.get(*pos).ok_or(HpackError("truncated integer"))?;
    *pos += 1;
    let mut value = usize::from(first) & max;
    if value < max {
        return Ok(value);
    }
    let mut shift = 0;
    loop {
        let b = *buf.get(*pos).ok_or(HpackError("truncated integer"))?;
        *pos += 1;
        if shift > 28 {
            return Err(HpackError("integer too long"));
        }
        value += usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    if value > u32::MAX as usize {
        return Err(HpackError("integer overflow"));
    }
    Ok(value)
}

/// Encodes an integer with an N-bit prefix; `flags` are the bits above the prefix.
pub fn encode_int(value: usize, prefix: u8, flags: u8, out: &mut Vec<u8>) {
    let max = (1usize << prefix) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// Appends a "literal header field without indexing, new name" with raw (non-Huffman) strings.
pub fn encode_literal(name: &str, value: &str, out: &mut Vec<u8>) {
    out.push(0);
    for s in [name, value] {
        encode_int(s.len(), 7, 0, out);
        out.extend_from_slice(s.as_bytes());
    }
}

/// The decoder: one per connection, fed every header block in order.
pub struct Decoder {
    table: VecDeque<(Vec<u8>, Vec<u8>)>, // newest first
    size: usize,
    max_size: usize,
    limit: usize,
}

fn entry_size(name: &[u8], value: &[u8]) -> usize {
    name.len() + value.len() + 32
}

impl Decoder {
    /// `limit` is the SETTINGS_HEADER_TABLE_SIZE we announced: the most a size update may ask.
    pub fn new(limit: usize) -> Decoder {
        Decoder { table: VecDeque::new(), size: 0, max_size: limit, limit }
    }

    /// The dynamic table's current size in RFC 7541 terms (sum of name + value + 32).
    #[cfg(test)]
    pub fn table_size(&self) -> usize {
        self.size
    }

    fn evict(&mut self) {
        while self.size > self.max_size {
            let Some((n, v)) = self.table.pop_back() else { break };
            self.size -= entry_size(&n, &v);
        }
    }

    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>) {
        let sz = entry_size(&name, &value);
        if sz > self.max_size {
            self.table.clear();
            self.size = 0;
            return;
        }
        self.size += sz;
        self.table.push_front((name, value));
        self.evict();
    }

    fn get(&self, index: usize) -> Result<(Vec<u8>, Vec<u8>), HpackError> {
        match index {
            0 => Err(HpackError("index 0")),
            1..=61 => {
                let (n, v) = STATIC[index - 1];
                Ok((n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            }
            _ => self.table.get(index - 62).cloned().ok_or(HpackError("index out of range")),
        }
    }

    fn string(buf: &[u8], pos: &mut usize) -> Result<Vec<u8>, HpackError> {
        let huff = buf.get(*pos).ok_or(HpackError("truncated string"))? & 0x80 != 0;
        let len = decode_int(buf, pos, 7)?;
        let end = pos.checked_add(len).filter(|&e| e <= buf.len()).ok_or(HpackError("truncated string"))?;
        let raw = &buf[*pos..end];
        *pos = end;
        if !huff {
            return Ok(raw.to_vec());
        }
        let mut out = Vec::with_capacity(len + len / 2);
        huffman_decode(raw, &mut out)?;
        Ok(out)
    }

    /// Decodes one complete header block. `max_list` caps the decoded list's size (name +
    /// value + 32 per field, as SETTINGS_MAX_HEADER_LIST_SIZE counts it).
    pub fn decode(&mut self, block: &[u8], max_list: usize) -> Result<Vec<(String, String)>, HpackError> {
        let mut pos = 0;
        let mut out = Vec::new();
        let mut list = 0usize;
        let mut may_resize = true;
        while pos < block.len() {
            let b = block[pos];
            let (name, value) = if b & 0x80 != 0 {
                let index = decode_int(block, &mut pos, 7)?;
                self.get(index)?
            } else if b & 0x20 != 0 && b & 0x40 == 0 {
                // 001xxxxx: dynamic table size update, only at the start of a block.
                if !may_resize {
                    return Err(HpackError("table size update after a header field"));
                }
                let size = decode_int(block, &mut pos, 5)?;
                if size > self.limit {
                    return Err(HpackError("table size update above the limit"));
                }
                self.max_size = size;
                self.evict();
                continue;
            } else {
                let indexing = b & 0x40 != 0;
                let index = decode_int(block, &mut pos, if indexing { 6 } else { 4 })?;
                let name = if index == 0 { Self::string(block, &mut pos)? } else { self.get(index)?.0 };
                let value = Self::string(block, &mut pos)?;
                if indexing {
                    self.insert(name.clone(), value.clone());
                }
                (name, value)
            };
            may_resize = false;
            list += entry_size(&name, &value);
            if list > max_list {
                return Err(HpackError("header list too large"));
            }
            out.push((String::from_utf8_lossy(&name).into_owned(), String::from_utf8_lossy(&value).into_owned()));
        }
        Ok(out)
    }
}

/// Test-only encoder helpers: Huffman encoding and the other representations, so the test
/// servers can exercise the whole decoder.
#[cfg(test)]
pub mod enc {
    use super::*;

    pub fn huffman(src: &[u8]) -> Vec<u8> {
        let (mut acc, mut bits, mut out) = (0u64, 0u32, Vec::new());
        for &b in src {
            let (code, len) = HUFFMAN[b as usize];
            acc = (acc << len) | u64::from(code);
            bits += u32::from(len);
            while bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        if bits > 0 {
            out.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) as u8);
        }
        out
    }

    pub fn string(s: &str, huff: bool, out: &mut Vec<u8>) {
        if huff {
            let h = huffman(s.as_bytes());
            encode_int(h.len(), 7, 0x80, out);
            out.extend_from_slice(&h);
        } else {
            encode_int(s.len(), 7, 0, out);
            out.extend_from_slice(s.as_bytes());
        }
    }

    /// Literal with incremental indexing, new name.
    pub fn indexed_literal(name: &str, value: &str, huff: bool, out: &mut Vec<u8>) {
        out.push(0x40);
        string(name, huff, out);
        string(value, huff, out);
    }
}

#[cfg(test)]
mod tests;
