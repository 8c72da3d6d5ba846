#!/usr/bin/env bash
# Container launch latency (bench/container-launch/bench.ts): raw `crun run` of a prepared
# busybox bundle vs the container driver (create + start + wait for exit + delete) vs
# `podman run --rm`, median and p95 with ratios. RUNS=N (default 30), ROWS=crun,driver,api,cli,podman.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in crun podman catatonit busybox tar; do
  command -v "$tool" >/dev/null || { echo "bench/container-launch: $tool is missing (scripts/install-packages.sh)" >&2; exit 1; }
done
scripts/setup-host.sh >/dev/null
helpers/monitor/build.sh >&2
exec node --import tsx bench/container-launch/bench.ts -n "${RUNS:-30}" --rows "${ROWS:-crun,driver,api,cli,podman}"
