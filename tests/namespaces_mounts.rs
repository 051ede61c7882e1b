//! Namespaces, mounts, /dev and the rootfs, checked from inside the container (busybox sh) and
//! from the host: config.json must really be applied, and nothing may leak to the host.

mod common;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;

// ---------------------------------------------------------------------------------------------
// helpers

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts the run succeeded and returns its stdout.
fn stdout_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "container failed ({}): stdout={} stderr={}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn script(c: &mut Value, s: &str) {
    c["process"]["args"] = json!(["sh", "-c", s]);
}

fn push_mount(c: &mut Value, m: Value) {
    c["mounts"].as_array_mut().expect("mounts").push(m);
}

/// The busybox root is read-only and has no writable /tmp: a tmpfs there.
fn add_tmp(c: &mut Value) {
    push_mount(c, json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
}

fn add_caps(c: &mut Value, caps: &[&str]) {
    for set in ["bounding", "effective", "permitted"] {
        let v = c["process"]["capabilities"][set].as_array_mut().expect("caps");
        for cap in caps {
            v.push(json!(cap));
        }
    }
}

fn namespaces(c: &mut Value) -> &mut Vec<Value> {
    c["linux"]["namespaces"].as_array_mut().expect("namespaces")
}

/// A private copy of the busybox rootfs (`cp -a`), for tests that write to the root or plant
/// symlinks in it: the shared bundle must stay untouched.
fn private_rootfs(env: &Env, name: &str) -> PathBuf {
    let dst = env.scratch.path().join(format!("{name}-rootfs"));
    let st =
        std::process::Command::new("cp").arg("-a").arg(base_bundle().join("rootfs")).arg(&dst).status().expect("cp");
    assert!(st.success(), "cp -a rootfs failed");
    dst
}

/// A bundle over a private rootfs copy; `prepare` may change the copy before the config edit.
fn private_bundle(
    env: &Env,
    name: &str,
    prepare: impl FnOnce(&Path),
    edit: impl FnOnce(&mut Value),
) -> (PathBuf, PathBuf) {
    let rootfs = private_rootfs(env, name);
    prepare(&rootfs);
    let r = rootfs.display().to_string();
    let b = env.bundle(name, move |c| {
        c["root"]["path"] = json!(r);
        edit(c)
    });
    (b, rootfs)
}

fn host_ns(pid: &str, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).expect("readlink ns").display().to_string()
}

/// `key=value` lines of a container's output.
fn kv(out: &str) -> BTreeMap<String, String> {
    out.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn init_pid(env: &Env, id: &str) -> i32 {
    env.state(id)["pid"].as_i64().expect("pid") as i32
}

/// No host mount may mention the test's scratch dir or state root (nothing leaked).
fn assert_host_mounts_clean(env: &Env) {
    for p in [env.scratch.path(), env.root()] {
        let m = host_mounts_with(p.to_str().expect("utf8"));
        assert!(m.is_empty(), "host mounts left under {}: {m:?}", p.display());
    }
}

/// A mount on the host made by the test; detached on drop, even when the test fails.
struct HostMount(PathBuf);

impl HostMount {
    fn mount(src: &str, target: &Path, fstype: Option<&str>, flags: libc::c_ulong) -> HostMount {
        let s = CString::new(src).unwrap();
        let t = CString::new(target.to_str().unwrap()).unwrap();
        let f = fstype.map(|f| CString::new(f).unwrap());
        // SAFETY: NUL-terminated strings or NULL.
        let r = unsafe {
            libc::mount(
                s.as_ptr(),
                t.as_ptr(),
                f.as_ref().map_or(std::ptr::null(), |f| f.as_ptr()),
                flags,
                std::ptr::null(),
            )
        };
        assert_eq!(r, 0, "mount {src} on {}: {}", target.display(), std::io::Error::last_os_error());
        HostMount(target.to_path_buf())
    }

    fn tmpfs(target: &Path) -> HostMount {
        HostMount::mount("tmpfs", target, Some("tmpfs"), 0)
    }

    /// Bind `dir` onto itself and make it shared, so mounts below it can propagate.
    fn shared_bind(dir: &Path) -> HostMount {
        let m = HostMount::mount(dir.to_str().unwrap(), dir, None, libc::MS_BIND);
        let t = CString::new(dir.to_str().unwrap()).unwrap();
        // SAFETY: as above.
        let r =
            unsafe { libc::mount(std::ptr::null(), t.as_ptr(), std::ptr::null(), libc::MS_SHARED, std::ptr::null()) };
        assert_eq!(r, 0, "make-shared {}: {}", dir.display(), std::io::Error::last_os_error());
        m
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let t = CString::new(self.0.to_str().unwrap()).unwrap();
        // SAFETY: umount2 of our own mount.
        unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Listing and mtime of a directory, to prove nothing was created in it.
fn snapshot(dir: &Path) -> (Vec<String>, i64, i64) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let md = std::fs::metadata(dir).expect("stat");
    (names, md.mtime(), md.mtime_nsec())
}

// ---------------------------------------------------------------------------------------------
// namespaces

#[test]
fn new_namespaces_differ_from_the_host() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("ns");
    let b = env.bundle(&id, |c| {
        namespaces(c).push(json!({"type": "cgroup"}));
        script(
            c,
            "for n in pid net ipc uts mnt cgroup user; do echo $n=$(readlink /proc/self/ns/$n); done; echo pid1=$$",
        );
    });
    let inside = kv(&stdout_ok(&env.run(&b, &id)));
    for ns in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
        let i = inside.get(ns).unwrap_or_else(|| panic!("no {ns} in {inside:?}"));
        assert!(i.starts_with(&format!("{ns}:[")), "{ns}: {i}");
        assert_ne!(*i, host_ns("self", ns), "{ns} namespace is the host's");
    }
    // No user namespace was asked for: the host's.
    assert_eq!(inside["user"], host_ns("self", "user"));
    assert_eq!(inside["pid1"], "1", "the container shell is PID 1 of its PID namespace");
    assert_no_trace(&env, &id);
    assert_host_mounts_clean(&env);
}

