#!/usr/bin/env bash
# Compare runp with runc and crun on container lifecycle latency.
#
#   bench/oci.sh                      # or: make bench
#   BENCH_RUNS=20 bench/oci.sh        # quick look
#
# Env: RUNP (path to the runp binary; default the release build),
#      BENCH_RUNS (default 200), BENCH_WARMUP (default min(20, BENCH_RUNS)).
# Needs root, hyperfine, runc, crun, jq, and bundles/busybox/rootfs (make bundles).
# Writes hyperfine's JSON to bench/out/ and prints a table of medians.
#
# Scenarios, each a `/bin/true` container from the busybox bundle:
#   run      R run --bundle B ID                     (hyperfine -N: no shell)
#   split    bash -c 'R create ..; R start ..; R delete -f ..'
#   run-x10  bash -c: 10 concurrent `R run`, then wait for all
# For the two bash -c scenarios hyperfine measures bash's start-up and subtracts
# it; what remains is the runtimes plus bash's fork/execs, the same for all
# three.  The "bash -c true" row shows the uncorrected start-up for scale.
#
# Isolation: the whole measurement runs inside
#   unshare --mount --propagation private --pid --fork --mount-proc
# * mount ns: there an empty file is bind-mounted over
#   /sys/fs/cgroup/unified/cgroup.controllers, because crun 1.8 refuses a hybrid
#   cgroup host whose cgroup2 mount lists any controller (see
#   docs/oci-cli.md#comparing-with-runc-and-crun).  Every runtime gets the same view, so the
#   comparison stays fair, and the host's mount table is never touched
#   (checked at the end).
# * pid ns: `create` leaves the container init orphaned; on this host PID 1 does
#   not reap orphans, so they would pile up as zombies.  In the new pid ns this
#   script (bash) is PID 1 and reaps them, and anything left over dies with the
#   namespace.  --mount-proc makes /proc match the new pid ns, which runtimes
#   rely on (they look up /proc/<pid> of the inits they started).
#
# runp may be missing or broken while it is being written: then its columns say
# n/a and runc/crun are still measured.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
RUNP=${RUNP:-$ROOT/target/x86_64-unknown-linux-gnu/release/runp}
RUNS=${BENCH_RUNS:-200}
WARMUP=${BENCH_WARMUP:-$((RUNS < 20 ? RUNS : 20))}
OUT=$ROOT/bench/out
export RUNP RUNS WARMUP OUT

die() { echo "bench: $*" >&2; exit 1; }

# ---------------------------------------------------------------- outer half
# Check prerequisites, then re-run this script inside the namespaces and make
# sure the host's mount table is the same afterwards.
if [[ -z ${RUNP_BENCH_INNER:-} ]]; then
    [[ $(id -u) -eq 0 ]] || die "must run as root"
    for tool in hyperfine runc crun jq unshare; do
        command -v "$tool" >/dev/null || die "$tool not found (make bench installs it)"
    done
    [[ -x $ROOT/bundles/busybox/rootfs/bin/true ]] ||
        die "bundles/busybox/rootfs missing: run make bundles"
    mkdir -p "$OUT"
    before=$(cat /proc/self/mountinfo | awk '{print $5, $9, $10}' | sort)
    rc=0
    RUNP_BENCH_INNER=1 unshare --mount --propagation private --pid --fork --mount-proc \
        "$0" "$@" || rc=$?
    after=$(cat /proc/self/mountinfo | awk '{print $5, $9, $10}' | sort)
    if [[ $before != "$after" ]]; then
        echo "bench: WARNING: the host mount table changed during the run:" >&2
        diff <(echo "$before") <(echo "$after") >&2 || true
        rc=1
    fi
    exit "$rc"
fi

# ---------------------------------------------------------------- inner half
# From here on we are PID 1 of a private pid + mount namespace.
tmp=$(mktemp -d /tmp/runp-bench.XXXXXX)
RUNTIMES=(runp runc crun)

