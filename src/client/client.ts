/**
 * The typed client of the Tandem API, used by the CLI (and usable by anyone): JSON requests
 * over the unix socket (TANDEM_SOCKET, default /run/tandem/tandem.sock) or over TCP
 * (TANDEM_URL with TANDEM_TOKEN). Error bodies become TandemErrors of the same kind, so the
 * CLI maps them to exit codes without knowing HTTP. Operations are waited on by default.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { ErrorBody, Operation } from '../api/common.js';
import type { Image, ImportImageRequest } from '../api/images.js';
import type {
  CreateInstanceRequest,
  ExecRequest,
  ExecResult,
  Instance,
  LimitsInput,
  ResourceUsage,
  StateRequest,
} from '../api/instances.js';
import type { DaemonInfo, Event, Node } from '../api/system.js';
import { isErrorKind, TandemError } from '../base/errors.js';

export const DEFAULT_SOCKET = '/run/tandem/tandem.sock';

export interface ClientOptions {
  socket?: string;
  url?: string;
  token?: string;
}

/** node:https (and TLS with it) is loaded only for https URLs: it costs every CLI start ms otherwise. */
async function requestFor(https: boolean): Promise<typeof httpRequest> {
  return https ? (await import('node:https')).request : httpRequest;
}

/** Where the client connects, from the environment (DESIGN.md). */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): ClientOptions {
  if (env.TANDEM_URL) return { url: env.TANDEM_URL, token: env.TANDEM_TOKEN };
  return { socket: env.TANDEM_SOCKET ?? DEFAULT_SOCKET };
}

export class Client {
  constructor(readonly opts: ClientOptions = optionsFromEnv()) {}

