//! Pulling images from registries that speak the OCI distribution API.
//!
//! [`pull`] resolves a reference to a manifest (a tag through the registry, verified against
//! `Docker-Content-Digest`; an index to the host's platform), fetches and verifies the config,
//! then streams each layer from the network through the store's writer (`Writer::put_layer`
//! verifies the blob digest and the DiffID on the fly and keeps nothing of a bad layer), at
//! most [`PullOptions::parallel`] at once, and commits and tags the image only once every
//! layer is in. Two pulls of the same image share layers through the store's locks: the second
//! waits for the first's unpack and reads nothing.
//!
//! - `hosts`: where to send requests (containerd's hosts directory, loopback plain HTTP);
//! - `auth`: auth files, challenges;
//! - `client`: HTTP requests, manifests and blobs;
//! - `progress`: the per-layer display.

pub mod auth;
pub mod client;
pub mod hosts;
pub mod progress;

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::config::{ImageConfig, MAX_CONFIG_SIZE};
use super::digest::Digest;
use super::manifest::{self, Descriptor, Manifest, Parsed};
use super::platform::Matcher;
use super::reference::Reference;
use super::store::{chain_ids, ImageRecord, LayerSource, Store};
use auth::AuthFile;
use client::{Client, Ep, Transport};

/// Nested indexes followed at most.
const MAX_INDEX_DEPTH: usize = 4;
/// Default number of layers downloaded at once.
pub const DEFAULT_PARALLEL: usize = 3;
/// Most layers one image may have (the kernel's overlay limit is far below).
const MAX_LAYERS: usize = 1000;

/// How to pull.
pub struct PullOptions {
    pub auth: AuthFile,
    /// The hosts directory ([`hosts::config_dir`]).
    pub config_dir: PathBuf,
    pub progress: progress::Mode,
    /// Layers downloaded at once (at least 1).
    pub parallel: usize,
    pub platform: Matcher,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            auth: AuthFile::default(),
            config_dir: hosts::config_dir(None),
            progress: progress::Mode::Quiet,
            parallel: DEFAULT_PARALLEL,
            platform: Matcher::host(),
        }
    }
}

/// What a pull produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PulledImage {
    /// The config digest.
    pub id: String,
    /// `domain/path@<digest the reference resolved to>` (an index's digest for a
    /// multi-platform image), as the kubelet reports `imageID`.
    pub repo_digest: String,
    /// The platform manifest's digest.
    pub manifest_digest: String,
    /// The name tagged in the store (the full reference).
    pub name: String,
    /// Config and layer blob sizes, as pulled.
    pub size: u64,
    pub duration: Duration,
}

/// Go's `time.Duration` string of `d` truncated to milliseconds (`1.234s`, `350ms`,
/// `1m2.5s`), as the kubelet prints pull durations.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m, s, frac) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&s.to_string());
    if frac > 0 {
        out.push_str(format!(".{frac:03}").trim_end_matches('0'));
    }
    out.push('s');
    out
}

/// The kubelet's `Pulled` event message for `image` (as the pod spec writes it).
pub fn pulled_message(image: &str, pulled: &PulledImage, including_waiting: Duration) -> String {
    format!(
        "Successfully pulled image {image:?} in {} ({} including waiting). Image size: {} bytes.",
        go_duration(pulled.duration),
        go_duration(including_waiting),
        pulled.size
    )
}

/// Pulls `reference` into `store`, tags it with the full reference, and returns what was
/// pulled. Errors are one line: `pulling <ref>: <what failed>`.
pub fn pull(store: &Store, reference: &Reference, opts: &PullOptions) -> Result<PulledImage> {
    let start = Instant::now();
    let mut p = pull_inner(store, reference, opts).with_context(|| format!("pulling {reference}"))?;
    p.duration = start.elapsed();
    Ok(p)
}

