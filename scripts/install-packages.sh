#!/usr/bin/env bash
# Installs the Debian packages Tandem needs, only when some are missing (idempotent, no prompts).
set -euo pipefail
PKGS=(crun runc conmon catatonit qemu-system-x86 qemu-utils busybox-static kmod cpio zstd
      e2fsprogs iproute2 iptables nftables etcd-server etcd-client gcc libc6-dev musl-tools make g++ python3 ca-certificates
      debootstrap attr podman xz-utils binutils chromium)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
