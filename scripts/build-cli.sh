#!/usr/bin/env bash
# Bundles the CLI with esbuild into one CommonJS file, dist/cli-bundle/main.cjs, that
# bin/tandem.cjs runs with a V8 code cache (main.cjs.cache): Node loads one file much faster
# than the ~30 modules tsc emits, CommonJS skips Node 20's ES module loader, and the cache skips
# parsing and compiling (bin/tandem.cjs has the figures). Lazily imported parts (the websocket
# session, the simulator) are in the file but run only when a command needs them. The
# scheduler's solver worker is an ES module entry of its own (the simulator starts it from this
# directory: dist/cli-bundle/milp-worker.js); HiGHS stays a package import (it loads its .wasm
# beside it). The cache is made by running the CLI once: a foreground `run` against a socket
# where no daemon listens, which compiles argument parsing and the client's request path.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist/cli-bundle
common=(--bundle --platform=node --target=node20 --external:highs --log-level=warning)
npx esbuild src/cli/main.ts "${common[@]}" --format=cjs --outfile=dist/cli-bundle/main.cjs \
  --define:import.meta.url=__tandemModuleUrl --define:import.meta.resolve=require.resolve --external:'tsx/*' \
  --banner:js="const __tandemModuleUrl = require('node:url').pathToFileURL(__filename).href;"
npx esbuild src/scheduler/milp-worker.ts "${common[@]}" --format=esm \
  --outfile=dist/cli-bundle/milp-worker.js \
  --banner:js="import { createRequire as __tandemRequire } from 'node:module'; const require = __tandemRequire(import.meta.url);"
warm=$(mktemp -d)
trap 'rm -rf "$warm"' EXIT
TANDEM_SOCKET=$warm/no-daemon.sock TANDEM_URL='' node bin/tandem.cjs run --rm warm -- true 2>/dev/null &&
  { echo "build-cli: the warm-up run should have found no daemon" >&2; exit 1; }
[ -s dist/cli-bundle/main.cjs.cache ] || { echo "build-cli: no code cache was written" >&2; exit 1; }
