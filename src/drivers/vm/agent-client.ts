/**
 * The host side of the guest agent (guest/init/agent.c) over QEMU's virtio-serial socket.
 * Frames: type (1 byte), session (u32 BE), payload length (u32 BE), payload. The host opens
 * with HELLO and the guest answers READY (kernel release, workload pid); sessions multiplex
 * exec streams over the one connection. QEMU accepts one client per socket, so a driver keeps
 * one AgentClient per VM and closes it when idle or done.
 */
import { createConnection, type Socket } from 'node:net';
import { constants } from 'node:os';
import { PassThrough, Writable } from 'node:stream';
import { TandemError } from '../../base/errors.js';
import type { ExecSession } from '../../core/driver.js';
import { encodeProcess, type GuestProcess } from './guest-config.js';

export const FRAME = {
  hello: 0x48, // H
  exec: 0x45, // E
  stdin: 0x49, // I
  resize: 0x5a, // Z
  signal: 0x53, // S
  ready: 0x52, // R
  stdout: 0x4f, // O
  stderr: 0x65, // e
  exit: 0x58, // X
  fail: 0x46, // F
  stats: 0x51, // Q: the workload cgroup's figures (answered with T)
  statsReply: 0x54, // T
} as const;

const HEADER = 9;
const MAX_PAYLOAD = 65536;

/** Encodes one frame. */
export function encodeFrame(
  type: number,
  session: number,
  payload: Buffer | string = Buffer.alloc(0),
): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const head = Buffer.alloc(HEADER);
  head[0] = type;
  head.writeUInt32BE(session >>> 0, 1);
  head.writeUInt32BE(body.length, 5);
  return Buffer.concat([head, body]);
}

/** Splits a byte stream into frames; keeps partial frames for the next chunk. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  /** Feeds bytes; returns the complete frames; throws on a frame larger than the protocol allows. */
  push(chunk: Buffer): { type: number; session: number; payload: Buffer }[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: { type: number; session: number; payload: Buffer }[] = [];
    while (this.buf.length >= HEADER) {
      const len = this.buf.readUInt32BE(5);
      if (len > MAX_PAYLOAD) throw new TandemError('internal', `agent frame of ${len} bytes is too large`);
      if (this.buf.length < HEADER + len) break;
      out.push({
        type: this.buf[0] as number,
        session: this.buf.readUInt32BE(1),
        payload: this.buf.subarray(HEADER, HEADER + len),
      });
      this.buf = this.buf.subarray(HEADER + len);
    }
    return out;
  }
}

/** What the guest says when it answers HELLO. */
export interface AgentReady {
  release: string;
  workloadPid: number;
  uptimeSeconds: number;
  mode: string;
}

