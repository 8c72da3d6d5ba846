/**
 * The in-memory fake driver: workloads are FakeShell interpreters inside this process, with
 * optional delays per call (timing hooks) and injectable failures, so the daemon can be tested
 * end to end without crun or QEMU. Instances live in a registry keyed by root, so a second
 * driver object on the same root sees them (the daemon-restart case within one process), and
 * the instance table is written to `<root>/fake-state.json` so a new daemon process finds them
 * too: a workload that was running is restarted by the fake as if it had kept running.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { TandemError } from '../../base/errors.js';
import { nowIso, sleep } from '../../base/time.js';
import type {
  DriverInfo,
  DriverSpec,
  ExecRequest,
  ExecSession,
  InstanceDriver,
  LogOptions,
  ResourceUsage,
  RuntimeEvent,
  RuntimeState,
} from '../../core/driver.js';
import type { InstanceType, Limits } from '../../core/instance.js';
import { type Action, checkAction } from '../../core/lifecycle.js';
import { FakeShell } from './fake-shell.js';

export type FakeCall = 'create' | 'start' | 'stop' | 'pause' | 'resume' | 'delete' | 'exec';

export interface FakeDriverOptions {
  root: string;
  type?: InstanceType;
  /** Milliseconds each call waits before acting (a realistic backend is never instant). */
  delays?: Partial<Record<FakeCall, number>>;
  /** Calls that reject with internal, to test rollback and error paths. */
  failOn?: Partial<Record<FakeCall, boolean>>;
}

interface FakeInstance {
  spec: DriverSpec;
  status: 'created' | 'running' | 'paused' | 'stopped';
  pid?: number;
  exitCode?: number;
  reason?: string;
  startedAt?: string;
  finishedAt?: string;
  limits: Limits;
  log: Buffer[];
  shell?: FakeShell;
  stopping?: boolean;
  stoppedBy?: string;
}

type Registry = Map<string, FakeInstance>;
const registries = new Map<string, { instances: Registry; listeners: Set<(e: RuntimeEvent) => void> }>();
let nextPid = 40_000;

export class FakeDriver implements InstanceDriver {
  readonly type: InstanceType;
  private readonly reg: { instances: Registry; listeners: Set<(e: RuntimeEvent) => void> };
  private readonly own = new Set<(e: RuntimeEvent) => void>();

  constructor(private readonly opts: FakeDriverOptions) {
    this.type = opts.type ?? 'container';
    const key = `${opts.root}\u0000${this.type}`;
    const known = registries.get(key);
    this.reg = known ?? { instances: new Map(), listeners: new Set() };
    if (!known) {
      registries.set(key, this.reg);
      this.load(this.reg.instances);
    }
  }

  async probe(): Promise<DriverInfo> {
    return { type: this.type, available: true, version: 'fake', features: ['exec', 'logs', 'update-live'] };
  }

  async create(spec: DriverSpec): Promise<void> {
    await this.hook('create');
    if (this.reg.instances.has(spec.id))
      throw new TandemError('already_exists', `instance "${spec.id}" already exists`);
    this.reg.instances.set(spec.id, { spec, status: 'created', limits: { ...spec.limits }, log: [] });
    this.save();
  }

  async start(id: string): Promise<void> {
    const inst = this.check(id, 'start');
    if (inst === undefined) return;
    await this.hook('start');
    this.launch(id, inst);
  }

  async stop(id: string, opts: { timeoutMs: number; force?: boolean }): Promise<void> {
    const inst = this.check(id, 'stop');
    if (inst === undefined) return;
    await this.hook('stop');
    const shell = inst.shell!;
    inst.stopping = true;
    shell.setPaused(false);
    if (opts.force) shell.signal('SIGKILL');
    else {
      shell.signal('SIGTERM');
      const t = setTimeout(() => shell.signal('SIGKILL'), opts.timeoutMs);
      await shell.exit;
      clearTimeout(t);
    }
    await this.settled(inst);
  }

  async kill(id: string, signal: NodeJS.Signals): Promise<void> {
    const inst = this.check(id, 'kill')!;
    inst.shell!.signal(signal);
  }