#[test]
fn hostname_and_only_loopback_in_a_new_netns() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("uts");
    let b = env.bundle(&id, |c| {
        c["hostname"] = json!("nsm-host.example");
        script(
            c,
            "hostname; echo --; ls /sys/class/net; echo --; ifconfig -a | grep -v '^ ' | grep -v '^$' | cut -d' ' -f1",
        );
    });
    let out = stdout_ok(&env.run(&b, &id));
    assert_eq!(out, "nsm-host.example\n--\nlo\n--\nlo\n", "{out}");
    // The host's hostname is unchanged.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_ne!(host.trim(), "nsm-host.example");
    assert_no_trace(&env, &id);
}

#[test]
fn joining_namespaces_by_path() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let a = unique_id("join-a");
    let ba = env.sh_bundle(&a, "sleep 30");
    env.ok(&["run", "-d", "--bundle", ba.to_str().unwrap(), &a]);
    let apid = init_pid(&env, &a).to_string();

    let b = unique_id("join-b");
    let ap = apid.clone();
    let bb = env.bundle(&b, move |c| {
        // Setting a hostname in a joined UTS namespace would rename A.
        c["hostname"] = Value::Null;
        c["linux"]["namespaces"] = json!([
            {"type": "mount"},
            {"type": "network", "path": format!("/proc/{ap}/ns/net")},
            {"type": "ipc", "path": format!("/proc/{ap}/ns/ipc")},
            {"type": "uts", "path": format!("/proc/{ap}/ns/uts")},
            {"type": "pid", "path": format!("/proc/{ap}/ns/pid")},
        ]);
        c["process"]["args"] = json!(["sleep", "31"]);
    });
    env.ok(&["run", "-d", "--bundle", bb.to_str().unwrap(), &b]);
    let bpid = init_pid(&env, &b).to_string();
    for ns in ["net", "ipc", "uts", "pid"] {
        assert_eq!(host_ns(&bpid, ns), host_ns(&apid, ns), "{ns} not joined");
        assert_ne!(host_ns(&bpid, ns), host_ns("self", ns), "{ns} is the host's");
    }
    assert_ne!(host_ns(&bpid, "mnt"), host_ns(&apid, "mnt"), "B has its own mount namespace");
    // B lives in A's PID namespace (not as its PID 1) and A sees it.
    let status = std::fs::read_to_string(format!("/proc/{bpid}/status")).unwrap();
    let nspid: Vec<&str> =
        status.lines().find(|l| l.starts_with("NSpid:")).unwrap().split_whitespace().skip(1).collect();
    assert_eq!(nspid.len(), 2, "{nspid:?}");
    assert_ne!(nspid[1], "1");
    let ps = env.ok(&["exec", &a, "ps", "-o", "pid,args"]);
    assert!(ps.lines().any(|l| l.split_whitespace().next() == Some(nspid[1]) && l.contains("sleep 31")), "{ps}");
    assert!(ps.lines().any(|l| l.split_whitespace().next() == Some("1") && l.contains("sleep 30")), "{ps}");
    // A keeps its hostname; deleting B leaves A running.
    assert_eq!(env.ok(&["exec", &a, "hostname"]).trim(), "runp");
    env.ok(&["delete", "--force", &b]);
    // B's init was reparented to us (the subreaper), not to A's init: until we reap it, its
    // pid stays allocated in A's PID namespace, and A's init cannot finish exiting.
    reap_zombies();
    assert_no_trace(&env, &b);
    assert_eq!(env.status(&a), "running");
    env.ok(&["delete", "--force", &a]);
    assert_no_trace(&env, &a);
    assert_host_mounts_clean(&env);
}

