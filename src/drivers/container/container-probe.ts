/**
 * Can containers run here? crun, catatonit and the monitor binary exist, this is root,
 * overlayfs is available, and the cgroup layout is one crun accepts (the hybrid trap of
 * RECIPES.md is reported with the command that fixes it).
 */
import { access, constants, readFile } from 'node:fs/promises';
import { run } from '../../base/proc.js';
import type { DriverInfo } from '../../core/driver.js';
import { type CgroupLayout, hybridCgroupProblem } from '../common/cgroup.js';

export interface ProbeInputs {
  crunPath: string;
  catatonitPath: string;
  monitorPath: string;
  layout: CgroupLayout;
}

/**
 * Features every container driver instance offers. 'network-bridge' and 'ports' mean: it joins
 * the network namespace the daemon prepares (DriverSpec.attachment); 'volumes': it binds host
 * directories (the daemon resolves named volumes).
 */
export const CONTAINER_FEATURES = [
  'tty',
  'update-live',
  'pause',
  'exec',
  'logs',
  'stats',
  'oom',
  'attach',
  'network-bridge',
  'network-host',
  'ports',
  'volumes',
  'capabilities',
  'privileged',
  'read-only',
  'userns',
  'rootfs-changes',
];

/** Describes whether containers can run here; never throws. */
export async function probeContainers(i: ProbeInputs): Promise<DriverInfo> {
  const info = (available: boolean, reason?: string, version?: string): DriverInfo => ({
    type: 'container',
    available,
    reason,
    version,
    features: CONTAINER_FEATURES,
  });
  try {
    const version = await crunVersion(i.crunPath);
    if (!version) return info(false, `crun not found at ${i.crunPath}: run scripts/install-packages.sh`);
    if (!(await executable(i.catatonitPath))) {
      return info(
        false,
        `catatonit not found at ${i.catatonitPath}: run scripts/install-packages.sh`,
        version,
      );
    }
    if (!(await executable(i.monitorPath))) {
      return info(
        false,
        `the monitor helper is missing at ${i.monitorPath}: run scripts/build-helpers.sh`,
        version,
      );
    }
    if (process.getuid?.() !== 0) return info(false, 'the container driver needs root', version);
    const fs = await readFile('/proc/filesystems', 'utf8').catch(() => '');
    if (!/\boverlay\b/.test(fs)) return info(false, 'overlayfs is not available (modprobe overlay)', version);
    const problem = await hybridCgroupProblem(i.layout);
    if (problem) return info(false, problem, version);
    return info(true, undefined, version);
  } catch (err) {
    return info(false, `probing containers: ${(err as Error).message}`);
  }
}

async function crunVersion(path: string): Promise<string | undefined> {
  const res = await run(path, ['--version']).catch(() => undefined);
  if (res?.code !== 0) return undefined;
  return /crun version (\S+)/.exec(res.stdout)?.[1] ?? res.stdout.split('\n')[0];
}

async function executable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}
