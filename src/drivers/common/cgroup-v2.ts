/**
 * Cgroup v2: one unified directory per group. Creating a group enables the controllers it
 * needs in every ancestor's `cgroup.subtree_control` (a runtime's sub-group then holds the
 * processes, so the group itself never has any: the "no internal processes" rule).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { TandemError } from '../../base/errors.js';
import { sleep } from '../../base/time.js';
import {
  killQuietly,
  pidsBelow,
  readKeyed,
  readNumber,
  readText,
  removeTree,
  writeValue,
} from './cgroup-fs.js';
import type { Cgroup, CgroupLayout, CgroupLimits, CgroupUsage, FreezeState } from './cgroup-types.js';

/** Controllers a v2 group needs from its parents. */
export const V2_CONTROLLERS = ['cpu', 'memory', 'pids', 'io'] as const;

const PERIOD_US = 100_000;

export class CgroupV2 implements Cgroup {
  private readonly root: string;

  constructor(
    layout: CgroupLayout,
    readonly path: string,
  ) {
    if (!layout.unified) throw new TandemError('not_supported', 'no cgroup2 hierarchy is mounted');
    this.root = layout.unified;
  }

  dir(_controller?: string): string {
    return join(this.root, this.path);
  }

  memoryDir(): string {
    return this.dir();
  }

  async create(): Promise<void> {
    const parts = this.path.split('/').filter(Boolean);
    let dir = this.root;
    for (const part of parts) {
      await this.enableControllers(dir);
      dir = join(dir, part);
      mkdirSync(dir, { recursive: true });
    }
    await this.enableControllers(dir);
  }

  private async enableControllers(dir: string): Promise<void> {
    const available = ((await readText(join(dir, 'cgroup.controllers'))) ?? '').split(/\s+/);
    const enabled = ((await readText(join(dir, 'cgroup.subtree_control'))) ?? '').split(/\s+/);
    const missing = V2_CONTROLLERS.filter((c) => available.includes(c) && !enabled.includes(c));
    if (missing.length > 0)
      await writeValue(join(dir, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
  }

  async exists(): Promise<boolean> {
    return existsSync(this.dir());
  }

  async setLimits(limits: CgroupLimits): Promise<void> {
    const d = this.dir();
    const quota = limits.cpus ? Math.max(1000, Math.round(limits.cpus * PERIOD_US)) : 'max';
    await writeValue(join(d, 'cpu.max'), `${quota} ${PERIOD_US}`);
    await writeValue(join(d, 'memory.max'), limits.memoryBytes ?? 'max');
    if ((await readText(join(d, 'memory.swap.max'))) !== undefined) {
      await writeValue(join(d, 'memory.swap.max'), limits.memoryBytes === undefined ? 'max' : 0);
    }
    await writeValue(join(d, 'pids.max'), limits.pids ?? 'max');
  }

  async readLimits(): Promise<CgroupLimits> {
    const d = this.dir();
    const [quota, period] = ((await readText(join(d, 'cpu.max'))) ?? 'max').split(/\s+/);
    return {
      cpus: quota && quota !== 'max' ? Number(quota) / Number(period ?? PERIOD_US) : undefined,
      memoryBytes: await readNumber(join(d, 'memory.max')),
      pids: await readNumber(join(d, 'pids.max')),
    };
  }

  async usage(): Promise<CgroupUsage> {
    const d = this.dir();
    const cpu = await readKeyed(join(d, 'cpu.stat'));
    const mem = await readKeyed(join(d, 'memory.stat'));
    const current = (await readNumber(join(d, 'memory.current'))) ?? 0;
    const io = await this.blockIo();
    return {
      cpuSeconds: (cpu.get('usage_usec') ?? 0) / 1e6,
      memoryBytes: Math.max(0, current - (mem.get('inactive_file') ?? 0)),
      memoryPeakBytes: await readNumber(join(d, 'memory.peak')),
      memoryLimitBytes: await readNumber(join(d, 'memory.max')),
      pids: await readNumber(join(d, 'pids.current')),
      blockReadBytes: io.read,
      blockWriteBytes: io.write,
    };
  }

  private async blockIo(): Promise<{ read?: number; write?: number }> {
    const text = await readText(join(this.dir(), 'io.stat'));
    if (text === undefined) return {};
    let read = 0;
    let write = 0;
    for (const m of text.matchAll(/\b(rbytes|wbytes)=(\d+)/g)) {
      if (m[1] === 'rbytes') read += Number(m[2]);
      else write += Number(m[2]);
    }
    return { read, write };
  }

  async freeze(): Promise<void> {
    await this.setFrozen(1, 'frozen');
  }

  async thaw(): Promise<void> {
    await this.setFrozen(0, 'thawed');
  }

  private async setFrozen(value: 0 | 1, want: FreezeState): Promise<void> {
    await writeValue(join(this.dir(), 'cgroup.freeze'), value);
    for (let i = 0; i < 250; i++) {
      if ((await this.freezeState()) === want) return;
      await sleep(20);
    }
    throw new TandemError('internal', `cgroup ${this.path} did not become ${want} within 5 s`);
  }

  async freezeState(): Promise<FreezeState> {
    const events = await readKeyed(join(this.dir(), 'cgroup.events'));
    if (events.get('frozen') === 1) return 'frozen';
    return (await readNumber(join(this.dir(), 'cgroup.freeze'))) === 1 ? 'freezing' : 'thawed';
  }

  async pids(): Promise<number[]> {
    return pidsBelow(this.dir());
  }

  async remove(): Promise<void> {
    const d = this.dir();
    if (!(await this.exists())) return;
    if (existsSync(join(d, 'cgroup.kill'))) await writeValue(join(d, 'cgroup.kill'), 1).catch(() => {});
    else for (const pid of await this.pids()) killQuietly(pid);
    await removeTree(d);
  }
}
