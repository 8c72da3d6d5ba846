/**
 * Starting container monitors through the monitor launcher (helpers/monitor/launcher.c): one
 * long-lived `tandem-monitor launcher` child per driver forks a `run` per start, so a start
 * costs this process a pipe write instead of a fork of itself (a fork of the daemon took
 * ≈4 ms of its event loop, and the new process's exec was on every start's critical path).
 *
 * Protocol: a request is NUL-terminated strings on the launcher's stdin (an ID, a count N, N
 * `run` arguments); the answer is one line on its stdout, `ID ok PID` once the container runs
 * or `ID err MESSAGE` (0x1e separates the message's lines). The launcher is spawned on first
 * use and again after it ends (crash, killed): requests in flight then are rejected, never
 * left hanging. It does not keep this process alive while nothing is in flight, and it exits
 * with us (EOF on its stdin, or its parent-death signal after a kill -9). Monitors never
 * depend on it: each is detached (setsid) before it answers. With `primeCgroup` set, each
 * request also starts the kernel's wait for the cgroup lock early (launcher.c says how).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { TandemError } from '../../base/errors.js';

interface Pending {
  subject: string;
  resolve(pid: number): void;
  reject(err: Error): void;
}

const STDERR_TAIL = 2048;

export class MonitorLauncher {
  private proc: ChildProcessWithoutNullStreams | undefined;
  private readonly pending = new Map<string, Pending>();
  private seq = 0;
  private stderr = '';
  private closed = false;

  /**
   * The cgroup.procs of this process's own cgroup (the launcher's too) in one hierarchy: the
   * launcher writes it at each request (`--prime-cgroup`, see launcher.c). Read at its spawn.
   */
  primeCgroup: string | undefined;

  constructor(private readonly monitorPath: string) {}

  /** The launcher's pid while it runs (for tests and diagnostics). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Runs `tandem-monitor run ARGS`; resolves with the container's pid once it runs. */
  launch(args: readonly string[], subject: string, signal?: AbortSignal): Promise<number> {
    if (this.closed)
      return Promise.reject(new TandemError('internal', `starting ${subject}: the driver is closed`));
    if (args.some((a) => a.includes('\0')))
      return Promise.reject(
        new TandemError('invalid_argument', `starting ${subject}: an argument holds a NUL byte`),
      );
    if (signal?.aborted) return Promise.reject(signal.reason);
    const proc = this.ensure();
    const id = String(++this.seq);
    return new Promise<number>((resolve, reject) => {
      const onAbort = () => this.settle(id)?.reject(signal!.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        subject,
        resolve: (pid) => {
          done();
          resolve(pid);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
      this.hold(true);
      proc.stdin.write([id, String(args.length), ...args].map((s) => `${s}\0`).join(''));
    });
  }

  /** Ends the launcher (in-flight starts go on in their own processes); resolves once it exited. */
  async close(): Promise<void> {
    this.closed = true;
    const proc = this.proc;
    if (!proc) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.stdin.end();
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  private ensure(): ChildProcessWithoutNullStreams {
    if (this.proc) return this.proc;
    // the padding is room for each monitor's title in ps (`tandem-monitor run RUNDIR`)
    const prime = this.primeCgroup ? ['--prime-cgroup', this.primeCgroup] : [];
    const args = ['launcher', ...prime, ' '.repeat(96)];
    const proc = spawn(this.monitorPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc = proc;
    this.stderr = '';
    proc.unref();
    for (const s of [proc.stdin, proc.stdout, proc.stderr]) (s as unknown as Socket).unref();
    proc.stdin.on('error', () => {}); // EPIPE when it died: its 'exit' rejects what is in flight
    // answers of this launcher's monitors may come after it died: a buffer per launcher
    let out = '';
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      out += chunk;
      const end = out.lastIndexOf('\n') + 1;
      for (const line of out.slice(0, end).split('\n').slice(0, -1)) this.onAnswer(line);
      out = out.slice(end);
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-STDERR_TAIL);
    });
    const ended = (why: string) => {
      if (this.proc !== proc) return;
      (proc.stdout as unknown as Socket).unref(); // its monitors may still answer: ignored
      this.proc = undefined;
      const said = lastLines(this.stderr.split('\n'));
      for (const id of [...this.pending.keys()]) {
        const p = this.settle(id)!;
        p.reject(
          new TandemError(
            'internal',
            `starting ${p.subject}: the monitor launcher ${why}${said ? `: ${said}` : ''}`,
          ),
        );
      }
    };
    proc.on('error', (err) => ended(`could not run (${err.message})`));
    proc.on('exit', (code, sig) => ended(`ended (${sig ?? `status ${code}`})`));
    return proc;
  }

  private onAnswer(line: string): void {
    const [id = '', word = '', ...rest] = line.split(' ');
    const p = this.settle(id);
    if (!p) return; // aborted, or answered already
    let text = rest.join(' ');
    if (word !== 'ok' && text.startsWith('the monitor ended')) {
      const said = lastLines(this.stderr.split('\n'));
      if (said) text += `: ${said}`;
    }
    const pid = Number.parseInt(text, 10);
    if (word === 'ok' && pid > 0) p.resolve(pid);
    else
      p.reject(
        new TandemError(
          'internal',
          `starting ${p.subject}: ${lastLines(text.split('\x1e')) || 'the monitor failed'}`,
        ),
      );
  }

  /** Removes a request from the pending set (letting the process exit when none is left). */
  private settle(id: string): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) this.hold(false);
    return p;
  }

  /** While starts are in flight, the launcher's answers and its exit keep this process alive. */
  private hold(on: boolean): void {
    const proc = this.proc;
    if (!proc) return;
    const stdout = proc.stdout as unknown as Socket;
    if (on) {
      proc.ref();
      stdout.ref();
    } else {
      proc.unref();
      stdout.unref();
    }
  }
}

function lastLines(lines: string[]): string {
  return lines
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-2)
    .join('; ');
}
