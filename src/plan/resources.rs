//! Cgroup resource limits of one container (OCI `linux.resources`), and the pure conversions
//! from the OCI (cgroup v1 flavoured) values to cgroup v2 file contents.
//! No syscalls here: `linux::cgroup` does the writing.

use std::fmt;

/// Resource limits; `None` (or an empty Vec) leaves the kernel default alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CgroupResources {
    /// Bytes; -1 = unlimited.
    pub memory_limit: Option<i64>,
    /// Soft limit in bytes (v1 memory.soft_limit_in_bytes, v2 memory.low).
    pub memory_reservation: Option<i64>,
    /// OCI semantics: memory+swap total (v1 memsw); -1 = unlimited.
    pub memory_swap: Option<i64>,
    pub memory_swappiness: Option<u64>,
    pub disable_oom_killer: Option<bool>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpu_rt_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// <= 0 means max.
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
    /// (page size as the kernel names it, e.g. "2MB", limit in bytes).
    pub hugepage_limits: Vec<(String, u64)>,
    /// Applied in order, like OCI linux.resources.devices.
    pub devices: Vec<DeviceRule>,
    /// OCI linux.resources.unified: file name -> content (v2 only).
    pub unified: Vec<(String, String)>,
}

/// One device cgroup rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceRule {
    pub allow: bool,
    /// 'a' (all), 'c' (char) or 'b' (block).
    pub kind: char,
    /// None = any (`*`).
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// Subset of "rwm"; empty means "rwm" (OCI: access omitted = all).
    pub access: String,
}

/// A resource value the kernel would reject or that would be unsafe to use in a file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("invalid device rule {0}: {1}")]
    Device(String, &'static str),
    #[error("invalid hugepage size {0:?}: expected digits followed by KB, MB or GB")]
    HugepageSize(String),
    #[error("invalid unified cgroup key {0:?}: {1}")]
    UnifiedKey(String, &'static str),
    #[error("memory swap {swap} with memory limit {limit:?}: {reason}")]
    Swap { swap: i64, limit: Option<i64>, reason: &'static str },
}

impl DeviceRule {
    fn access_or_all(&self) -> &str {
        if self.access.is_empty() {
            "rwm"
        } else {
            &self.access
        }
    }

    /// The line devices.allow / devices.deny expect, e.g. `c 1:3 rwm` or `a *:* rwm`.
    pub fn to_v1_line(&self) -> String {
        let num = |n: Option<i64>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        format!("{} {}:{} {}", self.kind, num(self.major), num(self.minor), self.access_or_all())
    }

    /// True for "deny everything" (what a rule list normally starts with).
    pub fn is_deny_all(&self) -> bool {
        !self.allow && self.kind == 'a'
    }

    pub fn validate(&self) -> Result<(), ResourceError> {
        let bad = |why| Err(ResourceError::Device(self.to_v1_line(), why));
        if !matches!(self.kind, 'a' | 'c' | 'b') {
            return bad("type must be a, c or b");
        }
        if self.major.is_some_and(|n| n < 0) || self.minor.is_some_and(|n| n < 0) {
            return bad("negative major/minor");
        }
        if !self.access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
            return bad("access must be a subset of rwm");
        }
        // The v1 kernel ignores the access of an `a` rule: "a r" would act as "a rwm".
        if self.kind == 'a' && !"rwm".chars().all(|c| self.access_or_all().contains(c)) {
            return bad("an all-devices rule must have access rwm");
        }
        Ok(())
    }
}

impl fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", if self.allow { "allow" } else { "deny" }, self.to_v1_line())
    }
}

/// runc's default device rules: deny all, then allow the devices every container gets.
///
/// `m` on `c *:*` and `b *:*` lets the container mknod any device node (e.g. when unpacking
/// an image): creating a node grants no access, reads and writes stay denied by the rules.
/// 136:* is /dev/pts/*, 5:2 /dev/ptmx (devpts), 5:1 /dev/console, 5:0 /dev/tty,
/// 1:3 null, 1:5 zero, 1:7 full, 1:8 random, 1:9 urandom.
pub fn default_device_rules() -> Vec<DeviceRule> {
    let rule =
        |allow, kind, major, minor, access: &str| DeviceRule { allow, kind, major, minor, access: access.to_string() };
    let mut rules =
        vec![rule(false, 'a', None, None, "rwm"), rule(true, 'c', None, None, "m"), rule(true, 'b', None, None, "m")];
    for (major, minor) in [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2)] {
        rules.push(rule(true, 'c', Some(major), Some(minor), "rwm"));
    }
    rules.push(rule(true, 'c', Some(136), None, "rwm"));
    rules
}

