/**
 * The HTTP API: one Fastify app served on the unix socket (trusted: mode 0660 decides who may
 * connect) and, when configured, on TCP where every request needs the bearer token (401
 * otherwise). The TCP listener is a plain http.Server that hands its requests and upgrades to
 * the app's server after marking them remote, so both share routes, schemas and handlers.
 * Route schemas validate every body and generate /v1/openapi.json.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import type { Logger } from '../../base/log.js';
import type { DaemonContext } from '../context.js';
import type { App } from './app.js';
import { installErrorHandlers } from './errors.js';
import { registerConsoleRoutes } from './routes-console.js';
import { registerEventRoutes } from './routes-events.js';
import { registerExecRoutes } from './routes-exec.js';
import { registerImageRoutes } from './routes-images.js';
import { registerInstanceRoutes } from './routes-instances.js';
import { registerIsolateRoutes } from './routes-isolate.js';
import { registerMetricsRoutes } from './routes-metrics.js';
import { registerNetworkRoutes } from './routes-networks.js';
import { registerSystemRoutes } from './routes-system.js';
import { registerUiRoutes } from './routes-ui.js';
import { registerVolumeRoutes } from './routes-volumes.js';
import { registerSessionRoutes, Sessions } from './session.js';

export type { App };

interface RemoteRequest extends IncomingMessage {
  tandemRemote?: boolean;
}

/** Builds the app with every route; `token` (or a session bought with it) guards requests over TCP. */
export async function buildApp(ctx: DaemonContext, logger: Logger, token?: string): Promise<App> {
  const app: App = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 8 * 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  installErrorHandlers(app);
  const sessions = new Sessions(token);
  app.addHook('onRequest', async (req, reply) => {
    if (!(req.raw as RemoteRequest).tandemRemote) return;
    if (token && bearerMatches(req.headers.authorization, token)) return;
    if (req.routeOptions.config.public || sessions.accepts(req)) return;
    return reply
      .status(401)
      .send({ error: { code: 'unauthorized', message: 'a valid bearer token is required' } });
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    ctx.metrics.observeRequest({
      method: req.method,
      route,
      status: reply.statusCode,
      seconds: reply.elapsedTime / 1000,
    });
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Tandem API', version: '1', description: 'Containers and VMs on one API' },
    },
  });
  await app.register(websocket, { options: { maxPayload: 16 * 1024 * 1024 } });
  registerInstanceRoutes(app, ctx);
  registerExecRoutes(app, ctx);
  registerConsoleRoutes(app, ctx);
  registerEventRoutes(app, ctx);
  registerImageRoutes(app, ctx);
  registerSystemRoutes(app, ctx);
  registerMetricsRoutes(app, ctx);
  registerSessionRoutes(app, sessions);
  registerUiRoutes(app);
  registerNetworkRoutes(app, ctx);
  registerVolumeRoutes(app, ctx);
  registerIsolateRoutes(app, ctx);
  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!.trim());
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A TCP listener that feeds the app, marking its requests remote (they need the token). */
export async function listenTcp(app: App, host: string, port: number): Promise<Server> {
  const server = createServer();
  server.on('request', (req: RemoteRequest, res) => {
    req.tandemRemote = true;
    app.server.emit('request', req, res);
  });
  server.on('upgrade', (req: RemoteRequest, socket, head) => {
    req.tandemRemote = true;
    app.server.emit('upgrade', req, socket, head);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