#[test]
fn namespace_path_of_the_wrong_type_is_refused() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let a = unique_id("wrong-a");
    let ba = env.sh_bundle(&a, "sleep 30");
    env.ok(&["run", "-d", "--bundle", ba.to_str().unwrap(), &a]);
    let apid = init_pid(&env, &a);
    let not_ns = env.scratch.path().join("not-a-namespace");
    std::fs::write(&not_ns, "x").unwrap();
    for path in [format!("/proc/{apid}/ns/mnt"), format!("/proc/{apid}/ns/ipc"), not_ns.display().to_string()] {
        let id = unique_id("wrong-b");
        let p = path.clone();
        let b = env.bundle(&id, move |c| {
            for n in namespaces(c).iter_mut() {
                if n["type"] == "network" {
                    n["path"] = json!(p);
                }
            }
        });
        let err = env.fails(&["create", "--bundle", b.to_str().unwrap(), &id]);
        assert!(
            err.contains(&path) && (err.contains("is not a net namespace") || err.contains("not a namespace file")),
            "{path}: {err}"
        );
        assert_no_trace(&env, &id);
    }
    assert_eq!(env.status(&a), "running");
    env.ok(&["delete", "--force", &a]);
    assert_host_mounts_clean(&env);
}

fn userns(c: &mut Value, uid: Value, gid: Value) {
    namespaces(c).push(json!({"type": "user"}));
    c["linux"]["uidMappings"] = uid;
    c["linux"]["gidMappings"] = gid;
}

#[test]
fn user_namespace_with_id_maps() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("userns");
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let b = env.bundle(&id, |c| {
        userns(c, map.clone(), map.clone());
        add_tmp(c);
        script(c, "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; touch /tmp/f; stat -c '%u:%g' /tmp/f; readlink /proc/self/ns/user");
    });
    let out = stdout_ok(&env.run(&b, &id));
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["0", "100000", "65536"], "{out}");
    assert_eq!(lines[1], ["0", "100000", "65536"], "{out}");
    assert_eq!(lines[2], ["0"]);
    assert_eq!(lines[3], ["0"]);
    assert_eq!(lines[4], ["0:0"]);
    assert_ne!(lines[5][0], host_ns("self", "user"));
    assert_no_trace(&env, &id);

    // From the host the container's root is uid 100000.
    let id = unique_id("userns-d");
    let b = env.bundle(&id, |c| {
        userns(c, map.clone(), map.clone());
        c["process"]["args"] = json!(["sleep", "30"]);
    });
    env.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", init_pid(&env, &id))).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(uid.split_whitespace().skip(1).collect::<Vec<_>>(), ["100000"; 4], "{uid}");
    env.ok(&["delete", "--force", &id]);
    assert_no_trace(&env, &id);
    assert_host_mounts_clean(&env);
}

#[test]
fn invalid_id_maps_are_rejected() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let good = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let many: Vec<Value> =
        (0..341).map(|i| json!({"containerID": i * 2, "hostID": 100000 + i * 2, "size": 1})).collect();
    let cases = [
        (
            "overlap",
            json!([{"containerID": 0, "hostID": 100000, "size": 10}, {"containerID": 5, "hostID": 200000, "size": 10}]),
        ),
        (
            "host overlap",
            json!([{"containerID": 0, "hostID": 100000, "size": 10}, {"containerID": 100, "hostID": 100005, "size": 10}]),
        ),
        ("size 0", json!([{"containerID": 0, "hostID": 100000, "size": 0}])),
        ("overflow", json!([{"containerID": 0, "hostID": 4294967295u64, "size": 2}])),
        ("341 extents", Value::Array(many)),
    ];
    for (what, uid) in cases {
        let id = unique_id("badmap");
        let g = good.clone();
        let b = env.bundle(&id, move |c| userns(c, uid, g));
        let err = env.fails(&["create", "--bundle", b.to_str().unwrap(), &id]);
        assert!(err.contains("linux.uidMappings"), "{what}: {err}");
        assert_no_trace(&env, &id);
    }
    // Mappings without a new user namespace.
    let id = unique_id("badmap");
    let b = env.bundle(&id, |c| c["linux"]["uidMappings"] = good.clone());
    let err = env.fails(&["create", "--bundle", b.to_str().unwrap(), &id]);
    assert!(err.contains("mappings"), "{err}");
    assert_no_trace(&env, &id);
}

// ---------------------------------------------------------------------------------------------
// mounts

