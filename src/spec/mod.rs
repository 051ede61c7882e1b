//! Input formats, parsed and checked. Pure: bytes in, typed values or errors naming the field out.
#![forbid(unsafe_code)]

pub mod field_error;
pub mod oci;
pub mod pod;
pub mod quantity;
pub mod signal;
pub mod user;
