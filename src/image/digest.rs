//! Content digests (`sha256:<64 lowercase hex digits>`) and their verification while content
//! streams past.
//!
//! Only sha256 is accepted: it is what every registry, `docker save`, `podman save` and skopeo
//! write, and the only algorithm the distribution spec requires. Any other algorithm is refused
//! by name rather than silently unverified.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// The one algorithm runp verifies.
pub const SHA256: &str = "sha256";

/// A sha256 content digest. Displays, parses and serializes as `sha256:<hex>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

/// Why a digest string was refused; the field that held it is named by the caller
/// (serde adds the path, e.g. `layers[2].digest: ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest {input:?}: {reason}")]
pub struct DigestError {
    /// The refused text, cut to 100 characters.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

fn refuse(input: &str, reason: impl Into<String>) -> DigestError {
    DigestError { input: input.chars().take(100).collect(), reason: reason.into() }
}

/// The algorithm grammar of the OCI image spec: `[a-z0-9]+([+._-][a-z0-9]+)*`.
fn is_algorithm(s: &str) -> bool {
    !s.is_empty()
        && s.split(['+', '.', '_', '-'])
            .all(|part| !part.is_empty() && part.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9')))
}

impl Digest {
    /// Parses `sha256:<64 lowercase hex>`.
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let Some((algorithm, encoded)) = s.split_once(':') else {
            return Err(refuse(s, "expected <algorithm>:<hex>, as sha256:<64 hex digits>"));
        };
        if algorithm != SHA256 {
            return Err(if is_algorithm(algorithm) {
                refuse(s, format!("unsupported algorithm {algorithm:?}: runp verifies sha256 only"))
            } else {
                refuse(s, format!("malformed algorithm {algorithm:?}"))
            });
        }
        if encoded.len() != 64 {
            return Err(refuse(s, format!("a sha256 digest has 64 hex digits, this one has {}", encoded.len())));
        }
        let mut bytes = [0u8; 32];
        for (i, pair) in encoded.as_bytes().chunks(2).enumerate() {
            let (Some(hi), Some(lo)) = (nibble(pair[0]), nibble(pair[1])) else {
                return Err(refuse(s, "the hex digits must be 0-9 and lowercase a-f"));
            };
            bytes[i] = hi << 4 | lo;
        }
        Ok(Digest(bytes))
    }

    /// The sha256 digest of `data`.
    pub fn of(data: &[u8]) -> Digest {
        Digest(Sha256::digest(data).into())
    }

    /// The 64 lowercase hex digits, without the algorithm (a blob's file name in an OCI layout).
    pub fn hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// The algorithm: always `sha256`.
    pub fn algorithm(&self) -> &'static str {
        SHA256
    }

    /// The raw 32 bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SHA256}:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Digest, DigestError> {
        Digest::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Streamed content did not match its descriptor. One line; the caller says which blob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("size mismatch: expected {expected} bytes, read {actual}")]
    Size { expected: u64, actual: u64 },
    #[error("digest mismatch: expected {expected}, content is {actual}")]
    Digest { expected: Digest, actual: Digest },
}

/// Hashes and counts what is written to it (for content that is produced, not read).
#[derive(Clone, Default)]
pub struct Hasher {
    sha: Sha256,
    count: u64,
}

impl Hasher {
    /// An empty hasher.
    pub fn new() -> Hasher {
        Hasher::default()
    }

    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.sha.update(data);
        self.count = self.count.saturating_add(data.len() as u64);
    }

    /// Bytes seen so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The digest and the byte count of everything added.
    pub fn finish(self) -> (Digest, u64) {
        (Digest(self.sha.finalize().into()), self.count)
    }
}

impl Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A reader that hashes and counts the bytes that pass through it. Read it to the end, then
/// call [`Verifier::finish`]. With [`Verifier::with_limit`] it refuses to deliver more than
/// the expected size, so a hostile source cannot stream forever.
pub struct Verifier<R> {
    inner: R,
    hasher: Hasher,
    limit: Option<u64>,
}

impl<R: Read> Verifier<R> {
    /// Verifies `inner` with no bound on its length.
    pub fn new(inner: R) -> Verifier<R> {
        Verifier { inner, hasher: Hasher::new(), limit: None }
    }

    /// Verifies `inner`, failing a read (with `InvalidData`) as soon as it yields more than
    /// `size` bytes.
    pub fn with_limit(inner: R, size: u64) -> Verifier<R> {
        Verifier { inner, hasher: Hasher::new(), limit: Some(size) }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.hasher.count()
    }

    /// Checks what was read against `expected` and, when given, `expected_size`; returns the
    /// byte count. Call it after reading to the end.
    pub fn finish(self, expected: &Digest, expected_size: Option<u64>) -> Result<u64, VerifyError> {
        let (actual, count) = self.hasher.finish();
        if let Some(size) = expected_size {
            if size != count {
                return Err(VerifyError::Size { expected: size, actual: count });
            }
        }
        if actual != *expected {
            return Err(VerifyError::Digest { expected: *expected, actual });
        }
        Ok(count)
    }

    /// The digest and count of what was read, without checking them.
    pub fn into_digest(self) -> (Digest, u64) {
        self.hasher.finish()
    }
}

