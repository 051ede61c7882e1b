//! Container cgroups: detection of the host layout, path resolution, and a [`Cgroup`] value
//! (stored in state.json) that creates, limits, freezes, kills and removes the container's
//! cgroup on v1 or v2.
//!
//! Expects its siblings in `src/linux/mod.rs`:
//! `mod cgroup_fs; mod cgroup_v1; mod cgroup_v2; pub mod cgroup;`

use crate::plan::resources::CgroupResources;
use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};

pub use super::cgroup_v1::{V1Cgroup, V1Dir};
pub use super::cgroup_v2::V2Cgroup;

/// One mounted cgroup v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hierarchy {
    /// E.g. ["cpu", "cpuacct"] or ["name=systemd"].
    pub controllers: Vec<String>,
    pub mountpoint: PathBuf,
    /// The cgroup shown at `mountpoint` (mountinfo's root field, "/" unless bind-mounted).
    pub root: String,
}

/// How the host mounts cgroups.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Layout {
    /// Legacy or hybrid: one hierarchy per controller group. A cgroup2 mount beside them
    /// (systemd's /sys/fs/cgroup/unified) is ignored.
    V1 { hierarchies: Vec<Hierarchy> },
    /// Unified hierarchy only.
    V2 { mountpoint: PathBuf },
}

/// The v1 controllers the kernel knows; other mount options (rw, xattr, ...) are not controllers.
const V1_CONTROLLERS: &[&str] = &[
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "debug",
    "devices",
    "freezer",
    "hugetlb",
    "memory",
    "misc",
    "net_cls",
    "net_prio",
    "perf_event",
    "pids",
    "rdma",
];

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(field: &str) -> Vec<u8> {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b.get(i + 1..i + 4).filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], oct) {
            (b'\\', Some(d)) => {
                out.push(d.iter().fold(0u8, |acc, c| acc.wrapping_mul(8).wrapping_add(c - b'0')));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Reads the layout from the text of /proc/self/mountinfo.
pub fn parse_mountinfo(text: &str) -> Result<Layout> {
    let mut hierarchies: Vec<Hierarchy> = Vec::new();
    let mut v2: Option<PathBuf> = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        // 6 fixed fields, optional fields, "-", fstype, source, super options.
        let Some(sep) = fields.iter().skip(6).position(|f| *f == "-").map(|p| p + 6) else { continue };
        let (Some(root), Some(mnt), Some(fstype), Some(opts)) =
            (fields.get(3), fields.get(4), fields.get(sep + 1), fields.get(sep + 3))
        else {
            continue;
        };
        let mountpoint = PathBuf::from(OsString::from_vec(unescape(mnt)));
        match *fstype {
            "cgroup2" => {
                v2.get_or_insert(mountpoint);
            }
            "cgroup" => {
                let mut controllers: Vec<String> = opts
                    .split(',')
                    .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                    .map(String::from)
                    .collect();
                controllers.sort();
                // The same hierarchy may be mounted twice (bind mounts): keep the first.
                if controllers.is_empty() || hierarchies.iter().any(|h| h.controllers == controllers) {
                    continue;
                }
                let root = String::from_utf8_lossy(&unescape(root)).into_owned();
                hierarchies.push(Hierarchy { controllers, mountpoint, root });
            }
            _ => {}
        }
    }
    // Hybrid hosts keep the controllers on v1; a name=systemd-only v1 mount next to
    // cgroup2 (old containers on a v2 host) is not enough to make it v1.
    let has_v1_controller = hierarchies.iter().any(|h| h.controllers.iter().any(|c| !c.starts_with("name=")));
    match v2 {
        _ if has_v1_controller => Ok(Layout::V1 { hierarchies }),
        Some(mountpoint) => Ok(Layout::V2 { mountpoint }),
        None => bail!("no cgroup controllers are mounted (no cgroup or cgroup2 entry in mountinfo)"),
    }
}

/// The layout of this host, from /proc/self/mountinfo.
pub fn detect_host() -> Result<Layout> {
    let path = "/proc/self/mountinfo";
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    parse_mountinfo(&text).with_context(|| format!("parsing {path}"))
}

/// Checks a cgroupsPath and splits it: (absolute?, components). Empty components collapse;
/// `.` and `..` are refused so the path cannot climb out of its hierarchy.
pub fn parse_cgroups_path(path: &str) -> Result<(bool, Vec<&str>)> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    if let Some(bad) = comps.iter().find(|c| **c == "." || **c == ".." || c.contains('\0')) {
        bail!("invalid cgroupsPath {path:?}: component {bad:?} is not allowed");
    }
    // Zero components would be the hierarchy root or our own cgroup: never the container's.
    if comps.is_empty() {
        bail!("invalid cgroupsPath {path:?}: it names no cgroup");
    }
    Ok((path.starts_with('/'), comps))
}

