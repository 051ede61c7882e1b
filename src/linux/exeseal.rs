//! CVE-2019-5736: a container whose entrypoint is `#!/proc/self/exe` makes the kernel run
//! *runp's own binary* inside the container; another container process can then open it
//! through /proc/<pid>/exe and, once it exits, overwrite the host's runp.
//!
//! Defence (runc 1.2's): before doing anything that puts a process into a container, runp
//! re-executes itself from a read-only view of its binary: an overlayfs whose only layer is
//! the binary's directory, detached (`MNT_DETACH`) right after the binary was opened. Every
//! process forked from runp then has an exe on a read-only, unreachable mount: writes fail
//! with EROFS. Unlike a memfd copy it costs no memory (the page cache is shared) and takes
//! one exec. If the kernel refuses the overlay, a sealed memfd copy is the fallback.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// Whether our binary already is a read-only copy: a read-only overlayfs mount, or a memfd
/// sealed against writes. Asked of the kernel, never of the environment: an environment flag
/// would be inherited by whatever runp starts (hooks), and a runp started from there would
/// then skip the defence.
fn running_sealed() -> bool {
    const OVERLAYFS_SUPER_MAGIC: libc::c_long = 0x794c_7630;
    let Ok(f) = std::fs::File::open("/proc/self/exe") else { return false };
    // SAFETY: fstatfs/fstatvfs into zeroed structs on our stack, on an fd we own.
    let (mut fs, mut vfs): (libc::statfs, libc::statvfs) = unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
    // SAFETY: as above.
    let stat_ok = unsafe { libc::fstatfs(f.as_raw_fd(), &mut fs) == 0 && libc::fstatvfs(f.as_raw_fd(), &mut vfs) == 0 };
    if stat_ok && fs.f_type as libc::c_long == OVERLAYFS_SUPER_MAGIC && vfs.f_flag & libc::ST_RDONLY != 0 {
        return true;
    }
    let want = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on an fd we own; fails with EINVAL on files that are not memfds.
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & want == want
}

fn ro_overlay_exe(exe: &std::path::Path) -> std::io::Result<OwnedFd> {
    let dir = exe.parent().ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let name = exe.file_name().ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let mnt = std::path::PathBuf::from(format!("/run/runp-exe.{}", std::process::id()));
    // Without an upper layer overlayfs wants two lower ones: the binary's dir and an empty one.
    let empty = std::path::PathBuf::from(format!("/run/runp-exe.{}.empty", std::process::id()));
    std::fs::create_dir_all(&mnt)?;
    std::fs::create_dir_all(&empty)?;
    let data = format!("lowerdir={}:{}", dir.display(), empty.display());
    let mounted = nix::mount::mount(
        Some("runp-exe"),
        &mnt,
        Some("overlay"),
        nix::mount::MsFlags::MS_RDONLY | nix::mount::MsFlags::MS_NODEV | nix::mount::MsFlags::MS_NOSUID,
        Some(data.as_str()),
    );
    let result = mounted.map_err(std::io::Error::from).and_then(|()| {
        let f = std::fs::File::open(mnt.join(name));
        // Detached at once: nothing stays in the mount table, the open file keeps it alive.
        let _ = nix::mount::umount2(&mnt, nix::mount::MntFlags::MNT_DETACH);
        f.map(OwnedFd::from)
    });
    let _ = std::fs::remove_dir(&mnt);
    let _ = std::fs::remove_dir(&empty);
    result
}

fn sealed_memfd_exe(exe: &std::path::Path) -> std::io::Result<OwnedFd> {
    let mut src = std::fs::File::open(exe)?;
    // SAFETY: memfd_create with a constant name.
    let fd = unsafe { libc::memfd_create(c"runp".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new fd we own.
    let mut dst = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    std::io::copy(&mut src, &mut dst)?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on our own fd.
    if unsafe { libc::fcntl(dst.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(dst.into())
}

/// Re-executes runp from a read-only copy of itself unless it already is one. Returns only
/// when that was not possible (runp then goes on unsealed, with a warning).
pub fn reexec_sealed() {
    if running_sealed() {
        return;
    }
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else { return };
    let fd = match ro_overlay_exe(&exe).or_else(|_| sealed_memfd_exe(&exe)) {
        Ok(fd) => fd,
        Err(e) => {
            log::warn!("cannot re-execute from a read-only copy of {}: {e}", exe.display());
            return;
        }
    };
    let args: Vec<CString> = std::env::args_os().filter_map(|a| CString::new(a.as_bytes()).ok()).collect();
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| CString::new([k.as_bytes(), b"=", v.as_bytes()].concat()).ok())
        .collect();
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: argv/envp are NULL-terminated arrays of C strings that outlive the call;
    // execveat only returns on failure.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    log::warn!("re-executing runp from a read-only copy failed: {}", std::io::Error::last_os_error());
}
