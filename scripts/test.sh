#!/usr/bin/env bash
# Runs the test suites with node:test. Node 20 does not expand globs in --test: list files here.
#   unit: src/**/*.test.ts (logic, fakes, fixture trees)   host: test/host/*.test.ts (real crun, QEMU, ...)
set -euo pipefail
cd "$(dirname "$0")/.."
group=${1:-all}
unit=$(find src -name '*.test.ts' | sort)
host=$(find test/host -name '*.test.ts' 2>/dev/null | sort)
files=()
case "$group" in
  unit) files=($unit) ;;
  host) files=($host) ;;
  all) files=($unit $host) ;;
  *) echo "usage: $0 unit|host|all" >&2; exit 2 ;;
esac
mkdir -p artifacts
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