#[test]
fn bind_rbind_ro_and_tmpfs_mounts() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let hd = env.scratch.path().join("hostdir");
    std::fs::create_dir_all(hd.join("sub")).unwrap();
    std::fs::write(hd.join("f"), "filedata\n").unwrap();
    let _sub = HostMount::tmpfs(&hd.join("sub"));
    std::fs::write(hd.join("sub/s"), "subdata\n").unwrap();
    let id = unique_id("binds");
    let h = hd.display().to_string();
    let b = env.bundle(&id, |c| {
        add_tmp(c);
        for m in [
            json!({"destination": "/tmp/bf", "type": "bind", "source": format!("{h}/f"), "options": ["bind"]}),
            json!({"destination": "/tmp/bd", "type": "bind", "source": h, "options": ["bind"]}),
            json!({"destination": "/tmp/rb", "source": h, "options": ["rbind", "rprivate"]}),
            json!({"destination": "/tmp/sl", "source": h, "options": ["bind", "rslave"]}),
            json!({"destination": "/tmp/ro", "source": h, "options": ["bind", "ro"]}),
            json!({"destination": "/tmp/rel", "source": "relsrc", "options": ["bind"]}),
            json!({"destination": "/tmp/sz", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=700", "nosuid"]}),
        ] {
            push_mount(c, m);
        }
        script(
            c,
            "cat /tmp/bf /tmp/bd/f /tmp/rb/sub/s /tmp/rel/r
             echo bd-sub=$(ls /tmp/bd/sub | wc -l) sl-sub=$(ls /tmp/sl/sub | wc -l)
             echo written > /tmp/bd/new
             ( echo x > /tmp/ro/f2 ) 2>&1
             ( echo x > /tmp/ro/f ) 2>&1
             echo sz-mode=$(stat -c %a /tmp/sz)
             grep ' /tmp/sz ' /proc/self/mountinfo
             ( dd if=/dev/zero of=/tmp/sz/big bs=1024 count=2048 ) 2>&1 | grep -o 'No space left on device'
             grep ' /tmp/ro ' /proc/self/mountinfo",
        );
    });
    std::fs::create_dir(b.join("relsrc")).unwrap();
    std::fs::write(b.join("relsrc/r"), "reldata\n").unwrap();
    let out = stdout_ok(&env.run(&b, &id));
    let mut l = out.lines();
    assert_eq!(l.next(), Some("filedata"), "{out}");
    assert_eq!(l.next(), Some("filedata"), "{out}");
    assert_eq!(l.next(), Some("subdata"), "rbind carries the submount: {out}");
    assert_eq!(l.next(), Some("reldata"), "relative source is resolved against the bundle: {out}");
    assert_eq!(l.next(), Some("bd-sub=0 sl-sub=0"), "a plain bind has no submounts: {out}");
    assert!(l.next().unwrap().contains("Read-only file system"), "{out}");
    assert!(l.next().unwrap().contains("Read-only file system"), "{out}");
    assert_eq!(l.next(), Some("sz-mode=700"), "{out}");
    let sz = l.next().unwrap();
    assert!(sz.contains("size=1024k") && sz.contains("nosuid"), "{sz}");
    assert_eq!(l.next(), Some("No space left on device"), "{out}");
    let ro = l.next().unwrap();
    assert!(ro.split(' ').nth(5).unwrap().split(',').any(|o| o == "ro"), "{ro}");
    // The writable bind wrote through to the host; the read-only one did not.
    assert_eq!(std::fs::read_to_string(hd.join("new")).unwrap(), "written\n");
    assert!(!hd.join("f2").exists());
    assert_eq!(std::fs::read_to_string(hd.join("f")).unwrap(), "filedata\n");
    assert_no_trace(&env, &id);
    drop(_sub);
    assert_host_mounts_clean(&env);
}

#[test]
fn proc_sysfs_devpts_mqueue_and_readonly_cgroup_mounts() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("special");
    let b = env.bundle(&id, |c| {
        add_tmp(c);
        script(
            c,
            "cat /proc/self/mountinfo; echo ==
             echo comm=$(cat /proc/1/comm)
             ( touch /sys/x ) 2>&1
             ( echo $$ > /sys/fs/cgroup/memory/cgroup.procs ) 2>&1
             ( echo 1 > /sys/fs/cgroup/memory/memory.limit_in_bytes ) 2>&1
             ( echo /x > /sys/fs/cgroup/memory/release_agent ) 2>&1
             ( mkdir /sys/fs/cgroup/memory/sub ) 2>&1
             ( echo $$ > /sys/fs/cgroup/pids/cgroup.procs ) 2>&1
             echo limit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)
             echo ptmx=$(stat -c '%F %t:%T' /dev/pts/ptmx) link=$(readlink /dev/ptmx)
             echo ptsdev=$(stat -c %d /dev/pts)
             ls /dev/mqueue > /dev/null && echo mqueue-ok
             ls /sys/fs/cgroup",
        );
    });
    let out = stdout_ok(&env.run(&b, &id));
    let (mountinfo, rest) = out.split_once("==\n").unwrap();
    // mount point → (mount options, fs type)
    let mut m: BTreeMap<&str, (Vec<&str>, &str)> = BTreeMap::new();
    for line in mountinfo.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let sep = f.iter().position(|x| *x == "-").unwrap();
        m.insert(f[4], (f[5].split(',').collect(), f[sep + 1]));
    }
    assert_eq!(m["/proc"].1, "proc");
    assert_eq!(m["/sys"].1, "sysfs");
    assert!(m["/sys"].0.contains(&"ro"), "{:?}", m["/sys"]);
    assert_eq!(m["/dev/pts"].1, "devpts");
    assert_eq!(m["/dev/mqueue"].1, "mqueue");
    assert_eq!(m["/dev/shm"].1, "tmpfs");
    // Every cgroup mount is read-only, and the hierarchies are there.
    let cg: Vec<_> = m.iter().filter(|(k, _)| k.starts_with("/sys/fs/cgroup")).collect();
    assert!(cg.len() >= 3, "{cg:?}");
    for (k, (opts, _)) in &cg {
        assert!(opts.contains(&"ro"), "{k} is not read-only: {opts:?}");
    }
    assert_eq!(m["/sys/fs/cgroup/memory"].1, "cgroup");
    let mut l = rest.lines();
    assert_eq!(l.next(), Some("comm=sh"));
    for what in ["touch /sys/x", "cgroup.procs", "memory.limit_in_bytes", "release_agent", "mkdir", "pids cgroup.procs"]
    {
        let line = l.next().unwrap();
        assert!(line.contains("Read-only file system"), "{what}: {line}\n{out}");
    }
    let limit = l.next().unwrap();
    assert!(
        limit.starts_with("limit=") && limit.len() > "limit=".len(),
        "the container's own memory cgroup is visible: {limit}"
    );
    let ptmx = l.next().unwrap();
    assert_eq!(ptmx, "ptmx=character special file 5:2 link=pts/ptmx");
    let ptsdev: u64 = l.next().unwrap().strip_prefix("ptsdev=").unwrap().parse().unwrap();
    assert_ne!(ptsdev, std::fs::metadata("/dev/pts").unwrap().dev(), "devpts must be a new instance");
    assert_eq!(l.next(), Some("mqueue-ok"));
    let ctrls: Vec<&str> = l.collect();
    for c in ["memory", "pids", "cpu", "freezer", "devices"] {
        assert!(ctrls.contains(&c), "{c} not in /sys/fs/cgroup: {ctrls:?}");
    }
    assert_no_trace(&env, &id);
    assert_host_mounts_clean(&env);
}