fn pull_inner(store: &Store, reference: &Reference, opts: &PullOptions) -> Result<PulledImage> {
    let endpoints = hosts::endpoints(&opts.config_dir, reference.domain(), reference.registry_host())?;
    let client = Client::new(reference.domain(), reference.path(), endpoints, opts.auth.clone())?;
    let by_digest = reference.digest().is_some();
    let selector = reference.manifest_selector();

    // Resolve on the first endpoint that answers; an HTTP fallback only after a transport
    // failure of the HTTPS endpoint before it.
    let mut last_err: Option<anyhow::Error> = None;
    let mut found = None;
    for ep in &client.endpoints {
        if !(ep.endpoint.resolve || by_digest) {
            continue;
        }
        if ep.endpoint.fallback && !last_err.as_ref().is_some_and(|e| e.is::<Transport>()) {
            continue;
        }
        match client.manifest(ep, &selector) {
            Ok(m) => {
                found = Some((ep, m));
                break;
            }
            Err(e) => {
                log::debug!("{e:#}");
                last_err = Some(e);
            }
        }
    }
    let Some((ep, (bytes, ctype, top_digest))) = found else {
        return Err(last_err.unwrap_or_else(|| anyhow::anyhow!("no registry endpoint may resolve {selector}")));
    };

    let writer = store.writer()?;
    let mut docs: Vec<(Digest, Vec<u8>)> = vec![(top_digest, bytes.clone())];
    let (manifest, manifest_digest) =
        resolve_manifest(&client, ep, &opts.platform, bytes, ctype, top_digest, &mut docs)?;
    if manifest.layers.len() > MAX_LAYERS {
        bail!("the manifest lists {} layers, more than the {MAX_LAYERS} accepted", manifest.layers.len());
    }

    // The config.
    let cd = &manifest.config;
    let config_bytes = client.small_blob(ep, &cd.digest, cd.size, MAX_CONFIG_SIZE as u64)?;
    let config = ImageConfig::parse(&config_bytes).map_err(|e| anyhow::anyhow!("image config {}: {e}", cd.digest))?;
    let diff_ids: Vec<String> = config.rootfs.diff_ids.iter().map(|d| d.to_string()).collect();
    if diff_ids.len() != manifest.layers.len() {
        bail!("the manifest lists {} layers but the image config {} diff_ids", manifest.layers.len(), diff_ids.len());
    }
    let id = cd.digest.to_string();

    // The layers, in parallel.
    let chains = chain_ids(&diff_ids);
    let rows: Vec<(String, u64)> = manifest.layers.iter().map(|l| (l.digest.to_string(), l.size)).collect();
    let prog = progress::Progress::new(opts.progress, &rows);
    let next = AtomicUsize::new(0);
    let errors: Mutex<Vec<(usize, anyhow::Error)>> = Mutex::new(Vec::new());
    let finished = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..opts.parallel.clamp(1, 16).min(manifest.layers.len().max(1)))
            .map(|_| {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= manifest.layers.len() || prog.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let l = &manifest.layers[i];
                    let parent = i.checked_sub(1).map(|p| chains[p].as_str());
                    match fetch_layer(store, &writer, &client, ep, &prog, i, l, parent, &diff_ids[i], &chains[i]) {
                        Ok(()) => {}
                        Err(e) => {
                            prog.failed(i);
                            prog.stop.store(true, Ordering::SeqCst);
                            if let Ok(mut v) = errors.lock() {
                                v.push((i, e));
                            }
                        }
                    }
                })
            })
            .collect();
        if prog.mode() == progress::Mode::Terminal {
            s.spawn(|| {
                while !finished.load(Ordering::SeqCst) {
                    prog.draw();
                    std::thread::sleep(Duration::from_millis(200));
                }
                prog.draw();
            });
        }
        for w in workers {
            if w.join().is_err() {
                prog.stop.store(true, Ordering::SeqCst);
            }
        }
        finished.store(true, Ordering::SeqCst);
    });
    let mut errs = errors.into_inner().unwrap_or_default();
    if !errs.is_empty() {
        // The first failure, not a "cancelled" it caused.
        errs.sort_by_key(|(i, e)| (format!("{e:#}").contains("cancelled: another layer failed"), *i));
        let (i, e) = errs.swap_remove(0);
        return Err(e.context(format!("layer {} ({})", i + 1, manifest.layers[i].digest)));
    }

    // The small documents only once every layer is in: a failed pull leaves no blob.
    writer.put_blob(&id, Some(cd.size), &config_bytes[..])?;
    for (d, b) in &docs {
        writer.put_blob(&d.to_string(), Some(b.len() as u64), &b[..])?;
    }
    let size = cd.size + manifest.layers.iter().map(|l| l.size).sum::<u64>();
    let rec = ImageRecord {
        id: id.clone(),
        manifest_digest: Some(manifest_digest.to_string()),
        layers: chains,
        diff_ids,
        size,
        created: config.created.clone().unwrap_or_default(),
    };
    writer.commit_image(&rec)?;
    let name = reference.to_string();
    let repo_digest = reference.repo_digest(&top_digest);
    writer.tag(&name, &id, Some(&repo_digest))?;
    Ok(PulledImage {
        id,
        repo_digest,
        manifest_digest: manifest_digest.to_string(),
        name,
        size,
        duration: Duration::ZERO,
    })
}

