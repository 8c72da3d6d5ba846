/**
 * Choosing KVM or TCG. /dev/kvm existing is not enough (nested or restricted hosts expose a
 * /dev/kvm that cannot run a guest), so `auto` boots the guest once in probe mode under KVM
 * (it powers off at once) and caches the verdict in the driver's root per host kernel.
 */
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { run } from '../../base/proc.js';
import type { GuestAssets } from './guest-assets.js';
import { writeInitrd } from './guest-config.js';
import { type Accel, kernelCmdline, QEMU_BINARY_NAME } from './qemu-args.js';

export type AccelChoice = Accel | 'auto';

export interface AccelVerdict {
  accel: Accel;
  reason: string;
}

/** Decides the accelerator; `choice` (or TANDEM_VM_ACCEL) forces one; never throws. */
export async function detectAccel(
  root: string,
  assets: GuestAssets,
  choice?: AccelChoice,
): Promise<AccelVerdict> {
  const forced = choice ?? (process.env.TANDEM_VM_ACCEL as AccelChoice | undefined) ?? 'auto';
  if (forced === 'kvm' || forced === 'tcg') return { accel: forced, reason: 'configured' };
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { accel: 'tcg', reason: '/dev/kvm is not available' };
  }
  const cache = join(root, 'accel.json');
  const key = `${release()} ${assets.release}`;
  try {
    const saved = JSON.parse(await readFile(cache, 'utf8')) as AccelVerdict & { key: string };
    if (saved.key === key) return { accel: saved.accel, reason: saved.reason };
  } catch {
    // not probed yet
  }
  const verdict = await probeKvm(root, assets);
  await writeFile(cache, JSON.stringify({ ...verdict, key })).catch(() => {});
  return verdict;
}

async function probeKvm(root: string, assets: GuestAssets): Promise<AccelVerdict> {
  await mkdir(root, { recursive: true });
  const dir = await mkdtemp(join(root, '.kvm-probe-'));
  try {
    const initrd = join(dir, 'initrd.img');
    await writeInitrd(assets.initramfs, { mode: 'probe', root: '' }, initrd);
    const log = join(dir, 'console.log');
    const args = [
      '-machine',
      'microvm,acpi=on',
      '-accel',
      'kvm',
      '-cpu',
      'host',
      '-m',
      '64M',
      '-nodefaults',
      '-no-user-config',
    ];
    args.push('-display', 'none', '-no-reboot', '-kernel', assets.kernel, '-initrd', initrd);
    args.push('-append', kernelCmdline(), '-serial', `file:${log}`);
    const res = await run(QEMU_BINARY_NAME, args, { timeoutMs: 5000 });
    const out = await readFile(log, 'utf8').catch(() => '');
    if (res.code === 0 && out.includes('probe ok')) return { accel: 'kvm', reason: 'a KVM guest booted' };
    return {
      accel: 'tcg',
      reason: `/dev/kvm exists but a KVM guest did not boot: ${res.stderr.trim().split('\n')[0] || 'timed out'}`,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
