//! Image formats: digests, references, manifests, platforms, image configs and archives.
//!
//! Pure parsing and decisions, no system calls and no network: the registry client and the
//! layer store build on these. Readers that take a path (`archive`) are the only file access.

#![forbid(unsafe_code)]

pub mod config;
pub mod digest;
pub mod manifest;
pub mod media;
pub mod platform;
pub mod reference;
