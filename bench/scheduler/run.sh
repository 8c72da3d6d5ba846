#!/usr/bin/env bash
# Scheduler benchmark (issue 7): greedy throughput and batch quality tables, as markdown.
# Usage: bench/scheduler/run.sh   (MILP_SECONDS=10 sets the MILP time limit)
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node --import tsx bench/scheduler/run.ts