  async pause(id: string): Promise<void> {
    const inst = this.check(id, 'pause');
    if (inst === undefined) return;
    await this.hook('pause');
    inst.shell!.setPaused(true);
    inst.status = 'paused';
    this.emit(id, 'paused');
    this.save();
  }

  async resume(id: string): Promise<void> {
    const inst = this.check(id, 'resume');
    if (inst === undefined) return;
    await this.hook('resume');
    inst.shell!.setPaused(false);
    inst.status = 'running';
    this.emit(id, 'resumed');
    this.save();
  }

  async delete(id: string, opts: { force?: boolean }): Promise<void> {
    const inst = this.reg.instances.get(id);
    if (!inst) return;
    checkAction(id, 'delete', inst.status, opts);
    await this.hook('delete');
    if (inst.shell && !inst.shell.finished) {
      inst.stopping = true;
      inst.shell.signal('SIGKILL');
      await this.settled(inst);
    }
    this.reg.instances.delete(id);
    this.save();
  }

  async update(id: string, limits: Limits): Promise<void> {
    const inst = this.get(id);
    checkAction(id, 'update', inst.status);
    inst.limits = { ...inst.limits, ...limits };
    this.save();
  }

  async state(id: string): Promise<RuntimeState> {
    const inst = this.reg.instances.get(id);
    if (!inst) return { status: 'missing' };
    const { status, pid, exitCode, reason, startedAt, finishedAt } = inst;
    return {
      status,
      pid: status === 'running' || status === 'paused' ? pid : undefined,
      exitCode,
      reason,
      startedAt,
      finishedAt,
    };
  }

  async list(): Promise<string[]> {
    return [...this.reg.instances.keys()];
  }

  async stats(id: string): Promise<ResourceUsage> {
    const inst = this.get(id);
    if (inst.status !== 'running' && inst.status !== 'paused') {
      throw new TandemError('conflict', `instance "${id}" is not running`);
    }
    const up = (Date.now() - Date.parse(inst.startedAt ?? nowIso())) / 1000;
    return {
      time: nowIso(),
      cpuSeconds: up * 0.01,
      memoryBytes: 1 << 20,
      memoryLimitBytes: inst.limits.memoryBytes,
      pids: 1,
    };
  }

  async exec(id: string, req: ExecRequest): Promise<ExecSession> {
    this.check(id, 'exec');
    await this.hook('exec');
    const inst = this.get(id);
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const stdin = req.stdin ? new PassThrough() : null;
    const input = stdin
      ? () =>
          new Promise<string>((resolve) => {
            const parts: Buffer[] = [];
            stdin.on('data', (b: Buffer) => parts.push(b));
            stdin.on('end', () => resolve(Buffer.concat(parts).toString()));
          })
      : undefined;
    const env = { ...envRecord(inst.spec.process.env), ...envRecord(req.env) };
    const shell = new FakeShell(req.args, env, req.cwd ?? inst.spec.process.cwd, {
      stdout: (t) => stdout.write(t),
      stderr: (t) => (req.tty ? stdout : stderr).write(t),
      stdin: input,
    });
    const exit = shell.exit.then((code) => {
      stdout.end();
      stderr.end();
      return code;
    });
    return { stdin, stdout, stderr, resize: () => {}, signal: (s) => shell.signal(s), exit };
  }

  async *logs(id: string, opts: LogOptions): AsyncIterable<Buffer> {
    const inst = this.get(id);
    let text = Buffer.concat(inst.log);
    if (opts.tail !== undefined) text = Buffer.from(tailLines(text.toString(), opts.tail));
    if (text.length) yield text;
    let seen = inst.log.length;
    while (opts.follow && !opts.signal?.aborted) {
      if (inst.log.length > seen) {
        yield Buffer.concat(inst.log.slice(seen));
        seen = inst.log.length;
      } else if (inst.status === 'stopped' || !this.reg.instances.has(id)) return;
      await sleep(25, opts.signal).catch(() => {});
    }
  }

