/** `POST /v1/instances/{name}/isolate {to}`: the instance at another isolation level (202, an operation). */
import Type from 'typebox';
import { Name, Operation } from '../../api/common.js';
import type { DaemonContext } from '../context.js';
import { startIsolate } from '../instance-isolate.js';
import { type App, accepted } from './app.js';

const IsolateRequest = Type.Object(
  {
    to: Type.Union([Type.Literal('container'), Type.Literal('sandbox'), Type.Literal('vm')], {
      description: 'the isolation level to restart the instance at, keeping its rootfs changes and settings',
    }),
  },
  { additionalProperties: false },
);

export function registerIsolateRoutes(app: App, ctx: DaemonContext): void {
  app.post(
    '/v1/instances/:name/isolate',
    { schema: { params: Type.Object({ name: Name }), body: IsolateRequest, response: { 202: Operation } } },
    async (req, reply) => {
      return accepted(reply, ctx.ops, await startIsolate(ctx.svc, req.params.name, req.body.to));
    },
  );
}
