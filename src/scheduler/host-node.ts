/**
 * The local node as the scheduler sees it, read from the host: cpus from
 * os.availableParallelism(), memory from /proc/meminfo (MemTotal; os.totalmem() elsewhere), disk
 * from statfs of the state directory (the size of its file system), `qemu` when
 * qemu-system-x86_64 is an executable on PATH, `kvm` when /dev/kvm opens read-write (root passes permission checks, so access() is not enough).
 * The probes are injectable so the logic is testable without a particular host.
 */
import { constants } from 'node:fs';
import { access, open, readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TandemError } from '../base/errors.js';
import { DEFAULT_OVERCOMMIT, type NodeInfo, type Overcommit } from '../core/scheduling.js';

/** Options of the local node. */
export interface HostNodeOptions {
  /** Directory whose file system holds instance state (its size is the disk capacity). */
  stateDir: string;
  /** Node name (default: the host name, lowercased, invalid characters replaced by `-`). */
  name?: string;
  /** Maximum number of instances (default 1024). */
  maxInstances?: number;
  overcommit?: Partial<Overcommit>;
  labels?: Record<string, string>;
  /** Probes (defaults read the real host). */
  probes?: Partial<HostProbes>;
}

/** Where the host facts come from. */
export interface HostProbes {
  cpus(): number;
  meminfo(): Promise<string | null>;
  totalmem(): number;
  diskBytes(dir: string): Promise<number>;
  pathEnv(): string;
  isExecutable(file: string): Promise<boolean>;
  kvmUsable(): Promise<boolean>;
  hostname(): string;
}

const QEMU = 'qemu-system-x86_64';

async function canAccess(file: string, mode: number): Promise<boolean> {
  try {
    await access(file, mode);
    return true;
  } catch {
    return false;
  }
}

/** Probes that read this host. */
export const realProbes: HostProbes = {
  cpus: () => os.availableParallelism(),
  meminfo: () => readFile('/proc/meminfo', 'utf8').catch(() => null),
  totalmem: () => os.totalmem(),
  diskBytes: async (dir) => {
    const s = await statfs(dir);
    return s.blocks * s.bsize;
  },
  pathEnv: () => process.env.PATH ?? '',
  isExecutable: (file) => canAccess(file, constants.X_OK),
  kvmUsable: async () => {
    try {
      await (await open('/dev/kvm', 'r+')).close();
      return true;
    } catch {
      return false;
    }
  },
  hostname: () => os.hostname(),
};

/** Bytes of MemTotal in a /proc/meminfo text, or null. */
export function memTotalBytes(meminfo: string): number | null {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : null;
}

/** A valid node name from a host name (`My_Host.example` → `my-host-example`). */
export function nodeNameFromHost(host: string): string {
  const name = host
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return name || 'local';
}

async function onPath(probes: HostProbes, exe: string): Promise<boolean> {
  for (const dir of probes.pathEnv().split(path.delimiter)) {
    if (dir && (await probes.isExecutable(path.join(dir, exe)))) return true;
  }
  return false;
}

/** The local node's NodeInfo; rejects with unavailable when the state directory cannot be measured. */
export async function hostNodeInfo(options: HostNodeOptions): Promise<NodeInfo> {
  const probes: HostProbes = { ...realProbes, ...options.probes };
  const meminfo = await probes.meminfo();
  const memoryBytes = (meminfo && memTotalBytes(meminfo)) || probes.totalmem();
  let diskBytes: number;
  try {
    diskBytes = await probes.diskBytes(options.stateDir);
  } catch (err) {
    throw new TandemError(
      'unavailable',
      `measuring disk of "${options.stateDir}": ${(err as Error).message}`,
      { cause: err },
    );
  }
  const qemu = await onPath(probes, QEMU);
  const kvm = qemu && (await probes.kvmUsable());
  return {
    name: options.name ?? nodeNameFromHost(probes.hostname()),
    capacity: { cpus: probes.cpus(), memoryBytes, diskBytes, instances: options.maxInstances ?? 1024 },
    capabilities: { qemu, kvm },
    labels: { ...options.labels },
    overcommit: { ...DEFAULT_OVERCOMMIT, ...options.overcommit },
  };
}
