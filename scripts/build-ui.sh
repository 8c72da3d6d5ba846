#!/usr/bin/env bash
# Builds the web UI (src/ui, preact + vite 7) into dist/ui, which the daemon serves at /ui/.
# Type-checks it first (src/ui/tsconfig.json); does nothing when dist/ui is newer than every
# source it depends on (src/ui and the wire types in src/api). Set FORCE=1 to rebuild anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/ui/index.html
if [ "${FORCE:-0}" != 1 ] && [ -f "$out" ] && [ -z "$(find src/ui src/api -newer "$out" -print -quit)" ]; then
  exit 0
fi
npx tsc -p src/ui/tsconfig.json
npx vite build --config src/ui/vite.config.ts
touch "$out"
echo "web UI built: $(du -cb dist/ui/assets/* | tail -1 | cut -f1) bytes in dist/ui/assets"
