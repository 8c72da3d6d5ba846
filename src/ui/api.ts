/**
 * The browser's side of the Tandem API: same-origin JSON requests (the session cookie rides
 * along; on the unix socket behind a proxy nothing is needed), errors as ApiError with the
 * daemon's code, operations waited on until they end. Types come from src/api (type-only:
 * nothing of the daemon's schemas lands in the bundle).
 */
import type { Operation } from '../api/common.js';
import type { CreateInstanceRequest, Instance, ResourceUsage } from '../api/instances.js';
import type { Event, Node } from '../api/system.js';

export type { Event, Instance, Node, Operation, ResourceUsage };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let onUnauthorized: () => void = () => {};

/** Called whenever the daemon answers 401 (the session expired or was never opened). */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

/** A JSON request; rejects with ApiError on an error answer. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    const e = data?.error ?? { code: 'internal', message: `HTTP ${res.status}` };
    if (res.status === 401 && path !== '/v1/session') onUnauthorized();
    throw new ApiError(res.status, e.code, e.message);
  }
  return data as T;
}

/** Resolves once `op` ends; rejects with its error when it failed. */
export async function settle(op: Operation): Promise<Operation> {
  let cur = op;
  while (cur.status === 'running') {
    cur = await api<Operation>('GET', `/v1/operations/${encodeURIComponent(cur.id)}/wait?timeout=30`);
  }
  if (cur.status === 'failure')
    throw new ApiError(0, cur.error?.code ?? 'internal', cur.error?.message ?? '');
  return cur;
}

export const login = (token: string) => api('POST', '/v1/session', { token });
export const logout = () => api('DELETE', '/v1/session');
export const listInstances = () => api<Instance[]>('GET', '/v1/instances');
export const listNodes = () => api<Node[]>('GET', '/v1/nodes');
export const listImages = () => api<{ name: string }[]>('GET', '/v1/images');
export const stats = (name: string) =>
  api<ResourceUsage>('GET', `/v1/instances/${encodeURIComponent(name)}/stats`);

/** Creates and starts an instance; resolves when it runs. */
export async function launch(req: CreateInstanceRequest): Promise<void> {
  await settle(await api<Operation>('POST', '/v1/instances', { ...req, start: true }));
}

export type Action = 'start' | 'stop' | 'pause' | 'resume' | 'delete';

/** Runs a state change or a (forced) delete; resolves when it is done. */
export async function act(name: string, action: Action): Promise<void> {
  const path = `/v1/instances/${encodeURIComponent(name)}`;
  const op =
    action === 'delete'
      ? await api<Operation>('DELETE', `${path}?force=true`)
      : await api<Operation>('PUT', `${path}/state`, { action });
  await settle(op);
}
