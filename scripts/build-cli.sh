#!/usr/bin/env bash
# Bundles the CLI (dist/cli-bundle/main.js, run by bin/tandem) with esbuild: one file for the
# code every command needs, lazily loaded chunks for the rest (the websocket session, the
# scheduler simulator). Node loads one file much faster than the ~30 modules tsc emits
# (≈25 ms of every CLI start here). CommonJS dependencies (commander) get a `require`.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist/cli-bundle
npx esbuild src/cli/main.ts --bundle --splitting --format=esm --platform=node --target=node20 \
  --outdir=dist/cli-bundle --log-level=warning \
  --banner:js="import { createRequire as __tandemRequire } from 'node:module'; const require = __tandemRequire(import.meta.url);"
