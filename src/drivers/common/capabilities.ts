/**
 * Linux capabilities as containers and sandboxes give them (DESIGN.md, "Capabilities"):
 * Podman's default set adjusted by --cap-add/--cap-drop, every available one with
 * --privileged. Shared by the container driver (OCI process.capabilities) and the sandbox
 * driver (a bit mask the guest's init applies).
 */
import { readFileSync } from 'node:fs';
import { TandemError } from '../../base/errors.js';
import type { SecuritySettings } from '../../core/instance.js';

/** Podman's default capabilities (containers.conf `default_capabilities`). */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_NET_BIND_SERVICE',
  'CAP_SETFCAP',
  'CAP_SETGID',
  'CAP_SETPCAP',
  'CAP_SETUID',
  'CAP_SYS_CHROOT',
] as const;

/** Every capability Linux 6.x knows, in bit order (CAP_CHOWN = bit 0). */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

/** Normalizes `net_raw`, `NET_RAW` or `CAP_NET_RAW` to `CAP_NET_RAW` ('ALL' stays); rejects unknown names. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const cap = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!(ALL_CAPABILITIES as readonly string[]).includes(cap)) {
    throw new TandemError('invalid_argument', `unknown capability "${name}"`);
  }
  return cap;
}

/**
 * The capability set of a container: defaults, then drops, then adds (Podman's order).
 * `--privileged` and `--cap-add ALL` mean every capability the runtime itself holds (its
 * bounding set: a host may withhold some, e.g. CAP_SYS_RESOURCE here); naming one it does not
 * hold is invalid_argument.
 */
export function capabilitySet(security: SecuritySettings, available = hostCapabilities()): string[] {
  if (security.privileged) return ALL_CAPABILITIES.filter((c) => available.includes(c));
  const drop = security.capDrop.map(normalizeCapability);
  const add = security.capAdd.map(normalizeCapability);
  const missing = add.find((c) => c !== 'ALL' && !available.includes(c));
  if (missing)
    throw new TandemError('invalid_argument', `capability ${missing} is not available on this host`);
  let caps: string[] = drop.includes('ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c));
  caps = add.includes('ALL') ? [...available] : [...new Set([...caps, ...add])];
  return ALL_CAPABILITIES.filter((c) => caps.includes(c) && available.includes(c));
}

let hostCaps: string[] | undefined;

/** The capabilities in this process's bounding set (CapBnd), read once; every known one when unreadable. */
export function hostCapabilities(): string[] {
  if (hostCaps) return hostCaps;
  let mask: bigint | undefined;
  try {
    const hex = /^CapBnd:\s+([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    mask = hex ? BigInt(`0x${hex}`) : undefined;
  } catch {}
  hostCaps = ALL_CAPABILITIES.filter((_, bit) => mask === undefined || (mask >> BigInt(bit)) & 1n);
  return hostCaps;
}

/** The capability mask as /proc/<pid>/status prints it (CapEff), for tests and docs. */
export function capabilityMask(caps: readonly string[]): string {
  let mask = 0n;
  for (const c of caps) mask |= 1n << BigInt((ALL_CAPABILITIES as readonly string[]).indexOf(c));
  return mask.toString(16).padStart(16, '0');
}
