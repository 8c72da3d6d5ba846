/**
 * Network endpoints: list, create (optional subnet), remove. A daemon without managed networks
 * (`--bridge none`, fake drivers) answers not_supported. Removing a network that an instance
 * holds an address on is a conflict. The wire shapes live here until they move to src/api.
 */
import Type from 'typebox';
import { Name } from '../../api/common.js';
import { TandemError } from '../../base/errors.js';
import type { NetworkService } from '../../core/network.js';
import type { DaemonContext } from '../context.js';
import type { App } from './app.js';

export const NetworkWire = Type.Object({
  name: Type.String(),
  bridge: Type.String(),
  subnet: Type.String(),
  gateway: Type.String(),
  createdAt: Type.String(),
  instances: Type.Integer(),
  default: Type.Boolean(),
});

export const CreateNetworkRequest = Type.Object(
  {
    name: Name,
    subnet: Type.Optional(
      Type.String({ pattern: '^[0-9.]+/[0-9]{1,2}$', description: 'IPv4 CIDR, e.g. 10.89.0.0/24' }),
    ),
  },
  { additionalProperties: false },
);

const NameParam = Type.Object({ name: Name });

export function registerNetworkRoutes(app: App, ctx: DaemonContext): void {
  const net = (): NetworkService => {
    if (!ctx.network)
      throw new TandemError(
        'not_supported',
        'networks are not supported by this daemon (it runs with --bridge none or fake drivers)',
      );
    return ctx.network;
  };
  app.get('/v1/networks', { schema: { response: { 200: Type.Array(NetworkWire) } } }, async () =>
    net().list(),
  );
  app.post(
    '/v1/networks',
    { schema: { body: CreateNetworkRequest, response: { 201: NetworkWire } } },
    async (req, reply) =>
      reply.status(201).send(await net().create(req.body.name, { subnet: req.body.subnet })),
  );
  app.delete('/v1/networks/:name', { schema: { params: NameParam } }, async (req, reply) => {
    await net().remove(req.params.name);
    return reply.status(200).send({});
  });
}
