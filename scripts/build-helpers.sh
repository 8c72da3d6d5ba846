#!/usr/bin/env bash
# Builds the non-TypeScript helpers (DESIGN.md, "What is not TypeScript") when their sources
# are newer than the binaries. Each helper's folder has a build.sh that does the work.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in helpers/*/build.sh guest/build.sh; do
  [ -x "$b" ] && "$b"
done
exit 0
