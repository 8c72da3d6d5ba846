#!/usr/bin/env bash
# Boot benchmark of Tandem VMs (one command): bare qemu-system-x86_64 with the same kernel,
# initramfs and disk to the guest's agent-ready marker vs the VM driver's create+start to
# running, per machine type, plus the VMM memory overhead. Medians of VM_BOOT_RUNS (default 5).
#   VM_BOOT_RUNS=3 VM_BOOT_MACHINES=microvm,q35 TANDEM_VM_ACCEL=tcg bench/vm-boot/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
guest/build.sh
exec node --import tsx bench/vm-boot/vm-boot.ts "$@"
