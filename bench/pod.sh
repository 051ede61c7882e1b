#!/usr/bin/env bash
# Pod benchmark: runp vs podman on the same pod shape, measured in the same run.
#
#   bench/pod.sh                          # or: make bench (after bench/oci.sh)
#   BENCH_POD_RUNS=5 bench/pod.sh         # quick look
#
# Env: RUNP (default: the release build), BENCH_POD_RUNS (default 20),
#      BENCH_POD_WARMUP (default 1; not counted: podman builds its pause image then).
# Needs root, jq, unshare, and bundles/busybox/rootfs (make bundles); podman, conmon and
# catatonit for the podman column (make bench installs them).  Missing or broken: n/a.
#
# The pod: one init container (`true`) and two app containers that exit on SIGTERM
# (`sh -c 'trap "exit 0" TERM; while :; do sleep 1 & wait; done'`), busybox.
#   runp:   `runp pod run -d pod.yaml` + `runp pod wait --for=phase=Running` (phase Running
#           = both app containers running); `runp pod stop`; memory of the supervisor + pause.
#   podman: `podman pod create --network none`, `podman run --rm --pod P --rootfs R true`
#           (the init step), two `podman run -d --pod P --rootfs R ...` (each returns once its
#           container runs); `podman pod stop -t 5`; memory of conmon × 3 (infra, a, b) + the
#           infra process (catatonit).  podman 4.3 drives crun through conmon.
# Each of start and stop is the wall time of the commands, median over BENCH_POD_RUNS runs
# (raw samples in bench/out/pod-samples.txt).
# Memory: RSS (VmRSS) and PSS (smaps_rollup) summed over those processes, right after start.
# Differences that remain: runp gives each container an overlay on the imported image,
# podman's --rootfs runs the directory itself (one copy per container); runp's pod shares
# the PID namespace by default, podman's pod shares net, ipc and uts.
#
# Isolation (the host is left as it was; checked at the end):
# * a private mount + pid namespace (as bench/oci.sh; the pid namespace reaps the detached
#   supervisors and conmons, and nothing outlives it);
# * there, the hybrid-cgroup workaround crun needs (docs/oci-cli.md#comparing-with-runc-and-crun);
# * podman gets a private containers.conf (CONTAINERS_CONF), --root/--runroot/--tmpdir in the
#   temp dir, --storage-driver vfs, and, because it writes outside those anyway
#   (/dev/shm/libpod_lock, /run/crun, /var/lib/containers/cache, /var/tmp, /etc/cni/net.d),
#   a tmpfs on /dev/shm and overlays on /run, /var/lib, /var/tmp and /etc whose upper dirs
#   are in the temp dir;
# * podman's cgroups go under a cgroup parent of our own, removed at the end.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
RUNP=${RUNP:-$ROOT/target/x86_64-unknown-linux-gnu/release/runp}
RUNS=${BENCH_POD_RUNS:-20}
WARMUP=${BENCH_POD_WARMUP:-1}
export RUNP RUNS WARMUP

die() { echo "pod bench: $*" >&2; exit 1; }

# Host paths podman would write to if the overlays above were missing.
HOST_PATHS=(/dev/shm/libpod_lock /run/crun /run/containers /run/libpod /var/lib/containers
    /var/lib/cni /etc/cni/net.d/cni.lock /etc/containers/networks)

