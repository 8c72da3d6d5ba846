/**
 * Named volumes (core/network.ts `VolumeService`): a record in the store's `volumes` collection
 * and a directory `<root>/<name>/_data` that outlives the instances mounting it. `resolve`
 * creates a volume on first use, as Podman does. Removing a volume that an instance mounts is a
 * conflict (the daemon tells which instances use it through `usedBy`).
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isTandemError, TandemError } from '../base/errors.js';
import { isValidName } from '../base/ids.js';
import { nowIso } from '../base/time.js';
import type { VolumeInfo, VolumeService } from '../core/network.js';
import type { Store } from '../core/store.js';

export interface LocalVolumesOptions {
  /** Where volume directories live (`<state-dir>/volumes`). */
  root: string;
  store: Store;
  /** Names of the instances that mount volume `name` (removal is a conflict while any does). */
  usedBy: (name: string) => Promise<string[]>;
}

export class LocalVolumes implements VolumeService {
  constructor(private readonly opts: LocalVolumesOptions) {}

  async list(): Promise<VolumeInfo[]> {
    return this.opts.store.list<VolumeInfo>('volumes');
  }

  async create(name: string): Promise<VolumeInfo> {
    if (!isValidName(name))
      throw new TandemError(
        'invalid_argument',
        `invalid volume name "${name}": use lowercase letters, digits and inner dashes`,
      );
    const info: VolumeInfo = { name, path: join(this.opts.root, name, '_data'), createdAt: nowIso() };
    mkdirSync(info.path, { recursive: true, mode: 0o755 });
    try {
      await this.opts.store.commit([{ op: 'create', collection: 'volumes', key: name, value: info }]);
    } catch (err) {
      if (isTandemError(err, 'already_exists'))
        throw new TandemError('already_exists', `volume "${name}" already exists`);
      throw err;
    }
    return info;
  }

  async remove(name: string): Promise<void> {
    const info = await this.opts.store.get<VolumeInfo>('volumes', name);
    if (!info) throw new TandemError('not_found', `volume "${name}" not found`);
    const users = await this.opts.usedBy(name);
    if (users.length)
      throw new TandemError(
        'conflict',
        `volume "${name}" is in use by instance ${users.map((u) => `"${u}"`).join(', ')}`,
      );
    await this.opts.store.commit([{ op: 'delete', collection: 'volumes', key: name }]);
    const dir = join(this.opts.root, name);
    const doomed = `${dir}.removing-${Date.now()}`;
    try {
      renameSync(dir, doomed);
    } catch {
      return;
    }
    rmSync(doomed, { recursive: true, force: true });
  }

  async resolve(name: string): Promise<string> {
    const info = await this.opts.store.get<VolumeInfo>('volumes', name);
    if (info) {
      mkdirSync(info.path, { recursive: true, mode: 0o755 });
      return info.path;
    }
    try {
      return (await this.create(name)).path;
    } catch (err) {
      if (!isTandemError(err, 'already_exists')) throw err;
      return (await this.opts.store.get<VolumeInfo>('volumes', name))!.path;
    }
  }
}
