/** The type of the daemon's Fastify app with the TypeBox provider (shared by routes and server). */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { Operation } from '../../core/operation.js';
import type { Operations } from '../operations.js';

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/**
 * How long a request that starts an operation lets it run before answering. An operation that
 * ends by then (a delete, a container's create and start) is answered ended, which spares the
 * client its wait request; a longer one is answered running, as always (DESIGN.md: 202 and an
 * operation the client can wait on).
 */
export const QUICK_OPERATION_MS = 50;

/** Answers 202 with the operation (Location: its URL), ended if it ended within QUICK_OPERATION_MS. */
export async function accepted(
  reply: { status(n: number): unknown; header(k: string, v: string): unknown },
  ops: Operations,
  op: Operation,
): Promise<Operation> {
  const cur = (await ops.wait(op.id, QUICK_OPERATION_MS)) ?? op;
  reply.status(202);
  reply.header('location', `/v1/operations/${op.id}`);
  return cur;
}