cleanup() {
    local r
    for r in "${RUNTIMES[@]}"; do
        [[ -d $tmp/state/$r ]] || continue
        local bin=${BIN[$r]:-} id
        [[ -x $bin ]] || continue
        for id in $("$bin" --root "$tmp/state/$r" list -q 2>/dev/null || true); do
            "$bin" --root "$tmp/state/$r" delete -f "$id" >/dev/null 2>&1 || true
        done
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

declare -A BIN=([runp]=$RUNP [runc]=$(command -v runc) [crun]=$(command -v crun))

# The crun workaround (see the header).  The mount vanishes with the namespace.
controllers=/sys/fs/cgroup/unified/cgroup.controllers
# (cgroupfs files report size 0, so test the content, not -s.)
if [[ -f $controllers && -n $(<"$controllers") ]]; then
    : >"$tmp/empty"
    mount --bind "$tmp/empty" "$controllers"
fi

# A bundle running /bin/true, sharing the repo's rootfs by absolute path.
B=$tmp/bundle
mkdir -p "$B"
jq --arg root "$ROOT/bundles/busybox/rootfs" \
    '.process.args = ["/bin/true"] | .root.path = $root' \
    "$ROOT/bundles/busybox/config.json" >"$B/config.json"

# Which runtimes work at all?  A missing or failing runp is reported, not fatal.
declare -A OK
for r in "${RUNTIMES[@]}"; do
    mkdir -p "$tmp/state/$r"
    OK[$r]=
    if [[ ! -x ${BIN[$r]} ]]; then
        echo "bench: $r unavailable: ${BIN[$r]} not built" >&2
    elif ! err=$(timeout 20 "${BIN[$r]}" --root "$tmp/state/$r" run --bundle "$B" smoke 2>&1 </dev/null); then
        echo "bench: $r unavailable: \`$r run\` of /bin/true failed: ${err:-(no output)}" | head -5 >&2
    else
        OK[$r]=1
    fi
done

# hyperfine NAME SCENARIO CMD...: one benchmark, JSON to $OUT/SCENARIO-NAME.json.
# A failure (or a hang: timeout) leaves no JSON, so the table shows n/a.
bench() {
    local name=$1 scenario=$2
    shift 2
    local json=$OUT/$scenario-$name.json
    rm -f "$json"
    echo "== $scenario: $name"
    timeout --kill-after=10 $((RUNS * 10 + 120)) \
        hyperfine --style basic --warmup "$WARMUP" --runs "$RUNS" \
        --export-json "$json" --command-name "$name" "$@" </dev/null ||
        { echo "bench: $scenario/$name failed" >&2; rm -f "$json"; }
}

bench bash bash-baseline -N "bash -c true"

for r in "${RUNTIMES[@]}"; do
    [[ -n ${OK[$r]} ]] || continue
    R="${BIN[$r]} --root $tmp/state/$r"
    # run deletes the container when it exits, so a fixed id can be reused.
    bench "$r" run -N "$R run --bundle $B b-run"
    bench "$r" split --shell bash "$R create --bundle $B b-split && $R start b-split && $R delete -f b-split"
    bench "$r" run-x10 --shell bash "pids=(); for i in 0 1 2 3 4 5 6 7 8 9; do $R run --bundle $B b-par\$i & pids+=(\$!); done; rc=0; for p in \${pids[@]}; do wait \$p || rc=1; done; exit \$rc"
done

# Peak RSS (KiB) of one `R run` (GNU time reports the largest of the runtime
# and the children it waited for).
declare -A RSS
if [[ -x /usr/bin/time ]]; then
    for r in "${RUNTIMES[@]}"; do
        [[ -n ${OK[$r]} ]] || continue
        RSS[$r]=$(/usr/bin/time -f %M "${BIN[$r]}" --root "$tmp/state/$r" \
            run --bundle "$B" b-rss 2>&1 >/dev/null </dev/null | tail -1) || RSS[$r]=
    done
fi

# Zombies still around show whether the orphan reaping above worked.
zombies=$(ps -eo stat= | grep -c '^Z' || true)

# ---------------------------------------------------------------- report
median() { # median in ms from a hyperfine JSON, or empty
    [[ -f $OUT/$1-$2.json ]] && jq -r '.results[0].median * 1000 | . * 100 | round / 100' "$OUT/$1-$2.json"
}
ratio() { # a/b to 2 decimals, or n/a
    if [[ -n $1 && -n $2 ]]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; else echo n/a; fi
}

echo
echo "Median wall time, ms ($RUNS runs, $WARMUP warm-up; $(nproc) CPUs; $(uname -r))"
printf '%-14s %9s %9s %9s %10s %10s\n' scenario runp runc crun runp/crun runp/runc
for s in run split run-x10; do
    p=$(median "$s" runp || true) c=$(median "$s" runc || true) k=$(median "$s" crun || true)
    printf '%-14s %9s %9s %9s %10s %10s\n' "$s" "${p:-n/a}" "${c:-n/a}" "${k:-n/a}" \
        "$(ratio "$p" "$k")" "$(ratio "$p" "$c")"
done
printf '%-14s %9s   (hyperfine subtracts this from split and run-x10)\n' "bash -c true" \
    "$(median bash-baseline bash || echo n/a)"
if [[ -x /usr/bin/time ]]; then
    printf '%-14s %9s %9s %9s %10s %10s\n' "peak RSS KiB" "${RSS[runp]:-n/a}" "${RSS[runc]:-n/a}" \
        "${RSS[crun]:-n/a}" "$(ratio "${RSS[runp]:-}" "${RSS[crun]:-}")" "$(ratio "${RSS[runp]:-}" "${RSS[runc]:-}")"
else
    echo "peak RSS: n/a (install package 'time' for /usr/bin/time)"
fi
echo "zombies left in the bench pid namespace: $zombies"
echo "hyperfine JSON: $OUT/"
