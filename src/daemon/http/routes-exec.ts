/**
 * Exec: `POST /v1/instances/{name}/exec` runs a command without a terminal and answers with
 * its exit status and output; the websocket on `GET /v1/instances/{name}/exec` streams stdin,
 * stdout, stderr and controls (resize, signal, stdin EOF) as frames of api/exec-frames.ts,
 * with a TTY when asked. The first websocket message is the JSON ExecRequest.
 */

import type { ServerResponse } from 'node:http';
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import type { WebSocket } from 'ws';
import { Name } from '../../api/common.js';
import {
  CHANNEL,
  type ClientControl,
  decodeFrame,
  encodeFrame,
  encodeStreamFrame,
} from '../../api/exec-frames.js';
import { ExecRequest, ExecResult } from '../../api/instances.js';
import { asTandemError, isTandemError, TandemError } from '../../base/errors.js';
import type { ExecRequest as DriverExec, ExecSession } from '../../core/driver.js';
import type { DaemonContext } from '../context.js';
import type { App } from './app.js';
import { errorReply } from './errors.js';

const NameParam = Type.Object({ name: Name });
const checkExec = Compile(ExecRequest);
const MAX_CAPTURE = 16 * 1024 * 1024;

function toDriver(req: ExecRequest): DriverExec {
  return {
    args: req.command,
    env: Object.entries(req.env ?? {}).map(([k, v]) => `${k}=${v}`),
    cwd: req.workdir,
    user: req.user,
    tty: req.tty ?? false,
    stdin: req.stdin ?? false,
    cols: req.cols,
    rows: req.rows,
  };
}

export function registerExecRoutes(app: App, ctx: DaemonContext): void {
  app.post(
    '/v1/instances/:name/exec',
    { schema: { params: NameParam, body: ExecRequest, response: { 200: ExecResult } } },
    async (req) => {
      const session = await ctx.svc.exec(req.params.name, {
        ...toDriver(req.body),
        stdin: false,
        tty: false,
      });
      const [stdout, stderr, exitCode] = await Promise.all([
        capture(session.stdout),
        capture(session.stderr),
        session.exit,
      ]);
      return { exitCode, stdout, stderr };
    },
  );

  app.get('/v1/instances/:name/exec', { websocket: true, schema: { params: NameParam } }, (socket, req) => {
    const name = (req.params as { name: string }).name;
    serveSession(socket, (first) => startSession(name, first));
  });

  app.get('/v1/instances/:name/attach', { websocket: true, schema: { params: NameParam } }, (socket, req) => {
    const name = (req.params as { name: string }).name;
    serveSession(socket, (first) => startAttach(name, first));
  });

  app.get(
    '/v1/instances/:name/attach/stream',
    { schema: { params: NameParam, querystring: Type.Object({ replay: Type.Optional(Type.Boolean()) }) } },
    async (req, reply) => {
      const replay = req.query.replay ?? false;
      const inst = await ctx.svc.deps.records.get(req.params.name);
      const over = inst.status === 'stopped' || inst.status === 'error';
      const session = await ctx.svc.attach(req.params.name, { replay }).catch((err: unknown) => {
        if (replay && over && isTandemError(err, 'conflict')) return undefined;
        throw err;
      });
      if (!session) {
        // it ended already (a short `run`) and nothing kept its output apart: its log (both
        // streams in one) and its status, in the same frames
        const chunks = ctx.svc.driverFor(inst.type).logs(inst.id, { follow: false });
        const res = startFrames(reply);
        for await (const chunk of chunks) res.write(encodeStreamFrame(CHANNEL.stdout, chunk));
        const end = { exit: inst.exitCode ?? 1, complete: true };
        res.end(encodeStreamFrame(CHANNEL.control, JSON.stringify(end)));
        return;
      }
      const res = startFrames(reply);
      const send = (channel: 1 | 2) => (chunk: Buffer) => res.write(encodeStreamFrame(channel, chunk));
      session.stdout.on('data', send(CHANNEL.stdout));
      session.stderr.on('data', send(CHANNEL.stderr));
      res.on('close', () => session.stdout.destroy());
      const [code] = await Promise.all([session.exit, ended(session.stdout), ended(session.stderr)]);
      // a replay from a run that keeps its output for a late client (attach) misses nothing
      const end = { exit: code, complete: replay && inst.config.attach === true };
      res.end(encodeStreamFrame(CHANNEL.control, JSON.stringify(end)));
    },
  );

  async function startAttach(name: string, first: Buffer): Promise<ExecSession> {
    let body: { replay?: unknown; cols?: unknown; rows?: unknown };
    try {
      body = JSON.parse(first.toString()) as typeof body;
    } catch {
      throw new TandemError('invalid_argument', 'the first attach message must be JSON');
    }
    const session = await ctx.svc.attach(name, { replay: body.replay === true });
    if (typeof body.cols === 'number' && typeof body.rows === 'number') session.resize(body.cols, body.rows);
    return session;
  }

  async function startSession(name: string, first: Buffer): Promise<ExecSession> {
    let body: unknown;
    try {
      body = JSON.parse(first.toString());
    } catch {
      throw new TandemError('invalid_argument', 'the first exec message must be a JSON exec request');
    }
    if (!checkExec.Check(body)) {
      const why = [...checkExec.Errors(body)][0];
      throw new TandemError(
        'invalid_argument',
        `invalid exec request: ${why?.instancePath ?? ''} ${why?.message ?? ''}`,
      );
    }
    return ctx.svc.exec(name, toDriver(body));
  }
}

