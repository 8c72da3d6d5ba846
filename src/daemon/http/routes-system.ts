/** The daemon's own endpoints: version and drivers, nodes. */
import Type from 'typebox';
import { DaemonInfo, Node } from '../../api/system.js';
import type { DaemonContext } from '../context.js';
import type { App } from './app.js';

export function registerSystemRoutes(app: App, ctx: DaemonContext): void {
  app.get('/v1', { schema: { response: { 200: DaemonInfo } } }, async () => ctx.info());
  app.get('/v1/nodes', { schema: { response: { 200: Type.Array(Node) } } }, async () => ctx.nodes());
}
