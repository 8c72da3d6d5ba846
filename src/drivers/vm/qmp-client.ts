/**
 * A typed QMP client (QEMU Machine Protocol) over a unix socket: newline-delimited JSON, the
 * greeting, `qmp_capabilities`, replies matched by `id` (never by order: events can arrive
 * before a reply), events delivered to listeners, errors as TandemError. After a disconnect
 * every pending command rejects with `unavailable`; `connect()` may be called again.
 */
import { createConnection, type Socket } from 'node:net';
import { TandemError } from '../../base/errors.js';

export interface QmpGreeting {
  version: { qemu: { major: number; minor: number; micro: number }; package: string };
  capabilities: string[];
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export interface QmpBlockStats {
  device: string;
  node_name?: string;
  qdev?: string;
  stats: { rd_bytes: number; wr_bytes: number; rd_operations: number; wr_operations: number };
}

/** The commands Tandem uses, with their argument and return types. */
export interface QmpCommands {
  qmp_capabilities: { args: Record<string, never>; ret: Record<string, never> };
  'query-status': { args: undefined; ret: { status: string; running: boolean } };
  'query-kvm': { args: undefined; ret: { enabled: boolean; present: boolean } };
  'query-cpus-fast': { args: undefined; ret: { 'cpu-index': number; 'thread-id': number }[] };
  'query-blockstats': { args: undefined; ret: QmpBlockStats[] };
  'query-memory-size-summary': { args: undefined; ret: { 'base-memory': number; 'plugged-memory'?: number } };
  stop: { args: undefined; ret: Record<string, never> };
  cont: { args: undefined; ret: Record<string, never> };
  system_powerdown: { args: undefined; ret: Record<string, never> };
  quit: { args: undefined; ret: Record<string, never> };
}

export interface QmpConnectOptions {
  /** How long to wait for the socket and the greeting (default 5000 ms). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Pending {
  command: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const ERROR_KINDS: Record<string, TandemError['kind']> = {
  CommandNotFound: 'not_supported',
  DeviceNotFound: 'not_found',
  DeviceNotActive: 'conflict',
  KVMMissingCap: 'not_supported',
};

/** One QMP connection; reusable: `connect()` again after a disconnect. */
export class QmpClient {
  private socket: Socket | undefined;
  private buffer = '';
  private nextId = 1;
  private pending = new Map<string, Pending>();
  private eventListeners = new Set<(e: QmpEvent) => void>();
  private closeListeners = new Set<(err?: Error) => void>();
  private greetingValue: QmpGreeting | undefined;

  constructor(readonly path: string) {}

  /** The server's greeting; undefined until connected. */
  get greeting(): QmpGreeting | undefined {
    return this.greetingValue;
  }

  /** True while the socket is open and capabilities were negotiated. */
  get connected(): boolean {
    return this.socket !== undefined && this.greetingValue !== undefined;
  }

  /** Opens the socket, reads the greeting and negotiates capabilities; rejects with unavailable. */
  async connect(opts: QmpConnectOptions = {}): Promise<QmpGreeting> {
    if (this.socket) throw new TandemError('conflict', `qmp "${this.path}": already connected`);
    const timeoutMs = opts.timeoutMs ?? 5000;
    const greeting = await new Promise<QmpGreeting>((resolve, reject) => {
      const sock = createConnection(this.path);
      const fail = (err: Error) => {
        cleanup();
        sock.destroy();
        reject(new TandemError('unavailable', `qmp "${this.path}": ${err.message}`, { cause: err }));
      };
      const timer = setTimeout(() => fail(new Error(`no greeting within ${timeoutMs} ms`)), timeoutMs);
      const onAbort = () => fail(new Error('aborted'));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        sock.off('error', fail);
        sock.off('close', onEarlyClose);
        sock.off('data', onFirst);
      };
      const onEarlyClose = () => fail(new Error('connection closed before the greeting'));
      let early = '';
      const onFirst = (chunk: Buffer) => {
        early += chunk.toString('utf8');
        const nl = early.indexOf('\n');
        if (nl < 0) return;
        let msg: { QMP?: QmpGreeting };
        try {
          msg = JSON.parse(early.slice(0, nl));
        } catch {
          return fail(new Error('malformed greeting'));
        }
        if (!msg.QMP) return fail(new Error('the first message is not a greeting'));
        cleanup();
        this.attach(sock, early.slice(nl + 1));
        resolve(msg.QMP);
      };
      sock.on('error', fail);
      sock.on('close', onEarlyClose);
      sock.on('data', onFirst);
    });
    try {
      await this.send('qmp_capabilities', {}, timeoutMs);
    } catch (err) {
      this.destroy(err as Error);
      throw err;
    }
    this.greetingValue = greeting;
    return greeting;
  }