  onEvent(listener: (event: RuntimeEvent) => void): () => void {
    this.reg.listeners.add(listener);
    this.own.add(listener);
    return () => {
      this.reg.listeners.delete(listener);
      this.own.delete(listener);
    };
  }

  async close(): Promise<void> {
    for (const l of this.own) this.reg.listeners.delete(l);
    this.own.clear();
  }

  /** Runs the workload of `inst` as a FakeShell and watches its exit. */
  private launch(id: string, inst: FakeInstance): void {
    const p = inst.spec.process;
    inst.shell = new FakeShell(p.args, envRecord(p.env), p.cwd, {
      stdout: (t) => inst.log.push(Buffer.from(t)),
      stderr: (t) => inst.log.push(Buffer.from(t)),
    });
    inst.status = 'running';
    inst.pid = nextPid++;
    inst.startedAt = nowIso();
    inst.exitCode = undefined;
    inst.reason = undefined;
    inst.finishedAt = undefined;
    inst.stopping = false;
    const shell = inst.shell;
    void shell.exit.then((code) => {
      if (inst.shell !== shell) return;
      inst.status = 'stopped';
      inst.exitCode = code;
      inst.reason = code === 137 ? 'killed' : 'exited';
      inst.finishedAt = nowIso();
      this.save();
      if (this.reg.instances.has(id)) this.emit(id, 'exited', code, inst.reason);
    });
    this.save();
    this.emit(id, 'started');
  }

  private async settled(inst: FakeInstance): Promise<void> {
    await inst.shell?.exit;
    await new Promise((r) => setImmediate(r));
  }

  private get(id: string): FakeInstance {
    const inst = this.reg.instances.get(id);
    if (!inst) throw new TandemError('not_found', `instance "${id}" not found`);
    return inst;
  }

  /** Applies the state machine; returns undefined for a no-op. */
  private check(id: string, action: Action): FakeInstance | undefined {
    const inst = this.get(id);
    return checkAction(id, action, inst.status) === 'noop' ? undefined : inst;
  }

  private async hook(call: FakeCall): Promise<void> {
    const ms = this.opts.delays?.[call];
    if (ms) await sleep(ms);
    if (this.opts.failOn?.[call]) throw new TandemError('internal', `fake ${call} failed as configured`);
  }

  private emit(id: string, kind: RuntimeEvent['kind'], exitCode?: number, reason?: string): void {
    const e: RuntimeEvent = { id, kind, exitCode, reason, time: nowIso() };
    for (const l of this.reg.listeners) l(e);
  }

  private file(): string {
    return join(this.opts.root, `fake-${this.type}.json`);
  }

  private save(): void {
    const rows = [...this.reg.instances.values()].map(({ shell: _s, log, ...rest }) => ({
      ...rest,
      log: Buffer.concat(log).toString('base64'),
    }));
    mkdirSync(this.opts.root, { recursive: true });
    writeFileSync(`${this.file()}.tmp`, JSON.stringify(rows));
    renameSync(`${this.file()}.tmp`, this.file());
  }

  private load(into: Registry): void {
    let rows: (Omit<FakeInstance, 'log'> & { log: string })[] = [];
    try {
      rows = JSON.parse(readFileSync(this.file(), 'utf8'));
    } catch {
      return;
    }
    for (const r of rows) {
      const inst: FakeInstance = { ...r, log: [Buffer.from(r.log, 'base64')], shell: undefined };
      into.set(r.spec.id, inst);
      // A workload that was running in the previous process keeps "running" in this one.
      if (inst.status === 'running' || inst.status === 'paused') this.relaunch(r.spec.id, inst);
    }
  }

  private relaunch(id: string, inst: FakeInstance): void {
    const { pid, startedAt, status } = inst;
    this.launch(id, inst);
    Object.assign(inst, { pid, startedAt, status });
    if (status === 'paused') inst.shell!.setPaused(true);
  }
}

function envRecord(env: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of env) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

function tailLines(text: string, n: number): string {
  const lines = text.split('\n');
  const last = lines.at(-1) === '' ? lines.slice(0, -1) : lines;
  return n === 0 ? '' : `${last.slice(-n).join('\n')}\n`;
}
