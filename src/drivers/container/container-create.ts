/**
 * Creating a container's host state: the instance directory (bundle, overlay upper and work
 * dirs, run and log dirs), /etc/hosts, /etc/hostname and /etc/resolv.conf files, config.json,
 * and the instance's cgroup with its limits. Everything the spec asks for that this driver
 * cannot do yet is refused with not_supported before anything is made; every step registers
 * an undo, so a create that fails midway (an unknown command, a limit the kernel refuses, an
 * abort) leaves nothing behind. spec.json is written last: it marks a complete create. File
 * operations are synchronous: they are small, and thread-pool round trips cost more (cgroup-fs.ts).
 */
import { chownSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { TandemError, wrapError } from '../../base/errors.js';
import { Rollback } from '../../base/rollback.js';
import { formatSize } from '../../base/units.js';
import type { DriverSpec } from '../../core/driver.js';
import type { Limits } from '../../core/instance.js';
import type { Cgroup } from '../common/cgroup.js';
import { takeChanges } from '../common/rootfs-changes.js';
import { findExecutable, type RootfsStack, resolveUser } from '../common/rootfs-lookup.js';
import type { StoredSpec } from './container-idmap.js';
import type { InstancePaths } from './container-paths.js';
import { assertInstanceId } from './container-paths.js';
import { readOptional } from './container-state.js';
import { buildOciConfig } from './oci-config.js';
import { capabilitySet } from './oci-security.js';

/** The smallest memory limit accepted (Podman's minimum). */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;

export interface CreateContext {
  paths: InstancePaths;
  cgroup: Cgroup;
  catatonit: string;
  signal?: AbortSignal;
}

/** The rootfs as lookups see it: the upper dir, then the image layers top to bottom. */
export function rootfsStack(paths: InstancePaths, spec: DriverSpec): RootfsStack {
  return [paths.upper, ...[...spec.image.layers].reverse()];
}

/** Refuses what this driver cannot do (not_supported) and what is invalid (invalid_argument). */
export function validateSpec(spec: DriverSpec): void {
  assertInstanceId(spec.id);
  const subject = `instance "${spec.name}"`;
  if (spec.type !== 'container')
    throw new TandemError(
      'invalid_argument',
      `${subject}: the container driver runs containers, not ${spec.type}`,
    );
  if (spec.process.args.length === 0)
    throw new TandemError('invalid_argument', `${subject}: no command to run`);
  if (spec.network === 'bridge' && !spec.attachment?.netns)
    throw new TandemError(
      'invalid_argument',
      `${subject}: --network bridge needs the network namespace the daemon prepares (no attachment)`,
    );
  if (spec.ports.length > 0 && spec.network !== 'bridge')
    throw new TandemError('invalid_argument', `${subject}: publishing ports (-p) needs --network bridge`);
  if (spec.init === 'system')
    throw new TandemError('not_supported', `${subject}: --init system is not supported for containers`);
  for (const v of spec.volumes) {
    if (!isAbsolute(v.source))
      throw new TandemError(
        'invalid_argument',
        `${subject}: volume "${v.source}" was not resolved to a host directory (the daemon does that)`,
      );
    if (!isAbsolute(v.target))
      throw new TandemError('invalid_argument', `${subject}: volume target "${v.target}" is not absolute`);
  }
  for (const l of spec.image.layers) {
    if (/[,:]/.test(l))
      throw new TandemError('invalid_argument', `${subject}: layer path "${l}" contains ',' or ':'`);
  }
  capabilitySet(spec.security);
  validateLimits(spec.name, spec.limits);
}

/** Rejects limits a container cannot have (invalid_argument; disk: not_supported). */
export function validateLimits(name: string, limits: Limits): void {
  const subject = `instance "${name}"`;
  const { cpus, memoryBytes, pids, diskBytes } = limits;
  if (diskBytes !== undefined)
    throw new TandemError('not_supported', `${subject}: a disk limit is not supported for containers`);
  const cores = availableParallelism();
  if (cpus !== undefined && !(Number.isFinite(cpus) && cpus >= 0.01 && cpus <= cores)) {
    throw new TandemError(
      'invalid_argument',
      `${subject}: cpus must be between 0.01 and ${cores}, not ${cpus}`,
    );
  }
  if (memoryBytes !== undefined && !(Number.isSafeInteger(memoryBytes) && memoryBytes >= MIN_MEMORY_BYTES)) {
    throw new TandemError(
      'invalid_argument',
      `${subject}: memory must be at least ${formatSize(MIN_MEMORY_BYTES)}, not ${formatSize(memoryBytes)}`,
    );
  }
  if (pids !== undefined && !(Number.isSafeInteger(pids) && pids >= 1)) {
    throw new TandemError('invalid_argument', `${subject}: pids must be a positive integer, not ${pids}`);
  }
}

/** Creates the instance's host state; leaves nothing behind when it fails. */
export async function createInstance(ctx: CreateContext, spec: StoredSpec): Promise<void> {
  const p = ctx.paths;
  const subject = `instance "${spec.name}"`;
  if (existsSync(p.dir)) throw new TandemError('already_exists', `${subject}: id "${spec.id}" exists`);
  const rb = new Rollback();
  try {
    mkdirSync(p.dir, { recursive: true });
    rb.add('instance directory', () => rmSync(p.dir, { recursive: true, force: true }));
    if (spec.rootfsChanges) await takeChanges(spec.rootfsChanges, p.upper); // isolate: the changes become ours
    for (const d of [p.bundle, p.upper, p.work, p.logs]) mkdirSync(d, { recursive: true });
    await checkSources(spec);
    const stack = rootfsStack(p, spec);
    const user = await resolveUser(stack, spec.process.user);
    await checkCommand(stack, spec);
    writeEtcFiles(p, spec);
    if (spec.idmap) {
      // root of the container owns its rootfs changes and its /etc files
      for (const f of [p.upper, p.hosts, p.hostname, p.resolv])
        chownSync(f, spec.idmap.hostId, spec.idmap.hostId);
    }
    const config = buildOciConfig({
      spec,
      user,
      rootfs: p.rootfs,
      hostsFile: spec.attachment?.hostsFile ?? p.hosts,
      hostnameFile: p.hostname,
      resolvFile: p.resolv,
      cgroupsPath: p.crunCgroup,
      catatonit: ctx.catatonit,
      idmap: spec.idmap,
    });
    writeFileSync(p.config, JSON.stringify(config, null, 1));
    await ctx.cgroup.create();
    rb.add('cgroup', () => ctx.cgroup.remove());
    // a new group has no limits: write them only when there are some
    const { cpus, memoryBytes, pids } = spec.limits;
    if (cpus !== undefined || memoryBytes !== undefined || pids !== undefined)
      await ctx.cgroup.setLimits(spec.limits);
    ctx.signal?.throwIfAborted();
    const { rootfsChanges: _taken, ...kept } = spec;
    writeJsonAtomic(p.spec, kept);
    rb.commit();
  } catch (err) {
    await rb.undo();
    throw wrapError(err, `creating ${subject}`);
  }
}

async function checkSources(spec: DriverSpec): Promise<void> {
  for (const layer of spec.image.layers) {
    if (!statSync(layer, { throwIfNoEntry: false })?.isDirectory())
      throw new TandemError('invalid_argument', `image layer "${layer}" is not a directory`);
  }
  for (const v of spec.volumes) {
    if (!existsSync(v.source))
      throw new TandemError('invalid_argument', `volume source "${v.source}" does not exist`);
  }
  const netns = spec.attachment?.netns;
  if (netns && !existsSync(netns))
    throw new TandemError('invalid_argument', `network namespace "${netns}" does not exist`);
}

async function checkCommand(stack: RootfsStack, spec: DriverSpec): Promise<void> {
  const arg0 = spec.process.args[0]!;
  if (!(await findExecutable(stack, arg0, spec.process.env, spec.process.cwd || '/'))) {
    throw new TandemError('invalid_argument', `executable "${arg0}" not found in the image`);
  }
}

function writeEtcFiles(p: InstancePaths, spec: DriverSpec): void {
  const hostname = spec.hostname || spec.name;
  writeFileSync(p.hostname, `${hostname}\n`);
  writeFileSync(
    p.hosts,
    `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`,
  );
  const host = readOptional('/etc/resolv.conf') ?? '';
  const lines = host
    .split('\n')
    .filter((l) => spec.network === 'host' || !/^\s*nameserver\s+(127\.|::1\b)/.test(l));
  writeFileSync(p.resolv, lines.join('\n').trim() ? `${lines.join('\n').trim()}\n` : '');
}

/** Writes JSON through a temporary file and a rename, so readers never see half of it. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(value, null, 1));
  renameSync(`${path}.tmp`, path);
}
