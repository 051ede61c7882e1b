//! Kernel interfaces: the only place where `unsafe` lives. Knows nothing of containers ids,
//! state directories or pods.

pub mod cgroup;
mod cgroup_fs;
pub mod cgroup_v1;
pub mod cgroup_v2;
pub mod child_args;
pub mod command;
pub mod console;
pub mod dirfd;
pub mod exeseal;
pub mod fs;
pub mod mounts;
pub mod node;
pub mod ns;
pub mod pause;
pub mod process;
pub mod seccomp;
pub mod spawn;
pub mod sync;
pub mod sys;

mod child;
mod child_rootfs;

#[cfg(test)]
mod seccomp_tests;