# ---------------------------------------------------------------- outer half
if [[ -z ${RUNP_BENCH_INNER:-} ]]; then
    [[ $(id -u) -eq 0 ]] || die "must run as root"
    for tool in jq unshare timeout; do
        command -v "$tool" >/dev/null || die "$tool not found"
    done
    [[ -x $ROOT/bundles/busybox/rootfs/bin/true ]] || die "bundles/busybox/rootfs missing: run make bundles"
    tmp=$(mktemp -d /tmp/runp-podbench.XXXXXX)
    export RUNP_BENCH_TMP=$tmp RUNP_BENCH_CGROUP=${tmp##*/}
    before=$(awk '{print $5, $9, $10}' /proc/self/mountinfo | sort)
    paths_before=$(ls -d "${HOST_PATHS[@]}" 2>/dev/null || true)
    rc=0
    # Bounded: every step inside has its own timeout too.  --kill-child takes the whole pid
    # namespace down if unshare itself is killed.
    RUNP_BENCH_INNER=1 timeout --kill-after=10 $(((RUNS + WARMUP) * 90 + 180)) \
        unshare --mount --propagation private --pid --fork --mount-proc --kill-child \
        "$0" "$@" || rc=$?
    # The namespace is gone, and its mounts with it; what may be left is on disk.
    for c in /sys/fs/cgroup/*/"$RUNP_BENCH_CGROUP"; do
        [[ -d $c ]] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
        [[ -d $c ]] && { echo "pod bench: WARNING: cgroup $c left behind" >&2; rc=1; }
    done
    rm -rf "$tmp"
    after=$(awk '{print $5, $9, $10}' /proc/self/mountinfo | sort)
    if [[ $before != "$after" ]]; then
        echo "pod bench: WARNING: the host mount table changed during the run:" >&2
        diff <(echo "$before") <(echo "$after") >&2 || true
        rc=1
    fi
    paths_after=$(ls -d "${HOST_PATHS[@]}" 2>/dev/null || true)
    if [[ $paths_before != "$paths_after" ]]; then
        echo "pod bench: WARNING: podman left files on the host:" >&2
        diff <(echo "$paths_before") <(echo "$paths_after") >&2 || true
        rc=1
    fi
    exit "$rc"
fi

# ---------------------------------------------------------------- inner half
# PID 1 of a private pid + mount namespace.
tmp=$RUNP_BENCH_TMP
CG=$RUNP_BENCH_CGROUP
R=("$RUNP" --root "$tmp/runp")
export RUNP_IMAGE_DIR=$tmp/images
export RUNP_DATA_ROOT=$tmp/data
P=(podman --root "$tmp/podman/root" --runroot "$tmp/podman/runroot" --tmpdir "$tmp/podman/tmp"
    --storage-driver vfs)
export CONTAINERS_CONF=$tmp/containers.conf

cleanup() {
    timeout 20 "${R[@]}" pod rm --force bench >/dev/null 2>&1 || true
    if [[ -n ${PODMAN_SET_UP:-} ]]; then
        timeout 30 "${P[@]}" pod rm --force --all >/dev/null 2>&1 || true
    fi
    local c
    for c in /sys/fs/cgroup/*/"$CG"; do
        [[ -d $c ]] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
}
trap cleanup EXIT

controllers=/sys/fs/cgroup/unified/cgroup.controllers
if [[ -f $controllers && -n $(<"$controllers") ]]; then
    : >"$tmp/empty"
    mount --bind "$tmp/empty" "$controllers"
fi

