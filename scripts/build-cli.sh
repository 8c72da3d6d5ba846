#!/usr/bin/env bash
# Bundles the CLI (dist/cli-bundle/main.js, run by bin/tandem) with esbuild: one file for the
# code every command needs, lazily loaded chunks for the rest (the websocket session, the
# scheduler simulator). Node loads one file much faster than the ~30 modules tsc emits
# (≈25 ms of every CLI start here). CommonJS dependencies (commander) get a `require`. The
# scheduler's solver worker is an entry of its own (the simulator starts it from this directory:
# dist/cli-bundle/milp-worker.js); HiGHS stays a package import (it loads its .wasm beside it).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist/cli-bundle
npx esbuild src/cli/main.ts src/scheduler/milp-worker.ts --bundle --splitting --format=esm \
  --platform=node --target=node20 --outdir=dist/cli-bundle --entry-names='[name]' --external:highs \
  --log-level=warning \
  --banner:js="import { createRequire as __tandemRequire } from 'node:module'; const require = __tandemRequire(import.meta.url);"
