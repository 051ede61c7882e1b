//! Input formats, parsed and checked. Pure: bytes in, typed values or errors naming the field out.
#![forbid(unsafe_code)]

pub mod oci;
pub mod signal;
pub mod user;
