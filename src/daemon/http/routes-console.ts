/**
 * The serial console of a VM or sandbox as a websocket (GET /v1/instances/{name}/console),
 * framed as exec streams (api/exec-frames.ts): stdin frames go to the console, console output
 * comes back as stdout frames, and the session ends with {"exit":0} when the console closes.
 * Instances whose driver has no console answer not_supported.
 */

import Type from 'typebox';
import type { WebSocket } from 'ws';
import { Name } from '../../api/common.js';
import { CHANNEL, decodeFrame, encodeFrame } from '../../api/exec-frames.js';
import { asTandemError, TandemError } from '../../base/errors.js';
import type { DaemonContext } from '../context.js';
import type { App } from './app.js';
import { errorReply } from './errors.js';

const NameParam = Type.Object({ name: Name });

export function registerConsoleRoutes(app: App, ctx: DaemonContext): void {
  app.get(
    '/v1/instances/:name/console',
    { websocket: true, schema: { params: NameParam } },
    (socket, req) => {
      const name = (req.params as { name: string }).name;
      open(ctx, name).then(
        (stream) => {
          stream.on(
            'data',
            (b: Buffer) => socket.readyState === socket.OPEN && socket.send(encodeFrame(CHANNEL.stdout, b)),
          );
          stream.on('close', () => end(socket, 0));
          stream.on('error', (err) => fail(socket, err));
          socket.on('message', (data: Buffer) => {
            const f = decodeFrame(data);
            if (f?.channel === CHANNEL.stdin) stream.write(f.payload);
          });
          socket.on('close', () => stream.destroy());
        },
        (err) => fail(socket, err),
      );
    },
  );
}

async function open(ctx: DaemonContext, name: string) {
  const inst = await ctx.svc.deps.records.get(name);
  const driver = ctx.svc.driverFor(inst.type);
  if (!driver.console)
    throw new TandemError('not_supported', `${inst.type} instances have no serial console`);
  return driver.console(inst.id);
}

function end(socket: WebSocket, code: number): void {
  if (socket.readyState !== socket.OPEN) return;
  socket.send(encodeFrame(CHANNEL.control, JSON.stringify({ exit: code })));
  socket.close(1000);
}

function fail(socket: WebSocket, err: unknown): void {
  if (socket.readyState !== socket.OPEN) return;
  socket.send(encodeFrame(CHANNEL.control, JSON.stringify(errorReply(asTandemError(err)).body)));
  socket.close(1000);
}
