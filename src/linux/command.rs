//! Host-side helper processes (OCI hooks): std::process::Command with a clean signal state.

use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// A Command whose child starts with an empty signal mask and default dispositions. The only
/// `pre_exec` of the crate: Rust ignores SIGPIPE, and a supervisor blocks signals it reads
/// through signalfd; neither may leak into a hook.
///
/// `namespaces` (fd, CLONE_NEW* type), if any, are joined before exec, so the program runs
/// (and its path resolves) inside a container: OCI createContainer and startContainer hooks.
/// The fds must stay open until the command has been spawned.
pub fn clean_command(program: &str, namespaces: &[(RawFd, libc::c_int)]) -> Command {
    let mut cmd = Command::new(program);
    let ns: Vec<(RawFd, libc::c_int)> = namespaces.to_vec();
    // SAFETY: the closure only makes async-signal-safe calls on data allocated before fork.
    unsafe {
        cmd.pre_exec(move || {
            for (fd, nstype) in &ns {
                if libc::setns(*fd, *nstype) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            super::sys::reset_signals();
            // Its own process group, so a timeout kills the hook and everything it started.
            libc::setpgid(0, 0);
            Ok(())
        });
    }
    cmd
}
