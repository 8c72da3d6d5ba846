#!/usr/bin/env bash
# Host-wide set-up a host needs once (DESIGN.md, "Ownership"); idempotent, never undone by tests.
set -euo pipefail
# crun refuses hybrid cgroups when the v2 hierarchy lists hugetlb while v1 has no hugetlb
# hierarchy (RECIPES.md, "crun"): mount the v1 hugetlb hierarchy.
if [ -f /sys/fs/cgroup/unified/cgroup.controllers ] && grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers; then
  if ! grep -q ' /sys/fs/cgroup/hugetlb ' /proc/mounts; then
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
    echo "mounted the v1 hugetlb cgroup hierarchy (crun hybrid-cgroup fix)"
  fi
fi
