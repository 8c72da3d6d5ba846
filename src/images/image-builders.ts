/**
 * Local builders that make a rootfs tree from Debian's packages, with no registry:
 * - busybox: Debian's static busybox, its applets as symlinks (`busybox --list-full`), an
 *   /etc/passwd and /etc/group, the usual empty directories. No network; fixed times, so two
 *   builds give the same layer.
 * - debian:bookworm: debootstrap (minbase, plus `--include` packages) from the Debian mirror
 *   this host's apt uses; package caches and lists are dropped afterwards.
 * Each returns the config defaults of the image it made; the store turns the tree into a layer.
 */
import { spawn } from 'node:child_process';
import {
  chmod,
  copyFile,
  lutimes,
  mkdir,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { TandemError } from '../base/errors.js';
import { runChecked } from '../base/proc.js';
import type { BuildOptions } from '../core/image.js';
import { DEFAULT_PATH } from './image-config.js';

export interface BuiltRootfs {
  source: string;
  cmd: string[];
  env: string[];
}

export const BUSYBOX = '/bin/busybox';
const FIXED_TIME = 946684800; // 2000-01-01, for reproducible busybox layers

async function setTimes(dir: string, t: number): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await setTimes(p, t);
    await lutimes(p, t, t);
  }
  await lutimes(dir, t, t);
}

/** Builds a busybox rootfs into `dir` (which must not exist); needs Debian's busybox-static. */
export async function buildBusybox(dir: string): Promise<BuiltRootfs> {
  await stat(BUSYBOX).catch(() => {
    throw new TandemError('unavailable', `${BUSYBOX} not found: install Debian's busybox-static`);
  });
  const dirs = [
    'bin',
    'sbin',
    'usr/bin',
    'usr/sbin',
    'etc',
    'dev',
    'proc',
    'sys',
    'run',
    'mnt',
    'home',
    'var/log',
  ];
  await mkdir(dir, { mode: 0o755 });
  for (const d of dirs) await mkdir(join(dir, d), { recursive: true, mode: 0o755 });
  for (const [d, mode] of [
    ['root', 0o700],
    ['tmp', 0o1777],
    ['var/tmp', 0o1777],
  ] as const) {
    await mkdir(join(dir, d), { recursive: true });
    await chmod(join(dir, d), mode);
  }
  await copyFile(BUSYBOX, join(dir, 'bin/busybox'));
  await chmod(join(dir, 'bin/busybox'), 0o755);
  const { stdout } = await runChecked(BUSYBOX, ['--list-full']);
  for (const applet of stdout.split('\n').map((l) => l.trim())) {
    if (!/^[a-z0-9/_.[-]+$/.test(applet) || applet === 'bin/busybox' || applet.includes('..')) continue;
    await mkdir(dirname(join(dir, applet)), { recursive: true });
    await symlink('/bin/busybox', join(dir, applet)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  await writeFile(
    join(dir, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\nnobody:x:65534:\n');
  await setTimes(dir, FIXED_TIME);
  return { source: 'build:busybox', cmd: ['/bin/sh'], env: [DEFAULT_PATH] };
}

/** The Debian mirror this host's apt uses (first non-security URI), else deb.debian.org. */
export async function detectDebianMirror(): Promise<string> {
  const files = ['/etc/apt/sources.list'];
  const d = '/etc/apt/sources.list.d';
  for (const f of await readdir(d).catch(() => [] as string[])) files.push(join(d, f));
  for (const f of files) {
    const text = await readFile(f, 'utf8').catch(() => '');
    for (const m of text.matchAll(/^(?:deb\s+(?:\[[^\]]*\]\s+)?|URIs:\s*)(\S+)/gm)) {
      const uri = m[1];
      if (/^https?:\/\/.*\/debian\/?$/.test(uri) && !uri.includes('security')) return uri.replace(/\/$/, '');
    }
  }
  return 'http://deb.debian.org/debian';
}

const PACKAGE_RE = /^[a-z0-9][a-z0-9+.-]+$/;

/** Runs debootstrap into `dir`, reporting its "I:" lines as steps; kills its process group on abort. */
function debootstrap(args: string[], onLine: (line: string) => void, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const child = spawn('debootstrap', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const tail: string[] = [];
    const kill = () => child.pid && process.kill(-child.pid, 'SIGKILL');
    signal?.addEventListener('abort', kill, { once: true });
    for (const s of [child.stdout, child.stderr]) {
      createInterface({ input: s }).on('line', (l) => {
        tail.push(l);
        if (tail.length > 5) tail.shift();
        onLine(l);
      });
    }
    child.on('error', (e) =>
      reject(new TandemError('unavailable', `running debootstrap: ${e.message}`, { cause: e })),
    );
    child.on('close', (code) => {
      signal?.removeEventListener('abort', kill);
      if (signal?.aborted) reject(signal.reason);
      else if (code === 0) resolve();
      else reject(new TandemError('internal', `debootstrap exited with status ${code}: ${tail.join('; ')}`));
    });
  });
}

/** Builds a Debian bookworm rootfs into `dir` with debootstrap from `mirror`. */
export async function buildDebian(
  dir: string,
  opts: BuildOptions & { mirror: string },
): Promise<BuiltRootfs> {
  const packages = opts.packages ?? [];
  for (const p of packages)
    if (!PACKAGE_RE.test(p)) throw new TandemError('invalid_argument', `invalid package name "${p}"`);
  const args = [
    '--variant=minbase',
    ...(packages.length ? [`--include=${packages.join(',')}`] : []),
    'bookworm',
    dir,
    opts.mirror,
  ];
  let steps = 0;
  await debootstrap(
    args,
    (line) => {
      if (line.startsWith('I: ')) opts.onProgress?.({ step: line.slice(3), done: ++steps, unit: 'steps' });
    },
    opts.signal,
  );
  for (const junk of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
    for (const f of await readdir(join(dir, junk)).catch(() => [] as string[])) {
      if (f !== 'partial' && f !== 'lock') await rm(join(dir, junk, f), { recursive: true, force: true });
    }
  }
  return { source: 'build:debian:bookworm', cmd: ['bash'], env: [DEFAULT_PATH] };
}
