/**
 * Cgroup v1: one directory per controller hierarchy. The group is created in the hierarchies
 * whose files Tandem writes or reads (cpu, cpuacct, memory, pids, freezer, blkio); a runtime
 * may add sub-groups in others, so removal walks every mounted hierarchy.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { TandemError } from '../../base/errors.js';
import { sleep } from '../../base/time.js';
import { pidsBelow, readKeyed, readNumber, readText, removeTree, writeValue } from './cgroup-fs.js';
import type { Cgroup, CgroupLayout, CgroupLimits, CgroupUsage, FreezeState } from './cgroup-types.js';

/** Controllers whose files a v1 group needs. */
export const V1_CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'pids', 'freezer', 'blkio'] as const;

const PERIOD_US = 100_000;
/** v1 reports "no limit" as a page-aligned value near 2^63. */
const UNLIMITED = 2 ** 62;

export class CgroupV1 implements Cgroup {
  constructor(
    private readonly layout: CgroupLayout,
    readonly path: string,
  ) {}

  dir(controller: string): string {
    const root = this.layout.v1[controller];
    if (!root) throw new TandemError('not_supported', `cgroup v1 controller "${controller}" is not mounted`);
    return join(root, this.path);
  }

  memoryDir(): string {
    return this.dir('memory');
  }

  async create(): Promise<void> {
    for (const c of V1_CONTROLLERS) {
      if (this.layout.v1[c]) mkdirSync(this.dir(c), { recursive: true });
    }
  }

  async exists(): Promise<boolean> {
    return existsSync(this.dir('memory'));
  }

  async setLimits(limits: CgroupLimits): Promise<void> {
    const cpu = this.dir('cpu');
    await writeValue(join(cpu, 'cpu.cfs_period_us'), PERIOD_US);
    await writeValue(
      join(cpu, 'cpu.cfs_quota_us'),
      limits.cpus ? Math.max(1000, Math.round(limits.cpus * PERIOD_US)) : -1,
    );
    await this.setMemory(limits.memoryBytes);
    await writeValue(join(this.dir('pids'), 'pids.max'), limits.pids ?? 'max');
  }

  /** memory+swap must stay >= memory: order the two writes so every step is legal. */
  private async setMemory(bytes: number | undefined): Promise<void> {
    const mem = join(this.dir('memory'), 'memory.limit_in_bytes');
    const memsw = join(this.dir('memory'), 'memory.memsw.limit_in_bytes');
    const hasSwap = (await readText(memsw)) !== undefined;
    const value = bytes ?? -1;
    if (!hasSwap) return writeValue(mem, value);
    const current = (await readNumber(mem)) ?? UNLIMITED;
    if (bytes === undefined || bytes > current) {
      await writeValue(memsw, value);
      await writeValue(mem, value);
    } else {
      await writeValue(mem, value);
      await writeValue(memsw, value);
    }
  }

  async readLimits(): Promise<CgroupLimits> {
    const quota = await readNumber(join(this.dir('cpu'), 'cpu.cfs_quota_us'));
    const period = (await readNumber(join(this.dir('cpu'), 'cpu.cfs_period_us'))) ?? PERIOD_US;
    const mem = await readNumber(join(this.dir('memory'), 'memory.limit_in_bytes'));
    const pids = await readNumber(join(this.dir('pids'), 'pids.max'));
    return {
      cpus: quota !== undefined && quota > 0 ? quota / period : undefined,
      memoryBytes: mem !== undefined && mem < UNLIMITED ? mem : undefined,
      pids,
    };
  }

  async usage(): Promise<CgroupUsage> {
    const memDir = this.dir('memory');
    const stat = await readKeyed(join(memDir, 'memory.stat'));
    const used = (await readNumber(join(memDir, 'memory.usage_in_bytes'))) ?? 0;
    const limit = await readNumber(join(memDir, 'memory.limit_in_bytes'));
    const io = await this.blockIo();
    return {
      cpuSeconds: ((await readNumber(join(this.dir('cpuacct'), 'cpuacct.usage'))) ?? 0) / 1e9,
      memoryBytes: Math.max(0, used - (stat.get('total_inactive_file') ?? 0)),
      memoryPeakBytes: await readNumber(join(memDir, 'memory.max_usage_in_bytes')),
      memoryLimitBytes: limit !== undefined && limit < UNLIMITED ? limit : undefined,
      pids: await readNumber(join(this.dir('pids'), 'pids.current')),
      blockReadBytes: io.read,
      blockWriteBytes: io.write,
    };
  }

  private async blockIo(): Promise<{ read?: number; write?: number }> {
    if (!this.layout.v1.blkio) return {};
    const text = await readText(join(this.dir('blkio'), 'blkio.throttle.io_service_bytes_recursive'));
    if (text === undefined) return {};
    let read = 0;
    let write = 0;
    for (const line of text.split('\n')) {
      const [, op, value] = line.split(/\s+/);
      if (op === 'Read') read += Number(value) || 0;
      if (op === 'Write') write += Number(value) || 0;
    }
    return { read, write };
  }

  async freeze(): Promise<void> {
    await this.setFreezer('FROZEN', 'frozen');
  }

  async thaw(): Promise<void> {
    await this.setFreezer('THAWED', 'thawed');
  }

  private async setFreezer(value: string, want: FreezeState): Promise<void> {
    const file = join(this.dir('freezer'), 'freezer.state');
    for (let i = 0; i < 250; i++) {
      await writeValue(file, value);
      if ((await this.freezeState()) === want) return;
      await sleep(20);
    }
    throw new TandemError('internal', `cgroup ${this.path} did not become ${want} within 5 s`);
  }

  async freezeState(): Promise<FreezeState> {
    const s = await readText(join(this.dir('freezer'), 'freezer.state'));
    return s === 'FROZEN' ? 'frozen' : s === 'FREEZING' ? 'freezing' : 'thawed';
  }

  async pids(): Promise<number[]> {
    return pidsBelow(this.dir('pids'));
  }

  async remove(): Promise<void> {
    if (this.layout.v1.freezer && (await this.freezeState()) !== 'thawed') await this.thaw();
    for (const root of this.layout.all) await removeTree(join(root, this.path));
  }
}