/// Lines of /proc/self/cgroup: (controllers, path); the v2 line has no controllers.
fn parse_self_cgroup(text: &str) -> Vec<(Vec<String>, &str)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let (_id, ctrls, path) = (it.next()?, it.next()?, it.next()?);
            let ctrls = ctrls.split(',').filter(|c| !c.is_empty()).map(String::from).collect();
            Some((ctrls, path))
        })
        .collect()
}

/// Our own cgroup in a hierarchy, relative to what is mounted at its mountpoint.
fn own_cgroup(self_cgroup: &str, controllers: &[String], root: &str) -> Result<PathBuf> {
    let mut want = controllers.to_vec();
    want.sort();
    let path = parse_self_cgroup(self_cgroup)
        .into_iter()
        .find_map(|(mut c, p)| {
            c.sort();
            (c == want).then_some(p)
        })
        .with_context(|| format!("no {:?} entry in /proc/self/cgroup", want.join(",")))?;
    let rel = if root == "/" { Some(path) } else { path.strip_prefix(root) };
    match rel {
        Some(r) if r.is_empty() || r.starts_with('/') => Ok(PathBuf::from(r.trim_start_matches('/'))),
        _ => bail!("our cgroup {path} is outside the mounted cgroup {root}"),
    }
}

/// Where containers without a cgroupsPath go: `/runp/<id>`.
pub const DEFAULT_PARENT: &str = "runp";

/// The container's cgroup for `cgroups_path` (None or "" = `/runp/<id>`). A relative path is
/// taken below the runtime's own cgroup (read from /proc/self/cgroup only in that case).
pub fn resolve(layout: &Layout, cgroups_path: Option<&str>, id: &str) -> Result<Cgroup> {
    let default = format!("/{DEFAULT_PARENT}/{id}");
    let path = cgroups_path.filter(|p| !p.is_empty()).unwrap_or(&default);
    let self_cgroup = if path.starts_with('/') {
        String::new()
    } else {
        std::fs::read_to_string("/proc/self/cgroup").context("reading /proc/self/cgroup")?
    };
    resolve_with(layout, Some(path), id, &self_cgroup)
}