/// With `rslave` a host mount made under a bound directory after create shows up in the
/// container; with `rprivate` it does not; a mount made in the container never reaches the host.
#[test]
fn mount_propagation_between_host_and_container() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let d = env.scratch.path().join("prop");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::create_dir_all(d.join("inner")).unwrap();
    let _shared = HostMount::shared_bind(&d);
    let mut ids = Vec::new();
    for prop in ["rslave", "rprivate"] {
        let id = unique_id(&format!("prop-{prop}"));
        let ds = d.display().to_string();
        let b = env.bundle(&id, |c| {
            add_tmp(c);
            add_caps(c, &["CAP_SYS_ADMIN"]);
            push_mount(c, json!({"destination": "/tmp/d", "source": ds, "options": ["rbind", prop]}));
            script(
                c,
                &format!(
                    "if [ -e /tmp/d/sub/marker ]; then r=seen; else r=unseen; fi
                     mkdir -p /tmp/d/inner/{prop}
                     mount -t tmpfs ctr /tmp/d/inner/{prop} && touch /tmp/d/inner/{prop}/c-marker
                     echo $r > /tmp/d/result-{prop}"
                ),
            );
        });
        env.ok(&["create", "--bundle", b.to_str().unwrap(), &id]);
        ids.push((id, prop));
    }
    // Both containers exist (their mounts are set up); now the host mounts below the bind.
    let sub = HostMount::tmpfs(&d.join("sub"));
    std::fs::write(d.join("sub/marker"), "m").unwrap();
    for (id, _) in &ids {
        env.ok(&["start", id]);
    }
    for (id, prop) in &ids {
        env.wait_status(id, "stopped");
        let r = std::fs::read_to_string(d.join(format!("result-{prop}"))).unwrap_or_default();
        let want = if *prop == "rslave" { "seen\n" } else { "unseen\n" };
        assert_eq!(r, want, "{prop}");
        // The container's own mount stayed in the container.
        assert!(!d.join(format!("inner/{prop}/c-marker")).exists(), "{prop}: a container mount reached the host");
        env.ok(&["delete", id]);
        assert_no_trace(&env, id);
    }
    assert!(host_mounts_with(&d.join("inner").display().to_string()).is_empty());
    drop(sub);
    drop(_shared);
    assert_host_mounts_clean(&env);
}

#[test]
fn rootfs_propagation_values() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    for p in ["private", "rprivate", "slave", "rslave"] {
        let id = unique_id("rprop");
        let b = env.bundle(&id, |c| {
            c["linux"]["rootfsPropagation"] = json!(p);
            script(c, "echo ok");
        });
        assert_eq!(stdout_ok(&env.run(&b, &id)), "ok\n", "{p}");
        assert_no_trace(&env, &id);
    }
    let id = unique_id("rprop");
    let b = env.bundle(&id, |c| c["linux"]["rootfsPropagation"] = json!("sideways"));
    let err = env.fails(&["create", "--bundle", b.to_str().unwrap(), &id]);
    assert!(err.contains("rootfsPropagation"), "{err}");
    assert_no_trace(&env, &id);
    assert_host_mounts_clean(&env);
}

