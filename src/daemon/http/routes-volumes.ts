/**
 * Volume endpoints: list, create, remove. Volumes outlive the instances that mount them; removing
 * one that an instance mounts is a conflict. The wire shapes live here until they move to src/api.
 */
import Type from 'typebox';
import { Name } from '../../api/common.js';
import type { DaemonContext } from '../context.js';
import type { App } from './app.js';

export const VolumeWire = Type.Object({
  name: Type.String(),
  path: Type.String({ description: 'the directory on the daemon host' }),
  createdAt: Type.String(),
});

export const CreateVolumeRequest = Type.Object({ name: Name }, { additionalProperties: false });

const NameParam = Type.Object({ name: Name });

export function registerVolumeRoutes(app: App, ctx: DaemonContext): void {
  app.get('/v1/volumes', { schema: { response: { 200: Type.Array(VolumeWire) } } }, async () =>
    ctx.volumes.list(),
  );
  app.post(
    '/v1/volumes',
    { schema: { body: CreateVolumeRequest, response: { 201: VolumeWire } } },
    async (req, reply) => reply.status(201).send(await ctx.volumes.create(req.body.name)),
  );
  app.delete('/v1/volumes/:name', { schema: { params: NameParam } }, async (req, reply) => {
    await ctx.volumes.remove(req.params.name);
    return reply.status(200).send({});
  });
}
