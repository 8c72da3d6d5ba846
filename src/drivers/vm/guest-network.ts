/**
 * A guest (VM or sandbox) on the daemon's bridge network. The daemon made a tap on the bridge
 * and leased an address before the driver saw the instance (`DriverSpec.attachment`,
 * core/network.ts); the guest gets a virtio-net NIC on that tap (QEMU only opens it by name),
 * and its init configures eth0, the default route and /etc/resolv.conf from the boot config
 * (guest/init/net.c: the Debian kernel has no `ip=` autoconfiguration).
 *
 * Names: the instance's hosts file, which the network rewrites in place whenever membership
 * changes, is bound (in QEMU's own mount namespace, so the host holds no mount) onto a file of
 * a directory of the instance that is shared read-only over 9p. Only that one file is visible
 * to the guest, which binds it over /etc/hosts and reads it uncached: names added after the
 * guest booted resolve at once, also while the daemon is down.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError } from '../../base/errors.js';
import type { DriverSpec } from '../../core/driver.js';
import { type BootOptions, guestConfigFor } from './vm-guest.js';

/** The 9p tag of the share holding the guest's hosts file, and where the guest mounts it. */
export const NET_SHARE_TAG = 'tandem.net';
export const NET_SHARE_TARGET = '/dev/.tandem/net';

/** Rejects network settings a guest cannot have: `host` (not_supported), bridge without a tap, ports without a bridge. */
export function checkGuestNetwork(spec: DriverSpec): void {
  const subject = `instance "${spec.name}"`;
  if (spec.network === 'host')
    throw new TandemError(
      'not_supported',
      `${subject}: network "host" is not supported for ${spec.type} instances (a guest has its own kernel)`,
    );
  if (spec.network === 'bridge' && !spec.attachment?.tap)
    throw new TandemError(
      'invalid_argument',
      `${subject}: network "bridge" needs a tap attachment prepared by the daemon`,
    );
  if (spec.ports.length > 0 && spec.network !== 'bridge')
    throw new TandemError('invalid_argument', `${subject}: publishing ports needs network "bridge"`);
}

type NetPlan = Pick<BootOptions, 'config' | 'shares' | 'nics' | 'binds'>;

/** `plan` with the instance's NIC, hosts share and network config added; unchanged without an attachment. */
export async function withNetwork<P extends NetPlan>(plan: P, spec: DriverSpec, dir: string): Promise<P> {
  const a = spec.attachment;
  if (spec.network !== 'bridge' || !a?.tap) return plan;
  const shareDir = join(dir, 'net');
  const target = join(shareDir, 'hosts');
  await mkdir(shareDir, { recursive: true });
  await writeFile(target, '', { flag: 'a' }); // the bind's mount point
  const config = plan.config ?? guestConfigFor(spec);
  return {
    ...plan,
    config: {
      ...config,
      modules: [...(config.modules ?? []), 'net'],
      mounts: [...(config.mounts ?? []), { tag: NET_SHARE_TAG, target: NET_SHARE_TARGET, readOnly: true }],
      net: { address: a.address, prefixLength: a.prefixLength, gateway: a.gateway, dns: a.dns },
      hostsFile: `${NET_SHARE_TARGET}/hosts`,
      ...(config.sandbox ? { sandbox: { ...config.sandbox, hosts: undefined } } : {}),
    },
    shares: [...(plan.shares ?? []), { tag: NET_SHARE_TAG, path: shareDir, readOnly: true, multidevs: true }],
    nics: [...(plan.nics ?? []), { tap: a.tap, mac: a.mac }],
    binds: [...(plan.binds ?? []), { source: a.hostsFile, target }],
  };
}
