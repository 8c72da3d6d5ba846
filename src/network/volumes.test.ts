import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryStore } from '../stores/memory/memory-store.js';
import { LocalVolumes } from './volumes.js';

describe('volumes', () => {
  const root = mkdtempSync(join(tmpdir(), 'tandem-vol-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const users = new Map<string, string[]>();
  const vols = new LocalVolumes({ root, store: new MemoryStore(), usedBy: async (n) => users.get(n) ?? [] });

  it('creates, lists, resolves (creating on first use) and removes', async () => {
    const v = await vols.create('data');
    assert.equal(v.path, join(root, 'data', '_data'));
    assert.ok(existsSync(v.path));
    await assert.rejects(vols.create('data'), { kind: 'already_exists' });
    await assert.rejects(vols.create('Bad_Name'), { kind: 'invalid_argument' });
    assert.equal(await vols.resolve('data'), v.path);
    const auto = await vols.resolve('auto');
    assert.ok(existsSync(auto));
    assert.deepEqual(
      (await vols.list()).map((x) => x.name),
      ['auto', 'data'],
    );
    writeFileSync(join(v.path, 'f'), 'x');
    await vols.remove('data');
    assert.ok(!existsSync(join(root, 'data')));
    await assert.rejects(vols.remove('data'), { kind: 'not_found' });
  });

  it('refuses to remove a volume in use', async () => {
    await vols.create('busy');
    users.set('busy', ['web']);
    await assert.rejects(vols.remove('busy'), { kind: 'conflict', message: /in use by instance "web"/ });
    users.delete('busy');
    await vols.remove('busy');
  });
});
