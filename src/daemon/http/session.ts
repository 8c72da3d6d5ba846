/**
 * Browser sessions for the web UI on TCP (DESIGN.md: browsers cannot set headers on
 * EventSource or WebSocket, so the UI trades the token once for an HttpOnly cookie).
 * `POST /v1/session {token}` checks the token in constant time and sets `tandem_session`
 * (HttpOnly, SameSite=Strict, Path=/); `DELETE /v1/session` ends it. Sessions live in the
 * daemon's memory (a restart logs browsers out), expire after 12 hours, and are capped in number
 * (the oldest goes first). A cookie-authenticated request whose Origin names another site is
 * refused: SameSite already keeps other sites' requests from carrying the cookie; this is the
 * second lock on the door.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { TandemError } from '../../base/errors.js';
import type { App } from './app.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without the token or a session on TCP (the UI's files, the login itself). */
    public?: boolean;
  }
}

export const SESSION_COOKIE = 'tandem_session';
const TTL_MS = 12 * 3600_000;
const MAX_SESSIONS = 1000;

const SessionRequest = Type.Object({ token: Type.String({ minLength: 1, maxLength: 4096 }) });
const SessionReply = Type.Object({ expiresAt: Type.String() });

export class Sessions {
  /** Session id → expiry (ms since the epoch), oldest first. */
  private readonly live = new Map<string, number>();

  constructor(
    private readonly token: string | undefined,
    private readonly ttlMs = TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Opens a session for the right token; undefined for a wrong one (or when no token is set). */
  open(given: string): { id: string; expiresAt: number } | undefined {
    if (!this.token || !sameSecret(given, this.token)) return undefined;
    const id = randomBytes(32).toString('base64url');
    const expiresAt = this.now() + this.ttlMs;
    this.live.set(id, expiresAt);
    while (this.live.size > MAX_SESSIONS) this.live.delete(this.live.keys().next().value!);
    return { id, expiresAt };
  }

  /** True when `req` carries a live session cookie and, if it names an Origin, comes from this host. */
  accepts(req: FastifyRequest): boolean {
    const id = sessionCookie(req.headers.cookie);
    if (!id) return false;
    const expiresAt = this.live.get(id);
    if (expiresAt === undefined) return false;
    if (expiresAt <= this.now()) {
      this.live.delete(id);
      return false;
    }
    return sameOrigin(req);
  }

  /** Ends the session of `req` if it has one. */
  close(req: FastifyRequest): void {
    const id = sessionCookie(req.headers.cookie);
    if (id) this.live.delete(id);
  }
}

/** POST and DELETE /v1/session; POST is public (it is how a browser gets in). */
export function registerSessionRoutes(app: App, sessions: Sessions): void {
  app.post(
    '/v1/session',
    { config: { public: true }, schema: { body: SessionRequest, response: { 200: SessionReply } } },
    async (req, reply) => {
      const s = sameOrigin(req) ? sessions.open(req.body.token) : undefined;
      if (!s) throw new TandemError('unauthorized', 'a valid token is required');
      const maxAge = Math.floor((s.expiresAt - Date.now()) / 1000);
      reply.header('set-cookie', cookie(s.id, maxAge));
      return { expiresAt: new Date(s.expiresAt).toISOString() };
    },
  );
  app.delete('/v1/session', async (req, reply) => {
    sessions.close(req);
    reply.header('set-cookie', cookie('', 0));
    return {};
  });
}

function cookie(value: string, maxAge: number): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}`;
}

/** The session id in a Cookie header, if any. */
export function sessionCookie(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

/** False when the request names an Origin (browsers do on POST, DELETE, WebSocket) of another host. */
function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
