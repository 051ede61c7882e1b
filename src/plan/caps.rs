//! Capability names → bit masks.

use anyhow::{anyhow, Result};
use std::str::FromStr;

/// The highest capability the running kernel knows (from /proc/sys/kernel/cap_last_cap).
pub fn last_cap() -> u8 {
    static LAST: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(40)
    })
}

/// Every capability runp itself may grant (its own bounding set): what `privileged: true` and
/// `add: [ALL]` give, as containerd's CRI gives privileged containers the capabilities of the
/// runtime. Not every capability the kernel knows: a host (or an outer container) may have
/// dropped some, and asking for those fails the start.
pub fn all_available() -> u64 {
    static ALL: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let known = u64::MAX >> (63 - u32::from(last_cap()));
    known
        & *ALL.get_or_init(|| {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            status
                .lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                .unwrap_or(u64::MAX)
        })
}

/// Converts names like `CAP_KILL` (or `KILL`) to a mask. Names the kernel does not know are
/// dropped with a warning, as runc does; names nobody knows are errors naming `field`.
pub fn mask<'a>(names: impl IntoIterator<Item = &'a str>, field: &str) -> Result<u64> {
    let last = last_cap();
    let mut m = 0u64;
    for name in names {
        let upper = name.to_ascii_uppercase();
        let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
        let cap = caps::Capability::from_str(&full).map_err(|_| anyhow!("{field}: unknown capability {name:?}"))?;
        if cap.index() > last {
            log::warn!("{field}: capability {full} is not known to this kernel; ignored");
            continue;
        }
        m |= cap.bitmask();
    }
    Ok(m)
}

/// Capability names of a mask, for `features` and error messages.
pub fn names(mask: u64) -> Vec<String> {
    caps::all().into_iter().filter(|c| mask & c.bitmask() != 0).map(|c| c.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_default_mask() {
        let docker = [
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FSETID",
            "CAP_FOWNER",
            "CAP_MKNOD",
            "CAP_NET_RAW",
            "CAP_SETGID",
            "CAP_SETUID",
            "CAP_SETFCAP",
            "CAP_SETPCAP",
            "CAP_NET_BIND_SERVICE",
            "CAP_SYS_CHROOT",
            "CAP_KILL",
            "CAP_AUDIT_WRITE",
        ];
        assert_eq!(mask(docker, "caps").unwrap(), 0xa80425fb);
        assert_eq!(mask(["kill"], "caps").unwrap(), 1 << 5);
        assert!(mask(["CAP_NOPE"], "process.capabilities.bounding")
            .unwrap_err()
            .to_string()
            .contains("process.capabilities.bounding"));
    }
}
