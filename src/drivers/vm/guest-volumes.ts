/**
 * Volumes of a guest (VM or sandbox): each `-v` source is a host directory (the daemon resolves
 * named volumes first) shared over virtio-9p with tag `vol<i>` and mounted by the guest's init
 * at its target, read-only for `:ro` (guest/init/boot.c `share_mounts`, uncached: the host and
 * other instances may change the files). QEMU runs as root with `security_model=none`, so files
 * keep the owners the guest gives them and a container reads them back as they were written.
 */
import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { TandemError } from '../../base/errors.js';
import type { DriverSpec } from '../../core/driver.js';
import type { GuestConfig } from './guest-config.js';
import type { GuestShare } from './qemu-args.js';

/** The guest's init mounts at most 16 shares besides its root; one is kept for the network. */
export const MAX_VOLUMES = 15;

/** Rejects volumes a guest cannot mount: relative paths (invalid_argument), too many. */
export function checkVolumes(spec: DriverSpec): void {
  const subject = `instance "${spec.name}"`;
  if (spec.volumes.length > MAX_VOLUMES)
    throw new TandemError('invalid_argument', `${subject}: at most ${MAX_VOLUMES} volumes`);
  for (const v of spec.volumes) {
    if (!isAbsolute(v.source) || !isAbsolute(v.target))
      throw new TandemError(
        'invalid_argument',
        `${subject}: volume "${v.source}:${v.target}" needs absolute paths (the daemon resolves names)`,
      );
    if (/[:\n]/.test(v.target))
      throw new TandemError('invalid_argument', `${subject}: volume target "${v.target}" contains ':'`);
  }
}

/** Rejects (invalid_argument) when a volume's source is not a directory. */
export async function requireVolumeDirs(spec: DriverSpec): Promise<void> {
  for (const v of spec.volumes)
    if (!(await stat(v.source).catch(() => undefined))?.isDirectory())
      throw new TandemError('invalid_argument', `volume "${v.source}": "${v.source}" is not a directory`);
}

/** The 9p shares of the volumes (tags vol0, vol1, ...). */
export function volumeShares(spec: DriverSpec): GuestShare[] {
  return spec.volumes.map((v, i) => ({ tag: `vol${i}`, path: v.source, readOnly: v.readOnly }));
}

/** Where the guest mounts them. */
export function volumeMounts(spec: DriverSpec): NonNullable<GuestConfig['mounts']> {
  return spec.volumes.map((v, i) => ({ tag: `vol${i}`, target: v.target, readOnly: v.readOnly }));
}
