/**
 * Cgroups for instance workloads, on cgroup v1 (one hierarchy per controller; hybrid hosts
 * like this one) and v2 (one unified hierarchy). A driver opens one `Cgroup` per instance at a
 * path relative to the hierarchy roots (e.g. `/tandem-1a2b3c4d/<id>`), which it owns from
 * create to delete: limits, the freezer and usage live there, so they survive stop/start.
 * The layout (which hierarchies are mounted where) comes from /proc/self/mountinfo; tests
 * point it at fixture trees instead.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Cgroup, CgroupLayout } from './cgroup-types.js';
import { CgroupV1 } from './cgroup-v1.js';
import { CgroupV2 } from './cgroup-v2.js';

export type { Cgroup, CgroupLayout, CgroupLimits, CgroupUsage, FreezeState } from './cgroup-types.js';

/** Opens the cgroup at `path` (relative, `/a/b`) in `layout`; creates nothing. */
export function openCgroup(layout: CgroupLayout, path: string): Cgroup {
  const rel = `/${path.replace(/^\/+|\/+$/g, '')}`;
  return layout.version === 2 ? new CgroupV2(layout, rel) : new CgroupV1(layout, rel);
}

const V1_KNOWN = new Set([
  'cpu',
  'cpuacct',
  'cpuset',
  'memory',
  'devices',
  'freezer',
  'net_cls',
  'net_prio',
  'blkio',
  'perf_event',
  'hugetlb',
  'pids',
  'rdma',
  'misc',
]);

/** Parses /proc/self/mountinfo text into a layout (v2 when a cgroup2 mount is the only hierarchy). */
export function parseCgroupMounts(mountinfo: string): CgroupLayout {
  const v1: Record<string, string> = {};
  const all: string[] = [];
  let unified: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const mountPoint = unescapeMount(pre.split(' ')[4] ?? '');
    const [fstype, , superOpts = ''] = post.split(' ');
    if (fstype === 'cgroup2') {
      unified = mountPoint;
      all.push(mountPoint);
    } else if (fstype === 'cgroup') {
      all.push(mountPoint);
      for (const opt of superOpts.split(',')) {
        if (V1_KNOWN.has(opt) || opt.startsWith('name=')) v1[opt] = mountPoint;
      }
    }
  }
  const version = Object.keys(v1).length === 0 && unified ? 2 : 1;
  return { version, v1, unified, all };
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** The layout of this host, from /proc/self/mountinfo. */
export async function detectCgroupLayout(): Promise<CgroupLayout> {
  return parseCgroupMounts(await readFile('/proc/self/mountinfo', 'utf8'));
}

/**
 * crun's hybrid-cgroup trap (RECIPES.md): crun refuses to run when the v2 hierarchy of a v1
 * host lists a controller that has no v1 hierarchy. Returns what to do, or undefined when fine.
 */
export async function hybridCgroupProblem(layout: CgroupLayout): Promise<string | undefined> {
  if (layout.version !== 1 || !layout.unified) return undefined;
  const text = await readFile(join(layout.unified, 'cgroup.controllers'), 'utf8').catch(() => '');
  const stray = text.split(/\s+/).filter((c) => c && !layout.v1[c]);
  if (stray.length === 0) return undefined;
  return (
    `crun refuses hybrid cgroups: ${layout.unified}/cgroup.controllers lists ${stray.join(', ')} ` +
    `but no cgroup v1 hierarchy has ${stray.length > 1 ? 'them' : 'it'}; run scripts/setup-host.sh ` +
    `(it mounts the missing v1 hierarchy, e.g. mount -t cgroup -o ${stray[0]} cgroup /sys/fs/cgroup/${stray[0]})`
  );
}

/** A process's cgroup path per v1 controller (`name=` hierarchies too; '' for v2), from the text of /proc/PID/cgroup. */
export function parseOwnCgroups(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [, ctrls, path] = line.split(':');
    if (ctrls === undefined || path === undefined) continue;
    for (const c of ctrls.split(',')) out.set(c, path);
  }
  return out;
}

/** v1 hierarchies whose cgroup.procs may take a priming write, in order of preference. */
const PRIME_V1 = ['pids', 'freezer', 'cpu', 'memory', 'devices', 'blkio', 'cpuacct', 'cpuset'];

/**
 * The cgroup.procs file of a process's own cgroup (`own`, parseOwnCgroups) in one hierarchy of
 * `layout`, for the monitor launcher's priming writes (helpers/monitor/launcher.c says why);
 * undefined when there is none to use.
 */
export function primeCgroupFile(layout: CgroupLayout, own: Map<string, string>): string | undefined {
  if (layout.version === 2) {
    const path = own.get('');
    return layout.unified && path !== undefined ? join(layout.unified, path, 'cgroup.procs') : undefined;
  }
  for (const c of PRIME_V1) {
    const mount = layout.v1[c];
    const path = own.get(c);
    if (mount && path !== undefined) return join(mount, path, 'cgroup.procs');
  }
  return undefined;
}

/** primeCgroupFile for this process (its /proc/self/cgroup). */
export async function ownPrimeCgroupFile(layout: CgroupLayout): Promise<string | undefined> {
  return primeCgroupFile(layout, parseOwnCgroups(await readFile('/proc/self/cgroup', 'utf8')));
}
