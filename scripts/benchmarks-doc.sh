#!/usr/bin/env bash
# Regenerates docs/benchmarks.md from the per-area fragments (docs/benchmarks-*.md), which the
# benchmark owners update with each measured run. `make bench` runs every benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  cat <<'EOF2'
# Benchmarks

Every figure below was measured on this project's machine kind (Debian 12, 2 cores shared with
other jobs, no KVM unless stated) by the command shown with it; benchmarks are never timed tests.
`make bench` runs them all (each `bench/*/run.sh` is one command). Ratios compare against the raw
tool (crun, QEMU) and peers (podman, published Firecracker and Kubernetes figures).

EOF2
  for f in docs/benchmarks-container.md docs/benchmarks-images.md docs/benchmarks-vm.md \
           docs/benchmarks-sandbox.md docs/benchmarks-network.md docs/benchmarks-scheduler.md; do
    [ -f "$f" ] || continue
    sed -e 's/^# /## /' "$f"
    echo
  done
} > docs/benchmarks.md