/// `runp image pull`: pulls `reference` into the store at `image_dir` and returns the image
/// id. Progress goes to stderr unless `quiet`.
pub fn pull_command(
    image_dir: &std::path::Path,
    reference: &str,
    authfile: Option<&std::path::Path>,
    certs_dir: Option<&std::path::Path>,
    quiet: bool,
) -> Result<String> {
    let r = Reference::parse_normalized(reference).map_err(|e| anyhow::anyhow!("{}", e.kubelet_message(reference)))?;
    let opts = PullOptions {
        auth: AuthFile::discover(authfile)?,
        config_dir: hosts::config_dir(certs_dir),
        progress: if quiet { progress::Mode::Quiet } else { progress::Mode::auto() },
        ..PullOptions::default()
    };
    let store = Store::open(image_dir)?;
    let p = pull(&store, &r, &opts)?;
    if !quiet {
        eprintln!("pulled {} ({}) in {}, {}", p.name, p.repo_digest, go_duration(p.duration), progress::human(p.size));
    }
    Ok(p.id)
}

/// Follows indexes to the platform's manifest; every document read is added to `docs`.
fn resolve_manifest(
    client: &Client,
    ep: &Ep,
    matcher: &Matcher,
    mut bytes: Vec<u8>,
    mut ctype: Option<String>,
    mut digest: Digest,
    docs: &mut Vec<(Digest, Vec<u8>)>,
) -> Result<(Manifest, Digest)> {
    for _ in 0..=MAX_INDEX_DEPTH {
        match manifest::parse(&bytes, ctype.as_deref()).with_context(|| format!("manifest {digest}"))? {
            Parsed::Manifest(m, _) => return Ok((*m, digest)),
            Parsed::Index(idx, _) => {
                let d: &Descriptor = matcher.select(&idx.manifests).with_context(|| {
                    let have: Vec<String> = idx
                        .manifests
                        .iter()
                        .filter_map(|d| d.platform.as_ref().map(|p| p.display()))
                        .take(20)
                        .collect();
                    format!(
                        "index {digest} has no manifest for {} (it has: {})",
                        matcher.accepted().first().map(|p| p.display()).unwrap_or_default(),
                        have.join(", ")
                    )
                })?;
                let (b, _, got) = client.manifest(ep, &d.digest.to_string())?;
                if b.len() as u64 != d.size {
                    bail!("manifest {}: {} bytes where the index says {}", d.digest, b.len(), d.size);
                }
                docs.push((got, b.clone()));
                bytes = b;
                ctype = Some(d.media_type.clone());
                digest = got;
            }
        }
    }
    bail!("indexes nested more than {MAX_INDEX_DEPTH} deep")
}

#[allow(clippy::too_many_arguments)]
fn fetch_layer(
    store: &Store,
    writer: &super::store::Writer<'_>,
    client: &Client,
    ep: &Ep,
    prog: &progress::Progress,
    i: usize,
    l: &Descriptor,
    parent: Option<&str>,
    diff_id: &str,
    chain: &str,
) -> Result<()> {
    if store.layer(chain)?.is_some() {
        prog.present(i);
        return Ok(());
    }
    let digest = l.digest.to_string();
    let src = LayerSource { media_type: &l.media_type, blob_digest: Some(&digest), blob_size: Some(l.size), diff_id };
    // The request is made under the layer's lock: a concurrent pull of the same layer waits
    // for this one's unpack and downloads nothing.
    writer.put_layer_opening(parent, &src, || Ok(prog.reader(i, client.blob(ep, &l.digest)?.0)))?;
    prog.done(i);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let ms = Duration::from_millis;
        assert_eq!(go_duration(ms(0)), "0s");
        assert_eq!(go_duration(Duration::from_micros(350_900)), "350ms");
        assert_eq!(go_duration(ms(1200)), "1.2s");
        assert_eq!(go_duration(ms(1000)), "1s");
        assert_eq!(go_duration(ms(62_500)), "1m2.5s");
        assert_eq!(go_duration(ms(3_600_000)), "1h0m0s");
        assert_eq!(go_duration(ms(15_981)), "15.981s");
    }

    #[test]
    fn message() {
        let p = PulledImage { size: 2156038, duration: Duration::from_millis(1234), ..Default::default() };
        assert_eq!(
            pulled_message("busybox", &p, Duration::from_millis(1234)),
            "Successfully pulled image \"busybox\" in 1.234s (1.234s including waiting). Image size: 2156038 bytes."
        );
    }
}
