#!/usr/bin/env bash
# Probe load benchmark: what many probes cost the pod supervisors, and how punctual they are.
#
#   bench/probes.sh                       # or: make bench (after bench/pod.sh)
#   BENCH_PROBE_SECONDS=10 bench/probes.sh
#
# Env: RUNP (default: the release build), BENCH_PROBE_SECONDS (measured window, default 30),
#      BENCH_PROBE_PODS (default 20), BENCH_PROBE_CONTAINERS (per pod, default 5, at most 9),
#      BENCH_PROBE_SETTLE (seconds between "all pods Running" and the window, default 3).
# Needs root, jq, unshare, and bundles/busybox/rootfs (make bundles).
#
# Load: PODS pods × CONTAINERS busybox containers.  Container N of a pod serves a page with
# `httpd -f -p 800N` (the containers of a pod share its network namespace, so each has its own
# port) and exits on SIGTERM.  Each has an exec liveness probe (`true`) and an httpGet
# readiness probe on its port, both periodSeconds 1.  The supervisors run with
# RUNP_PROBE_TRACE=FILE and append `<pod> <Kind> <lateness_us>` per check started, lateness
# being how late the check started after its scheduled tick.
# Reported over the window:
#   * CPU of all supervisors (utime+stime from /proc/<pid>/stat; pids from
#     <root>/pods/<name>/supervisor.json) as % of one core, and separately the CPU of the
#     children they reaped in the window (cutime+cstime: exec probe processes);
#   * lateness p50/p99/max in ms per probe kind and overall, and the number of checks against
#     the number expected (one per probe per second);
#   * which probe kinds were real: httpGet may still be a placeholder that fails at once.
# Goals: supervisors < 5% of one core in total; p99 lateness < 10 ms.
# The window's trace is kept in bench/out/probe-trace.txt.
#
# Isolation: a private mount + pid namespace and a temp dir, removed at the end (every pod is
# removed with `pod rm --force`; the pid namespace takes anything left with it).  The pods
# have only loopback; nothing touches the network outside them.  Every step has a timeout.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
RUNP=${RUNP:-$ROOT/target/x86_64-unknown-linux-gnu/release/runp}
SECS=${BENCH_PROBE_SECONDS:-30}
PODS=${BENCH_PROBE_PODS:-20}
CTRS=${BENCH_PROBE_CONTAINERS:-5}
SETTLE=${BENCH_PROBE_SETTLE:-3}
export RUNP SECS PODS CTRS SETTLE

die() { echo "probe bench: $*" >&2; exit 1; }

# ---------------------------------------------------------------- outer half
if [[ -z ${RUNP_BENCH_INNER:-} ]]; then
    [[ $(id -u) -eq 0 ]] || die "must run as root"
    for tool in jq unshare timeout; do
        command -v "$tool" >/dev/null || die "$tool not found"
    done
    ((CTRS >= 1 && CTRS <= 9)) || die "BENCH_PROBE_CONTAINERS must be 1..9"
    [[ -x $ROOT/bundles/busybox/rootfs/bin/true ]] || die "bundles/busybox/rootfs missing: run make bundles"
    [[ -x $RUNP ]] || { echo "probe bench: n/a: $RUNP not built"; exit 0; }
    tmp=$(mktemp -d /tmp/runp-probebench.XXXXXX)
    export RUNP_BENCH_TMP=$tmp
    before=$(awk '{print $5, $9, $10}' /proc/self/mountinfo | sort)
    rc=0
    RUNP_BENCH_INNER=1 timeout --kill-after=10 $((SECS + SETTLE + PODS * 20 + 120)) \
        unshare --mount --propagation private --pid --fork --mount-proc --kill-child \
        "$0" "$@" || rc=$?
    rm -rf "$tmp"
    after=$(awk '{print $5, $9, $10}' /proc/self/mountinfo | sort)
    if [[ $before != "$after" ]]; then
        echo "probe bench: WARNING: the host mount table changed during the run:" >&2
        diff <(echo "$before") <(echo "$after") >&2 || true
        rc=1
    fi
    exit "$rc"
fi

