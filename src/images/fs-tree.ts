/**
 * Removing directory trees that a build may have mounted things into (debootstrap mounts
 * /proc and /sys inside its target): mounts beneath are detached first, deepest first, so a
 * recursive removal never walks into a kernel file system or a host directory.
 */
import { readFile, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { runChecked } from '../base/proc.js';

function unescapeMount(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** Mount points at or below `dir`, deepest first. */
export async function mountsBelow(dir: string): Promise<string[]> {
  const root = resolve(dir);
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const points = text
    .split('\n')
    .filter(Boolean)
    .map((line) => unescapeMount(line.split(' ')[4] ?? ''))
    .filter((p) => p === root || p.startsWith(`${root}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Detaches every mount at or below `dir`, deepest first. */
export async function unmountBelow(dir: string): Promise<void> {
  for (const m of await mountsBelow(dir)) await runChecked('umount', ['-l', m]);
}

/** Detaches every mount below `dir`, then removes it; a missing `dir` is not an error. */
export async function removeTree(dir: string): Promise<void> {
  await unmountBelow(dir);
  await rm(dir, { recursive: true, force: true, maxRetries: 2 });
}
