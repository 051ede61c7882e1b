//! Loading a seccomp filter compiled by `plan::seccomp` (in a child between clone and execve,
//! and in pause). Everything here stays async-signal-safe: no allocation, no locks, no logging,
//! no panics.

use crate::plan::seccomp::BpfProgram;

/// Installs `prog` on the calling thread (all threads with
/// `SECCOMP_FILTER_FLAG_TSYNC`) with `seccomp(SECCOMP_SET_MODE_FILTER)`.
///
/// Async-signal-safe: does not allocate, lock or log; the `sock_fprog` lives
/// on the stack and points into `prog.filters`. Returns the errno on failure
/// (`EACCES` when neither `no_new_privs` is set nor `CAP_SYS_ADMIN` is held,
/// `EINVAL` for an empty or over-long program, `ESRCH` when TSYNC could not
/// synchronise another thread).
///
/// # Safety
///
/// After a successful call every later system call of this thread (and of its
/// descendants) is filtered: operations the surrounding Rust code relies on
/// (allocation via `mmap`/`brk`, futexes, writes to a status pipe, `execve`)
/// may start failing or may kill the process. Call it only as the last step
/// before `execve` in a freshly cloned child, with a program produced by
/// `plan::seccomp::compile`.
///
/// # Errors
///
/// The errno of the failed `seccomp` system call, as described above.
pub unsafe fn load(prog: &BpfProgram) -> Result<(), i32> {
    let len = match u16::try_from(prog.filters.len()) {
        Ok(len) if len > 0 => len,
        _ => return Err(libc::EINVAL),
    };
    let fprog = libc::sock_fprog {
        len,
        // The kernel only reads the instructions; the `*mut` is an artefact
        // of the C declaration.
        filter: prog.filters.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` is a valid `sock_fprog` on our stack whose `filter`
    // points to `len` initialised `sock_filter`s owned by `prog`, and both
    // outlive the call; the kernel copies the program before returning and
    // never writes through the pointer.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::c_ulong::from(libc::SECCOMP_SET_MODE_FILTER),
            libc::c_ulong::from(prog.flags),
            &raw const fprog,
        )
    };
    match rc {
        0 => Ok(()),
        // With SECCOMP_FILTER_FLAG_TSYNC the kernel returns the id of the
        // thread that could not be synchronised.
        rc if rc > 0 => Err(libc::ESRCH),
        // Reading errno does not allocate.
        _ => Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EINVAL)),
    }
}
