/** Instance endpoints: list, create, info, update limits, delete, state changes, logs, stats. */
import Type from 'typebox';
import { ForceQuery, IdParams, Name, Operation, WaitQuery } from '../../api/common.js';
import {
  CreateInstanceRequest,
  Instance,
  LogsQuery,
  PatchInstanceRequest,
  ResourceUsage,
  StateRequest,
} from '../../api/instances.js';
import { TandemError } from '../../base/errors.js';
import type { Operation as CoreOperation } from '../../core/operation.js';
import type { DaemonContext } from '../context.js';
import { toWire } from '../instance-view.js';
import { type App, accepted } from './app.js';

const NameParam = Type.Object({ name: Name });
const acceptedSchema = { 202: Operation };

export function registerInstanceRoutes(app: App, ctx: DaemonContext): void {
  const { svc } = ctx;
  const wire = async (name: string) => {
    const inst = await svc.deps.records.get(name);
    return toWire(inst, await svc.commandOf(inst));
  };
  const accept = (reply: Parameters<typeof accepted>[0], op: CoreOperation) => accepted(reply, ctx.ops, op);

  app.get('/v1/instances', { schema: { response: { 200: Type.Array(Instance) } } }, async () => {
    const all = await svc.deps.records.list();
    return Promise.all(all.map(async (i) => toWire(i, await svc.commandOf(i))));
  });

  app.post(
    '/v1/instances',
    { schema: { body: CreateInstanceRequest, response: acceptedSchema } },
    async (req, reply) => accept(reply, await svc.create(req.body)),
  );

  app.get(
    '/v1/instances/:name',
    { schema: { params: NameParam, response: { 200: Instance } } },
    async (req) => wire(req.params.name),
  );

  app.patch(
    '/v1/instances/:name',
    { schema: { params: NameParam, body: PatchInstanceRequest, response: { 200: Instance } } },
    async (req) => {
      const inst = await svc.update(req.params.name, req.body.limits);
      return toWire(inst, await svc.commandOf(inst));
    },
  );

  app.delete(
    '/v1/instances/:name',
    { schema: { params: NameParam, querystring: ForceQuery, response: acceptedSchema } },
    async (req, reply) => accept(reply, await svc.remove(req.params.name, req.query.force ?? false)),
  );

  app.put(
    '/v1/instances/:name/state',
    { schema: { params: NameParam, body: StateRequest, response: acceptedSchema } },
    async (req, reply) => accept(reply, await svc.changeState(req.params.name, req.body)),
  );

  app.get(
    '/v1/instances/:name/stats',
    { schema: { params: NameParam, response: { 200: ResourceUsage } } },
    async (req) => {
      const inst = await svc.deps.records.get(req.params.name);
      if (inst.status !== 'running' && inst.status !== 'paused') {
        throw new TandemError(
          'conflict',
          `instance "${inst.name}" is ${inst.status}: stats need a running workload`,
        );
      }
      return { name: inst.name, ...(await svc.driverFor(inst.type).stats(inst.id)) };
    },
  );

  app.get(
    '/v1/instances/:name/logs',
    { schema: { params: NameParam, querystring: LogsQuery } },
    async (req, reply) => {
      const inst = await svc.deps.records.get(req.params.name);
      const abort = new AbortController();
      const chunks = svc.driverFor(inst.type).logs(inst.id, {
        follow: req.query.follow ?? false,
        tail: req.query.tail,
        signal: abort.signal,
      });
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      res.on('close', () => abort.abort());
      try {
        for await (const chunk of chunks) {
          if (res.destroyed) break;
          if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
        }
      } catch (err) {
        req.log.warn({ err }, 'log stream ended early');
      }
      res.end();
    },
  );

  app.get('/v1/operations', { schema: { response: { 200: Type.Array(Operation) } } }, async () =>
    ctx.ops.list(),
  );

  app.get(
    '/v1/operations/:id',
    { schema: { params: IdParams, response: { 200: Operation } } },
    async (req) => {
      const op = ctx.ops.get(req.params.id);
      if (!op) throw new TandemError('not_found', `operation "${req.params.id}" not found`);
      return op;
    },
  );

  app.delete('/v1/operations/:id', { schema: { params: IdParams } }, async (req) => {
    if (!ctx.ops.get(req.params.id))
      throw new TandemError('not_found', `operation "${req.params.id}" not found`);
    if (!ctx.ops.cancel(req.params.id))
      throw new TandemError('conflict', `operation "${req.params.id}" has ended`);
    return {};
  });

  app.get(
    '/v1/operations/:id/wait',
    { schema: { params: IdParams, querystring: WaitQuery, response: { 200: Operation } } },
    async (req) => {
      const op = await ctx.ops.wait(req.params.id, (req.query.timeout ?? 60) * 1000);
      if (!op) throw new TandemError('not_found', `operation "${req.params.id}" not found`);
      return op;
    },
  );
}
