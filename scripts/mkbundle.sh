#!/usr/bin/env bash
# Build (or refresh) a busybox OCI bundle: DIR/rootfs and DIR/config.json.
#
#   scripts/mkbundle.sh DIR
#
# The rootfs comes from Debian's busybox-static (`make deps` installs it): the
# static /bin/busybox is copied in and every applet from `busybox --list-full`
# becomes a symlink to it, plus the usual empty top-level dirs and a minimal
# /etc/passwd and /etc/group.  DIR/config.json is copied from the committed
# template bundles/busybox/config.json unless DIR already has one, so tests can
# call this on a scratch dir and then edit the copy.
#
# Idempotent and cheap: nothing is done when DIR/rootfs/bin/busybox exists and
# the host's /bin/busybox is not newer.  Safe against concurrent callers (test
# threads) on the same DIR: work happens under a flock on DIR itself, and the
# new rootfs is built in a temp dir and renamed into place, so a half-built
# rootfs is never visible.
set -euo pipefail

die() { echo "mkbundle: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 DIR"
BUSYBOX=/bin/busybox
[[ -x $BUSYBOX ]] || die "$BUSYBOX not found: install busybox-static (make deps)"
# A dynamically linked busybox would not run inside the rootfs (no libc there);
# ldd exits 0 only for dynamic executables.
if ldd "$BUSYBOX" >/dev/null 2>&1; then
    die "$BUSYBOX is dynamically linked: install busybox-static, not busybox"
fi

TEMPLATE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bundles/busybox/config.json
DIR=$1
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
ROOTFS=$DIR/rootfs

# Serialise concurrent builds of the same bundle (flock on the directory's fd:
# no lock file to clean up or to gitignore).
exec 9<"$DIR"
flock 9

if [[ ! -e $DIR/config.json ]]; then
    [[ -f $TEMPLATE ]] || die "template $TEMPLATE missing"
    cp "$TEMPLATE" "$DIR/config.json"
fi

if [[ -x $ROOTFS/bin/busybox && ! $BUSYBOX -nt $ROOTFS/bin/busybox ]]; then
    exit 0  # up to date
fi

tmp=$(mktemp -d "$DIR/.rootfs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/bin"
# -p keeps the mtime, which the freshness check above compares against.
cp -p "$BUSYBOX" "$tmp/bin/busybox"

# One symlink per applet (bin/sh, usr/bin/env, sbin/ifconfig, ...).  Absolute
# targets are resolved inside the container's root, so /bin/busybox is right.
while IFS= read -r applet; do
    [[ -n $applet && $applet != bin/busybox ]] || continue
    mkdir -p "$tmp/$(dirname "$applet")"
    ln -sf /bin/busybox "$tmp/$applet"
done < <("$BUSYBOX" --list-full)

# Mount points and scratch dirs a runtime or a shell expects.
mkdir -p "$tmp"/{proc,sys,dev,etc,root,run,var,tmp}
chmod 1777 "$tmp/tmp"
chmod 0700 "$tmp/root"

cat >"$tmp/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000::/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$tmp/etc/group" <<'GROUP'
root:x:0:
tty:x:5:
user:x:1000:
nogroup:x:65534:
GROUP
chmod 0755 "$tmp"

# Swap the finished tree in; the old one (if any) is removed afterwards.
if [[ -e $ROOTFS ]]; then
    mv -T "$ROOTFS" "$tmp.old"
fi
mv -T "$tmp" "$ROOTFS"
rm -rf "$tmp.old"
trap - EXIT
echo "mkbundle: built $ROOTFS ($("$BUSYBOX" --list-full | wc -l) applets)"
