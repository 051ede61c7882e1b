//! Input formats, parsed and checked. Pure: bytes in, typed values or errors naming the field out.
#![forbid(unsafe_code)]

pub mod field_error;
pub mod oci;
pub mod pod;
pub mod pod_defaults;
mod pod_enums;
pub mod pod_env;
mod pod_parse;
mod pod_security;
#[cfg(test)]
mod pod_tests;
pub mod pod_validate;
mod pod_volume;
pub mod quantity;
pub mod signal;
pub mod user;