#[test]
fn rootfs_propagation_shared_and_unbindable() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    for p in ["shared", "rshared", "unbindable", "runbindable"] {
        let id = unique_id("rprop");
        let b = env.bundle(&id, |c| {
            c["linux"]["rootfsPropagation"] = json!(p);
            script(c, "echo ok");
        });
        let out = env.run(&b, &id);
        assert!(out.status.success(), "{p}: {}", text(&out.stderr));
        assert_no_trace(&env, &id);
    }
    assert_host_mounts_clean(&env);
}

// ---------------------------------------------------------------------------------------------
// symlinks in the rootfs (docs/security.md#filesystem)

fn replace_with_symlink(rootfs: &Path, name: &str, target: &str) {
    let p = rootfs.join(name);
    if p.is_dir() && !p.is_symlink() {
        std::fs::remove_dir_all(&p).unwrap();
    }
    std::os::unix::fs::symlink(target, &p).unwrap();
}

#[test]
fn proc_or_sys_symlink_in_the_rootfs_is_refused() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    for dir in ["proc", "sys"] {
        let id = unique_id(&format!("{dir}-link"));
        let bad = format!("/runp-bad-{id}");
        let (b, rootfs) = private_bundle(&env, &id, |r| replace_with_symlink(r, dir, &bad), |_| {});
        let err = env.fails(&["create", "--bundle", b.to_str().unwrap(), &id]);
        assert!(err.contains(&format!("on /{dir}")) && err.contains("symbolic links"), "{dir}: {err}");
        assert!(!Path::new(&bad).exists(), "host {bad} created");
        assert!(!rootfs.join(bad.trim_start_matches('/')).exists());
        assert!(rootfs.join(dir).is_symlink());
        assert_no_trace(&env, &id);
    }
    assert_host_mounts_clean(&env);
}

#[test]
fn symlinked_mount_destination_never_reaches_the_host() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let canary = env.scratch.path().join("canary");
    std::fs::create_dir(&canary).unwrap();
    std::fs::write(canary.join("keep"), "k").unwrap();
    let src_file = env.scratch.path().join("srcfile");
    std::fs::write(&src_file, "src").unwrap();
    let src_dir = env.scratch.path().join("srcdir");
    std::fs::create_dir(&src_dir).unwrap();
    let before = snapshot(&canary);
    for src in [&src_file, &src_dir] {
        let id = unique_id("dest-link");
        let c = canary.display().to_string();
        let s = src.display().to_string();
        let (b, rootfs) = private_bundle(
            &env,
            &id,
            |r| replace_with_symlink(r, "a", &c),
            |cfg| {
                push_mount(cfg, json!({"destination": "/a/b/c", "type": "bind", "source": s, "options": ["bind"]}));
                script(cfg, "ls -la /a/b/c");
            },
        );
        let out = env.run(&b, &id);
        // Either refused, or the mount point was made inside the rootfs.
        if out.status.success() {
            assert!(rootfs.join(canary.strip_prefix("/").unwrap()).join("b/c").exists());
        }
        assert_eq!(snapshot(&canary), before, "the canary changed ({}): {}", src.display(), text(&out.stderr));
        assert!(!canary.join("b").exists());
        assert_no_trace(&env, &id);
    }
    assert_host_mounts_clean(&env);
}

#[test]
fn dev_symlink_to_a_host_dir_is_not_followed() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let canary = env.scratch.path().join("canary");
    std::fs::create_dir(&canary).unwrap();
    std::fs::write(canary.join("keep"), "k").unwrap();
    let before = snapshot(&canary);
    let abs = canary.display().to_string();
    // The rootfs is scratch/<id>-rootfs: ../canary from its /dev climbs to scratch/canary when
    // followed on the host.
    for target in [abs.as_str(), "../canary", "../../../../../../../../../../canary"] {
        for dev_tmpfs in [true, false] {
            let id = unique_id("dev-link");
            let (b, _rootfs) = private_bundle(
                &env,
                &id,
                |r| replace_with_symlink(r, "dev", target),
                |c| {
                    if !dev_tmpfs {
                        c["mounts"]
                            .as_array_mut()
                            .unwrap()
                            .retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev"));
                    }
                    script(c, "ls /dev");
                },
            );
            let out = env.run(&b, &id);
            assert_eq!(
                snapshot(&canary),
                before,
                "{target} (tmpfs {dev_tmpfs}): canary changed; {}",
                text(&out.stderr)
            );
            assert_no_trace(&env, &id);
        }
    }
    assert_host_mounts_clean(&env);
}

// ---------------------------------------------------------------------------------------------
// the root

