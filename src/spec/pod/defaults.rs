//! Kubernetes defaulting (API server `SetDefaults_*` and the kubelet), applied after decoding
//! and before validation. Constant defaults live in the serde attributes of `pod.rs`; this
//! file fills in the ones that depend on other fields, plus `metadata.uid`.

use super::{Container, HttpGetAction, Pod, Probe, PullPolicy};
use std::io::Read;

/// Random bytes for `metadata.uid` (16) and a `generateName` suffix (the rest). Passed in so
/// that defaulting stays a pure, testable function.
pub type Entropy = [u8; 32];

/// 32 random bytes from `/dev/urandom`; if that cannot be read, from the standard library's
/// randomly keyed hasher (seeded by the OS) mixed with the time and pid.
pub fn entropy() -> Entropy {
    let mut buf = [0u8; 32];
    let ok = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf)).is_ok();
    if !ok {
        use std::hash::{BuildHasher, Hasher};
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        for (i, chunk) in buf.chunks_mut(8).enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(nanos);
            h.write_u32(std::process::id());
            h.write_usize(i);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    buf
}

/// A version-4 UUID (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`) from 16 random bytes.
pub fn uuid_v4(random: &[u8; 16]) -> String {
    let mut b = *random;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// The API server's `generateName` suffix alphabet (no vowels, no confusable characters).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The image pull policy Kubernetes picks from the image reference: `Always` when the tag is
/// `latest` or there is neither a tag nor a digest, else `IfNotPresent`.
pub fn default_pull_policy(image: &str) -> PullPolicy {
    let (name, has_digest) = match image.split_once('@') {
        Some((n, _)) => (n, true),
        None => (image, false),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.rsplit_once(':') {
        Some((_, "latest")) => PullPolicy::Always,
        Some(_) => PullPolicy::IfNotPresent,
        None if has_digest => PullPolicy::IfNotPresent,
        None => PullPolicy::Always,
    }
}

fn http_get(h: &mut HttpGetAction) {
    if h.path.is_empty() {
        h.path = "/".to_string();
    }
}

fn probe(p: &mut Probe) {
    if p.timeout_seconds == 0 {
        p.timeout_seconds = 1;
    }
    if p.period_seconds == 0 {
        p.period_seconds = 10;
    }
    if p.success_threshold == 0 {
        p.success_threshold = 1;
    }
    if p.failure_threshold == 0 {
        p.failure_threshold = 3;
    }
    if let Some(h) = &mut p.http_get {
        http_get(h);
    }
}

fn container(c: &mut Container, host_network: bool) {
    if c.image_pull_policy.is_none() {
        c.image_pull_policy = Some(default_pull_policy(&c.image));
    }
    if c.termination_message_path.is_empty() {
        c.termination_message_path = "/dev/termination-log".to_string();
    }
    for port in &mut c.ports {
        if host_network && port.host_port.unwrap_or(0) == 0 {
            port.host_port = Some(port.container_port);
        }
    }
    for (name, limit) in &c.resources.limits {
        c.resources.requests.entry(name.clone()).or_insert(*limit);
    }
    if let Some(l) = &mut c.lifecycle {
        for h in [&mut l.post_start, &mut l.pre_stop].into_iter().flatten() {
            if let Some(g) = &mut h.http_get {
                http_get(g);
            }
        }
    }
    for p in [&mut c.liveness_probe, &mut c.readiness_probe, &mut c.startup_probe].into_iter().flatten() {
        probe(p);
    }
}

/// Applies every default in place.
pub fn apply(pod: &mut Pod, entropy: &Entropy) {
    let meta = &mut pod.metadata;
    if meta.name.is_empty() {
        if let Some(prefix) = meta.generate_name.as_deref().filter(|p| !p.is_empty()) {
            let suffix: String = entropy[16..21]
                .iter()
                .map(|b| char::from(SUFFIX_ALPHABET[usize::from(*b) % SUFFIX_ALPHABET.len()]))
                .collect();
            meta.name = format!("{prefix}{suffix}");
        }
    }
    if meta.namespace.is_empty() {
        meta.namespace = "default".to_string();
    }
    if meta.uid.is_empty() {
        let mut random = [0u8; 16];
        random.copy_from_slice(&entropy[..16]);
        meta.uid = uuid_v4(&random);
    }
    let spec = &mut pod.spec;
    if spec.termination_grace_period_seconds < 0 {
        spec.termination_grace_period_seconds = 1;
    }
    let host_network = spec.host_network;
    for c in spec.init_containers.iter_mut().chain(spec.containers.iter_mut()) {
        container(c, host_network);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_by_tag() {
        for (image, want) in [
            ("busybox", PullPolicy::Always),
            ("busybox:latest", PullPolicy::Always),
            ("busybox:1.36", PullPolicy::IfNotPresent),
            ("my-app:1.0.0", PullPolicy::IfNotPresent),
            ("localhost:5000/app", PullPolicy::Always),
            ("localhost:5000/app:v2", PullPolicy::IfNotPresent),
            ("app@sha256:abcd", PullPolicy::IfNotPresent),
            ("app:latest@sha256:abcd", PullPolicy::Always),
        ] {
            assert_eq!(default_pull_policy(image), want, "{image}");
        }
    }

    #[test]
    fn uuid_shape() {
        let u = uuid_v4(&[0xff; 16]);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(uuid_v4(&[0; 16]), "00000000-0000-4000-8000-000000000000");
        let a = entropy();
        let b = entropy();
        assert_ne!(a, b, "two draws differ");
    }
}