  /** Runs a typed command; rejects with a TandemError carrying QEMU's error class and text. */
  execute<K extends keyof QmpCommands>(
    command: K,
    ...rest: QmpCommands[K]['args'] extends undefined
      ? [args?: undefined, timeoutMs?: number]
      : [args: QmpCommands[K]['args'], timeoutMs?: number]
  ): Promise<QmpCommands[K]['ret']> {
    const [args, timeoutMs] = rest;
    return this.send(command, args as Record<string, unknown> | undefined, timeoutMs) as Promise<
      QmpCommands[K]['ret']
    >;
  }

  /** Runs any command by name (for commands without a type here). */
  send(command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<unknown> {
    const sock = this.socket;
    if (!sock) return Promise.reject(new TandemError('unavailable', `qmp "${this.path}": not connected`));
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TandemError('unavailable', `qmp "${command}": no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve, reject, timer });
      sock.write(
        `${JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id })}\n`,
      );
    });
  }

  /** Sends `quit`; resolves when QEMU replied or closed the connection (it may do either first). */
  async quit(timeoutMs = 5000): Promise<void> {
    if (!this.socket) return;
    let off = () => {};
    const closed = new Promise<void>((resolve) => {
      off = this.onClose(() => resolve());
    });
    await Promise.race([this.execute('quit', undefined, timeoutMs).catch(() => {}), closed]);
    off();
  }

  /** Subscribes to QMP events; returns the unsubscribe function. */
  onEvent(listener: (e: QmpEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Called each time a connection ends, with the reason. */
  onClose(listener: (err?: Error) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Closes the connection; pending commands reject with unavailable. */
  async close(): Promise<void> {
    const sock = this.socket;
    if (!sock) return;
    await new Promise<void>((resolve) => {
      sock.once('close', () => resolve());
      sock.end();
      setTimeout(() => sock.destroy(), 200).unref();
    });
  }

  private attach(sock: Socket, rest: string): void {
    this.socket = sock;
    this.buffer = '';
    sock.on('data', (chunk: Buffer) => this.onData(chunk.toString('utf8')));
    sock.on('error', () => {});
    sock.on('close', () => this.destroy(new Error('connection closed')));
    if (rest) this.onData(rest);
  }

  private onData(text: string): void {
    this.buffer += text;
    for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: { id?: string; return?: unknown; error?: { class: string; desc: string }; event?: string };
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    if (msg.event) {
      for (const l of this.eventListeners) l(msg as QmpEvent);
      return;
    }
    const p = msg.id === undefined ? undefined : this.pending.get(String(msg.id));
    if (!p) return;
    this.pending.delete(String(msg.id));
    clearTimeout(p.timer);
    if (msg.error) {
      const kind = ERROR_KINDS[msg.error.class] ?? 'internal';
      p.reject(new TandemError(kind, `qmp "${p.command}": ${msg.error.desc}`, { cause: msg.error }));
    } else {
      p.resolve(msg.return);
    }
  }

  private destroy(err: Error): void {
    const sock = this.socket;
    this.socket = undefined;
    this.greetingValue = undefined;
    sock?.destroy();
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new TandemError('unavailable', `qmp "${p.command}": ${err.message}`, { cause: err }));
    }
    if (sock) for (const l of [...this.closeListeners]) l(err);
  }
}