/** Takes over the reply for a stream of frames (api/exec-frames.ts). */
function startFrames(reply: { hijack(): void; raw: ServerResponse }): ServerResponse {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'application/vnd.tandem.frames', 'cache-control': 'no-cache' });
  res.flushHeaders();
  return res;
}

/**
 * Starts a session from the socket's first message, then pumps frames both ways. Frames that
 * arrive while the session starts are queued, never lost.
 */
function serveSession(socket: WebSocket, start: (first: Buffer) => Promise<ExecSession>): void {
  const queued: Buffer[] = [];
  let started = false;
  const onMessage = (data: Buffer) => {
    if (started) {
      queued.push(data);
      return;
    }
    started = true;
    start(data).then(
      (session) => {
        socket.off('message', onMessage);
        pump(socket, session, queued);
      },
      (err) => fail(socket, err),
    );
  };
  socket.on('message', onMessage);
}

function pump(socket: WebSocket, s: ExecSession, queued: Buffer[]): void {
  const forward = (channel: 1 | 2) => (chunk: Buffer) => {
    if (socket.readyState === socket.OPEN) socket.send(encodeFrame(channel, chunk));
  };
  s.stdout.on('data', forward(CHANNEL.stdout));
  s.stderr.on('data', forward(CHANNEL.stderr));
  const onFrame = (data: Buffer) => {
    const f = decodeFrame(data);
    if (!f) return;
    if (f.channel === CHANNEL.stdin) s.stdin?.write(f.payload);
    else if (f.channel === CHANNEL.control) control(s, JSON.parse(f.payload.toString()) as ClientControl);
  };
  for (const data of queued) onFrame(data);
  socket.on('message', onFrame);
  socket.on('close', () => {
    s.stdin?.end();
  });
  void Promise.all([s.exit, ended(s.stdout), ended(s.stderr)]).then(([code]) => {
    if (socket.readyState === socket.OPEN) {
      socket.send(encodeFrame(CHANNEL.control, JSON.stringify({ exit: code })));
      socket.close(1000);
    }
  });
}

function ended(r: NodeJS.ReadableStream & { readableEnded?: boolean; destroyed?: boolean }): Promise<void> {
  if (r.readableEnded || r.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    r.once('end', resolve);
    r.once('close', resolve);
  });
}

function control(s: ExecSession, msg: ClientControl): void {
  if ('resize' in msg) s.resize(msg.resize[0], msg.resize[1]);
  else if ('signal' in msg)
    s.signal((msg.signal.startsWith('SIG') ? msg.signal : `SIG${msg.signal}`) as NodeJS.Signals);
  else if ('eof' in msg) s.stdin?.end();
}

function fail(socket: WebSocket, err: unknown): void {
  const { body } = errorReply(asTandemError(err));
  if (socket.readyState === socket.OPEN) {
    socket.send(encodeFrame(CHANNEL.control, JSON.stringify(body)));
    socket.close(1000);
  }
}

async function capture(r: NodeJS.ReadableStream): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const c of r) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    size += b.length;
    if (size <= MAX_CAPTURE) parts.push(b);
  }
  return Buffer.concat(parts).toString();
}
