/** What a VM spec may ask for: limits within reason and the host, no settings a VM cannot honour. */
import { cpus as hostCpus, totalmem } from 'node:os';
import { TandemError } from '../../base/errors.js';
import { formatSize } from '../../base/units.js';
import type { DriverSpec } from '../../core/driver.js';
import type { Limits } from '../../core/instance.js';
import { checkGuestNetwork } from './guest-network.js';
import { checkVolumes } from './guest-volumes.js';

/**
 * The least guest RAM a VM boots with. Measured with the setup's Debian kernel and initramfs
 * under TCG: 64 MiB hangs before the kernel prints anything (the kernel image and initramfs
 * do not fit), 96 MiB panics in the guest's init, 112 MiB boots (MemTotal 64 MiB: the kernel
 * keeps ~47 MiB); 128 MiB leaves room for the network and share modules.
 */
export const MIN_VM_MEMORY_BYTES = 128 * 1024 * 1024;

/** Rejects limits a VM cannot have: invalid_argument, or insufficient_resources beyond the host. */
export function validateLimits(name: string, l: Limits): void {
  const bad = (kind: 'invalid_argument' | 'insufficient_resources', what: string) =>
    new TandemError(kind, `instance "${name}": ${what}`);
  if (l.cpus !== undefined && !(l.cpus > 0 && l.cpus <= 255))
    throw bad('invalid_argument', 'cpus must be between 0 and 255');
  if (l.cpus !== undefined && Math.ceil(l.cpus) > hostCpus().length * 4) {
    throw bad('insufficient_resources', `${l.cpus} vCPUs is more than this host can run`);
  }
  if (l.memoryBytes !== undefined && l.memoryBytes < MIN_VM_MEMORY_BYTES)
    throw bad(
      'invalid_argument',
      `a vm needs at least ${formatSize(MIN_VM_MEMORY_BYTES)} of memory (its own kernel keeps about 47MiB), not ${formatSize(l.memoryBytes)}`,
    );
  if (l.memoryBytes !== undefined && l.memoryBytes > totalmem()) {
    throw bad(
      'insufficient_resources',
      `${formatSize(l.memoryBytes)} of memory is more than the host has (${formatSize(totalmem())})`,
    );
  }
  if (l.diskBytes !== undefined && !(Number.isSafeInteger(l.diskBytes) && l.diskBytes > 0))
    throw bad('invalid_argument', 'disk size must be a positive number of bytes');
  if (l.pids !== undefined && !(Number.isInteger(l.pids) && l.pids > 0))
    throw bad('invalid_argument', 'pids must be a positive integer');
}

/**
 * Settings a VM cannot honour are refused with not_supported, never ignored (DESIGN.md); a
 * bridge network, published ports and volumes are checked for what a guest needs.
 */
export function refuseUnsupported(spec: DriverSpec): void {
  const no = (what: string) =>
    new TandemError(
      'not_supported',
      `instance "${spec.name}": ${what} is not supported for vm instances yet`,
    );
  checkGuestNetwork(spec);
  checkVolumes(spec);
  const sec = spec.security;
  if (sec.capAdd.length > 0 || sec.capDrop.length > 0 || sec.privileged || sec.userns !== 'host') {
    throw no('capabilities, privileged mode and user namespaces (a vm has its own kernel)');
  }
  if (sec.readOnly) throw no('a read-only root');
}
