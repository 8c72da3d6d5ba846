/**
 * User-namespace ranges for `--userns auto`: each such container gets its own block of 65536
 * host ids (container id N = host id hostId+N), never one another instance of this driver
 * holds, so root in the container is an unprivileged, unshared id on the host. Blocks are
 * 65536-aligned above 2^20 (far from real users); each driver starts its search at an offset
 * derived from its root, so two daemons rarely hand out the same block. The block is stored in
 * the instance's spec.json; image layers are mounted idmapped (helpers/monitor/idmap.c), the
 * upper dir and the bundle's /etc files are chowned to the block's root.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { TandemError } from '../../base/errors.js';
import type { DriverSpec } from '../../core/driver.js';
import { readOptional } from './container-state.js';

export interface IdMap {
  /** Host id of the container's id 0. */
  hostId: number;
  size: number;
}

/** What the container driver keeps in spec.json: the DriverSpec and its own additions. */
export type StoredSpec = DriverSpec & { idmap?: IdMap };

export const IDMAP_SIZE = 65536;
const FIRST_BLOCK = 16; // host id 1,048,576
const BLOCKS = 65535; // the last block would reach the invalid id 2^32-1

/** Blocks in use by the instances under `instancesDir`. */
export function usedBlocks(instancesDir: string): Set<number> {
  const used = new Set<number>();
  let ids: string[] = [];
  try {
    ids = readdirSync(instancesDir);
  } catch {}
  for (const id of ids) {
    const text = readOptional(join(instancesDir, id, 'spec.json'));
    const map = text ? (JSON.parse(text) as StoredSpec).idmap : undefined;
    if (map) used.add(Math.floor(map.hostId / IDMAP_SIZE));
  }
  return used;
}

/** A free block for a new container; `taken` holds blocks of creates in flight. */
export function allocateIdMap(root: string, used: ReadonlySet<number>): IdMap {
  const hash = createHash('sha256').update(root).digest();
  const start = FIRST_BLOCK + (hash.readUInt16BE(0) % 1024) * 32;
  const span = BLOCKS - FIRST_BLOCK;
  for (let i = 0; i < span; i++) {
    const block = FIRST_BLOCK + ((start - FIRST_BLOCK + i) % span);
    if (!used.has(block)) return { hostId: block * IDMAP_SIZE, size: IDMAP_SIZE };
  }
  throw new TandemError('insufficient_resources', 'no free user-namespace range left');
}
