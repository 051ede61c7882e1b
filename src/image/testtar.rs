//! Test support: tar streams built in memory, hostile names included (tar's own `set_path`
//! refuses `..`, so names are written into the header bytes).

use tar::{EntryType, Header};

pub struct Tar {
    b: tar::Builder<Vec<u8>>,
}

fn put(field: &mut [u8], v: &[u8]) {
    assert!(v.len() <= field.len(), "test name too long");
    field.fill(0);
    field[..v.len()].copy_from_slice(v);
}

impl Tar {
    pub fn new() -> Tar {
        Tar { b: tar::Builder::new(Vec::new()) }
    }

    fn header(name: &str, ty: EntryType, mode: u32, size: u64) -> Header {
        let mut h = Header::new_gnu();
        put(&mut h.as_old_mut().name, name.as_bytes());
        h.set_entry_type(ty);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_000_000_000);
        h
    }

    fn add(&mut self, mut h: Header, data: &[u8]) -> &mut Tar {
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    pub fn file(&mut self, name: &str, data: &[u8], mode: u32) -> &mut Tar {
        self.add(Self::header(name, EntryType::Regular, mode, data.len() as u64), data)
    }

    pub fn file_owned(&mut self, name: &str, data: &[u8], mode: u32, uid: u64, gid: u64) -> &mut Tar {
        let mut h = Self::header(name, EntryType::Regular, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        self.add(h, data)
    }

    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Tar {
        self.add(Self::header(name, EntryType::Directory, mode, 0), b"")
    }

    fn link(&mut self, name: &str, target: &str, ty: EntryType) -> &mut Tar {
        let mut h = Self::header(name, ty, 0o777, 0);
        put(&mut h.as_old_mut().linkname, target.as_bytes());
        self.add(h, b"")
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Tar {
        self.link(name, target, EntryType::Symlink)
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Tar {
        self.link(name, target, EntryType::Link)
    }

    pub fn node(&mut self, name: &str, ty: EntryType, mode: u32, major: u32, minor: u32) -> &mut Tar {
        let mut h = Self::header(name, ty, mode, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.add(h, b"")
    }

    pub fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Tar {
        self.b.append_pax_extensions(records.iter().map(|(k, v)| (*k, *v))).unwrap();
        self
    }

    pub fn finish(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.b, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

/// Panics under CI=true when not root (a skip must not pass there); false elsewhere.
pub fn root() -> bool {
    if crate::linux::dirfd::is_root() {
        return true;
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: this test needs root");
    eprintln!("SKIP: needs root");
    false
}

pub fn sha256(b: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", super::unpack::hex(&sha2::Sha256::digest(b)))
}

/// A reader that fails after `n` bytes.
pub struct Failing<'a> {
    pub data: &'a [u8],
    pub n: usize,
}

impl std::io::Read for Failing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.n == 0 {
            return Err(std::io::Error::other("connection reset (test)"));
        }
        let k = buf.len().min(self.n).min(self.data.len());
        buf[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        self.n -= k;
        Ok(k)
    }
}