#[test]
fn readonly_and_writable_root() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("roroot");
    let name = format!("x-{id}");
    let b = env.sh_bundle(&id, &format!("( touch /{name} ) 2>&1; true"));
    let out = stdout_ok(&env.run(&b, &id));
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(!base_bundle().join("rootfs").join(&name).exists());
    assert_no_trace(&env, &id);

    let id = unique_id("rwroot");
    let (b, rootfs) = private_bundle(
        &env,
        &id,
        |_| {},
        |c| {
            c["root"]["readonly"] = json!(false);
            script(c, "echo hi > /written && cat /written");
        },
    );
    assert_eq!(stdout_ok(&env.run(&b, &id)), "hi\n");
    assert_eq!(std::fs::read_to_string(rootfs.join("written")).unwrap(), "hi\n");
    assert_no_trace(&env, &id);
    assert_host_mounts_clean(&env);
}

#[test]
fn no_pivot_runs_in_the_rootfs() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("nopivot");
    let (b, rootfs) = private_bundle(
        &env,
        &id,
        |r| std::fs::write(r.join("etc/marker"), "in-rootfs\n").unwrap(),
        |c| {
            script(c, "cat /etc/marker; ls -a / | tr '\\n' ' '; echo; grep -c . /proc/self/mountinfo; ( touch /x ) 2>&1; true");
        },
    );
    let out = env.runp(&["run", "--no-pivot", "--bundle", b.to_str().unwrap(), &id]);
    let out = stdout_ok(&out);
    let mut l = out.lines();
    assert_eq!(l.next(), Some("in-rootfs"));
    let mut inside: Vec<&str> = l.next().unwrap().split_whitespace().filter(|n| *n != "." && *n != "..").collect();
    inside.sort();
    let mut host: Vec<String> =
        std::fs::read_dir(&rootfs).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    host.sort();
    assert_eq!(inside, host);
    // Only the container's mounts are visible (the host's are unreachable from the new root).
    let n: usize = l.next().unwrap().parse().unwrap();
    assert!(n < 40, "{n} mounts visible: {out}");
    assert!(l.next().unwrap().contains("Read-only file system"));
    assert_no_trace(&env, &id);
    assert_host_mounts_clean(&env);
}

#[test]
fn masked_and_readonly_paths() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("masked");
    let b = env.bundle(&id, |c| {
        c["linux"]["maskedPaths"].as_array_mut().unwrap().push(json!("/etc/group"));
        c["linux"]["readonlyPaths"].as_array_mut().unwrap().push(json!("/proc/sysrq-trigger"));
        script(
            c,
            "if [ -e /proc/kcore ]; then echo kcore=$(wc -c < /proc/kcore); else echo kcore=0; fi
             echo keys=$(wc -c < /proc/keys) timer_list=$(wc -c < /proc/timer_list) group=$(wc -c < /etc/group)
             echo firmware=$(ls -A /sys/firmware | wc -l)
             ( touch /sys/firmware/x ) 2>&1
             ( echo 1 > /proc/sys/kernel/ns_last_pid ) 2>&1
             ( echo 1 > /proc/sys/vm/drop_caches ) 2>&1
             grep -E ' /proc/(sys|keys|timer_list) | /etc/group ' /proc/self/mountinfo | wc -l",
        );
    });
    let out = stdout_ok(&env.run(&b, &id));
    let mut l = out.lines();
    assert_eq!(l.next(), Some("kcore=0"), "{out}");
    assert_eq!(l.next(), Some("keys=0 timer_list=0 group=0"), "{out}");
    assert_eq!(l.next(), Some("firmware=0"), "{out}");
    for _ in 0..3 {
        assert!(l.next().unwrap().contains("Read-only file system"), "{out}");
    }
    assert_eq!(l.next(), Some("4"), "{out}");
    // The masked file is masked, not emptied.
    assert!(std::fs::metadata(base_bundle().join("rootfs/etc/group")).unwrap().len() > 0);
    assert!(std::fs::metadata("/sys/firmware").unwrap().is_dir());
    assert_no_trace(&env, &id);
    assert_host_mounts_clean(&env);
}

// ---------------------------------------------------------------------------------------------
// /dev and devices

#[test]
fn dev_has_only_the_default_nodes() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("devs");
    let b = env.sh_bundle(
        &id,
        "ls -A /dev | tr '\\n' ' '; echo
         for f in null zero full random urandom tty; do stat -c '%n %F %t:%T %a' /dev/$f; done
         for f in ptmx fd stdin stdout stderr; do echo $f=$(readlink /dev/$f); done
         grep ' /dev ' /proc/self/mountinfo",
    );
    let out = stdout_ok(&env.run(&b, &id));
    let mut l = out.lines();
    let mut names: Vec<&str> = l.next().unwrap().split_whitespace().collect();
    names.sort();
    // The nodes and links runc makes, plus the mount points of the config (pts, shm, mqueue).
    let want = [
        "core", "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty",
        "urandom", "zero",
    ];
    assert_eq!(names, want, "{out}");
    for (name, dev) in
        [("null", "1:3"), ("zero", "1:5"), ("full", "1:7"), ("random", "1:8"), ("urandom", "1:9"), ("tty", "5:0")]
    {
        assert_eq!(l.next().unwrap(), format!("/dev/{name} character special file {dev} 666"));
    }
    for (name, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        assert_eq!(l.next().unwrap(), format!("{name}={target}"));
    }
    let dev = l.next().unwrap();
    assert!(dev.contains("nosuid") && dev.contains("size=65536k") && dev.contains(" - tmpfs "), "{dev}");
    assert_no_trace(&env, &id);
}