/// [`resolve`] with the text of /proc/self/cgroup given.
pub fn resolve_with(layout: &Layout, cgroups_path: Option<&str>, id: &str, self_cgroup: &str) -> Result<Cgroup> {
    let default = format!("/{DEFAULT_PARENT}/{id}");
    let path = cgroups_path.filter(|p| !p.is_empty()).unwrap_or(&default);
    let (absolute, comps) = parse_cgroups_path(path)?;
    let below = |mountpoint: &Path, controllers: &[String], root: &str| -> Result<PathBuf> {
        let mut dir = mountpoint.to_path_buf();
        if !absolute {
            dir.push(own_cgroup(self_cgroup, controllers, root)?);
        }
        dir.extend(&comps);
        Ok(dir)
    };
    Ok(match layout {
        Layout::V1 { hierarchies } => {
            let dirs = hierarchies
                .iter()
                .map(|h| {
                    Ok(V1Dir {
                        controllers: h.controllers.clone(),
                        mountpoint: h.mountpoint.clone(),
                        path: below(&h.mountpoint, &h.controllers, &h.root)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Cgroup::V1(V1Cgroup { dirs, created: Vec::new() })
        }
        Layout::V2 { mountpoint } => {
            // With cgroup namespaces the mount shows our namespace root, which is "/" here.
            let path = below(mountpoint, &[], "/")?;
            Cgroup::V2(V2Cgroup { mountpoint: mountpoint.clone(), path, created: Vec::new() })
        }
    })
}

/// The container's cgroup: concrete directories plus what [`Cgroup::create`] made.
/// Store it (after `create`) and reload it in later runtime invocations.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "version", rename_all = "lowercase")]
pub enum Cgroup {
    V1(V1Cgroup),
    V2(V2Cgroup),
}

impl Cgroup {
    /// Creates the directories and writes every limit that is set. Refuses a cgroup that
    /// already holds processes. On error, removes what it made.
    pub fn create(&mut self, res: &CgroupResources) -> Result<()> {
        self.check()?;
        res.validate()?;
        match self {
            Cgroup::V1(c) => c.create(res),
            Cgroup::V2(c) => c.create(res),
        }
    }

    /// Moves process `pid` (all its threads) into the container's cgroup.
    pub fn attach(&self, pid: i32) -> Result<()> {
        self.check()?;
        self.procs_paths().iter().try_for_each(|p| super::cgroup_fs::write(p, &pid.to_string()))
    }

    /// Every cgroup.procs file of the container: one per v1 hierarchy, or the v2 one.
    fn procs_paths(&self) -> Vec<PathBuf> {
        match self {
            Cgroup::V1(c) => c.dirs.iter().map(|d| d.path.join("cgroup.procs")).collect(),
            Cgroup::V2(c) => vec![c.path.join("cgroup.procs")],
        }
    }

    /// The cgroup.procs files, opened for writing: a process that writes "0" to each joins
    /// the cgroup itself (a direct spawn's child, whose parent is suspended).
    pub fn procs_files(&self) -> Result<Vec<std::os::fd::OwnedFd>> {
        self.check()?;
        self.procs_paths()
            .iter()
            .map(|p| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(p)
                    .map(std::os::fd::OwnedFd::from)
                    .with_context(|| format!("opening {}", p.display()))
            })
            .collect()
    }

    /// Processes directly in the container's cgroup (empty when it is gone).
    pub fn procs(&self) -> Result<Vec<i32>> {
        self.check()?;
        cgroup_fs_procs(self.main_dir(), false)
    }

    /// Processes in the container's cgroup and in any cgroup below it.
    pub fn all_procs(&self) -> Result<Vec<i32>> {
        self.check()?;
        cgroup_fs_procs(self.main_dir(), true)
    }

    /// Freezes every process; returns once the kernel reports the cgroup frozen (about 1 s max).
    pub fn freeze(&self) -> Result<()> {
        self.check()?;
        match self {
            Cgroup::V1(c) => c.freeze(),
            Cgroup::V2(c) => c.freeze(),
        }
    }

    pub fn thaw(&self) -> Result<()> {
        self.check()?;
        match self {
            Cgroup::V1(c) => c.thaw(),
            Cgroup::V2(c) => c.thaw(),
        }
    }

    /// True when frozen; false too when the cgroup is gone.
    pub fn is_frozen(&self) -> Result<bool> {
        self.check()?;
        match self {
            Cgroup::V1(c) => c.is_frozen(),
            Cgroup::V2(c) => c.is_frozen(),
        }
    }

    /// Sends `sig` to every process of the cgroup and its sub-cgroups.
    pub fn signal_all(&self, sig: i32) -> Result<()> {
        self.check()?;
        match self {
            Cgroup::V1(c) => c.signal_all(sig),
            Cgroup::V2(c) => c.signal_all(sig),
        }
    }

    /// Removes the directories `create` made (with any sub-cgroups), retrying while the last
    /// processes exit (about 1 s). Pre-existing cgroups are left alone.
    pub fn destroy(&self) -> Result<()> {
        self.check()?;
        match self {
            Cgroup::V1(c) => c.destroy(),
            Cgroup::V2(c) => c.destroy(),
        }
    }

    /// Removes the runtime's default parent (`/runp`) when no container is left in it. Other
    /// containers may still be inside: then rmdir fails with EBUSY and nothing happens.
    pub fn prune_default_parent(&self) {
        let leaves: Vec<(&Path, &Path)> = match self {
            Cgroup::V1(c) => c.dirs.iter().map(|d| (d.path.as_path(), d.mountpoint.as_path())).collect(),
            Cgroup::V2(c) => vec![(c.path.as_path(), c.mountpoint.as_path())],
        };
        for (leaf, mount) in leaves {
            if let Some(parent) = leaf.parent() {
                if parent.file_name().is_some_and(|n| n == DEFAULT_PARENT)
                    && parent.starts_with(mount)
                    && parent != mount
                {
                    let _ = std::fs::remove_dir(parent);
                }
            }
        }
    }

    /// How many processes the OOM killer killed in this cgroup (0 without memory controller).
    pub fn oom_kill_count(&self) -> Result<u64> {
        self.check()?;
        match self {
            Cgroup::V1(c) => c.oom_kill_count(),
            Cgroup::V2(c) => c.oom_kill_count(),
        }
    }

    /// Refuses a value (e.g. from a damaged state.json) that points at a hierarchy root or
    /// outside it: "signal every process" there would hit the whole host, and destroy
    /// must never rmdir anything but cgroups.
    fn check(&self) -> Result<()> {
        let (pairs, created): (Vec<(&Path, &Path)>, &[PathBuf]) = match self {
            Cgroup::V1(c) => (c.dirs.iter().map(|d| (d.mountpoint.as_path(), d.path.as_path())).collect(), &c.created),
            Cgroup::V2(c) => (vec![(c.mountpoint.as_path(), c.path.as_path())], &c.created),
        };
        if pairs.is_empty() {
            bail!("cgroup has no hierarchies");
        }
        let below = |mnt: &Path, p: &Path| {
            mnt.is_absolute()
                && p != mnt
                && p.starts_with(mnt)
                && p.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
        };
        for (mnt, path) in &pairs {
            if !below(mnt, path) {
                bail!("cgroup {} is not strictly below its mountpoint {}", path.display(), mnt.display());
            }
        }
        if let Some(bad) = created.iter().find(|c| !pairs.iter().any(|(mnt, _)| below(mnt, c))) {
            bail!("created cgroup {} is not below any cgroup mountpoint", bad.display());
        }
        Ok(())
    }

    /// The directory that lists the container's processes (v1: freezer, else the first).
    pub fn main_dir(&self) -> &Path {
        match self {
            Cgroup::V1(c) => c.main_dir(),
            Cgroup::V2(c) => &c.path,
        }
    }
}

fn cgroup_fs_procs(dir: &Path, recursive: bool) -> Result<Vec<i32>> {
    if recursive {
        super::cgroup_fs::procs_recursive(dir)
    } else {
        super::cgroup_fs::procs(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cgroup lines of this (hybrid) build host's /proc/self/mountinfo.
    pub const HYBRID: &str = "\
22 1 0:20 / / rw,relatime - overlay overlay rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const SELF_CGROUP: &str = "\
9:name=systemd:/
8:pids:/
4:memory:/process_api/af23d49aa7fdebe4aa3704def0c1dff8
2:cpuacct:/
1:cpu:/
0::/
";

    pub const PURE_V2: &str = "\
24 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    fn hybrid() -> Vec<Hierarchy> {
        match parse_mountinfo(HYBRID).unwrap() {
            Layout::V1 { hierarchies } => hierarchies,
            l => panic!("{l:?}"),
        }
    }

    #[test]
    fn mountinfo_hybrid_is_v1() {
        let h = hybrid();
        assert_eq!(h.len(), 9);
        assert_eq!(h[0].controllers, ["cpu"]);
        assert_eq!(h[0].mountpoint, Path::new("/sys/fs/cgroup/cpu"));
        assert_eq!(h[0].root, "/");
        assert_eq!(h[8].controllers, ["name=systemd"]);
        assert!(h.iter().all(|h| h.mountpoint != Path::new("/sys/fs/cgroup/unified")));
    }

    #[test]
    fn mountinfo_variants() {
        assert_eq!(parse_mountinfo(PURE_V2).unwrap(), Layout::V2 { mountpoint: "/sys/fs/cgroup".into() });
        // Combined controllers, extra options, escaped path, duplicate bind mount, root field.
        let text = "\
1 0 0:1 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu,clone_children
2 0 0:1 /docker/abc /mnt/again rw shared:3 - cgroup cgroup rw,cpu,cpuacct
3 0 0:2 / /mnt/my\\040cg rw shared:3 - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
";
        let Layout::V1 { hierarchies: h } = parse_mountinfo(text).unwrap() else { panic!() };
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(h[0].root, "/docker/abc");
        assert_eq!(h[0].mountpoint, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(h[1].mountpoint, Path::new("/mnt/my cg"));
        assert_eq!(h[1].controllers, ["name=systemd"]);
        // name=systemd alone beside cgroup2 is a v2 host.
        let text = format!("{PURE_V2}3 0 0:2 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n");
        assert!(matches!(parse_mountinfo(&text).unwrap(), Layout::V2 { .. }));
    }

    #[test]
    fn mountinfo_garbage() {
        assert!(parse_mountinfo("").is_err());
        assert!(parse_mountinfo("garbage\n\n- - -\n1 2 3\n").is_err());
        assert!(parse_mountinfo("1 2 3 4 5 6 - cgroup").is_err());
        assert!(parse_mountinfo("22 1 0:20 / / rw,relatime - overlay overlay rw\n").is_err());
        assert_eq!(unescape("a\\040b\\\\c\\9"), b"a b\\\\c\\9");
    }

    #[test]
    fn path_validation() {
        for bad in ["../x", "/a/../b", "a/./b", ".", "/", "", "//", "a/..", "a\0b"] {
            assert!(parse_cgroups_path(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_cgroups_path("/a//b/").unwrap(), (true, vec!["a", "b"]));
        assert_eq!(parse_cgroups_path("a/b").unwrap(), (false, vec!["a", "b"]));
        assert_eq!(parse_cgroups_path("/kubepods/pod1/c..d").unwrap().1, ["kubepods", "pod1", "c..d"]);
    }

    fn v1_dirs(cg: &Cgroup) -> Vec<PathBuf> {
        let Cgroup::V1(c) = cg else { panic!() };
        c.dirs.iter().map(|d| d.path.clone()).collect()
    }

    #[test]
    fn resolve_v1() {
        // cpu, cpuacct, memory, name=systemd: the hierarchies SELF_CGROUP lists.
        let all = hybrid();
        let layout = Layout::V1 { hierarchies: vec![all[0].clone(), all[1].clone(), all[3].clone(), all[8].clone()] };
        let cg = resolve_with(&layout, None, "c1", "").unwrap();
        assert_eq!(v1_dirs(&cg)[0], Path::new("/sys/fs/cgroup/cpu/runp/c1"));
        assert_eq!(cg.main_dir(), Path::new("/sys/fs/cgroup/cpu/runp/c1"));
        let cg = resolve_with(&layout, Some("/a//b"), "c1", "").unwrap();
        assert_eq!(v1_dirs(&cg)[2], Path::new("/sys/fs/cgroup/memory/a/b"));
        let cg = resolve_with(&layout, Some("sub/c1"), "c1", SELF_CGROUP).unwrap();
        let dirs = v1_dirs(&cg);
        assert_eq!(dirs[0], Path::new("/sys/fs/cgroup/cpu/sub/c1"));
        assert_eq!(dirs[2], Path::new("/sys/fs/cgroup/memory/process_api/af23d49aa7fdebe4aa3704def0c1dff8/sub/c1"));
        assert_eq!(dirs[3], Path::new("/sys/fs/cgroup/systemd/sub/c1"));
        assert!(resolve_with(&layout, Some("../x"), "c1", SELF_CGROUP).is_err());
        // No cpuset line in SELF_CGROUP.
        let layout = Layout::V1 { hierarchies: hybrid() };
        assert!(resolve_with(&layout, Some("x"), "c1", SELF_CGROUP).is_err());
        // Bind-mounted subtree: our path is shown relative to the mount's root.
        let h = Hierarchy { controllers: vec!["pids".into()], mountpoint: "/cg/pids".into(), root: "/docker/a".into() };
        let layout = Layout::V1 { hierarchies: vec![h] };
        let cg = resolve_with(&layout, Some("x"), "c1", "8:pids:/docker/a/b\n").unwrap();
        assert_eq!(v1_dirs(&cg), [PathBuf::from("/cg/pids/b/x")]);
        assert!(resolve_with(&layout, Some("x"), "c1", "8:pids:/docker/ab\n").is_err());
    }

    #[test]
    fn damaged_state_is_refused() {
        let mnt = PathBuf::from("/sys/fs/cgroup");
        let v2 = |path: &str, created: &[&str]| {
            Cgroup::V2(V2Cgroup {
                mountpoint: mnt.clone(),
                path: path.into(),
                created: created.iter().map(PathBuf::from).collect(),
            })
        };
        for bad in [
            v2("/sys/fs/cgroup", &[]),
            v2("/sys/fs/cgroup/", &[]),
            v2("/sys/fs/cgroup/a/../..", &[]),
            v2("/etc/x", &[]),
            v2("/sys/fs/cgroup/a", &["/etc"]),
            v2("/sys/fs/cgroup/a", &["/sys/fs/cgroup"]),
        ] {
            assert!(bad.signal_all(libc::SIGKILL).is_err(), "{bad:?}");
            assert!(bad.destroy().is_err());
            assert!(bad.procs().is_err());
        }
        let empty = Cgroup::V1(V1Cgroup { dirs: Vec::new(), created: Vec::new() });
        assert!(empty.signal_all(libc::SIGKILL).is_err());
        assert!(v2("/sys/fs/cgroup/runp-test-nonexistent/c1", &[]).check().is_ok());
    }

    #[test]
    fn resolve_v2_and_serde() {
        let layout = parse_mountinfo(PURE_V2).unwrap();
        let cg = resolve_with(&layout, Some(""), "c1", "").unwrap();
        assert_eq!(cg.main_dir(), Path::new("/sys/fs/cgroup/runp/c1"));
        let cg = resolve_with(&layout, Some("k/c1"), "c1", "0::/user.slice/u.scope\n").unwrap();
        assert_eq!(cg.main_dir(), Path::new("/sys/fs/cgroup/user.slice/u.scope/k/c1"));
        let json = serde_json::to_string(&cg).unwrap();
        assert!(json.contains("\"version\":\"v2\""), "{json}");
        assert_eq!(serde_json::from_str::<Cgroup>(&json).unwrap(), cg);
        let layout = Layout::V1 { hierarchies: hybrid() };
        let cg = resolve_with(&layout, None, "c1", "").unwrap();
        assert_eq!(serde_json::from_str::<Cgroup>(&serde_json::to_string(&cg).unwrap()).unwrap(), cg);
    }
}
