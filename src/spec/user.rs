//! `exec --user` values and /etc/passwd, /etc/group lookups (no libc NSS: the files come from the
//! container and are read by the caller through a root-confined open).

use anyhow::{bail, Result};

/// A `--user` value before name lookup.
#[derive(Debug, PartialEq, Eq)]
pub enum UserSpec {
    /// `1000` or `1000:100`. A missing group means gid 0, as runc does.
    Ids { uid: u32, gid: Option<u32> },
    /// `name` or `name:group`, looked up in the container's files.
    Names { user: String, group: Option<String> },
}

fn parse_id(s: &str) -> Option<u32> {
    // Only plain decimal: "0x10", "-1", "+1" and 2^32-1 (the "no id" value) are refused.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok().filter(|&v| v != u32::MAX)
}

/// A user or group name: starts with a letter or `_` (so "-1" and "0x10" are not names).
fn valid_name(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Parses `uid[:gid]` or `name[:group]`.
pub fn parse(spec: &str) -> Result<UserSpec> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if let Some(uid) = parse_id(u) {
        let gid = match g {
            None => None,
            Some(g) => Some(parse_id(g).ok_or_else(|| anyhow::anyhow!("invalid user {spec:?}: bad group {g:?}"))?),
        };
        return Ok(UserSpec::Ids { uid, gid });
    }
    if !valid_name(u) || g.is_some_and(|g| !valid_name(g) && parse_id(g).is_none()) {
        bail!("invalid user {spec:?}");
    }
    Ok(UserSpec::Names { user: u.to_string(), group: g.map(str::to_string) })
}

/// One /etc/passwd entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// Parses /etc/passwd text; malformed lines are skipped, as glibc does.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
            })
        })
        .collect()
}

/// Parses /etc/group text into (name, gid, members).
pub fn parse_group(text: &str) -> Vec<(String, u32, Vec<String>)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            let members = f[3].split(',').filter(|m| !m.is_empty()).map(str::to_string).collect();
            Some((f[0].to_string(), f[2].parse().ok()?, members))
        })
        .collect()
}

/// Resolves a parsed spec against the container's passwd and group files.
pub fn resolve(spec: &UserSpec, passwd: &str, group: &str) -> Result<(u32, u32)> {
    match spec {
        UserSpec::Ids { uid, gid } => Ok((*uid, gid.unwrap_or(0))),
        UserSpec::Names { user, group: g } => {
            let entry = parse_passwd(passwd)
                .into_iter()
                .find(|e| &e.name == user)
                .ok_or_else(|| anyhow::anyhow!("unable to find user {user}: no matching entries in passwd file"))?;
            let gid = match g {
                None => entry.gid,
                Some(g) => match parse_id(g) {
                    Some(id) => id,
                    None => parse_group(group).into_iter().find(|(n, _, _)| n == g).map(|(_, id, _)| id).ok_or_else(
                        || anyhow::anyhow!("unable to find group {g}: no matching entries in group file"),
                    )?,
                },
            };
            Ok((entry.uid, gid))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\nbad line\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:user\n";

    #[test]
    fn user_spec_table() {
        // The documented result for each value (docs/oci-cli.md#exec, docs/security.md#input-validation).
        let ok = |s: &str| resolve(&parse(s).unwrap(), PASSWD, GROUP).unwrap();
        assert_eq!(ok("1"), (1, 0));
        assert_eq!(ok("1:2"), (1, 2));
        assert_eq!(ok("root"), (0, 0));
        assert_eq!(ok("user"), (1000, 1000));
        assert_eq!(ok("user:wheel"), (1000, 10));
        assert_eq!(ok("user:7"), (1000, 7));
        for bad in [":", "1:", "-1", "4294967295", "0x10", "", "a b", "1:x:y"] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(resolve(&parse("nobody").unwrap(), PASSWD, GROUP).is_err());
        assert!(resolve(&parse("user:nogroup").unwrap(), PASSWD, GROUP).is_err());
    }
}
