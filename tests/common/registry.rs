//! A real registry for pull tests: Debian's `docker-registry` (the distribution registry) on
//! 127.0.0.1 with a free port and a temp storage dir, killed by PID and removed on drop; OCI
//! layouts written here (tar + flate2 + ruzstd) and pushed with `skopeo copy`.
#![allow(dead_code)]

use sha2::{Digest as _, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

pub struct Registry {
    pub port: u16,
    child: Option<Child>,
    pub dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry; with `htpasswd` (a bcrypt htpasswd file) it requires basic auth.
    pub fn start(htpasswd: Option<&Path>) -> Registry {
        assert!(Path::new(REGISTRY_BIN).exists(), "{REGISTRY_BIN} missing: run `make deps`");
        let dir = tempfile::Builder::new().prefix("runp-registry").tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("storage").display()
        );
        if let Some(h) = htpasswd {
            cfg.push_str(&format!("auth:\n  htpasswd:\n    realm: runp-test\n    path: {}\n", h.display()));
        }
        let cfg_path = dir.path().join("config.yml");
        std::fs::write(&cfg_path, cfg).expect("write config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("log");
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let mut r = Registry { port, child: Some(child), dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Some(c) = r.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("docker-registry exited ({st}): {}", r.log());
                }
            }
            assert!(Instant::now() < deadline, "docker-registry did not listen: {}", r.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The file a blob is stored in.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.storage().join(format!("docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]))
    }

    /// `skopeo copy [--all] oci:LAYOUT:TAG docker://ADDR/DEST`.
    pub fn push(&self, layout: &Path, tag: &str, dest: &str, all: bool, creds: Option<&str>) {
        let mut c = Command::new("skopeo");
        c.args(["copy", "--quiet", "--dest-tls-verify=false"]);
        if all {
            c.arg("--all");
        }
        if let Some(cr) = creds {
            c.args(["--dest-creds", cr]);
        }
        c.arg(format!("oci:{}:{tag}", layout.display())).arg(format!("docker://{}/{dest}", self.addr()));
        let out = c.output().expect("running skopeo");
        assert!(out.status.success(), "skopeo copy failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Kills the registry (by its PID) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How a test layer is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comp {
    None,
    Gzip,
    Zstd,
}

pub fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect::<String>())
}

/// A tar of `files` (path, content); parents are created as directories.
pub fn layer_tar(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dirs = std::collections::BTreeSet::new();
    for (path, data) in files {
        let p = Path::new(path);
        let mut acc = PathBuf::new();
        if let Some(parent) = p.parent() {
            for c in parent.components() {
                acc.push(c);
                if dirs.insert(acc.clone()) {
                    let mut h = tar::Header::new_ustar();
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_mode(0o755);
                    h.set_size(0);
                    h.set_mtime(0);
                    h.set_uid(0);
                    h.set_gid(0);
                    b.append_data(&mut h, &acc, std::io::empty()).expect("tar dir");
                }
            }
        }
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        b.append_data(&mut h, p, &data[..]).expect("tar file");
    }
    b.into_inner().expect("tar")
}

/// A layer to build: its compression and files (path, content).
pub type TestLayer<'a> = (Comp, Vec<(&'a str, Vec<u8>)>);

/// An OCI layout being written.
pub struct Layout {
    pub dir: PathBuf,
    index: Vec<serde_json::Value>,
}

/// A written blob's descriptor.
#[derive(Clone, Debug)]
pub struct Desc {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

impl Desc {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }
}

/// What [`Layout::image`] wrote.
pub struct Image {
    pub manifest: Desc,
    pub config: Desc,
    pub layers: Vec<Desc>,
    pub diff_ids: Vec<String>,
}

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).expect("mkdir");
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("oci-layout");
        Layout { dir: dir.to_path_buf(), index: Vec::new() }
    }

    pub fn blob(&self, media_type: &str, data: &[u8]) -> Desc {
        let digest = sha256(data);
        std::fs::write(self.dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:")), data).expect("blob");
        Desc { media_type: media_type.into(), digest, size: data.len() as u64 }
    }

    /// An image of `layers` (compression, files) for linux/`arch`.
    pub fn image(&self, arch: &str, layers: &[TestLayer]) -> Image {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        for (comp, files) in layers {
            let tar = layer_tar(files);
            diff_ids.push(sha256(&tar));
            let (mt, data) = match comp {
                Comp::None => ("application/vnd.oci.image.layer.v1.tar", tar),
                Comp::Gzip => {
                    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                    e.write_all(&tar).expect("gzip");
                    ("application/vnd.oci.image.layer.v1.tar+gzip", e.finish().expect("gzip"))
                }
                Comp::Zstd => (
                    "application/vnd.oci.image.layer.v1.tar+zstd",
                    ruzstd::encoding::compress_to_vec(&tar[..], ruzstd::encoding::CompressionLevel::Fastest),
                ),
            };
            descs.push(self.blob(mt, &data));
        }
        let config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config = self.blob("application/vnd.oci.image.config.v1+json", &serde_json::to_vec(&config).expect("json"));
        let manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config.json(), "layers": descs.iter().map(Desc::json).collect::<Vec<_>>(),
        });
        let manifest =
            self.blob("application/vnd.oci.image.manifest.v1+json", &serde_json::to_vec(&manifest).expect("json"));
        Image { manifest, config, layers: descs, diff_ids }
    }

    /// An image index of `(manifest, arch)` entries.
    pub fn index(&self, entries: &[(&Desc, &str)]) -> Desc {
        let idx = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries.iter().map(|(d, arch)| {
                let mut j = d.json();
                j["platform"] = serde_json::json!({"os": "linux", "architecture": arch});
                j
            }).collect::<Vec<_>>(),
        });
        self.blob("application/vnd.oci.image.index.v1+json", &serde_json::to_vec(&idx).expect("json"))
    }

    /// Names `d` as `tag` in index.json.
    pub fn tag(&mut self, d: &Desc, tag: &str) {
        let mut j = d.json();
        j["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": tag});
        self.index.push(j);
        let idx = serde_json::json!({"schemaVersion": 2, "manifests": self.index});
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec(&idx).expect("json")).expect("index.json");
    }
}

/// Deterministic bytes that do not compress.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
