//! Platforms (`os`/`architecture`/`variant`), the host's platform, and containerd's matcher:
//! which entries of an image index this host can run, and which one is best.
//!
//! Rules (containerd's platform package):
//! - names are normalized first: `x86_64`/`x86-64` → `amd64` (variant `v1` dropped),
//!   `aarch64` → `arm64` (variant `8`/`v8`/`v8.0` dropped: v8 is arm64's baseline),
//!   `armhf` → `arm` v7, `armel` → `arm` v6, `arm` without variant → `arm` v7, `i386` → `386`,
//!   bare variant numbers get a `v`; os names are lowercased (`macos` → `darwin`);
//! - os, architecture and variant must then be equal, except that a host also accepts older
//!   variants, in order of preference: `arm` v7 accepts v6 then v5, `amd64` v3 accepts v2 then
//!   v1, and `arm64` accepts 32-bit `arm` v8, v7, v6, v5 after its own;
//! - `os.version` is compared only for windows (major.minor.build must agree);
//! - among matching entries of an index the most preferred wins, ties going to the first
//!   listed; an entry without platform is taken only when nothing matches.

use serde::{Deserialize, Serialize};

use super::manifest::Descriptor;
use super::media;

/// A platform as image indexes and configs describe it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(rename = "os.version", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(rename = "os.features", default, skip_serializing_if = "Option::is_none")]
    pub os_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// A platform from its parts (an empty variant is none).
    pub fn new(os: &str, architecture: &str, variant: &str) -> Platform {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: (!variant.is_empty()).then(|| variant.to_string()),
            ..Platform::default()
        }
    }

    /// The variant, or `""`.
    pub fn variant(&self) -> &str {
        self.variant.as_deref().unwrap_or("")
    }

    /// `os/arch[/variant]`, as `--platform` flags write it.
    pub fn display(&self) -> String {
        match self.variant() {
            "" => format!("{}/{}", self.os, self.architecture),
            v => format!("{}/{}/{v}", self.os, self.architecture),
        }
    }
}

/// `p` with containerd's name normalization applied (see the module doc).
pub fn normalize(p: &Platform) -> Platform {
    let os = match p.os.to_ascii_lowercase().as_str() {
        "macos" => "darwin".to_string(),
        other => other.to_string(),
    };
    let arch = p.architecture.to_ascii_lowercase();
    let variant = p.variant().to_ascii_lowercase();
    let (arch, variant) = match arch.as_str() {
        "i386" => ("386".to_string(), String::new()),
        "x86_64" | "x86-64" | "amd64" => ("amd64".to_string(), if variant == "v1" { String::new() } else { variant }),
        "aarch64" | "arm64" => {
            let v = match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                "9" | "9.0" | "v9.0" => "v9".to_string(),
                other => other.to_string(),
            };
            ("arm64".to_string(), v)
        }
        "armhf" => ("arm".to_string(), "v7".to_string()),
        "armel" => ("arm".to_string(), "v6".to_string()),
        "arm" => {
            let v = match variant.as_str() {
                "" | "7" => "v7".to_string(),
                "5" | "6" | "8" => format!("v{variant}"),
                other => other.to_string(),
            };
            ("arm".to_string(), v)
        }
        other => (other.to_string(), variant),
    };
    Platform { os, architecture: arch, variant: (!variant.is_empty()).then_some(variant), ..p.clone() }
}

/// The platform runp was built for, in the names images use (`linux/amd64` here).
pub fn host() -> Platform {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        "mips64" if cfg!(target_endian = "little") => "mips64le",
        other => other,
    };
    let variant = match arch {
        "arm64" => "v8",
        "arm" if cfg!(target_feature = "v7") => "v7",
        "arm" => "v6",
        _ => "",
    };
    Platform::new(std::env::consts::OS, arch, variant)
}

/// containerd's `Only` matcher: a platform and the older ones it also runs, best first.
#[derive(Debug, Clone)]
pub struct Matcher {
    accepted: Vec<Platform>,
}

fn version_number(variant: &str) -> Option<u32> {
    variant.strip_prefix('v').and_then(|n| n.parse().ok())
}

fn vector(p: &Platform) -> Vec<Platform> {
    let mut out = vec![p.clone()];
    let older = |arch: &str, from: u32, down_to: u32| -> Vec<Platform> {
        (down_to..from)
            .rev()
            .map(|n| normalize(&Platform { architecture: arch.into(), variant: Some(format!("v{n}")), ..p.clone() }))
            .collect()
    };
    match p.architecture.as_str() {
        "amd64" => {
            if let Some(n) = version_number(p.variant()) {
                out.extend(older("amd64", n, 1));
            }
        }
        "arm" => {
            if let Some(n) = version_number(p.variant()) {
                out.extend(older("arm", n, 5));
            }
        }
        "arm64" => {
            let v = if p.variant().is_empty() { "v8" } else { p.variant() };
            let arm32 = normalize(&Platform { architecture: "arm".into(), variant: Some(v.into()), ..p.clone() });
            out.extend(vector(&arm32));
        }
        _ => {}
    }
    out
}

