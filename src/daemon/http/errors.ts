/**
 * The one place that maps error kinds to HTTP statuses, and every failure (ours, Fastify's
 * validation and parsing errors, unknown routes) to the `{"error": {code, message}}` body.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { type ErrorKind, isTandemError } from '../../base/errors.js';

export const HTTP_STATUS: Record<ErrorKind, number> = {
  invalid_argument: 400,
  unauthorized: 401,
  not_found: 404,
  already_exists: 409,
  conflict: 409,
  insufficient_resources: 422,
  not_supported: 501,
  unavailable: 503,
  internal: 500,
};

/** The error body and status for anything thrown by a route. */
export function errorReply(err: unknown): {
  status: number;
  body: { error: { code: ErrorKind; message: string } };
} {
  if (isTandemError(err)) {
    return { status: HTTP_STATUS[err.kind], body: { error: { code: err.kind, message: err.message } } };
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    return {
      status: 400,
      body: { error: { code: 'invalid_argument', message: `invalid request: ${fe.message}` } },
    };
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code: ErrorKind =
      fe.statusCode === 404 ? 'not_found' : fe.statusCode === 401 ? 'unauthorized' : 'invalid_argument';
    return {
      status: fe.statusCode === 404 || fe.statusCode === 401 ? fe.statusCode : 400,
      body: { error: { code, message: `invalid request: ${fe.message}` } },
    };
  }
  return { status: 500, body: { error: { code: 'internal', message: fe.message ?? String(err) } } };
}

/** Installs the error and not-found handlers on `app`. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err, req, reply) => {
    const { status, body } = errorReply(err);
    if (status >= 500) req.log.error({ err }, 'request failed');
    void reply.status(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply
      .status(404)
      .send({ error: { code: 'not_found', message: `no route for ${req.method} ${req.url}` } });
  });
}
