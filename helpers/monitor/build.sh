#!/usr/bin/env bash
# Builds build/helpers/tandem-monitor (static with musl when available) when a source is newer.
set -euo pipefail
cd "$(dirname "$0")"
out=../../build/helpers/tandem-monitor
srcs=(main.c run.c launcher.c attach.c tty-exec.c log.c util.c idmap.c)
if [ -x "$out" ]; then
  newer=$(find "${srcs[@]}" monitor.h util.h attach.h build.sh -newer "$out" | head -1)
  [ -z "$newer" ] && exit 0
fi
mkdir -p "$(dirname "$out")"
if command -v musl-gcc >/dev/null; then cc=(musl-gcc -static); else cc=(gcc); fi
"${cc[@]}" -O2 -Wall -Wextra -Werror -std=c11 -o "$out.tmp" "${srcs[@]}"
mv "$out.tmp" "$out"
echo "built $(realpath "$out")"
