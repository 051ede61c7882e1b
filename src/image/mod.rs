//! Images: formats (digests, references, manifests, platforms, image configs, archives), the
//! layer unpacker, the content-addressed store and the overlay lowerdir of an image.
//!
//! - `digest`: sha256 digests and a verifying reader;
//! - `reference`: image references, normalized as docker/containerd/the kubelet do;
//! - `media`, `manifest`: OCI and Docker manifests and indexes;
//! - `platform`: the host platform and containerd's matcher (which index entry to run);
//! - `config`: the image config, the kubelet's command rule and env merge;
//! - `archive`: OCI layouts (dir or tar) and docker-archives, blobs verified as read;
//! - `unpack`: one layer tar into an overlay lower directory, safe against hostile tars;
//! - `store`: blobs, layers (unpacked once, shared), image records and names, with atomic
//!   commits, locks and prune;
//! - `rootfs`: the overlay lowerdir of an image within the kernel's limits.
//!
//! No `unsafe` here: system calls go through `crate::linux`.

#![forbid(unsafe_code)]

pub mod archive;
pub mod config;
pub mod digest;
pub mod manifest;
pub mod media;
pub mod platform;
pub mod reference;
pub mod registry;
pub mod rootfs;
pub mod store;
pub mod unpack;

#[cfg(test)]
mod testtar;
#[cfg(test)]
mod unpack_tests;