  /** Starts a raw request; the caller reads the response stream. */
  async raw(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<IncomingMessage> {
    const target = this.target(path);
    const request = await requestFor(target.https);
    return new Promise((resolve, reject) => {
      const h: Record<string, string> = { ...headers };
      let payload: Buffer | undefined;
      if (body !== undefined && !(body instanceof Buffer)) {
        payload = Buffer.from(JSON.stringify(body));
        h['content-type'] = 'application/json';
      } else if (body instanceof Buffer) payload = body;
      if (payload) h['content-length'] = String(payload.length);
      if (this.opts.token) h.authorization = `Bearer ${this.opts.token}`;
      const req = request({ ...target.options, method, headers: h }, resolve);
      req.on('error', (err: NodeJS.ErrnoException) => reject(this.connectError(err)));
      req.end(payload);
    });
  }

  /** Uploads an image archive; resolves with the import operation. */
  async uploadImage(name: string, body: NodeJS.ReadableStream, length: number): Promise<Operation> {
    const target = this.target(`/v1/images/upload?name=${enc(name)}`);
    const request = await requestFor(target.https);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const headers: Record<string, string> = {
        'content-type': 'application/octet-stream',
        'content-length': String(length),
      };
      if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
      const req = request({ ...target.options, method: 'POST', headers }, resolve);
      req.on('error', (err: NodeJS.ErrnoException) => reject(this.connectError(err)));
      body.pipe(req);
    });
    const text = await readAll(res);
    const data = text ? JSON.parse(text) : undefined;
    if ((res.statusCode ?? 500) >= 400) throw toError(res.statusCode ?? 500, data);
    return data as Operation;
  }

  /** A JSON request; rejects with the daemon's error as a TandemError. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.raw(method, path, body);
    const text = await readAll(res);
    const data = text ? JSON.parse(text) : undefined;
    if ((res.statusCode ?? 500) >= 400) throw toError(res.statusCode ?? 500, data);
    return data as T;
  }

  /** Resolves once the operation ends; rejects with its error when it failed. */
  async wait(op: Operation, timeoutS = 3600): Promise<Operation> {
    let cur = op;
    const deadline = Date.now() + timeoutS * 1000;
    while (cur.status === 'running' && Date.now() < deadline) {
      cur = await this.request<Operation>('GET', `/v1/operations/${cur.id}/wait?timeout=30`);
    }
    if (cur.status === 'failure' && cur.error) throw new TandemError(cur.error.code, cur.error.message);
    return cur;
  }

  info = () => this.request<DaemonInfo>('GET', '/v1');
  list = () => this.request<Instance[]>('GET', '/v1/instances');
  get = (name: string) => this.request<Instance>('GET', `/v1/instances/${enc(name)}`);
  create = (req: CreateInstanceRequest) => this.request<Operation>('POST', '/v1/instances', req);
  changeState = (name: string, req: StateRequest) =>
    this.request<Operation>('PUT', `/v1/instances/${enc(name)}/state`, req);
  remove = (name: string, force = false) =>
    this.request<Operation>('DELETE', `/v1/instances/${enc(name)}${force ? '?force=true' : ''}`);
  update = (name: string, limits: LimitsInput) =>
    this.request<Instance>('PATCH', `/v1/instances/${enc(name)}`, { limits });
  stats = (name: string) => this.request<ResourceUsage>('GET', `/v1/instances/${enc(name)}/stats`);
  execCapture = (name: string, req: ExecRequest) =>
    this.request<ExecResult>('POST', `/v1/instances/${enc(name)}/exec`, req);
  images = () => this.request<Image[]>('GET', '/v1/images');
  importImage = (req: ImportImageRequest) => this.request<Operation>('POST', '/v1/images', req);
  removeImage = (name: string) => this.request<unknown>('DELETE', `/v1/images/${enc(name)}`);
  nodes = () => this.request<Node[]>('GET', '/v1/nodes');
  operation = (id: string) => this.request<Operation>('GET', `/v1/operations/${enc(id)}`);

  /** Streams the instance's logs; the returned stream ends when the daemon ends it. */
  async logs(name: string, opts: { follow?: boolean; tail?: number } = {}): Promise<IncomingMessage> {
    const q = new URLSearchParams();
    if (opts.follow) q.set('follow', 'true');
    if (opts.tail !== undefined) q.set('tail', String(opts.tail));
    const res = await this.raw('GET', `/v1/instances/${enc(name)}/logs?${q}`);
    if ((res.statusCode ?? 500) >= 400)
      throw toError(res.statusCode ?? 500, JSON.parse((await readAll(res)) || '{}'));
    return res;
  }

  /** Attaches to the workload's output as a framed HTTP stream (api/exec-frames.ts, stream frames). */
  async attachStream(name: string, replay: boolean): Promise<IncomingMessage> {
    const res = await this.raw('GET', `/v1/instances/${enc(name)}/attach/stream?replay=${replay}`);
    if ((res.statusCode ?? 500) >= 400)
      throw toError(res.statusCode ?? 500, JSON.parse((await readAll(res)) || '{}'));
    return res;
  }

  /** Follows the event stream, calling `onEvent` per event; resolves when the stream ends. */
  async events(
    onEvent: (e: Event) => void,
    opts: {
      since?: number;
      /** Only these event types. */
      types?: string[];
      /** Only this instance's events. */
      instance?: string;
      signal?: AbortSignal;
      onOpen?: () => void;
    } = {},
  ): Promise<void> {
    const q = new URLSearchParams();
    if (opts.since !== undefined) q.set('since', String(opts.since));
    if (opts.types?.length) q.set('type', opts.types.join(','));
    if (opts.instance !== undefined) q.set('instance', opts.instance);
    const res = await this.raw('GET', `/v1/events${q.size ? `?${q}` : ''}`);
    if ((res.statusCode ?? 500) >= 400)
      throw toError(res.statusCode ?? 500, JSON.parse((await readAll(res)) || '{}'));
    opts.signal?.addEventListener('abort', () => res.destroy(), { once: true });
    opts.onOpen?.();
    let buf = '';
    for await (const chunk of res.on('error', () => {})) {
      buf += chunk.toString();
      let i = buf.indexOf('\n\n');
      while (i >= 0) {
        const msg = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = msg
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        if (data) onEvent(JSON.parse(data) as Event);
        i = buf.indexOf('\n\n');
      }
    }
  }

  /** The address parts for the websocket client (exec, console). */
  wsTarget(path: string): { url: string; headers: Record<string, string> } {
    const headers: Record<string, string> = this.opts.token
      ? { authorization: `Bearer ${this.opts.token}` }
      : {};
    if (this.opts.url)
      return { url: this.opts.url.replace(/^http/, 'ws').replace(/\/$/, '') + path, headers };
    return { url: `ws+unix://${this.opts.socket}:${path}`, headers };
  }

  private target(path: string): { https: boolean; options: Record<string, unknown> } {
    // servername '' where TLS is not spoken: else Node's agent works out a TLS server name for
    // every request, with an IPv6 regular expression whose first use costs ≈8 ms of a CLI run
    if (this.opts.url) {
      const u = new URL(path, this.opts.url);
      const https = u.protocol === 'https:';
      const options = { hostname: u.hostname, port: u.port, path: `${u.pathname}${u.search}` };
      return { https, options: https ? options : { ...options, servername: '' } };
    }
    return {
      https: false,
      options: { socketPath: this.opts.socket ?? DEFAULT_SOCKET, path, servername: '' },
    };
  }

  private connectError(err: NodeJS.ErrnoException): TandemError {
    const where = this.opts.url ?? this.opts.socket;
    if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
      return new TandemError('unavailable', `cannot reach the tandem daemon at ${where}: is it running?`);
    }
    return new TandemError('unavailable', `talking to the tandem daemon at ${where}: ${err.message}`);
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

async function readAll(res: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of res) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
}

function toError(status: number, data: unknown): TandemError {
  const e = (data as ErrorBody | undefined)?.error;
  if (e && isErrorKind(e.code)) return new TandemError(e.code, e.message);
  return new TandemError(status === 404 ? 'not_found' : 'internal', `daemon answered HTTP ${status}`);
}
