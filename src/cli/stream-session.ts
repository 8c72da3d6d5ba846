/**
 * The CLI side of a streamed session (exec, console): a websocket speaking the frames of
 * api/exec-frames.ts. With -t the local terminal goes raw and its size follows SIGWINCH; with -i
 * stdin is forwarded and its end sent as EOF. Resolves with the remote exit status.
 */
import { WebSocket } from 'ws';
import { CHANNEL, decodeFrame, encodeFrame, type ServerControl } from '../api/exec-frames.js';
import { isErrorKind, TandemError } from '../base/errors.js';
import type { Client } from '../client/client.js';

export interface SessionOptions {
  path: string;
  request: unknown;
  stdin: boolean;
  tty: boolean;
  /** Ctrl-] in the input ends the session with status 0 (console). */
  detachable?: boolean;
  /** Without a terminal, signals this process gets are sent to the remote process. */
  forwardSignals?: boolean;
}

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

/** Runs a session and resolves with its exit status; rejects with the daemon's error. */
export function runSession(client: Client, o: SessionOptions): Promise<number> {
  const { url, headers } = client.wsTarget(o.path);
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    let done = false;
    const restoreTerminal = setupTerminal(o.tty, ws);
    const forward = (sig: NodeJS.Signals) => {
      if (ws.readyState === ws.OPEN) ws.send(encodeFrame(CHANNEL.control, JSON.stringify({ signal: sig })));
    };
    if (o.forwardSignals && !o.tty) for (const sig of FORWARDED) process.on(sig, forward);
    const restore = () => {
      restoreTerminal();
      for (const sig of FORWARDED) process.off(sig, forward);
    };
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      restore();
      process.stdin.pause();
      fn();
    };
    ws.on('open', () => {
      ws.send(JSON.stringify(o.request));
      const detach = () =>
        finish(() => {
          ws.close(1000);
          resolve(0);
        });
      if (o.stdin) forwardStdin(ws, o.detachable ? detach : undefined);
    });
    ws.on('message', (data: Buffer) => {
      const f = decodeFrame(data);
      if (!f) return;
      if (f.channel === CHANNEL.stdout) process.stdout.write(f.payload);
      else if (f.channel === CHANNEL.stderr) process.stderr.write(f.payload);
      else if (f.channel === CHANNEL.control) {
        const msg = JSON.parse(f.payload.toString()) as ServerControl;
        if ('exit' in msg) finish(() => resolve(msg.exit));
        else
          finish(() =>
            reject(
              new TandemError(isErrorKind(msg.error.code) ? msg.error.code : 'internal', msg.error.message),
            ),
          );
      }
    });
    ws.on('error', (err) =>
      finish(() => reject(new TandemError('unavailable', `session failed: ${err.message}`))),
    );
    ws.on('close', () =>
      finish(() =>
        reject(new TandemError('internal', 'the daemon closed the session without an exit status')),
      ),
    );
  });
}

function forwardStdin(ws: WebSocket, detach?: () => void): void {
  process.stdin.on('data', (chunk: Buffer) => {
    if (detach && chunk.includes(0x1d)) return detach();
    ws.send(encodeFrame(CHANNEL.stdin, chunk));
  });
  process.stdin.on('end', () => {
    if (ws.readyState === ws.OPEN) ws.send(encodeFrame(CHANNEL.control, JSON.stringify({ eof: true })));
  });
  process.stdin.resume();
}

function setupTerminal(tty: boolean, ws: WebSocket): () => void {
  if (!tty || !process.stdin.isTTY) return () => {};
  process.stdin.setRawMode(true);
  const resize = () => {
    if (ws.readyState === ws.OPEN) {
      ws.send(
        encodeFrame(
          CHANNEL.control,
          JSON.stringify({ resize: [process.stdout.columns, process.stdout.rows] }),
        ),
      );
    }
  };
  process.stdout.on('resize', resize);
  return () => {
    process.stdout.off('resize', resize);
    process.stdin.setRawMode(false);
  };
}
