#!/usr/bin/env bash
# Sandbox benchmark (bench/sandbox-launch/bench.ts), one command: launch-to-exec-ready of a
# sandbox vs bare QEMU booting the same guest vs a container (drivers and CLI), exec round trip
# container vs sandbox, sequential read through 9p vs overlayfs. Medians.
#   RUNS=5 EXECS=20 TANDEM_VM_ACCEL=tcg bench/sandbox-launch/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in crun catatonit busybox qemu-system-x86_64 unshare; do
  command -v "$tool" >/dev/null || { echo "bench/sandbox-launch: $tool is missing (scripts/install-packages.sh)" >&2; exit 1; }
done
scripts/setup-host.sh >/dev/null
scripts/build-helpers.sh >&2
[ -f dist/daemon/main.js ] || npx tsc -p tsconfig.json
exec node --import tsx bench/sandbox-launch/bench.ts "$@"