# ---------------------------------------------------------------- inner half
# PID 1 of a private pid + mount namespace.
tmp=$RUNP_BENCH_TMP
R=("$RUNP" --root "$tmp/state")
export RUNP_IMAGE_DIR=$tmp/images
export RUNP_DATA_ROOT=$tmp/data
TRACE=$tmp/probe-trace
export RUNP_PROBE_TRACE=$TRACE
names=()
for p in $(seq -w 1 "$PODS"); do names+=("probe-$p"); done

cleanup() {
    local n
    for n in "${names[@]}"; do
        timeout 30 "${R[@]}" pod rm --force "$n" >/dev/null 2>&1 &
    done
    wait
}
trap cleanup EXIT
# runp failing to start the pods ends the bench with n/a, not an error (as bench/oci.sh does).
na() { echo "probe bench: n/a: $*: $(head -c 300 "$tmp/err" | tr '\n' ' ')"; exit 0; }

"${R[@]}" image import busybox "$ROOT/bundles/busybox/rootfs" >/dev/null 2>"$tmp/err" || na "image import failed"

# The manifests.
for n in "${names[@]}"; do
    {
        printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n' "$n"
        printf '  terminationGracePeriodSeconds: 2\n  containers:\n'
        for c in $(seq "$CTRS"); do
            port=800$c
            cat <<YAML
  - name: c$c
    image: busybox
    command: ["sh", "-c", "mkdir -p /tmp/www && echo ok >/tmp/www/index.html && trap 'kill \$! 2>/dev/null; exit 0' TERM; httpd -f -p $port -h /tmp/www & wait"]
    livenessProbe: {exec: {command: ["true"]}, periodSeconds: 1}
    readinessProbe: {httpGet: {path: /index.html, port: $port}, periodSeconds: 1}
YAML
        done
    } >"$tmp/$n.yaml"
done

echo "== probes: $PODS pods x $CTRS containers, exec liveness + httpGet readiness every 1 s"
t_start=$(date +%s%N)
for n in "${names[@]}"; do
    timeout 20 "${R[@]}" pod run -d "$tmp/$n.yaml" >/dev/null 2>"$tmp/err" || na "pod run $n failed"
done
for n in "${names[@]}"; do
    timeout 30 "${R[@]}" pod wait "$n" --for=phase=Running --timeout 25s >/dev/null 2>"$tmp/err" ||
        na "pod $n did not reach Running"
done
t_running=$(date +%s%N)
echo "   all $PODS pods Running after $(((t_running - t_start) / 1000000)) ms; settling ${SETTLE}s, then measuring ${SECS}s"
sleep "$SETTLE"

sups=()
for n in "${names[@]}"; do sups+=("$(jq -r .pid "$tmp/state/pods/$n/supervisor.json")"); done
# cpu PID...: "self children" clock ticks summed (fields after the ")" of the comm).
cpu() {
    local pid s=0 c=0 f
    for pid in "$@"; do
        read -ra f < <(sed 's/.*) //' "/proc/$pid/stat")
        # f[0] is field 3 (state): utime=14 stime=15 cutime=16 cstime=17.
        s=$((s + f[11] + f[12])) c=$((c + f[13] + f[14]))
    done
    echo "$s $c"
}
load0=$(cut -d' ' -f1-3 /proc/loadavg)
c0=$(cpu "${sups[@]}")
: >"$TRACE"
w0=$(date +%s%N)
sleep "$SECS"
c1=$(cpu "${sups[@]}")
w1=$(date +%s%N)
cp "$TRACE" "$tmp/window-trace"
mkdir -p "$ROOT/bench/out"
cp "$TRACE" "$ROOT/bench/out/probe-trace.txt"
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# Were all supervisors alive throughout (same pids), and what did the probes do?
alive=0
for s in "${sups[@]}"; do [[ -d /proc/$s ]] && alive=$((alive + 1)); done
ready=0 restarts=0 total=0
for n in "${names[@]}"; do
    read -r r t x < <("${R[@]}" pod status "$n" -o json |
        jq -r '[([.status.containerStatuses[] | select(.ready)] | length),
                (.status.containerStatuses | length),
                ([.status.containerStatuses[].restartCount] | add)] | @tsv')
    ready=$((ready + r)) total=$((total + t)) restarts=$((restarts + x))
done
# Distinct failure messages per kind, from the events.
for n in "${names[@]}"; do "${R[@]}" pod events "$n" 2>/dev/null || true; done >"$tmp/events"
failmsg() { grep -o "$1 probe failed: .*" "$tmp/events" | sed "s/^$1 probe failed: //" | sort | uniq -c | sort -rn | head -3; }

