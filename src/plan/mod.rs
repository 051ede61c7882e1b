//! What the kernel must be told, decided once from config.json (or, later, a Pod manifest).
//! Pure: no syscalls, no filesystem writes. Only `from_oci` names oci-spec types.
#![forbid(unsafe_code)]

pub mod caps;
pub mod container;
pub mod from_oci;
pub mod from_pod;
pub mod mounts;
pub mod resources;
pub mod seccomp;

pub use container::*;