ns() { date +%s%N; }
# mem PID...: "PSS RSS" in KiB summed over the processes.
mem() {
    local pid p=0 r=0
    for pid in "$@"; do
        p=$((p + $(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup")))
        r=$((r + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")))
    done
    echo "$p $r"
}
# First lines of a failed step's stderr, on one line.
errtext() { head -c 300 "$tmp/err" | tr '\n' ' '; }

# Results: per engine, arrays of start/stop (µs) and memory (KiB); WHY[engine] when n/a.
declare -A WHY
R_START=() R_STOP=() R_PSS=() R_RSS=()
P_START=() P_STOP=() P_PSS=() P_RSS=() P_CONMON_PSS=() P_INFRA_PSS=()

# ------------------------------------------------------------------ runp
cat >"$tmp/pod.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: bench}
spec:
  terminationGracePeriodSeconds: 5
  initContainers:
  - {name: init, image: busybox, command: ["true"]}
  containers:
  - {name: a, image: busybox, command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]}
  - {name: b, image: busybox, command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]}
YAML

# One runp pod: start, measure, stop, remove.  Sets S E M (µs, µs, "PSS RSS").
runp_once() {
    local t0 t1 t2 t3 sup pause
    t0=$(ns)
    timeout 20 "${R[@]}" pod run -d "$tmp/pod.yaml" >/dev/null 2>"$tmp/err" || return 1
    timeout 20 "${R[@]}" pod wait bench --for=phase=Running --timeout 15s >/dev/null 2>"$tmp/err" || return 1
    t1=$(ns)
    sup=$(jq -r .pid "$tmp/runp/pods/bench/supervisor.json")
    pause=$(pgrep -P "$sup" -x pause || pgrep -P "$sup" | head -1)
    M=$(mem "$sup" "$pause") || { echo "cannot read the memory of $sup $pause" >"$tmp/err"; return 1; }
    t2=$(ns)
    timeout 20 "${R[@]}" pod stop bench >/dev/null 2>"$tmp/err" || return 1
    t3=$(ns)
    timeout 20 "${R[@]}" pod rm bench >/dev/null 2>"$tmp/err" || return 1
    S=$(((t1 - t0) / 1000)) E=$(((t3 - t2) / 1000))
}

if [[ ! -x $RUNP ]]; then
    WHY[runp]="$RUNP not built"
elif ! "$RUNP" image import busybox "$ROOT/bundles/busybox/rootfs" >/dev/null 2>"$tmp/err"; then
    WHY[runp]="image import failed: $(errtext)"
else
    echo "== pod: runp ($WARMUP warm-up + $RUNS runs)"
    for i in $(seq $((WARMUP + RUNS))); do
        if ! runp_once; then
            WHY[runp]="run $i failed: $(errtext)"
            timeout 20 "${R[@]}" pod rm --force bench >/dev/null 2>&1 || true
            break
        fi
        ((i > WARMUP)) || continue
        R_START+=("$S") R_STOP+=("$E") R_PSS+=("${M% *}") R_RSS+=("${M#* }")
    done
fi

# ------------------------------------------------------------------ podman
podman_setup() {
    local d n
    for tool in podman conmon catatonit; do
        command -v "$tool" >/dev/null || { echo "$tool not installed (make bench installs it)" >"$tmp/err"; return 1; }
    done
    mkdir -p "$tmp/podman"/{root,runroot,tmp,vartmp,cni}
    cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
image_copy_tmp_dir = "$tmp/podman/vartmp"
[network]
network_config_dir = "$tmp/podman/cni"
EOF
    mount -t tmpfs -o mode=1777 tmpfs /dev/shm
    for d in /run /var/lib /var/tmp /etc; do
        n=$tmp/ovl/${d//\//_}
        mkdir -p "$n/upper" "$n/work"
        mount -t overlay overlay -o "lowerdir=$d,upperdir=$n/upper,workdir=$n/work" "$d" 2>"$tmp/err" || return 1
    done
    PODMAN_SET_UP=1
    export TMPDIR=$tmp/podman/vartmp
    # --rootfs mounts the directory read-write and podman adds files to it: one copy per
    # container, reused across runs.
    for n in init a b; do cp -a "$ROOT/bundles/busybox/rootfs" "$tmp/podman/rootfs-$n"; done
}

# One podman pod: same shape and steps as runp_once.
podman_once() {
    local t0 t1 t2 t3 infra app='trap "exit 0" TERM; while :; do sleep 1 & wait; done' pids c
    t0=$(ns)
    timeout 30 "${P[@]}" pod create --name bench --network none --cgroup-parent "/$CG" >/dev/null 2>"$tmp/err" || return 1
    timeout 30 "${P[@]}" run --rm --pod bench --rootfs "$tmp/podman/rootfs-init" true >/dev/null 2>"$tmp/err" || return 1
    timeout 30 "${P[@]}" run -d --pod bench --name a --rootfs "$tmp/podman/rootfs-a" sh -c "$app" >/dev/null 2>"$tmp/err" || return 1
    timeout 30 "${P[@]}" run -d --pod bench --name b --rootfs "$tmp/podman/rootfs-b" sh -c "$app" >/dev/null 2>"$tmp/err" || return 1
    t1=$(ns)
    infra=$(timeout 30 "${P[@]}" pod inspect bench --format '{{.InfraContainerID}}' 2>"$tmp/err") || return 1
    # "<pid> <conmon pid>" of the infra container, a and b.
    pids=$(timeout 30 "${P[@]}" inspect --format '{{.State.Pid}} {{.State.ConmonPid}}' "$infra" a b 2>"$tmp/err") || return 1
    local conmons=() infrapid
    infrapid=$(head -1 <<<"$pids" | cut -d' ' -f1)
    while read -r _ c; do conmons+=("$c"); done <<<"$pids"
    M=$(mem "${conmons[@]}" "$infrapid") || { echo "cannot read the memory of $pids" >"$tmp/err"; return 1; }
    MC=$(mem "${conmons[@]}") MI=$(mem "$infrapid")
    NCONMON=${#conmons[@]}
    t2=$(ns)
    timeout 30 "${P[@]}" pod stop -t 5 bench >/dev/null 2>"$tmp/err" || return 1
    t3=$(ns)
    timeout 30 "${P[@]}" pod rm bench >/dev/null 2>"$tmp/err" || return 1
    S=$(((t1 - t0) / 1000)) E=$(((t3 - t2) / 1000))
}

if ! podman_setup; then
    WHY[podman]="setup failed: $(errtext)"
else
    echo "== pod: podman $(podman --version | awk '{print $3}') ($WARMUP warm-up + $RUNS runs)"
    for i in $(seq $((WARMUP + RUNS))); do
        if ! podman_once; then
            WHY[podman]="run $i failed: $(errtext)"
            timeout 30 "${P[@]}" pod rm --force bench >/dev/null 2>&1 || true
            break
        fi
        ((i > WARMUP)) || continue
        P_START+=("$S") P_STOP+=("$E") P_PSS+=("${M% *}") P_RSS+=("${M#* }")
        P_CONMON_PSS+=("${MC% *}") P_INFRA_PSS+=("${MI% *}")
    done
fi

zombies=$(ps -eo stat= | grep -c '^Z' || true)

# ---------------------------------------------------------------- report
median() { # median of the arguments, or empty
    (($#)) || return 0
    printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
ms() { [[ -n $1 ]] || return 0; awk -v v="$1" 'BEGIN { printf "%.1f", v / 1000 }'; }
ratio() { if [[ -n $1 && -n $2 ]]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; else echo n/a; fi; }
# goal VALUE LIMIT TEXT: "TEXT ok" or "TEXT MISSED"
goal() {
    [[ -n $1 ]] || { echo "$3"; return; }
    awk -v v="$1" -v l="$2" -v t="$3" 'BEGIN { print t, (v < l ? "(met)" : "(missed)") }'
}
row() { # metric runp podman goal
    printf '%-46s %9s %9s %12s   %s\n' "$1" "${2:-n/a}" "${3:-n/a}" "$(ratio "$2" "$3")" "$4"
}
# Fewer samples than asked for (a run failed): say so instead of passing them off.
if ((${#R_START[@]} < RUNS)); then R_START=() R_STOP=() R_PSS=() R_RSS=(); fi
if ((${#P_START[@]} < RUNS)); then P_START=() P_STOP=() P_PSS=() P_RSS=(); fi

# Raw samples (µs, KiB), one line per engine and metric.
mkdir -p "$ROOT/bench/out"
{
    echo "# engine metric samples... (start/stop in µs, memory in KiB)"
    echo "runp start ${R_START[*]}"; echo "runp stop ${R_STOP[*]}"
    echo "runp pss ${R_PSS[*]}"; echo "runp rss ${R_RSS[*]}"
    echo "podman start ${P_START[*]}"; echo "podman stop ${P_STOP[*]}"
    echo "podman pss ${P_PSS[*]}"; echo "podman rss ${P_RSS[*]}"
} >"$ROOT/bench/out/pod-samples.txt"

rs=$(ms "$(median "${R_START[@]}")") ps_=$(ms "$(median "${P_START[@]}")")
re=$(ms "$(median "${R_STOP[@]}")") pe=$(ms "$(median "${P_STOP[@]}")")
rp=$(median "${R_PSS[@]}") pp=$(median "${P_PSS[@]}")
rr=$(median "${R_RSS[@]}") pr=$(median "${P_RSS[@]}")

echo
echo "Pod benchmark: 1 init + 2 app containers, median of $RUNS runs ($WARMUP warm-up); $(nproc) CPUs; $(uname -r)"
printf '%-46s %9s %9s %12s   %s\n' metric runp podman runp/podman goal
row "pod run -d -> Running (ms)" "$rs" "$ps_" "$(goal "$rs" 30 "< 30 ms")"
row "pod stop, containers exit on SIGTERM (ms)" "$re" "$pe" "$(goal "$re" 20 "< 20 ms")"
row "memory PSS (KiB): sup+pause | conmon x${NCONMON:-3}+infra" "$rp" "$pp" "$(goal "$rp" 2048 "< 2048 KiB (2 MiB)")"
row "memory RSS (KiB): sup+pause | conmon x${NCONMON:-3}+infra" "$rr" "$pr" ""
if [[ -n $pp ]]; then
    printf '  podman PSS split: conmon x%s = %s KiB (%s KiB each), infra (catatonit) = %s KiB\n' \
        "${NCONMON:-3}" "$(median "${P_CONMON_PSS[@]}")" \
        "$(($(median "${P_CONMON_PSS[@]}") / ${NCONMON:-3}))" "$(median "${P_INFRA_PSS[@]}")"
fi
for e in runp podman; do
    [[ -n ${WHY[$e]:-} ]] && echo "  $e: n/a: ${WHY[$e]}"
done
echo "  zombies left in the bench pid namespace: $zombies; raw samples: bench/out/pod-samples.txt"