# ---------------------------------------------------------------- report
ticks=$(getconf CLK_TCK)
win_s=$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
pct() { awk -v t="$1" -v k="$ticks" -v w="$win_s" 'BEGIN { printf "%.2f", t / k / w * 100 }'; }
sup_ticks=$((${c1% *} - ${c0% *})) child_ticks=$((${c1#* } - ${c0#* }))
sup_pct=$(pct "$sup_ticks") child_pct=$(pct "$child_ticks")

# stats FILTER: "count p50 p99 max" in ms of the lateness lines matching the kind (or all).
stats() {
    awk -v k="$1" '$2 == k || k == "all" { print $3 }' "$tmp/window-trace" | sort -n |
        awk '{ a[NR] = $1 } END {
            if (NR == 0) { print "0 n/a n/a n/a"; exit }
            i50 = int(NR * 0.50); if (i50 < NR * 0.50) i50++; if (i50 < 1) i50 = 1
            i99 = int(NR * 0.99); if (i99 < NR * 0.99) i99++; if (i99 < 1) i99 = 1
            printf "%d %.2f %.2f %.2f\n", NR, a[i50] / 1000, a[i99] / 1000, a[NR] / 1000 }'
}
expected=$(awk -v p="$PODS" -v c="$CTRS" -v w="$win_s" 'BEGIN { printf "%d", p * c * w }')
verdict() { awk -v v="$1" -v l="$2" 'BEGIN { if (v == "n/a") print "n/a"; else print (v < l ? "met" : "missed") }'; }

echo
echo "Probe load: $PODS pods x $CTRS containers = $((PODS * CTRS)) containers, $((PODS * CTRS * 2)) probes at periodSeconds 1;" \
    "window ${win_s}s; $(nproc) CPUs; load average $load0 -> $load1"
printf '%-42s %10s   %-28s %s\n' metric value goal notes
printf '%-42s %9s%%   %-28s %s\n' "CPU, all $PODS supervisors (utime+stime)" "$sup_pct" "< 5% of one core ($(verdict "$sup_pct" 5))" \
    "$(awk -v v="$sup_pct" -v n="$PODS" 'BEGIN { printf "%.2f", v / n }')% per supervisor"
printf '%-42s %9s%%   %-28s %s\n' "CPU, children they reaped (cutime+cstime)" "$child_pct" "" "the exec probe processes"
for k in Liveness Readiness all; do
    read -r cnt p50 p99 max < <(stats "$k")
    case $k in
        Liveness) label="Liveness (exec)" exp=$expected ;;
        Readiness) label="Readiness (httpGet)" exp=$expected ;;
        all) label="all probes" exp=$((expected * 2)) ;;
    esac
    printf '%-42s %7s ms   %-28s %s\n' "lateness p50, $label" "$p50" "" "$cnt checks (expected ~$exp)"
    printf '%-42s %7s ms   %-28s %s\n' "lateness p99, $label" "$p99" "< 10 ms ($(verdict "$p99" 10))" "max $max ms"
done
echo "supervisors alive at the end: $alive/$PODS; containers Ready: $ready/$total; restarts: $restarts"
# Which kinds were real.
live_fail=$(failmsg Liveness) ready_fail=$(failmsg Readiness)
if [[ -z $live_fail && $restarts -eq 0 ]]; then
    echo "exec liveness probes: real (runp exec of \`true\` in the container), all passing"
else
    echo "exec liveness probes: real, but failing:"; echo "$live_fail" | sed 's/^/    /'
fi
if grep -q 'not available yet' <<<"$ready_fail"; then
    echo "httpGet readiness probes: PLACEHOLDER (src/pod/probe_clients.rs fails every check at once," \
        "no HTTP request made); their lateness is still real scheduling, their CPU is not an HTTP client's:"
    echo "$ready_fail" | sed 's/^/    /'
elif ((ready == total)) && [[ -z $ready_fail ]]; then
    echo "httpGet readiness probes: real, all passing ($ready/$total Ready)"
else
    echo "httpGet readiness probes: real?, $ready/$total Ready; failures:"; echo "$ready_fail" | sed 's/^/    /'
fi
