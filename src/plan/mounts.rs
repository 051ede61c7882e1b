//! Mount option strings → MS_* flags, propagation and fs data (runc's parseMountOptions).

use anyhow::{bail, Result};
use libc::c_ulong;

/// Flags an option sets (`true`) or clears (`false`).
fn flag_option(opt: &str) -> Option<(bool, c_ulong)> {
    Some(match opt {
        "defaults" => (false, 0),
        "ro" => (true, libc::MS_RDONLY),
        "rw" => (false, libc::MS_RDONLY),
        "suid" => (false, libc::MS_NOSUID),
        "nosuid" => (true, libc::MS_NOSUID),
        "dev" => (false, libc::MS_NODEV),
        "nodev" => (true, libc::MS_NODEV),
        "exec" => (false, libc::MS_NOEXEC),
        "noexec" => (true, libc::MS_NOEXEC),
        "sync" => (true, libc::MS_SYNCHRONOUS),
        "async" => (false, libc::MS_SYNCHRONOUS),
        "dirsync" => (true, libc::MS_DIRSYNC),
        "remount" => (true, libc::MS_REMOUNT),
        "mand" => (true, libc::MS_MANDLOCK),
        "nomand" => (false, libc::MS_MANDLOCK),
        "atime" => (false, libc::MS_NOATIME),
        "noatime" => (true, libc::MS_NOATIME),
        "diratime" => (false, libc::MS_NODIRATIME),
        "nodiratime" => (true, libc::MS_NODIRATIME),
        "relatime" => (true, libc::MS_RELATIME),
        "norelatime" => (false, libc::MS_RELATIME),
        "strictatime" => (true, libc::MS_STRICTATIME),
        "nostrictatime" => (false, libc::MS_STRICTATIME),
        "lazytime" => (true, libc::MS_LAZYTIME),
        "nolazytime" => (false, libc::MS_LAZYTIME),
        "silent" => (true, libc::MS_SILENT),
        "loud" => (false, libc::MS_SILENT),
        _ => return None,
    })
}

fn propagation_option(opt: &str) -> Option<c_ulong> {
    Some(match opt {
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return None,
    })
}

/// Parsed mount options.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: u64,
    pub propagation: Vec<u64>,
    pub bind: bool,
    pub recursive_bind: bool,
    pub data: String,
}

/// Parses an OCI `options` list. Unknown options are passed to the filesystem as data, as runc does.
pub fn parse_options(options: &[String]) -> Result<MountOptions> {
    let mut out = MountOptions::default();
    let mut data: Vec<&str> = Vec::new();
    for opt in options {
        let opt = opt.as_str();
        match opt {
            "bind" => out.bind = true,
            "rbind" => {
                out.bind = true;
                out.recursive_bind = true;
            }
            "idmap" | "ridmap" | "rro" | "rrw" | "rnosuid" | "rnodev" | "rnoexec" | "tmpcopyup" => {
                bail!("mount option {opt:?} is not supported by runp yet")
            }
            _ => {
                if let Some((set, f)) = flag_option(opt) {
                    if set {
                        out.flags |= f;
                    } else {
                        out.flags &= !f;
                    }
                } else if let Some(p) = propagation_option(opt) {
                    out.propagation.push(p);
                } else {
                    data.push(opt);
                }
            }
        }
    }
    out.data = data.join(",");
    Ok(out)
}

/// Parses `linux.rootfsPropagation`.
pub fn parse_rootfs_propagation(s: &str) -> Result<u64> {
    match propagation_option(s) {
        Some(p) => Ok(p),
        None => bail!("invalid propagation {s:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> MountOptions {
        parse_options(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn flags_propagation_and_data() {
        let o = opts(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, libc::MS_NOSUID | libc::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        let o = opts(&["rbind", "ro", "rslave"]);
        assert!(o.bind && o.recursive_bind);
        assert_eq!(o.flags, libc::MS_RDONLY);
        assert_eq!(o.propagation, vec![libc::MS_SLAVE | libc::MS_REC]);
        assert_eq!(opts(&["ro", "rw"]).flags, 0);
        assert!(parse_options(&["idmap".to_string()]).is_err());
    }
}
