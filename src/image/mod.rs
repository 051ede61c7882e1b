//! Image formats: digests, references, manifests, platforms, image configs and archives.
//!
//! - `digest`: sha256 digests and a verifying reader;
//! - `reference`: image references, normalized as docker/containerd/the kubelet do;
//! - `media`, `manifest`: OCI and Docker manifests and indexes;
//! - `platform`: the host platform and containerd's matcher (which index entry to run);
//! - `config`: the image config, the kubelet's command rule and env merge;
//! - `archive`: OCI layouts (dir or tar) and docker-archives, blobs verified as read.
//!
//! Pure parsing and decisions, no system calls and no network: the registry client and the
//! layer store build on these. Readers that take a path (`archive`) are the only file access.

#![forbid(unsafe_code)]

pub mod archive;
pub mod config;
pub mod digest;
pub mod manifest;
pub mod media;
pub mod platform;
pub mod reference;
