/**
 * Security defaults of a container (DESIGN.md, "Capabilities"): Podman's default capability
 * set adjusted by --cap-add/--cap-drop, masked and read-only /proc and /sys paths as in the
 * OCI/Podman defaults, and the device cgroup rules Podman writes. `--privileged` gets every
 * capability, no masks, no seccomp profile and may gain privileges.
 */

export {
  ALL_CAPABILITIES,
  capabilityMask,
  capabilitySet,
  DEFAULT_CAPABILITIES,
  hostCapabilities,
  normalizeCapability,
} from '../common/capabilities.js';

/** Paths hidden from the container (OCI/Podman defaults). */
export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/fs/selinux',
  '/sys/dev/block',
];

/** Paths the container sees read-only (OCI/Podman defaults). */
export const READONLY_PATHS = [
  '/proc/asound',
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/** The OCI `process.capabilities` for a process running as `uid` (non-root keeps only the bounding set). */
export function processCapabilities(caps: string[], uid: number): Record<string, string[]> {
  const live = uid === 0 ? caps : [];
  return { bounding: caps, effective: live, permitted: live, inheritable: [], ambient: [] };
}

/** Device cgroup rules: deny everything, then allow the standard character devices (Podman's list). */
export function deviceRules(): Record<string, unknown>[] {
  const allow = (major: number, minor: number | undefined) => ({
    allow: true,
    type: 'c',
    major,
    minor,
    access: 'rwm',
  });
  return [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', access: 'm' },
    { allow: true, type: 'b', access: 'm' },
    allow(1, 3), // null
    allow(1, 5), // zero
    allow(1, 7), // full
    allow(1, 8), // random
    allow(1, 9), // urandom
    allow(5, 0), // tty
    allow(5, 1), // console
    allow(5, 2), // ptmx
    allow(136, undefined), // pts
  ];
}
