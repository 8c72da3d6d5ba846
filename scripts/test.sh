#!/usr/bin/env bash
# Runs the test suites with node:test (Node 20 does not expand globs in --test: files are listed here).
#   unit:   src/**/*.test.ts          logic, fakes, fixture trees
#   daemon: test/daemon, test/tooling a real daemon process on the fake driver; the layering check
#   host:   test/host/*.test.ts       real crun, QEMU, overlayfs, debootstrap, Chromium
# Files run one at a time (2 cores; host tests are heavy). Results also go to artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
group=${1:-all}
list() { find "$@" -name '*.test.ts' 2>/dev/null | sort; }
case "$group" in
  unit) files=$(list src) ;;
  daemon) files=$(list test/daemon test/tooling) ;;
  host) files=$(list test/host) ;;
  all) files="$(list src) $(list test/daemon test/tooling) $(list test/host)" ;;
  *) echo "usage: $0 unit|daemon|host|all" >&2; exit 2 ;;
esac
mkdir -p artifacts
# shellcheck disable=SC2086
exec node --import tsx --test --test-concurrency=1 --test-timeout=900000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=junit --test-reporter-destination=artifacts/junit.xml \
  $files
