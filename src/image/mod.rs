//! Images: the layer unpacker, the content-addressed store and the overlay lowerdir of an
//! image (issue 9, point 3). No `unsafe` here: system calls go through `crate::linux`.
#![forbid(unsafe_code)]

pub mod rootfs;
pub mod store;
pub mod unpack;

#[cfg(test)]
mod testtar;
#[cfg(test)]
mod unpack_tests;
