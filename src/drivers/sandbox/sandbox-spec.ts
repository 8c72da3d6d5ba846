/**
 * What a sandbox spec may ask for, and how it becomes the guest's boot configuration: the
 * rootfs share as the root, the container's process, and the confinement the guest's init
 * applies to the workload (a memory/pids-limited cgroup, capabilities, no_new_privs, a
 * read-only root, /etc/hosts unless the instance is on a bridge network, whose maintained hosts
 * file the guest shares: vm/guest-network.ts). Guest RAM is the memory limit plus what the
 * guest itself needs, so the limit is what the workload gets, as in a container.
 */
import { cpus as hostCpus, totalmem } from 'node:os';
import { TandemError } from '../../base/errors.js';
import { formatSize } from '../../base/units.js';
import type { DriverSpec } from '../../core/driver.js';
import type { Limits } from '../../core/instance.js';
import { ALL_CAPABILITIES, capabilitySet } from '../common/capabilities.js';
import type { GuestConfig } from '../vm/guest-config.js';
import { checkGuestNetwork } from '../vm/guest-network.js';
import { checkVolumes, volumeMounts, volumeShares } from '../vm/guest-volumes.js';
import type { GuestShare } from '../vm/qemu-args.js';

const MiB = 1024 * 1024;

/**
 * Guest RAM the sandbox's own kernel and init need on top of the workload's limit, measured
 * (docs/sandbox-driver.md): the guest kernel keeps ~46 MiB plus 1.7% of RAM out of MemTotal and
 * has 41-48 MiB in use once booted (16 MiB of it virtio-serial receive buffers), plus headroom
 * so that the workload's cgroup limit, not the guest, runs out first.
 */
export const GUEST_OVERHEAD_BYTES = 112 * MiB;

/** Guest RAM (and no workload limit) when a sandbox sets no memory limit. */
export const DEFAULT_GUEST_MEMORY_BYTES = 256 * MiB;

/** The smallest memory limit accepted (as for containers). */
export const MIN_MEMORY_BYTES = 6 * MiB;

/** The 9p tag of the rootfs share. */
export const ROOTFS_TAG = 'rootfs';

/** Guest RAM for a workload limited to `limit` bytes (or the default without a limit). */
export function guestMemoryBytes(limit: number | undefined): number {
  return limit === undefined
    ? DEFAULT_GUEST_MEMORY_BYTES
    : Math.ceil((limit + GUEST_OVERHEAD_BYTES) / MiB) * MiB;
}

/** Rejects limits a sandbox cannot have (invalid_argument, or insufficient_resources beyond the host). */
export function checkSandboxLimits(name: string, l: Limits): void {
  const bad = (kind: 'invalid_argument' | 'insufficient_resources' | 'not_supported', what: string) =>
    new TandemError(kind, `instance "${name}": ${what}`);
  if (l.cpus !== undefined && !(l.cpus > 0 && l.cpus <= 255))
    throw bad('invalid_argument', 'cpus must be between 0 and 255');
  if (l.cpus !== undefined && Math.ceil(l.cpus) > hostCpus().length * 4)
    throw bad('insufficient_resources', `${l.cpus} vCPUs is more than this host can run`);
  if (
    l.memoryBytes !== undefined &&
    !(Number.isSafeInteger(l.memoryBytes) && l.memoryBytes >= MIN_MEMORY_BYTES)
  )
    throw bad(
      'invalid_argument',
      `memory must be at least ${formatSize(MIN_MEMORY_BYTES)}, not ${formatSize(l.memoryBytes)}`,
    );
  const ram = guestMemoryBytes(l.memoryBytes);
  if (ram > totalmem())
    throw bad(
      'insufficient_resources',
      `the guest needs ${formatSize(ram)} of memory, more than the host has (${formatSize(totalmem())})`,
    );
  if (l.pids !== undefined && !(Number.isInteger(l.pids) && l.pids > 0))
    throw bad('invalid_argument', 'pids must be a positive integer');
  if (l.diskBytes !== undefined)
    throw bad(
      'not_supported',
      'a disk limit is not supported for sandboxes (their rootfs is a host directory)',
    );
}

/** Refuses what a sandbox cannot do (not_supported) and what is invalid (invalid_argument). */
export function checkSandboxSpec(spec: DriverSpec): void {
  const subject = `instance "${spec.name}"`;
  const no = (what: string) =>
    new TandemError('not_supported', `${subject}: ${what} is not supported for sandboxes yet`);
  checkGuestNetwork(spec);
  if (spec.security.userns !== 'host') throw no('--userns auto');
  if (spec.init === 'system') throw no('--init system');
  if (spec.process.args.length === 0)
    throw new TandemError('invalid_argument', `${subject}: no command to run`);
  for (const l of spec.image.layers)
    if (/[,:]/.test(l))
      throw new TandemError('invalid_argument', `${subject}: layer path "${l}" contains ',' or ':'`);
  checkVolumes(spec);
  capabilityMaskOf(spec);
}
/** The capabilities the workload keeps, as a bit mask (every capability the guest kernel knows is available). */
export function capabilityMaskOf(spec: DriverSpec): bigint {
  let mask = 0n;
  for (const c of capabilitySet(spec.security, [...ALL_CAPABILITIES]))
    mask |= 1n << BigInt((ALL_CAPABILITIES as readonly string[]).indexOf(c));
  return mask;
}

/** The 9p shares of a sandbox: its rootfs (the overlay mount point), then its volumes. */
export function sandboxShares(spec: DriverSpec, rootfs: string): GuestShare[] {
  return [{ tag: ROOTFS_TAG, path: rootfs }, ...volumeShares(spec)];
}

/** The boot configuration of a sandbox's guest. */
export function sandboxGuestConfig(spec: DriverSpec): GuestConfig {
  const p = spec.process;
  const hostname = spec.hostname || spec.name;
  return {
    mode: 'workload',
    root: `9p:${ROOTFS_TAG}`,
    hostname,
    pids: spec.limits.pids,
    consoleShell: true,
    mounts: volumeMounts(spec),
    sandbox: {
      memoryBytes: spec.limits.memoryBytes,
      capabilities: capabilityMaskOf(spec),
      noNewPrivileges: !spec.security.privileged,
      readOnlyRoot: spec.security.readOnly,
      hosts: `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`,
    },
    process: { args: p.args, env: p.env, cwd: p.cwd, user: p.user, tty: p.terminal, stdin: p.stdin },
  };
}
