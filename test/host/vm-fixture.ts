/**
 * Fixtures of the VM host tests: a busybox root filesystem as a single image layer (from
 * Debian's busybox-static), and driver specs over it.
 */
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChecked } from '../../src/base/proc.js';
import type { DriverSpec, ResolvedImage } from '../../src/core/driver.js';
import { defaultSecurity } from '../../src/core/instance.js';
import { GUEST_FILES } from '../../src/drivers/vm/qemu-args.js';

/** Makes a busybox rootfs layer in a new temp dir; returns the image and the dir to remove. */
export async function busyboxImage(): Promise<{ image: ResolvedImage; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'vm-test-image-'));
  const root = join(dir, 'layer');
  for (const d of ['bin', 'sbin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev', 'usr/bin', 'var'])
    await mkdir(join(root, d), { recursive: true });
  await chmod(join(root, 'tmp'), 0o1777);
  await copyFile('/bin/busybox', join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  const applets = (await runChecked('/bin/busybox', ['--list'])).stdout
    .split('\n')
    .filter((a) => a && a !== 'busybox');
  for (const a of applets) await symlink('busybox', join(root, 'bin', a));
  await symlink('/bin/busybox', join(root, 'sbin/init'));
  await writeFile(
    join(root, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
  );
  await writeFile(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  const image: ResolvedImage = {
    name: 'busybox',
    digest: `sha256:${dir.replace(/[^a-z0-9]/gi, '').slice(-16)}`,
    layers: [root],
    config: { cmd: ['/bin/sh'], env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], exposedPorts: [], labels: {} },
  };
  return { image, dir };
}

/** A vm spec running `args` on `image`. */
export function vmSpec(
  id: string,
  image: ResolvedImage,
  args: readonly string[],
  limits: DriverSpec['limits'] = {},
  init?: 'system',
): DriverSpec {
  return {
    id,
    name: id,
    type: 'vm',
    hostname: id,
    process: {
      args: [...args],
      env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'TEST_IMAGE_VAR=yes'],
      cwd: '/',
      user: '0:0',
      terminal: false,
    },
    image,
    limits,
    security: defaultSecurity(),
    network: 'none',
    ports: [],
    volumes: [],
    ...(init ? { init } : {}),
  };
}

/** What a guest's files under `dir` show (QEMU alive, the status the guest wrote, the console's
 * last lines): the conformance suite adds it when a wait for the workload's end fails. */
export async function guestDiagnosis(dir: string): Promise<string> {
  const read = (f: string) => readFile(join(dir, f), 'utf8').catch(() => '(none)');
  const pid = Number.parseInt(await read(GUEST_FILES.pid), 10);
  const alive = pid > 0 && existsSync(`/proc/${pid}`);
  const consoleTail = (await read(GUEST_FILES.consoleLog)).split('\n').slice(-40).join('\n');
  return [
    `qemu pid ${pid || 'none'} ${alive ? 'alive' : 'gone'}`,
    `status file: ${JSON.stringify(await read(GUEST_FILES.status))}`,
    `console log (last 40 lines):\n${consoleTail}`,
  ].join('\n');
}
