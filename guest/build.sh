#!/usr/bin/env bash
# Builds the guest of Tandem VMs and sandboxes under build/guest/ (only what is missing or older
# than its sources):
#   vmlinux          the Debian kernel's uncompressed ELF (PVH entry; RECIPES.md "VMs under TCG")
#   kernel-release   its release string, e.g. 6.1.0-56-amd64
#   tandem-init      our static init + agent (guest/init/*.c)
#   initramfs.cpio   tandem-init, the kernel modules in dependency order (groups: mmio, pci, base,
#                    blk, 9p, net, vsock), busybox-static; uncompressed (measured fastest to unpack)
# The kernel package is fetched once with apt-get download and cached under build/guest/kernel/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(dirname "$here")/build/guest
mkdir -p "$out/kernel"

fetch_kernel() {
  local tree=$out/kernel/tree
  [ -d "$tree/boot" ] && return 0
  local pkg
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  if [ -z "$pkg" ]; then
    echo "guest/build.sh: no Debian kernel package found: run apt-get update" >&2
    exit 1
  fi
  local dl
  dl=$(mktemp -d "$out/kernel/dl.XXXXXX")
  (cd "$dl" && apt-get download -q "$pkg" >/dev/null 2>&1) || { rm -rf "$dl"; echo "guest/build.sh: apt-get download $pkg failed" >&2; exit 1; }
  rm -rf "$tree.tmp" && mkdir -p "$tree.tmp"
  dpkg -x "$dl"/*.deb "$tree.tmp"
  rm -rf "$dl"
  mv "$tree.tmp" "$tree"
}

extract_vmlinux() {
  local tree=$out/kernel/tree
  local kver
  kver=$(ls "$tree/lib/modules")
  if [ ! -s "$out/vmlinux" ] || [ "$(cat "$out/kernel-release" 2>/dev/null)" != "$kver" ]; then
    local z=$tree/boot/vmlinuz-$kver off
    off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$z" | head -1 | cut -d: -f1)
    tail -c +$((off + 1)) "$z" | xz -dc > "$out/vmlinux.tmp" 2>/dev/null || true
    [ "$(head -c 4 "$out/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ] || { echo "guest/build.sh: no ELF vmlinux in $z" >&2; exit 1; }
    # Symbols are of no use to QEMU: a smaller file loads faster and costs less page cache.
    objcopy --strip-all "$out/vmlinux.tmp" "$out/vmlinux.tmp2" 2>/dev/null && mv "$out/vmlinux.tmp2" "$out/vmlinux.tmp"
    mv "$out/vmlinux.tmp" "$out/vmlinux"
    echo "$kver" > "$out/kernel-release"
    depmod -b "$tree" "$kver"
  fi
}

build_init() {
  local bin=$out/tandem-init
  if [ ! -x "$bin" ] || [ -n "$(find "$here/init" -newer "$bin" -type f)" ]; then
    local cc=musl-gcc
    command -v musl-gcc >/dev/null || cc=gcc
    $cc -static -Os -Wall -Wextra -Wno-unused-parameter -o "$bin.tmp" "$here"/init/*.c
    strip "$bin.tmp"
    mv "$bin.tmp" "$bin"
  fi
}

# Drops a module's appended signature: verifying it (SHA-512 over the module) costs a few
# hundred ms per boot under TCG, ext4.ko most; the kernel loads unsigned modules when
# module.sig_enforce is off (it is), and marks itself tainted.
strip_signature() {
  local f=$1 size marker siglen
  marker='~Module signature appended~'
  size=$(stat -c %s "$f")
  [ "$(tail -c 28 "$f" | head -c 27)" = "$marker" ] || return 0
  siglen=$(od -An -tu4 --endian=big -j $((size - 32)) -N 4 "$f" | tr -d ' ')
  truncate -s $((size - 28 - 12 - siglen)) "$f"
}

# Writes the .ko files of a module group (dependencies first) into the staging dir.
module_group() {
  local stage=$1 group=$2 kver=$3
  shift 3
  local tree=$out/kernel/tree
  : > "$stage/lib/modules/$group.order"
  for m in "$@"; do
    modprobe -d "$tree" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}' | while read -r ko; do
      local name
      name=$(basename "$ko")
      [ -e "$stage/lib/modules/$name" ] || { cp "$ko" "$stage/lib/modules/$name"; strip_signature "$stage/lib/modules/$name"; }
      grep -qx "$name" "$stage/lib/modules/$group.order" || echo "$name" >> "$stage/lib/modules/$group.order"
    done
  done
}

build_initramfs() {
  local img=$out/initramfs.cpio
  if [ -s "$img" ] && [ "$img" -nt "$out/tandem-init" ] && [ "$img" -nt "$out/vmlinux" ] && [ "$img" -nt "$0" ]; then
    return 0
  fi
  local kver stage
  kver=$(cat "$out/kernel-release")
  stage=$(mktemp -d "$out/stage.XXXXXX")
  mkdir -p "$stage"/{bin,dev,proc,sys,newroot,tandem,lib/modules}
  mknod -m 600 "$stage/dev/console" c 5 1
  cp "$out/tandem-init" "$stage/init"
  cp /bin/busybox "$stage/bin/busybox"
  ln -s busybox "$stage/bin/sh"
  module_group "$stage" mmio "$kver" virtio_mmio
  module_group "$stage" pci "$kver" virtio_pci
  module_group "$stage" base "$kver" virtio_console button evdev
  module_group "$stage" blk "$kver" virtio_blk ext4
  module_group "$stage" 9p "$kver" 9pnet_virtio 9p
  module_group "$stage" net "$kver" virtio_net
  module_group "$stage" vsock "$kver" vmw_vsock_virtio_transport
  (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) > "$img.tmp"
  rm -rf "$stage"
  mv "$img.tmp" "$img"
}

fetch_kernel
extract_vmlinux
build_init
build_initramfs