/// Checks a hugepage size like "2MB" or "1GB": it becomes part of a file name.
pub fn validate_hugepage_size(size: &str) -> Result<(), ResourceError> {
    let digits = size.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &size[digits.len()..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(unit, "KB" | "MB" | "GB") {
        return Err(ResourceError::HugepageSize(size.to_string()));
    }
    Ok(())
}

/// Files in `unified` are written into the container's cgroup directory: plain names only,
/// and never the files the runtime itself drives (moving processes, freezing, killing).
pub fn validate_unified_key(key: &str) -> Result<(), ResourceError> {
    let bad = |why| Err(ResourceError::UnifiedKey(key.to_string(), why));
    if key.is_empty() || key.contains('/') || key.contains('\0') || key.starts_with('.') {
        return bad("must be a plain file name");
    }
    const OWNED: [&str; 6] =
        ["cgroup.procs", "cgroup.threads", "cgroup.kill", "cgroup.freeze", "cgroup.subtree_control", "cgroup.type"];
    if OWNED.contains(&key) {
        return bad("managed by the runtime");
    }
    if !key.contains('.') {
        return bad("must be <controller>.<file>");
    }
    Ok(())
}

impl CgroupResources {
    /// Checks everything that is not the kernel's business to reject.
    pub fn validate(&self) -> Result<(), ResourceError> {
        for d in &self.devices {
            d.validate()?;
        }
        for (size, _) in &self.hugepage_limits {
            validate_hugepage_size(size)?;
        }
        for (key, _) in &self.unified {
            validate_unified_key(key)?;
        }
        Ok(())
    }
}

/// cpu.shares (v1, 2..=262144, default 1024) -> cpu.weight (v2, 1..=10000, default 100),
/// runc's linear mapping. 0 = unset.
pub fn cpu_weight_from_shares(shares: u64) -> Option<u64> {
    if shares == 0 {
        return None;
    }
    let shares = shares.clamp(2, 262_144);
    Some(1 + ((shares - 2) * 9999) / 262_142)
}

/// cfs quota/period -> cpu.max content "$MAX $PERIOD"; None when neither is set.
/// A quota <= 0 means no limit; the period defaults to the kernel's 100000 us.
pub fn cpu_max(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    if quota.is_none() && period.is_none() {
        return None;
    }
    let max = match quota {
        Some(q) if q > 0 => q.to_string(),
        _ => "max".to_string(),
    };
    let period = period.filter(|&p| p != 0).unwrap_or(100_000);
    Some(format!("{max} {period}"))
}

/// OCI memory.swap (memory+swap, v1 memsw) -> v2 memory.swap.max (swap alone).
/// Mirrors runc: swap unset with memory -1 means "both unlimited"; swap 0 means unset.
pub fn memory_swap_max(swap: Option<i64>, limit: Option<i64>) -> Result<Option<String>, ResourceError> {
    let err = |swap, reason| Err(ResourceError::Swap { swap, limit, reason });
    match swap {
        None | Some(0) => Ok((limit == Some(-1)).then(|| "max".to_string())),
        Some(-1) => Ok(Some("max".to_string())),
        Some(s) if s < 0 => err(s, "negative swap limit"),
        Some(s) => match limit {
            None | Some(-1) => err(s, "a swap limit needs a memory limit"),
            Some(l) if l < 0 => err(s, "invalid memory limit"),
            Some(l) if s < l => err(s, "memory+swap must be >= memory"),
            Some(l) => Ok(Some((s - l).to_string())),
        },
    }
}

/// blkio.weight (v1, 10..=1000) -> io.weight (v2, 1..=10000), runc's mapping. 0 = unset.
pub fn io_weight_from_blkio(weight: u16) -> Option<u64> {
    if weight == 0 {
        return None;
    }
    let w = u64::from(weight.clamp(10, 1000));
    Some(1 + (w - 10) * 9999 / 990)
}

/// v2 content for a byte/count limit: negative = "max".
pub fn v2_limit(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}

/// pids.max content (v1 and v2): <= 0 = "max".
pub fn pids_max(limit: i64) -> String {
    if limit <= 0 {
        "max".to_string()
    } else {
        limit.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_lines() {
        let rules = default_device_rules();
        let lines: Vec<String> = rules.iter().map(DeviceRule::to_v1_line).collect();
        assert_eq!(lines[0], "a *:* rwm");
        assert!(rules[0].is_deny_all());
        assert_eq!(lines[1], "c *:* m");
        assert_eq!(lines[2], "b *:* m");
        assert!(lines.contains(&"c 1:3 rwm".to_string()));
        assert!(lines.contains(&"c 5:2 rwm".to_string()));
        assert_eq!(lines.last().map(String::as_str), Some("c 136:* rwm"));
        assert!(rules[1..].iter().all(|r| r.allow));
        for r in &rules {
            r.validate().unwrap();
        }
        let empty = DeviceRule { allow: false, kind: 'a', major: None, minor: None, access: String::new() };
        assert_eq!(empty.to_v1_line(), "a *:* rwm");
        assert_eq!(empty.to_string(), "deny a *:* rwm");
    }

    #[test]
    fn device_validation() {
        let r = |kind, major, access: &str| DeviceRule { allow: true, kind, major, minor: None, access: access.into() };
        assert!(r('x', None, "rwm").validate().is_err());
        assert!(r('c', Some(-1), "rwm").validate().is_err());
        assert!(r('c', Some(1), "rwx").validate().is_err());
        assert!(r('a', None, "r").validate().is_err());
        assert!(r('b', Some(8), "r").validate().is_ok());
    }

    #[test]
    fn cpu_weight() {
        assert_eq!(cpu_weight_from_shares(0), None);
        assert_eq!(cpu_weight_from_shares(2), Some(1));
        assert_eq!(cpu_weight_from_shares(1), Some(1));
        assert_eq!(cpu_weight_from_shares(1024), Some(39));
        assert_eq!(cpu_weight_from_shares(512), Some(20));
        assert_eq!(cpu_weight_from_shares(262_144), Some(10_000));
        assert_eq!(cpu_weight_from_shares(u64::MAX), Some(10_000));
    }

    #[test]
    fn cpu_max_content() {
        assert_eq!(cpu_max(None, None), None);
        assert_eq!(cpu_max(Some(50_000), None).as_deref(), Some("50000 100000"));
        assert_eq!(cpu_max(Some(20_000), Some(50_000)).as_deref(), Some("20000 50000"));
        assert_eq!(cpu_max(Some(-1), None).as_deref(), Some("max 100000"));
        assert_eq!(cpu_max(Some(0), Some(0)).as_deref(), Some("max 100000"));
        assert_eq!(cpu_max(None, Some(10_000)).as_deref(), Some("max 10000"));
    }

    #[test]
    fn swap() {
        let mib = 1 << 20;
        assert_eq!(memory_swap_max(None, None), Ok(None));
        assert_eq!(memory_swap_max(None, Some(64 * mib)), Ok(None));
        assert_eq!(memory_swap_max(None, Some(-1)), Ok(Some("max".into())));
        assert_eq!(memory_swap_max(Some(0), Some(64 * mib)), Ok(None));
        assert_eq!(memory_swap_max(Some(-1), Some(64 * mib)), Ok(Some("max".into())));
        assert_eq!(memory_swap_max(Some(128 * mib), Some(64 * mib)), Ok(Some((64 * mib).to_string())));
        assert_eq!(memory_swap_max(Some(64 * mib), Some(64 * mib)), Ok(Some("0".into())));
        assert!(memory_swap_max(Some(32 * mib), Some(64 * mib)).is_err());
        assert!(memory_swap_max(Some(64 * mib), None).is_err());
        assert!(memory_swap_max(Some(64 * mib), Some(-1)).is_err());
        assert!(memory_swap_max(Some(-2), Some(64 * mib)).is_err());
    }

    #[test]
    fn io_weight() {
        assert_eq!(io_weight_from_blkio(0), None);
        assert_eq!(io_weight_from_blkio(10), Some(1));
        assert_eq!(io_weight_from_blkio(1000), Some(10_000));
        assert_eq!(io_weight_from_blkio(500), Some(1 + 490 * 9999 / 990));
        assert_eq!(io_weight_from_blkio(1), Some(1));
    }

    #[test]
    fn limits() {
        assert_eq!(v2_limit(-1), "max");
        assert_eq!(v2_limit(4096), "4096");
        assert_eq!(pids_max(0), "max");
        assert_eq!(pids_max(-1), "max");
        assert_eq!(pids_max(100), "100");
    }

    #[test]
    fn names() {
        assert!(validate_hugepage_size("2MB").is_ok());
        assert!(validate_hugepage_size("1GB").is_ok());
        assert!(validate_hugepage_size("64KB").is_ok());
        for bad in ["", "MB", "2", "2mb", "../2MB", "2MB/x", "2 MB"] {
            assert!(validate_hugepage_size(bad).is_err(), "{bad}");
        }
        assert!(validate_unified_key("memory.high").is_ok());
        assert!(validate_unified_key("cgroup.max.depth").is_ok());
        for bad in ["", "cgroup.procs", "../memory.max", "a/b", ".hidden", "nodot", "cgroup.kill"] {
            assert!(validate_unified_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_round_trip() {
        let r = CgroupResources {
            memory_limit: Some(1 << 26),
            devices: default_device_rules(),
            hugepage_limits: vec![("2MB".into(), 1 << 21)],
            unified: vec![("memory.high".into(), "max".into())],
            ..Default::default()
        };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<CgroupResources>(&s).unwrap(), r);
    }
}
