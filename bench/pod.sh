#!/usr/bin/env bash
# Pod benchmark: `runp pod run -d` → phase Running for a pod with one init container and two
# app containers; `runp pod stop` of it (containers exit on SIGTERM); memory (RSS and PSS) of
# the supervisor and pause while it runs. Prints medians over BENCH_POD_RUNS runs.
set -euo pipefail
RUNP=${RUNP:?RUNP must point at the runp binary}
RUNS=${BENCH_POD_RUNS:-20}
cd "$(dirname "$0")/.."
TMP=$(mktemp -d /tmp/runp-podbench.XXXXXX)
trap '"$RUNP" --root "$TMP/state" pod rm --force bench >/dev/null 2>&1 || true; rm -rf "$TMP"' EXIT
export RUNP_IMAGE_DIR=$TMP/images
"$RUNP" image import busybox bundles/busybox/rootfs >/dev/null
cat > "$TMP/pod.yaml" <<'YAML'
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
ns() { date +%s%N; }
start=(); stop=(); pss=(); rss=()
for i in $(seq "$RUNS"); do
  t0=$(ns)
  "$RUNP" --root "$TMP/state" pod run -d "$TMP/pod.yaml" >/dev/null
  "$RUNP" --root "$TMP/state" pod wait bench --for=phase=Running --timeout 10s >/dev/null
  t1=$(ns)
  sup=$(jq -r .pid "$TMP/state/pods/bench/supervisor.json")
  pause=$(pgrep -P "$sup" -x pause || pgrep -P "$sup" | head -1)
  p=0; r=0
  for pid in $sup $pause; do
    p=$((p + $(awk '/^Pss:/ {print $2}' /proc/$pid/smaps_rollup)))
    r=$((r + $(awk '/^VmRSS:/ {print $2}' /proc/$pid/status)))
  done
  t2=$(ns)
  "$RUNP" --root "$TMP/state" pod stop bench >/dev/null
  t3=$(ns)
  "$RUNP" --root "$TMP/state" pod rm bench >/dev/null
  start+=($(( (t1 - t0) / 1000 ))); stop+=($(( (t3 - t2) / 1000 ))); pss+=($p); rss+=($r)
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '\nPod benchmark (%d runs, median; 1 init + 2 app containers)\n' "$RUNS"
printf '%-44s %10s\n' "metric" "runp"
printf '%-44s %8.1f ms\n' "pod run -d -> Running" "$(echo "$(median "${start[@]}") / 1000" | bc -l)"
printf '%-44s %8.1f ms\n' "pod stop (containers exit on SIGTERM)" "$(echo "$(median "${stop[@]}") / 1000" | bc -l)"
printf '%-44s %8d KiB\n' "supervisor + pause PSS while running" "$(median "${pss[@]}")"
printf '%-44s %8d KiB\n' "supervisor + pause RSS while running" "$(median "${rss[@]}")"
