/**
 * A busybox rootfs as a single image layer, for host tests, benchmarks and demos until images
 * come from the image store: Debian's static busybox, its applets as symlinks, /etc/passwd and
 * /etc/group. Also a DriverSpec for it with Tandem's defaults.
 */
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DriverSpec, ResolvedImage } from '../../core/driver.js';
import { defaultSecurity } from '../../core/instance.js';

/** Fills `dir` (existing or not) with a busybox rootfs; `busybox` must be a static binary. */
export async function prepareBusyboxRootfs(dir: string, busybox = '/bin/busybox'): Promise<void> {
  const { stdout } = await promisify(execFile)(busybox, ['--list']);
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'root', 'var', 'run', 'home', 'usr/bin', 'tmp']) {
    await mkdir(join(dir, d), { recursive: true });
  }
  await chmod(join(dir, 'tmp'), 0o1777);
  await copyFile(busybox, join(dir, 'bin/busybox'));
  await chmod(join(dir, 'bin/busybox'), 0o755);
  for (const applet of stdout.split('\n').filter((a) => a && a !== 'busybox')) {
    await symlink('busybox', join(dir, 'bin', applet)).catch(() => {});
  }
  await writeFile(
    join(dir, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  await writeFile(
    join(dir, 'etc/group'),
    'root:x:0:\ndaemon:x:1:\ntty:x:5:\nusers:x:100:nobody\nnogroup:x:65534:\n',
  );
}

/** The image record of a busybox layer prepared by prepareBusyboxRootfs. */
export function busyboxImage(layer: string): ResolvedImage {
  return {
    name: 'busybox',
    digest: 'sha256:fixture',
    layers: [layer],
    config: {
      cmd: ['/bin/sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      exposedPorts: [],
      labels: {},
    },
  };
}

/** A container spec running `args` in the busybox image, with Tandem's defaults and `over` applied. */
export function busyboxSpec(
  id: string,
  args: readonly string[],
  layer: string,
  over: Partial<DriverSpec> = {},
): DriverSpec {
  const image = busyboxImage(layer);
  return {
    id,
    name: id,
    type: 'container',
    hostname: id,
    process: { args: [...args], env: [...image.config.env], cwd: '/', user: '', terminal: false },
    image,
    limits: {},
    security: defaultSecurity(),
    network: 'none',
    ports: [],
    volumes: [],
    ...over,
  };
}
