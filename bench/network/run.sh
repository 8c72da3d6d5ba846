#!/usr/bin/env bash
# Network benchmark (bench/network/bench.ts): launch latency of a container with --network
# bridge vs none through the API, and TCP throughput over the bridge (busybox nc, fixed byte
# count). The daemon runs inside a network namespace the benchmark makes and removes
# (test/host/network-fixture.ts): nothing touches the host's own network. RUNS=N (default 30),
# MIB=N bytes per throughput run (default 256). Then bench/network/guests.ts: the same for VMs
# and sandboxes (launch bridge vs none, GUEST_RUNS=N default 5; TCP container ↔ VM/sandbox).
# ONLY=tcp skips the launch rows of both.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in crun catatonit busybox nft ip nsenter tar; do
  command -v "$tool" >/dev/null || { echo "bench/network: $tool is missing (scripts/install-packages.sh)" >&2; exit 1; }
done
scripts/setup-host.sh >/dev/null
helpers/monitor/build.sh >&2
make build >/dev/null
node --import tsx bench/network/bench.ts -n "${RUNS:-30}" --mib "${MIB:-256}"
echo
exec node --import tsx bench/network/guests.ts -n "${GUEST_RUNS:-5}" --mib "${MIB:-256}"
