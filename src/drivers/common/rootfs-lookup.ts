/**
 * Looking into a container's rootfs before it runs, without mounting it: the rootfs is a stack
 * of directories (the overlay upper dir, then the image layers top to bottom), and a path
 * resolves to the first directory that has it. Symbolic links resolve inside the rootfs (an
 * absolute target starts again at the rootfs root), and an overlay whiteout (a 0/0 character
 * device) hides what lies below. Used to resolve user names through /etc/passwd and to check
 * that the command exists, so a bad create fails before anything runs.
 */
import { constants, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import { TandemError } from '../../base/errors.js';

/** The rootfs as directories searched in order (upper first, then layers top to bottom). */
export type RootfsStack = readonly string[];

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

const MAX_LINKS = 40;

/** The host path of `path` inside the rootfs after following links, or undefined when absent. */
export async function resolveInRootfs(stack: RootfsStack, path: string): Promise<string | undefined> {
  let parts = posix.normalize(`/${path}`).split('/').filter(Boolean);
  let done: string[] = [];
  for (let hops = 0; parts.length > 0; ) {
    const next = [...done, parts[0]!];
    const found = await findEntry(stack, next.join('/'));
    if (!found) return undefined;
    if (found.isLink) {
      if (++hops > MAX_LINKS) return undefined;
      const target = readlinkSync(found.host);
      const base = target.startsWith('/') ? [] : done;
      parts = [
        ...posix
          .normalize(`/${[...base, target].join('/')}`)
          .split('/')
          .filter(Boolean),
        ...parts.slice(1),
      ];
      done = [];
      continue;
    }
    done = next;
    parts = parts.slice(1);
    if (parts.length === 0) return found.host;
  }
  return stack[0];
}

/** The first entry for `rel` in the stack; undefined when missing or whited out. */
async function findEntry(
  stack: RootfsStack,
  rel: string,
): Promise<{ host: string; isLink: boolean } | undefined> {
  for (const dir of stack) {
    const host = join(dir, rel);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isCharacterDevice() && st.rdev === 0) return undefined;
    return { host, isLink: st.isSymbolicLink() };
  }
  return undefined;
}

/** True when `arg0` names an executable file, directly or through PATH from `env`. */
export async function findExecutable(
  stack: RootfsStack,
  arg0: string,
  env: readonly string[],
  cwd: string,
): Promise<boolean> {
  const candidates = arg0.includes('/')
    ? [posix.resolve(cwd, arg0)]
    : (envValue(env, 'PATH') ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
        .split(':')
        .filter(Boolean)
        .map((d) => posix.join(d, arg0));
  for (const c of candidates) {
    const host = await resolveInRootfs(stack, c);
    const st = host ? lstatSync(host, { throwIfNoEntry: false }) : undefined;
    if (st?.isFile() && (st.mode & (constants.S_IXUSR | constants.S_IXGRP | constants.S_IXOTH)) !== 0)
      return true;
  }
  return false;
}

/** Resolves `uid[:gid]`, `name[:group]` (or empty: root) through the rootfs' passwd and group files. */
export async function resolveUser(stack: RootfsStack, user: string): Promise<ResolvedUser> {
  const [u = '', g] = user.split(':', 2);
  const passwd = await readTable(stack, '/etc/passwd');
  const groups = await readTable(stack, '/etc/group');
  const entry =
    u === '' ? passwd.find((e) => e[2] === '0') : passwd.find((e) => e[0] === u || (isNum(u) && e[2] === u));
  if (!entry && !isNum(u) && u !== '') {
    throw new TandemError('invalid_argument', `user "${u}" is not in the image's /etc/passwd`);
  }
  const uid = u === '' ? 0 : isNum(u) ? Number(u) : Number(entry![2]);
  let gid = entry ? Number(entry[3]) : 0;
  if (g !== undefined && g !== '') {
    const group = groups.find((e) => e[0] === g || (isNum(g) && e[2] === g));
    if (!group && !isNum(g))
      throw new TandemError('invalid_argument', `group "${g}" is not in the image's /etc/group`);
    gid = isNum(g) ? Number(g) : Number(group![2]);
  }
  const name = entry?.[0];
  const additionalGids = name
    ? groups
        .filter((e) => (e[3] ?? '').split(',').includes(name))
        .map((e) => Number(e[2]))
        .filter((x) => x !== gid)
    : [];
  return { uid, gid, additionalGids: [...new Set(additionalGids)], home: entry?.[5] || '/' };
}

async function readTable(stack: RootfsStack, path: string): Promise<string[][]> {
  const host = await resolveInRootfs(stack, path);
  if (!host) return [];
  let text = '';
  try {
    text = readFileSync(host, 'utf8');
  } catch {}
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

function isNum(s: string): boolean {
  return /^\d+$/.test(s);
}

/** The value of `name` in KEY=VALUE strings (the last one wins), or undefined. */
export function envValue(env: readonly string[], name: string): string | undefined {
  let v: string | undefined;
  for (const e of env) if (e.startsWith(`${name}=`)) v = e.slice(name.length + 1);
  return v;
}
