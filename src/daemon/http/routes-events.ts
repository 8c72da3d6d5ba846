/**
 * GET /v1/events: the event stream as server-sent events, one JSON event per message, ids
 * being sequence numbers (`?since=N` or Last-Event-ID replays what the ring still holds).
 * `?type=lifecycle,operation` and `?instance=NAME` keep only those events (a client that waits
 * for one instance's end is not woken by every operation of the daemon).
 * Each client has a bounded buffer: when its unsent bytes pass the limit it is disconnected,
 * so a client that stops reading never stalls the daemon or the other clients.
 */
import { EventsQuery } from '../../api/system.js';
import type { TandemEvent } from '../../core/events.js';
import type { DaemonContext } from '../context.js';
import type { App } from './app.js';

const HEARTBEAT_MS = 15_000;

export function registerEventRoutes(app: App, ctx: DaemonContext): void {
  app.get('/v1/events', { schema: { querystring: EventsQuery } }, async (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    const lastId = Number(req.headers['last-event-id'] ?? Number.NaN);
    const since = req.query.since ?? (Number.isFinite(lastId) ? lastId : undefined);
    let off = () => {};
    const close = () => {
      off();
      clearInterval(beat);
      if (!res.destroyed) res.destroy();
    };
    const types = req.query.type?.split(',');
    const instance = req.query.instance;
    const send = (e: TandemEvent) => {
      if ((types && !types.includes(e.type)) || (instance !== undefined && e.instance !== instance)) return;
      if (res.writableLength > ctx.eventBufferBytes) {
        req.log.warn({ buffered: res.writableLength }, 'event subscriber too slow: disconnected');
        close();
        return;
      }
      res.write(`id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`);
    };
    const beat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    res.on('close', close);
    res.write(': connected\n\n');
    if (since !== undefined) for (const e of ctx.events.since(since)) send(e);
    off = ctx.events.subscribe(send);
  });
}