impl<R: Read> Read for Verifier<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Ask for one byte past the limit at most, so an overlong source is noticed.
        let want = match self.limit {
            Some(limit) => {
                let left = limit.saturating_sub(self.hasher.count()).saturating_add(1);
                buf.len().min(usize::try_from(left).unwrap_or(usize::MAX))
            }
            None => buf.len(),
        };
        let n = self.inner.read(&mut buf[..want])?;
        self.hasher.update(&buf[..n]);
        if let Some(limit) = self.limit {
            if self.hasher.count() > limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("content is longer than the expected {limit} bytes"),
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const ABC: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn parses_displays_and_hashes() {
        let d = Digest::parse(EMPTY).unwrap();
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(format!("{d:?}"), EMPTY);
        assert_eq!(d.hex(), &EMPTY[7..]);
        assert_eq!(d.algorithm(), "sha256");
        assert_eq!(Digest::of(b""), d);
        assert_eq!(Digest::of(b"abc").to_string(), ABC);
        assert_eq!(ABC.parse::<Digest>().unwrap(), Digest::of(b"abc"));
    }

    #[test]
    fn refuses_other_algorithms_by_name() {
        let e = Digest::parse(&format!("sha512:{}", "a".repeat(128))).unwrap_err();
        assert!(e.to_string().contains("unsupported algorithm \"sha512\""), "{e}");
        let e = Digest::parse("SHA256:abc").unwrap_err();
        assert!(e.to_string().contains("malformed algorithm"), "{e}");
        let e = Digest::parse(&EMPTY[7..]).unwrap_err();
        assert!(e.to_string().contains("expected <algorithm>:<hex>"), "{e}");
    }

    #[test]
    fn refuses_bad_hex() {
        for bad in [
            "sha256:".to_string(),
            "sha256:abc".to_string(),
            EMPTY.to_uppercase().replace("SHA256", "sha256"),
            format!("{EMPTY}0"),
            EMPTY.replace('e', "g"),
            EMPTY.replacen('e', "é", 1),
        ] {
            assert!(Digest::parse(&bad).is_err(), "{bad}");
        }
        let e = Digest::parse(&EMPTY.replace('e', "E")).unwrap_err();
        assert!(e.reason.contains("lowercase"), "{e}");
    }

    #[test]
    fn error_input_is_bounded() {
        let long = format!("sha256:{}", "z".repeat(10_000));
        let e = Digest::parse(&long).unwrap_err();
        assert!(e.to_string().len() < 300);
    }

    #[test]
    fn serde_round_trip_and_field_in_error() {
        #[derive(serde::Deserialize, serde::Serialize)]
        struct D {
            digest: Digest,
        }
        let d: D = serde_json::from_str(&format!(r#"{{"digest":"{ABC}"}}"#)).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), format!(r#"{{"digest":"{ABC}"}}"#));
        let mut de = serde_json::Deserializer::from_str(r#"{"digest":"md5:00"}"#);
        let e = serde_path_to_error::deserialize::<_, D>(&mut de).err().unwrap();
        assert!(e.to_string().starts_with("digest: invalid digest"), "{e}");
    }

    #[test]
    fn verifier_accepts_matching_content() {
        let mut v = Verifier::new(&b"abc"[..]);
        let mut out = Vec::new();
        io::copy(&mut v, &mut out).unwrap();
        assert_eq!(out, b"abc");
        assert_eq!(v.count(), 3);
        assert_eq!(v.finish(&Digest::parse(ABC).unwrap(), Some(3)).unwrap(), 3);
    }

    #[test]
    fn verifier_reports_digest_and_size_mismatch() {
        let abc = Digest::parse(ABC).unwrap();
        let mut v = Verifier::new(&b"abd"[..]);
        io::copy(&mut v, &mut io::sink()).unwrap();
        let e = v.finish(&abc, None).unwrap_err();
        assert!(matches!(e, VerifyError::Digest { .. }));
        assert!(!e.to_string().contains('\n'));
        assert!(e.to_string().starts_with("digest mismatch: expected sha256:ba78"), "{e}");

        let mut v = Verifier::new(&b"ab"[..]);
        io::copy(&mut v, &mut io::sink()).unwrap();
        assert_eq!(v.finish(&abc, Some(3)).unwrap_err(), VerifyError::Size { expected: 3, actual: 2 });
    }

    #[test]
    fn verifier_with_limit_stops_an_overlong_stream() {
        let endless = io::repeat(7);
        let mut v = Verifier::with_limit(endless, 10_000);
        let e = io::copy(&mut v, &mut io::sink()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(v.count() <= 10_001);
        // Exactly the limit is fine.
        let mut v = Verifier::with_limit(&b"abc"[..], 3);
        io::copy(&mut v, &mut io::sink()).unwrap();
        v.finish(&Digest::parse(ABC).unwrap(), Some(3)).unwrap();
    }

    #[test]
    fn hasher_as_writer() {
        let mut h = Hasher::new();
        h.write_all(b"a").unwrap();
        h.write_all(b"bc").unwrap();
        assert_eq!(h.count(), 3);
        assert_eq!(h.finish(), (Digest::parse(ABC).unwrap(), 3));
    }
}