function parseReady(text: string): AgentReady {
  const kv = Object.fromEntries(
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return {
    release: kv.release ?? '',
    workloadPid: Number(kv.workload ?? 0),
    uptimeSeconds: Number(kv.uptime ?? 0),
    mode: kv.mode ?? '',
  };
}

/** The guest's figures for the workload's cgroup (-1 where the guest kernel has none). */
export interface GuestCgroupStats {
  memory: number;
  inactiveFile: number;
  peak: number;
  limit: number;
  pids: number;
  cpuUsec: number;
  oomKills: number;
}

function parseStats(text: string): GuestCgroupStats {
  const kv = new Map(
    text.split('\n').map((l) => [l.slice(0, l.indexOf('=')), Number(l.slice(l.indexOf('=') + 1))]),
  );
  const n = (k: string) => kv.get(k) ?? -1;
  return {
    memory: n('memory'),
    inactiveFile: n('inactive_file'),
    peak: n('peak'),
    limit: n('limit'),
    pids: n('pids'),
    cpuUsec: n('cpu_usec'),
    oomKills: n('oom_kills'),
  };
}

interface Session {
  stdout: PassThrough;
  stderr: PassThrough;
  settle: (code: number | Error) => void;
}

/** One connection to a guest agent. */
export class AgentClient {
  private socket: Socket | undefined;
  private decoder = new FrameDecoder();
  private sessions = new Map<number, Session>();
  private nextSession = 1;
  private readyWaiters: ((r: AgentReady) => void)[] = [];
  private closeListeners = new Set<() => void>();
  private workloadExitListeners = new Set<(code: number) => void>();
  private statsWaiters = new Map<number, (s: GuestCgroupStats) => void>();

  constructor(readonly path: string) {}

  /** True while connected. */
  get connected(): boolean {
    return this.socket !== undefined;
  }

  /** Number of exec sessions still running. */
  get activeSessions(): number {
    return this.sessions.size;
  }

  /** Connects and waits until the guest answers; rejects with unavailable (closed, timeout, aborted). */
  async connect(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<AgentReady> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const sock = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection(this.path);
      s.once('connect', () => resolve(s));
      s.once('error', (e) =>
        reject(new TandemError('unavailable', `agent "${this.path}": ${e.message}`, { cause: e })),
      );
    });
    this.attach(sock);
    return new Promise<AgentReady>((resolve, reject) => {
      let hello: NodeJS.Timeout | undefined;
      const done = (err?: Error, ready?: AgentReady) => {
        clearTimeout(timer);
        clearInterval(hello);
        offClose();
        opts.signal?.removeEventListener('abort', onAbort);
        if (err) {
          this.close();
          reject(err);
        } else resolve(ready as AgentReady);
      };
      const timer = setTimeout(
        () => done(new TandemError('unavailable', `agent did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onAbort = () => done(new TandemError('unavailable', 'waiting for the agent: aborted'));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const offClose = this.onClose(() =>
        done(new TandemError('unavailable', 'agent connection closed before the guest answered')),
      );
      this.readyWaiters.push((r) => done(undefined, r));
      sock.write(encodeFrame(FRAME.hello, 0));
      // The guest kernel discards what arrives before the agent opens its port (the agent then
      // announces itself); repeat HELLO until it answers, for guests that were already up.
      hello = setInterval(() => this.socket?.write(encodeFrame(FRAME.hello, 0)), 250);
    });
  }

  /** Starts a process in the guest; its streams and exit status come back over this connection. */
  exec(proc: GuestProcess): ExecSession {
    const sock = this.socket;
    if (!sock) throw new TandemError('unavailable', 'agent not connected');
    const id = this.nextSession++;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let settle: (code: number | Error) => void = () => {};
    const exit = new Promise<number>((resolve, reject) => {
      settle = (code) => {
        this.sessions.delete(id);
        stdout.end();
        stderr.end();
        if (code instanceof Error) reject(code);
        else resolve(code);
      };
    });
    exit.catch(() => {});
    this.sessions.set(id, { stdout, stderr, settle });
    sock.write(encodeFrame(FRAME.exec, id, encodeProcess(proc)));
    const stdin = proc.stdin ? this.stdinStream(id) : null;
    return {
      stdin,
      stdout,
      stderr,
      exit,
      resize: (cols, rows) => this.socket?.write(encodeFrame(FRAME.resize, id, `${cols} ${rows}`)),
      signal: (sig) => this.sendSignal(id, sig),
    };
  }

  /** The workload cgroup's figures from the guest; rejects with unavailable after `timeoutMs`. */
  stats(timeoutMs = 3000): Promise<GuestCgroupStats> {
    const sock = this.socket;
    if (!sock) return Promise.reject(new TandemError('unavailable', 'agent not connected'));
    const id = this.nextSession++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.statsWaiters.delete(id);
        reject(
          new TandemError('unavailable', `the guest did not answer a stats request within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.statsWaiters.set(id, (s) => {
        clearTimeout(timer);
        resolve(s);
      });
      sock.write(encodeFrame(FRAME.stats, id));
    });
  }

  /** Sends a signal to the workload (session 0) or an exec session. */
  sendSignal(session: number, sig: NodeJS.Signals | number): void {
    const num = typeof sig === 'number' ? sig : signalNumber(sig);
    if (!this.socket) throw new TandemError('unavailable', 'agent not connected');
    this.socket.write(encodeFrame(FRAME.signal, session, String(num)));
  }

  /** A stream into the workload's stdin (session 0; its spec kept stdin open, or it has a TTY); end() is EOF. */
  workloadStdin(): Writable {
    return this.stdinStream(0);
  }

  /** Resizes the workload's terminal (session 0). */
  resizeWorkload(cols: number, rows: number): void {
    this.socket?.write(encodeFrame(FRAME.resize, 0, `${cols} ${rows}`));
  }

  /** Called when the guest reports the workload's exit status. */
  onWorkloadExit(listener: (code: number) => void): () => void {
    this.workloadExitListeners.add(listener);
    return () => this.workloadExitListeners.delete(listener);
  }

  /** Called once when the connection ends. */
  onClose(listener: () => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Closes the connection; running sessions reject with unavailable (the guest kills them). */
  close(): void {
    this.socket?.destroy();
  }

  private stdinStream(id: number): Writable {
    return new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        for (let off = 0; off < chunk.length; off += MAX_PAYLOAD) {
          this.socket?.write(encodeFrame(FRAME.stdin, id, chunk.subarray(off, off + MAX_PAYLOAD)));
        }
        cb();
      },
      final: (cb) => {
        this.socket?.write(encodeFrame(FRAME.stdin, id));
        cb();
      },
    });
  }

  private attach(sock: Socket): void {
    this.socket = sock;
    sock.on('data', (chunk: Buffer) => {
      try {
        for (const f of this.decoder.push(chunk)) this.onFrame(f.type, f.session, f.payload);
      } catch {
        sock.destroy();
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      this.socket = undefined;
      this.decoder = new FrameDecoder();
      for (const s of [...this.sessions.values()])
        s.settle(new TandemError('unavailable', 'agent connection lost'));
      for (const l of [...this.closeListeners]) l();
    });
  }

  private onFrame(type: number, session: number, payload: Buffer): void {
    if (type === FRAME.ready) {
      const ready = parseReady(payload.toString('utf8'));
      for (const w of this.readyWaiters.splice(0)) w(ready);
      return;
    }
    if (type === FRAME.statsReply) {
      const w = this.statsWaiters.get(session);
      this.statsWaiters.delete(session);
      w?.(parseStats(payload.toString('utf8')));
      return;
    }
    if (type === FRAME.exit && session === 0) {
      for (const l of this.workloadExitListeners) l(Number(payload.toString('utf8')));
      return;
    }
    const s = this.sessions.get(session);
    if (!s) return;
    if (type === FRAME.stdout) s.stdout.write(Buffer.from(payload));
    else if (type === FRAME.stderr) s.stderr.write(Buffer.from(payload));
    else if (type === FRAME.exit) s.settle(Number(payload.toString('utf8')));
    else if (type === FRAME.fail) {
      s.stderr.write(`exec failed: ${payload.toString('utf8')}\n`);
      s.settle(126);
    }
  }
}

/** The number of a signal name such as SIGTERM; invalid_argument when unknown. */
export function signalNumber(sig: NodeJS.Signals | string): number {
  const name = (sig.startsWith('SIG') ? sig : `SIG${sig}`) as NodeJS.Signals;
  const n = (constants.signals as Record<string, number | undefined>)[name];
  if (n === undefined) throw new TandemError('invalid_argument', `unknown signal "${sig}"`);
  return n;
}