/// major.minor.build of a windows `os.version`.
fn windows_build(v: &str) -> Vec<&str> {
    v.split('.').take(3).collect()
}

impl Matcher {
    /// Matches `p` and what it can also run (see the module doc).
    pub fn only(p: &Platform) -> Matcher {
        Matcher { accepted: vector(&normalize(p)) }
    }

    /// The host's matcher.
    pub fn host() -> Matcher {
        Matcher::only(&host())
    }

    /// The platforms accepted, best first.
    pub fn accepted(&self) -> &[Platform] {
        &self.accepted
    }

    /// How preferred `p` is (0 = best), or `None` when this host cannot run it.
    pub fn rank(&self, p: &Platform) -> Option<usize> {
        let n = normalize(p);
        self.accepted.iter().position(|a| {
            a.os == n.os
                && a.architecture == n.architecture
                && a.variant() == n.variant()
                && (a.os != "windows"
                    || match (&a.os_version, &n.os_version) {
                        (Some(x), Some(y)) => windows_build(x) == windows_build(y),
                        _ => true,
                    })
        })
    }

    /// Whether this host can run `p`.
    pub fn matches(&self, p: &Platform) -> bool {
        self.rank(p).is_some()
    }

    /// The entry of an index to use: among manifest (or nested index) entries, the best-ranked
    /// platform, ties to the first listed; else the first entry without a platform.
    pub fn select<'a>(&self, entries: &'a [Descriptor]) -> Option<&'a Descriptor> {
        let usable = entries.iter().filter(|d| media::is_manifest(&d.media_type) || media::is_index(&d.media_type));
        let mut best: Option<(usize, &Descriptor)> = None;
        let mut unplatformed = None;
        for d in usable {
            match &d.platform {
                Some(p) => {
                    if let Some(r) = self.rank(p) {
                        if best.is_none_or(|(b, _)| r < b) {
                            best = Some((r, d));
                        }
                    }
                }
                None => {
                    unplatformed = unplatformed.or(Some(d));
                }
            }
        }
        best.map(|(_, d)| d).or(unplatformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::digest::Digest;

    fn p(os: &str, arch: &str, variant: &str) -> Platform {
        Platform::new(os, arch, variant)
    }

    #[test]
    fn host_is_linux_amd64_here() {
        let h = host();
        assert_eq!(h.os, "linux");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(h.display(), "linux/amd64");
        }
        if cfg!(target_arch = "aarch64") {
            assert_eq!(h.display(), "linux/arm64/v8");
        }
    }

    #[test]
    fn normalization() {
        let n = |os, a, v| normalize(&p(os, a, v)).display();
        assert_eq!(n("linux", "x86_64", ""), "linux/amd64");
        assert_eq!(n("Linux", "AMD64", "v1"), "linux/amd64");
        assert_eq!(n("linux", "x86-64", "v3"), "linux/amd64/v3");
        assert_eq!(n("linux", "aarch64", ""), "linux/arm64");
        assert_eq!(n("linux", "arm64", "v8"), "linux/arm64");
        assert_eq!(n("linux", "arm64", "8"), "linux/arm64");
        assert_eq!(n("linux", "arm64", "9"), "linux/arm64/v9");
        assert_eq!(n("linux", "armhf", ""), "linux/arm/v7");
        assert_eq!(n("linux", "armel", ""), "linux/arm/v6");
        assert_eq!(n("linux", "arm", ""), "linux/arm/v7");
        assert_eq!(n("linux", "arm", "6"), "linux/arm/v6");
        assert_eq!(n("linux", "i386", ""), "linux/386");
        assert_eq!(n("macos", "arm64", ""), "darwin/arm64");
        assert_eq!(n("linux", "riscv64", ""), "linux/riscv64");
    }

    #[test]
    fn amd64_host() {
        let m = Matcher::only(&p("linux", "amd64", ""));
        assert!(m.matches(&p("linux", "amd64", "")));
        assert!(m.matches(&p("linux", "x86_64", "")));
        assert!(m.matches(&p("linux", "amd64", "v1")));
        assert!(!m.matches(&p("linux", "amd64", "v2")), "a v2 image may use instructions this host lacks");
        assert!(!m.matches(&p("linux", "arm64", "")));
        assert!(!m.matches(&p("windows", "amd64", "")), "os must match");
        assert!(!m.matches(&p("unknown", "unknown", "")), "attestation entries");
        let v3 = Matcher::only(&p("linux", "amd64", "v3"));
        assert_eq!(v3.rank(&p("linux", "amd64", "v3")), Some(0));
        assert_eq!(v3.rank(&p("linux", "amd64", "v2")), Some(1));
        assert_eq!(v3.rank(&p("linux", "amd64", "")), Some(2));
    }

    #[test]
    fn arm_variants() {
        let v7 = Matcher::only(&p("linux", "arm", "v7"));
        assert_eq!(v7.rank(&p("linux", "armhf", "")), Some(0));
        assert_eq!(v7.rank(&p("linux", "arm", "v6")), Some(1));
        assert_eq!(v7.rank(&p("linux", "arm", "v5")), Some(2));
        assert!(!v7.matches(&p("linux", "arm", "v8")));
        let arm64 = Matcher::only(&p("linux", "arm64", "v8"));
        assert_eq!(arm64.rank(&p("linux", "arm64", "")), Some(0), "missing variant is v8");
        assert_eq!(arm64.rank(&p("linux", "aarch64", "v8")), Some(0));
        assert_eq!(arm64.rank(&p("linux", "arm", "v7")), Some(2), "then 32-bit arm, v8 first");
        assert!(!arm64.matches(&p("linux", "arm64", "v9")));
        let v6 = Matcher::only(&p("linux", "armel", ""));
        assert!(!v6.matches(&p("linux", "arm", "v7")));
    }

    #[test]
    fn windows_os_version() {
        let mut host = p("windows", "amd64", "");
        host.os_version = Some("10.0.17763.1234".into());
        let m = Matcher::only(&host);
        let mut img = p("windows", "amd64", "");
        img.os_version = Some("10.0.17763.5000".into());
        assert!(m.matches(&img));
        img.os_version = Some("10.0.20348.1".into());
        assert!(!m.matches(&img));
        // Linux ignores os.version.
        let mut l = p("linux", "amd64", "");
        l.os_version = Some("anything".into());
        assert!(Matcher::only(&p("linux", "amd64", "")).matches(&l));
    }

    fn entry(n: u8, platform: Option<Platform>) -> Descriptor {
        Descriptor {
            media_type: media::OCI_MANIFEST.into(),
            digest: Digest::of(&[n]),
            size: 10,
            urls: None,
            annotations: None,
            platform,
            artifact_type: None,
        }
    }

    #[test]
    fn selects_from_a_multi_platform_index_with_a_decoy() {
        let index = vec![
            entry(0, Some(p("linux", "arm64", "v8"))),
            entry(1, Some(p("unknown", "unknown", ""))),
            entry(2, Some(p("linux", "amd64", ""))),
            entry(3, Some(p("linux", "amd64", ""))),
            entry(4, Some(p("windows", "amd64", ""))),
        ];
        let amd64 = Matcher::only(&p("linux", "amd64", ""));
        assert_eq!(amd64.select(&index).unwrap().digest, Digest::of(&[2]), "first of the equals");
        let arm64 = Matcher::only(&p("linux", "arm64", "v8"));
        assert_eq!(arm64.select(&index).unwrap().digest, Digest::of(&[0]));
        assert!(Matcher::only(&p("linux", "s390x", "")).select(&index).is_none());
    }

    #[test]
    fn prefers_the_better_variant_whatever_the_order() {
        let index = vec![
            entry(5, Some(p("linux", "arm", "v5"))),
            entry(7, Some(p("linux", "arm", "v7"))),
            entry(6, Some(p("linux", "arm", "v6"))),
        ];
        let m = Matcher::only(&p("linux", "arm", "v7"));
        assert_eq!(m.select(&index).unwrap().digest, Digest::of(&[7]));
        let m = Matcher::only(&p("linux", "arm", "v6"));
        assert_eq!(m.select(&index).unwrap().digest, Digest::of(&[6]));
    }

    #[test]
    fn unplatformed_entries_are_the_last_resort_and_non_manifests_are_skipped() {
        let mut layer = entry(9, Some(p("linux", "amd64", "")));
        layer.media_type = media::OCI_LAYER_GZIP.into();
        let index = vec![layer, entry(1, None), entry(2, Some(p("linux", "arm64", "")))];
        let m = Matcher::only(&p("linux", "amd64", ""));
        assert_eq!(m.select(&index).unwrap().digest, Digest::of(&[1]));
        let index = vec![entry(1, None), entry(2, Some(p("linux", "amd64", "")))];
        assert_eq!(m.select(&index).unwrap().digest, Digest::of(&[2]));
    }

    #[test]
    fn platform_serde_uses_the_dotted_names() {
        let j = r#"{"architecture":"amd64","os":"windows","os.version":"10.0.17763.1","os.features":["win32k"],"variant":"v2"}"#;
        let pl: Platform = serde_json::from_str(j).unwrap();
        assert_eq!(pl.os_version.as_deref(), Some("10.0.17763.1"));
        assert_eq!(pl.os_features, Some(vec!["win32k".to_string()]));
        assert_eq!(serde_json::to_string(&pl).unwrap(), j);
    }
}
