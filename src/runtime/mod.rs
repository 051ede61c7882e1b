//! The OCI container lifecycle, one file per verb. Uses plan/ and linux/; knows state dirs.
#![forbid(unsafe_code)]

pub mod child_setup;
pub mod create;
pub mod delete;
pub mod exec;
mod foreground;
pub mod hooks;
pub mod kill;
pub mod query;
pub mod run;
pub mod start;
pub mod state;
mod tty;
