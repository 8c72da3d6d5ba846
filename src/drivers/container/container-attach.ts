/**
 * attach: a client of the monitor's attach socket (helpers/monitor/attach.c). Frames are
 * [type:1][length:4, big-endian][data]; the monitor sends stdout (1), stderr (2) and, last, the
 * exit status (3); the client sends its replay choice (6) first, then stdin (0), stdin EOF (4)
 * and resizes (5, "COLS ROWS"). Signals do not travel over the socket: the driver sends them
 * to the container's init.
 */
import { connect, type Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { TandemError } from '../../base/errors.js';
import type { ExecSession } from '../../core/driver.js';

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const EXIT = 3;
const EOF = 4;
const RESIZE = 5;
const REPLAY = 6;

/** One frame as bytes. */
export function frame(type: number, data: Buffer | string = ''): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Splits a byte stream into frames; `push` returns the complete ones seen so far. */
export class FrameReader {
  private pending = Buffer.alloc(0);

  push(chunk: Buffer): { type: number; data: Buffer }[] {
    this.pending = Buffer.concat([this.pending, chunk]);
    const out: { type: number; data: Buffer }[] = [];
    while (this.pending.length >= 5) {
      const len = this.pending.readUInt32BE(1);
      if (this.pending.length < 5 + len) break;
      out.push({ type: this.pending[0]!, data: this.pending.subarray(5, 5 + len) });
      this.pending = this.pending.subarray(5 + len);
    }
    return out;
  }
}

export interface AttachLaunch {
  socket: string;
  subject: string;
  replay: boolean;
  /** Whether the workload's stdin is open (else the session's stdin is null). */
  stdinOpen: boolean;
  /** Sends a signal to the workload. */
  signal(sig: NodeJS.Signals): void;
  /** The exit status when the socket closed without telling it (the monitor died). */
  fallbackExit(): Promise<number>;
}

/** Connects to the attach socket; rejects with conflict when nothing listens (not running). */
export async function attachSession(l: AttachLaunch): Promise<ExecSession> {
  const sock = await new Promise<Socket>((resolve, reject) => {
    const s = connect(l.socket);
    s.once('connect', () => resolve(s));
    s.once('error', (e) =>
      reject(new TandemError('conflict', `attaching to ${l.subject}: ${e.message}`, { cause: e })),
    );
  });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const reader = new FrameReader();
  let code: number | undefined;
  const exit = new Promise<number>((resolve) => {
    sock.on('data', (chunk: Buffer) => {
      for (const f of reader.push(chunk)) {
        if (f.type === STDOUT) stdout.write(f.data);
        else if (f.type === STDERR) stderr.write(f.data);
        else if (f.type === EXIT) code = Number(f.data.toString());
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      stdout.end();
      stderr.end();
      if (code !== undefined) resolve(code);
      else l.fallbackExit().then(resolve, () => resolve(255));
    });
  });
  sock.write(frame(REPLAY, l.replay ? '1' : '0'));
  const stdin = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (sock.destroyed) return done();
      sock.write(frame(STDIN, chunk), () => done());
    },
    final(done) {
      if (!sock.destroyed) sock.write(frame(EOF));
      done();
    },
  });
  stdin.on('error', () => {});
  return {
    stdin: l.stdinOpen ? stdin : null,
    stdout,
    stderr,
    resize(cols: number, rows: number) {
      if (!sock.destroyed && cols > 0 && rows > 0)
        sock.write(frame(RESIZE, `${Math.floor(cols)} ${Math.floor(rows)}`));
    },
    signal: l.signal,
    exit,
  };
}
