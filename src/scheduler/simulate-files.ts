/**
 * Reads the simulator's JSON files (docs/scheduler.md, "File formats"): a cluster file (nodes
 * and optional existing allocations) and a workload file (requests in placement order). Sizes
 * are bytes or unit strings; every error is an invalid_argument naming the file and the entry.
 */
import { readFile } from 'node:fs/promises';
import { TandemError } from '../base/errors.js';
import { parseSize } from '../base/units.js';
import { INSTANCE_TYPES, type InstanceType } from '../core/instance.js';
import {
  type Allocation,
  DEFAULT_OVERCOMMIT,
  type NodeInfo,
  type PlacementRequest,
} from '../core/scheduling.js';

type Json = Record<string, unknown>;

function fail(where: string, what: string): never {
  throw new TandemError('invalid_argument', `${where}: ${what}`);
}

function size(value: unknown, where: string, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value === 'string') return parseSize(value, `${field} of ${where}`);
  return fail(where, `invalid ${field} ${JSON.stringify(value)}`);
}

function num(value: unknown, where: string, field: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  return fail(where, `invalid ${field} ${JSON.stringify(value)}`);
}

function labels(value: unknown, where: string, field: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(where, `${field} must be an object`);
  for (const v of Object.values(value))
    if (typeof v !== 'string') fail(where, `${field} values must be strings`);
  return { ...(value as Record<string, string>) };
}

function entries(doc: unknown, key: string, file: string): Json[] {
  const list = Array.isArray(doc) ? doc : (doc as Json | null)?.[key];
  if (!Array.isArray(list)) fail(file, `expected an array or an object with "${key}"`);
  return list.map((e, i) =>
    typeof e === 'object' && e !== null ? (e as Json) : fail(file, `entry ${i} is not an object`),
  );
}

/** A node from its file entry. */
export function parseNode(e: Json, where: string): NodeInfo {
  if (typeof e.name !== 'string' || e.name === '') fail(where, 'node needs a "name"');
  const oc = (e.overcommit ?? {}) as Json;
  return {
    name: e.name,
    capacity: {
      cpus: num(e.cpus, where, 'cpus'),
      memoryBytes: size(e.memory, where, 'memory') ?? fail(where, 'node needs "memory"'),
      diskBytes: size(e.disk, where, 'disk') ?? 0,
      instances: num(e.instances, where, 'instances', 110),
    },
    capabilities: { qemu: e.qemu === true || e.kvm === true, kvm: e.kvm === true },
    labels: labels(e.labels, where, 'labels') ?? {},
    overcommit: {
      cpu: num(oc.cpu, where, 'overcommit.cpu', DEFAULT_OVERCOMMIT.cpu),
      memory: num(oc.memory, where, 'overcommit.memory', DEFAULT_OVERCOMMIT.memory),
      disk: num(oc.disk, where, 'overcommit.disk', DEFAULT_OVERCOMMIT.disk),
    },
  };
}

/** A placement request from its file entry. */
export function parseRequest(e: Json, where: string): PlacementRequest {
  if (typeof e.name !== 'string' || e.name === '') fail(where, 'instance needs a "name"');
  const type = (e.type ?? 'container') as InstanceType;
  if (!INSTANCE_TYPES.includes(type)) fail(where, `invalid type ${JSON.stringify(e.type)}`);
  const req: PlacementRequest = { name: e.name, type };
  if (e.cpus !== undefined) req.cpus = num(e.cpus, where, 'cpus');
  const memory = size(e.memory, where, 'memory');
  if (memory !== undefined) req.memoryBytes = memory;
  const disk = size(e.disk, where, 'disk');
  if (disk !== undefined) req.diskBytes = disk;
  if (e.antiAffinity !== undefined) {
    if (!Array.isArray(e.antiAffinity) || e.antiAffinity.some((g) => typeof g !== 'string')) {
      fail(where, 'antiAffinity must be an array of strings');
    }
    req.antiAffinity = [...(e.antiAffinity as string[])];
  }
  const selector = labels(e.nodeSelector, where, 'nodeSelector');
  if (selector) req.nodeSelector = selector;
  if (e.node !== undefined)
    req.node = typeof e.node === 'string' ? e.node : fail(where, 'node must be a string');
  return req;
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new TandemError('invalid_argument', `reading "${file}": ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TandemError('invalid_argument', `parsing "${file}": ${(err as Error).message}`);
  }
}

/** Reads a cluster file: its nodes and existing allocations. */
export async function readClusterFile(
  file: string,
): Promise<{ nodes: NodeInfo[]; allocations: Allocation[] }> {
  const doc = await readJson(file);
  const nodes = entries(doc, 'nodes', file).map((e, i) => parseNode(e, `"${file}" node ${i}`));
  const names = new Set(nodes.map((n) => n.name));
  const raw = Array.isArray(doc) ? [] : (((doc as Json).allocations ?? []) as unknown[]);
  const allocations = entries(raw, 'allocations', file).map((e, i) => {
    const where = `"${file}" allocation ${i}`;
    if (typeof e.node !== 'string' || !names.has(e.node))
      fail(where, `unknown node ${JSON.stringify(e.node)}`);
    const { node, ...rest } = e;
    return { node: node as string, request: parseRequest(rest, where) };
  });
  return { nodes, allocations };
}

/** Reads a workload file: the requests in placement order. */
export async function readWorkloadFile(file: string): Promise<PlacementRequest[]> {
  const doc = await readJson(file);
  return entries(doc, 'instances', file).map((e, i) => parseRequest(e, `"${file}" instance ${i}`));
}
