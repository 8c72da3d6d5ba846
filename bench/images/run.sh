#!/usr/bin/env bash
# Import time and disk use of a ~100 MB, 3-layer Debian image: Tandem's image store vs
# `podman load` of the same archive (docker-archive as `docker save` writes it, and a gzipped
# OCI archive). The rootfs comes from debootstrap once and is cached under build/.
# RUNS=N (default 3) runs per tool and format; prints median wall time, its range, median CPU
# time (user+sys, children included: most of it is the kernel creating files) and disk use.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
cache=build/bench-images
rootfs=$cache/rootfs
mkdir -p "$cache"
for tool in debootstrap podman tar; do
  command -v "$tool" >/dev/null || { echo "bench/images: $tool is missing (scripts/install-packages.sh)" >&2; exit 1; }
done
mirror=$(grep -hoE '^(deb|URIs:)\s+(\[[^]]*\]\s+)?https?://\S+/debian/?$' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
  | grep -oE 'https?://\S+' | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
if [ ! -x "$rootfs/usr/bin/bash" ]; then
  rm -rf "$rootfs.tmp"
  echo "bench/images: debootstrap (once) from $mirror" >&2
  debootstrap --variant=minbase bookworm "$rootfs.tmp" "$mirror" >"$cache/debootstrap.log" 2>&1
  rm -rf "$rootfs.tmp"/var/cache/apt/archives/*.deb "$rootfs.tmp"/var/lib/apt/lists/*
  mv "$rootfs.tmp" "$rootfs"
fi
T=(tar --numeric-owner --xattrs --xattrs-include='*' --format=pax -C "$rootfs")
"${T[@]}" -cf "$cache/l1.tar" ./usr/bin ./usr/sbin ./usr/lib ./usr/lib64 ./bin ./sbin ./lib ./lib64
"${T[@]}" -cf "$cache/l2.tar" ./etc ./usr/share
"${T[@]}" -cf "$cache/l3.tar" ./var ./root ./tmp ./home ./opt ./srv ./run
node --import tsx bench/images/make-archive.ts docker "$cache/image-docker.tar" "$cache"/l{1,2,3}.tar >&2
node --import tsx bench/images/make-archive.ts oci "$cache/image-oci.tar" "$cache"/l{1,2,3}.tar >&2

work=$(mktemp -d /tmp/images-bench.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
cat >"$work/containers.conf" <<'CONF'
[containers]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "crun"
CONF
export CONTAINERS_CONF=$work/containers.conf
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
range() { sort -n | awk 'NR==1{lo=$1} {hi=$1} END {print lo "-" hi}'; }
# measure NAME CMD...: appends wall ms to $work/NAME.ms and user+sys CPU ms (children included) to $work/NAME.cpu
measure() {
  local name=$1; shift
  local t0 t1 cpu
  t0=$(now)
  cpu=$( { TIMEFORMAT='%U %S'; time "$@" >"$work/$name.out"; } 2>&1 | tail -1)
  t1=$(now)
  echo $(((t1 - t0) / 1000000)) >>"$work/$name.ms"
  awk -v u="${cpu% *}" -v s="${cpu#* }" 'BEGIN{printf "%d\n", (u + s) * 1000}' >>"$work/$name.cpu"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }
row() { printf '%-17s %-22s %10s %13s %9s %9s %9s\n' "$@"; }

row format tool "median ms" "range ms" "CPU ms" "disk MiB" "ms ratio"
for fmt in docker oci; do
  archive=$cache/image-$fmt.tar
  rm -f "$work"/*.ms "$work"/*.cpu
  for _ in $(seq "$RUNS"); do
    rm -rf "$work/t"
    measure t node --import tsx bench/images/import.ts "$archive" "$work/t"
    cat "$work/t.out" >>"$work/ti.ms"
    tdisk=$(du -sk "$work/t" | cut -f1)
    rm -rf "$work/p" "$work/pr"
    measure p podman --root "$work/p" --runroot "$work/pr" --storage-driver overlay load -q -i "$archive"
    pdisk=$(du -sk "$work/p" | cut -f1)
  done
  pm=$(median <"$work/p.ms"); tm=$(median <"$work/t.ms"); ti=$(median <"$work/ti.ms")
  size=$(($(stat -c %s "$archive") / 1048576))
  row "$fmt ($size MiB)" "tandem (in daemon)" "$ti" "$(range <"$work/ti.ms")" "" $((tdisk / 1024)) "$(ratio "$ti" "$pm")"
  row "" "tandem (node process)" "$tm" "$(range <"$work/t.ms")" "$(median <"$work/t.cpu")" "" "$(ratio "$tm" "$pm")"
  row "" "podman load" "$pm" "$(range <"$work/p.ms")" "$(median <"$work/p.cpu")" $((pdisk / 1024)) "1.00"
done
