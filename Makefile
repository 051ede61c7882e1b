# runp: developer entry points.  `make demo` and `make test` are all a
# newcomer needs on a fresh Debian 12 host (as root).

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

# .cargo/config.toml sets an explicit target triple (static, non-PIE build),
# so cargo puts the binary under target/<triple>/, not target/release/.
RUNP ?= $(CURDIR)/target/x86_64-unknown-linux-gnu/release/runp
BUNDLE := bundles/busybox

# busybox-static: the test/demo rootfs; libseccomp-dev: linked statically into
# runp; jq: scripts edit config.json; iproute2: network tests; procps: `ps`,
# which `runp ps` runs for its table output; gcc + libc6-dev: the confinement
# tests build a static attacker program (tests/data/confine_attacker.c).
DEPS_PKGS := busybox-static libseccomp-dev jq iproute2 procps gcc libc6-dev docker-registry skopeo apache2-utils
# Reference runtimes and tools for `make bench` only; time gives /usr/bin/time
# for peak RSS; podman (+ conmon, and catatonit for its pod pause image, which
# is only a Recommends) for bench/pod.sh.
BENCH_PKGS := hyperfine runc crun time podman conmon catatonit

.PHONY: deps build bundles demo test lint bench clean

deps:
	@scripts/apt-ensure.sh $(DEPS_PKGS)
	@command -v cargo >/dev/null || { \
	  echo "error: cargo not found. Install the Rust toolchain with rustup" \
	       "(stable, plus cargo-nextest if you like), then re-run make." >&2; \
	  exit 1; }

build:
	cargo build --release

# Builds bundles/busybox/rootfs (gitignored) next to the committed config.json, and
# imports it as image `busybox` for pods (RUNP_IMAGE_DIR, else <data-root>/images: /var/lib/runp/images by default).
bundles: build
	scripts/mkbundle.sh $(BUNDLE)
	$(RUNP) image import busybox $(BUNDLE)/rootfs >/dev/null

# One OCI container, then a whole pod: init container, app + sidecar sharing a volume,
# hooks, logs, exec, a graceful stop. Everything it makes lives in a temp dir it removes.
demo: deps build bundles
	@[[ $$(id -u) -eq 0 ]] || { echo "error: make demo must run as root" >&2; exit 1; }
	@id=runp-demo-$$$$; \
	trap '$(RUNP) delete --force '"$$id"' >/dev/null 2>&1 || true' EXIT; \
	echo "+ runp run --bundle $(BUNDLE) $$id"; \
	$(RUNP) run --bundle $(BUNDLE) "$$id"
	@RUNP=$(RUNP) scripts/demo.sh

# The code rules CI enforces: rustfmt (rustfmt.toml), clippy with warnings as errors and every
# unsafe block documented (a `// SAFETY:` comment).
lint:
	cargo fmt --all -- --check
	cargo clippy --release --all-targets -- -D warnings -D clippy::undocumented_unsafe_blocks

# Runs the whole suite; tests find the bundle through RUNP_TEST_BUNDLE.
# nextest runs each test in its own process (and in parallel); plain cargo
# test is kept single-threaded because tests fork and change namespaces.
test: deps bundles
	@[[ $$(id -u) -eq 0 ]] || { echo "error: the test suite creates containers and must run as root" >&2; exit 1; }
	@export RUNP_TEST_BUNDLE=$(CURDIR)/$(BUNDLE); \
	if cargo nextest --version >/dev/null 2>&1; then \
	  set -x; cargo nextest run --no-fail-fast; \
	else \
	  set -x; cargo test -- --test-threads=1; \
	fi

# Quick run: BENCH_RUNS=20 BENCH_POD_RUNS=5 BENCH_PROBE_SECONDS=10 make bench
bench: deps build bundles
	@scripts/apt-ensure.sh $(BENCH_PKGS)
	RUNP=$(RUNP) bench/oci.sh
	RUNP=$(RUNP) bench/pod.sh
	RUNP=$(RUNP) bench/probes.sh

clean:
	cargo clean
	rm -rf $(BUNDLE)/rootfs bench/out
