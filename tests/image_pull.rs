//! `runp image pull` against a real registry (Debian's docker-registry on 127.0.0.1), images
//! built here and pushed with skopeo: plain HTTP on loopback, gzip/zstd/uncompressed layers,
//! a multi-platform index, htpasswd basic auth with an auth file, a corrupted blob and a
//! registry stopped mid-pull.

mod common;
#[path = "common/registry.rs"]
mod registry;

use registry::{noise, Comp, Layout, Registry};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Store {
    dir: tempfile::TempDir,
}

impl Store {
    fn new() -> Store {
        Store { dir: tempfile::Builder::new().prefix("runp-pull-store").tempdir().expect("tempdir") }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn pull_cmd(&self, reference: &str, extra: &[&str]) -> Command {
        let mut c = Command::new(common::runp_bin());
        c.arg("--image-dir").arg(self.path()).args(["image", "pull"]).args(extra).arg(reference);
        c.env("RUNP_CERTS_DIR", self.path().join("no-certs.d"))
            .env_remove("REGISTRY_AUTH_FILE")
            .env("HOME", self.path());
        c.stdin(Stdio::null());
        c
    }

    fn pull(&self, reference: &str, extra: &[&str]) -> Output {
        self.pull_cmd(reference, extra).output().expect("running runp")
    }

    fn pull_ok(&self, reference: &str, extra: &[&str]) -> String {
        let out = self.pull(reference, extra);
        assert!(
            out.status.success(),
            "pull {reference} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn refs(&self) -> Value {
        std::fs::read(self.path().join("refs.json"))
            .map(|b| serde_json::from_slice(&b).expect("refs.json"))
            .unwrap_or(Value::Null)
    }

    fn names(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path().join(sub))
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    fn layer(&self, chain: &str) -> Option<PathBuf> {
        let p = self.path().join("layers").join(chain.trim_start_matches("sha256:"));
        p.join("layer.json").exists().then(|| p.join("diff"))
    }

    /// Nothing of an image: no record, no name, no blob, no temporary.
    fn assert_no_image(&self) {
        assert_eq!(self.names("images"), Vec::<String>::new(), "image records");
        assert!(self.refs().as_object().is_none_or(|m| m.is_empty()), "refs: {}", self.refs());
        assert_eq!(self.names("blobs/sha256"), Vec::<String>::new(), "blobs");
        let tmps: Vec<String> = self.names("layers").into_iter().filter(|n| n.starts_with('.')).collect();
        assert_eq!(tmps, Vec::<String>::new(), "layer temporaries");
    }
}

fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in diff_ids {
        let c = match out.last() {
            None => d.clone(),
            Some(p) => registry::sha256(format!("{p} {d}").as_bytes()),
        };
        out.push(c);
    }
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn plain_http_multi_layer_gzip_zstd_uncompressed() {
    if !common::is_root() {
        return;
    }
    let reg = Registry::start(None);
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut l = Layout::new(&tmp.path().join("oci"));
    let img = l.image(
        "amd64",
        &[
            (Comp::Gzip, vec![("etc/hello", b"gzip layer\n".to_vec()), ("bin/tool", noise(300_000, 1))]),
            (Comp::Zstd, vec![("etc/zstd", b"zstd layer\n".to_vec())]),
            (Comp::None, vec![("etc/hello", b"replaced by the top layer\n".to_vec())]),
        ],
    );
    l.tag(&img.manifest, "v1");
    reg.push(&l.dir, "v1", "test/multi:v1", false, None);

    let store = Store::new();
    let name = format!("{}/test/multi:v1", reg.addr());
    let out = store.pull(&name, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(id, img.config.digest, "stdout is the image id");
    // Not a terminal: one plain line per layer.
    assert_eq!(
        stderr(&out).lines().filter(|l| l.starts_with("layer ") && l.contains(": done,")).count(),
        3,
        "{}",
        stderr(&out)
    );

    let refs = store.refs();
    assert_eq!(refs[&name]["id"], img.config.digest.as_str(), "{refs}");
    let repo_digest = refs[&name]["repoDigest"].as_str().expect("repoDigest").to_string();
    assert!(repo_digest.starts_with(&format!("{}/test/multi@sha256:", reg.addr())), "{repo_digest}");
    let rec: Value = serde_json::from_slice(
        &std::fs::read(store.path().join("images").join(format!("{}.json", id.trim_start_matches("sha256:"))))
            .expect("record"),
    )
    .expect("json");
    let chains = chain_ids(&img.diff_ids);
    assert_eq!(rec["layers"], serde_json::json!(chains));
    let top = store.layer(&chains[2]).expect("top layer");
    assert_eq!(std::fs::read(top.join("etc/hello")).expect("hello"), b"replaced by the top layer\n");
    let mid = store.layer(&chains[1]).expect("zstd layer");
    assert_eq!(std::fs::read(mid.join("etc/zstd")).expect("zstd"), b"zstd layer\n");
    let bottom = store.layer(&chains[0]).expect("bottom layer");
    assert_eq!(std::fs::read(bottom.join("bin/tool")).expect("tool"), noise(300_000, 1));
    let media: Vec<String> = chains
        .iter()
        .map(|c| {
            let j: Value = serde_json::from_slice(
                &std::fs::read(store.path().join("layers").join(c.trim_start_matches("sha256:")).join("layer.json"))
                    .expect("layer.json"),
            )
            .expect("json");
            j["mediaType"].as_str().unwrap_or("").to_string()
        })
        .collect();
    eprintln!("layer media types as pushed by skopeo: {media:?}");
    assert!(media[1].ends_with("+zstd"), "the zstd layer stays zstd: {media:?}");

    // Again: every layer is present, nothing is downloaded.
    let out = store.pull(&name, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out).matches("already present").count(), 3, "{}", stderr(&out));

    // A tag the registry does not have: one clean line naming the registry and repository.
    let out = store.pull(&format!("{}/test/multi:nope", reg.addr()), &["--quiet"]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.contains(&format!("pulling {}/test/multi:nope", reg.addr())) && e.contains("404"), "{e}");
}

#[test]
fn multi_platform_index_picks_amd64() {
    if !common::is_root() {
        return;
    }
    let reg = Registry::start(None);
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut l = Layout::new(&tmp.path().join("oci"));
    let amd = l.image("amd64", &[(Comp::Gzip, vec![("arch", b"amd64\n".to_vec())])]);
    let arm = l.image("arm64", &[(Comp::Gzip, vec![("arch", b"arm64 decoy\n".to_vec())])]);
    let idx = l.index(&[(&arm.manifest, "arm64"), (&amd.manifest, "amd64")]);
    l.tag(&idx, "v1");
    reg.push(&l.dir, "v1", "test/multiarch:v1", true, None);

    let store = Store::new();
    let name = format!("{}/test/multiarch:v1", reg.addr());
    assert_eq!(store.pull_ok(&name, &["--quiet"]), amd.config.digest);
    let refs = store.refs();
    assert_eq!(refs[&name]["repoDigest"], format!("{}/test/multiarch@{}", reg.addr(), idx.digest).as_str(), "{refs}");
    let layer = store.layer(&amd.diff_ids[0]).expect("amd64 layer");
    assert_eq!(std::fs::read(layer.join("arch")).expect("arch"), b"amd64\n");
    assert!(store.layer(&arm.diff_ids[0]).is_none(), "the arm64 decoy is not pulled");
    assert!(!store.path().join("blobs/sha256").join(arm.config.digest.trim_start_matches("sha256:")).exists());

    // By digest: the index digest resolves the same way.
    let by_digest = format!("{}/test/multiarch@{}", reg.addr(), idx.digest);
    assert_eq!(store.pull_ok(&by_digest, &["--quiet"]), amd.config.digest);
}

#[test]
fn htpasswd_basic_auth_from_auth_file() {
    if !common::is_root() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let htpasswd = tmp.path().join("htpasswd");
    let out = Command::new("htpasswd").args(["-Bbn", "tester", "s3cret"]).output().expect("htpasswd (apache2-utils)");
    assert!(out.status.success());
    std::fs::write(&htpasswd, &out.stdout).expect("htpasswd");
    let reg = Registry::start(Some(&htpasswd));
    let mut l = Layout::new(&tmp.path().join("oci"));
    let img = l.image("amd64", &[(Comp::Gzip, vec![("secret", b"private\n".to_vec())])]);
    l.tag(&img.manifest, "v1");
    reg.push(&l.dir, "v1", "private/img:v1", false, Some("tester:s3cret"));

    let store = Store::new();
    let name = format!("{}/private/img:v1", reg.addr());
    let out = store.pull(&name, &["--quiet"]);
    assert!(!out.status.success(), "anonymous pull must fail");
    let e = stderr(&out);
    assert!(e.contains(&format!("pulling {name}")) && e.contains("401 Unauthorized"), "{e}");
    store.assert_no_image();

    // docker's form: base64 "auth", given with --authfile.
    let authfile = tmp.path().join("config.json");
    std::fs::write(&authfile, format!(r#"{{"auths": {{"{}": {{"auth": "dGVzdGVyOnMzY3JldA=="}}}}}}"#, reg.addr()))
        .expect("authfile");
    assert_eq!(store.pull_ok(&name, &["--quiet", "--authfile", authfile.to_str().expect("utf8")]), img.config.digest);

    // podman's form (username/password) through $REGISTRY_AUTH_FILE; a wrong password fails.
    let store = Store::new();
    let authfile2 = tmp.path().join("auth.json");
    std::fs::write(
        &authfile2,
        format!(r#"{{"auths": {{"http://{}/v2/": {{"username": "tester", "password": "s3cret"}}}}}}"#, reg.addr()),
    )
    .expect("authfile");
    let out = store.pull_cmd(&name, &["--quiet"]).env("REGISTRY_AUTH_FILE", &authfile2).output().expect("runp");
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(
        &authfile2,
        format!(r#"{{"auths": {{"{}": {{"username": "tester", "password": "bad"}}}}}}"#, reg.addr()),
    )
    .expect("authfile");
    let out = Store::new().pull_cmd(&name, &["--quiet"]).env("REGISTRY_AUTH_FILE", &authfile2).output().expect("runp");
    assert!(!out.status.success() && stderr(&out).contains("401"), "{}", stderr(&out));
}

#[test]
fn corrupted_blob_is_refused_and_nothing_is_stored() {
    if !common::is_root() {
        return;
    }
    let reg = Registry::start(None);
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut l = Layout::new(&tmp.path().join("oci"));
    let img =
        l.image("amd64", &[(Comp::Gzip, vec![("a", noise(100_000, 2))]), (Comp::Gzip, vec![("b", noise(100_000, 3))])]);
    l.tag(&img.manifest, "v1");
    reg.push(&l.dir, "v1", "test/bad:v1", false, None);
    // Same length, other bytes: the registry serves it as if it were the blob.
    let f = reg.blob_file(&img.layers[1].digest);
    let mut data = std::fs::read(&f).expect("blob in the registry's storage");
    let n = data.len();
    data[n / 2] ^= 0xff;
    data[n - 20] ^= 0x55;
    std::fs::write(&f, &data).expect("corrupting");

    let store = Store::new();
    let name = format!("{}/test/bad:v1", reg.addr());
    let out = store.pull(&name, &[]);
    assert!(!out.status.success(), "a corrupted blob must fail the pull");
    let e = stderr(&out);
    eprintln!("corrupted blob: {e}");
    assert!(e.contains(&format!("pulling {name}")) && e.contains(&img.layers[1].digest), "{e}");
    let chains = chain_ids(&img.diff_ids);
    assert!(store.layer(&chains[1]).is_none(), "nothing of the bad layer");
    store.assert_no_image();
}

#[test]
fn registry_stopped_mid_pull() {
    if !common::is_root() {
        return;
    }
    let mut reg = Registry::start(None);
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut l = Layout::new(&tmp.path().join("oci"));
    let img = l.image("amd64", &[(Comp::Gzip, vec![("big", noise(96 << 20, 4))])]);
    l.tag(&img.manifest, "v1");
    reg.push(&l.dir, "v1", "test/big:v1", false, None);

    let store = Store::new();
    let name = format!("{}/test/big:v1", reg.addr());
    let mut child =
        store.pull_cmd(&name, &["--quiet"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("runp");
    // Stop the registry once the layer is being unpacked.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if store.names("layers").iter().any(|n| n.starts_with(".tmp-")) {
            break;
        }
        assert!(Instant::now() < deadline, "the pull never started unpacking");
        assert!(child.try_wait().expect("wait").is_none(), "the pull ended before the registry was stopped");
        std::thread::sleep(Duration::from_millis(5));
    }
    reg.stop();
    let out = child.wait_with_output().expect("runp");
    assert!(!out.status.success(), "the pull must fail once the registry is gone");
    let e = stderr(&out);
    eprintln!("registry stopped: {e}");
    assert!(e.contains(&format!("pulling {name}")), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "one line: {e}");
    assert!(store.layer(&img.diff_ids[0]).is_none());
    store.assert_no_image();
}