#[test]
fn linux_devices_adds_nodes_with_mode_and_owner() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let id = unique_id("mydevs");
    let b = env.bundle(&id, |c| {
        c["linux"]["devices"] = json!([
            {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 1000, "gid": 1001},
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229},
            {"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200, "fileMode": 0o640},
            {"path": "/dev/myfifo", "type": "p", "fileMode": 0o644},
        ]);
        script(c, "for f in mynull fuse net/tun myfifo; do stat -c '%n %F %t:%T %a %u:%g' /dev/$f; done");
    });
    let out = stdout_ok(&env.run(&b, &id));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "/dev/mynull character special file 1:3 600 1000:1001",
            "/dev/fuse character special file a:e5 666 0:0",
            "/dev/net/tun character special file a:c8 640 0:0",
            "/dev/myfifo fifo 0:0 644 0:0",
        ],
        "{out}"
    );
    assert_no_trace(&env, &id);
}

/// CAP_MKNOD may make any node, but the device cgroup denies opening undeclared ones.
#[test]
fn device_cgroup_denies_undeclared_devices() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let root_dev = std::fs::metadata("/").unwrap().dev();
    let (maj, min) = (libc::major(root_dev), libc::minor(root_dev));
    let id = unique_id("devcg");
    let b = env.bundle(&id, |c| {
        add_tmp(c);
        add_caps(c, &["CAP_MKNOD"]);
        script(
            c,
            &format!(
                "mknod /tmp/mem c 1 1 && echo made-mem
                 ( head -c1 /tmp/mem ) 2>&1
                 mknod /tmp/disk b {maj} {min} && echo made-disk
                 ( head -c1 /tmp/disk ) 2>&1
                 mknod /tmp/loopctl c 10 237 && echo made-loopctl
                 ( head -c1 /tmp/loopctl ) 2>&1
                 mknod /tmp/null c 1 3 && echo x > /tmp/null && echo null-ok"
            ),
        );
    });
    let out = stdout_ok(&env.run(&b, &id));
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "made-mem", "{out}");
    assert!(l[1].contains("Operation not permitted"), "/dev/mem readable: {out}");
    assert_eq!(l[2], "made-disk", "{out}");
    assert!(l[3].contains("Operation not permitted"), "host disk readable: {out}");
    // /dev/mem also needs CAP_SYS_RAWIO; loop-control opens for anyone (then EINVAL on read).
    assert_eq!(l[4], "made-loopctl", "{out}");
    assert!(l[5].contains("Operation not permitted"), "loop-control opened: {out}");
    assert_eq!(l[6], "null-ok", "{out}");
    assert_no_trace(&env, &id);
}

// ---------------------------------------------------------------------------------------------
// repeated create/delete leaves the host's mounts alone

#[test]
fn create_delete_cycles_leave_host_mountinfo_unchanged() {
    if !is_root() {
        return;
    }
    let env = Env::new();
    let hd = env.scratch.path().join("cyc-src");
    std::fs::create_dir(&hd).unwrap();
    let rootfs = private_rootfs(&env, "cycles");
    let watch = || -> Vec<String> {
        let mut v = host_mounts_with(env.scratch.path().to_str().unwrap());
        v.extend(host_mounts_with(env.root().to_str().unwrap()));
        v
    };
    let before = watch();
    let total_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().count();
    let (r, h) = (rootfs.display().to_string(), hd.display().to_string());
    for i in 0..20 {
        let id = unique_id("cycle");
        let b = env.bundle(&id, |c| {
            c["root"]["path"] = json!(r);
            add_tmp(c);
            push_mount(c, json!({"destination": "/tmp/h", "source": h, "options": ["rbind", "ro"]}));
            script(c, "true");
        });
        let bs = b.to_str().unwrap();
        if i % 2 == 0 {
            // created, never started
            env.ok(&["create", "--bundle", bs, &id]);
            env.ok(&["delete", "--force", &id]);
        } else {
            env.ok(&["create", "--bundle", bs, &id]);
            env.ok(&["start", &id]);
            env.wait_status(&id, "stopped");
            env.ok(&["delete", &id]);
        }
        assert_no_trace(&env, &id);
    }
    assert_eq!(watch(), before);
    let total_after = std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().count();
    // Other tests may mount concurrently; only a leak per cycle would show here.
    assert!(total_after < total_before + 20, "{total_before} host mounts before, {total_after} after");
    assert_host_mounts_clean(&env);
}
