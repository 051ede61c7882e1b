#!/usr/bin/env bash
# A pod's whole lifecycle in a few seconds: init container, app + sidecar sharing a volume,
# postStart/preStop hooks, logs, exec, a graceful stop, and nothing left behind.
set -euo pipefail
RUNP=${RUNP:?RUNP must point at the runp binary}
ROOT=$(mktemp -d /tmp/runp-demo.XXXXXX)
export RUNP_IMAGE_DIR=$ROOT/images
r() { echo "+ runp $*"; "$RUNP" --root "$ROOT/state" "$@"; }
cleanup() { "$RUNP" --root "$ROOT/state" pod rm --force demo >/dev/null 2>&1 || true; wait; rm -rf "$ROOT"; }
trap cleanup EXIT

r image import busybox bundles/busybox/rootfs
# The supervisor runs as a job of this shell (which reaps it); events stream to the terminal.
"$RUNP" --root "$ROOT/state" pod run examples/demo-pod.yaml &
for _ in $(seq 100); do
  "$RUNP" --root "$ROOT/state" pod status demo 2>/dev/null | grep -q '"phase": "Running"' && break
  sleep 0.05
done
sleep 1.5
r pod list
r pod exec demo -c sidecar -- wget -qO- http://localhost:8080/index.html
r pod logs demo -c setup
r pod stop demo
wait
r pod describe demo
r pod logs demo -c web
r pod rm demo
r pod list
