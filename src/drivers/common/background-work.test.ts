import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../base/log.js';
import { BackgroundWork } from './background-work.js';

const dir = mkdtempSync(join(tmpdir(), 'tandem-bg-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function tree(name: string): string {
  const root = join(dir, name);
  for (let i = 0; i < 20; i++) {
    mkdirSync(join(root, `d${i}`, 'deep'), { recursive: true });
    writeFileSync(join(root, `d${i}`, 'deep', 'f'), 'x'.repeat(1000));
  }
  return root;
}

describe('background work', () => {
  it('removes trees off the event loop; settle waits for them; close stops the remover', async () => {
    const bg = new BackgroundWork(createLogger({ level: 'silent' }));
    const trees = ['a', 'b', 'c'].map(tree);
    bg.removeDirs(...trees, join(dir, 'never-existed'));
    await bg.settle();
    for (const t of trees) assert.equal(existsSync(t), false, `${t} removed`);
    await bg.close();
    // usable again after close: a new remover starts
    const again = tree('d');
    bg.removeDirs(again);
    await bg.close();
    assert.equal(existsSync(again), false);
  });

  it('logs a failure with what was being done', async () => {
    const warned: unknown[] = [];
    const log = createLogger({ level: 'silent' });
    log.warn = ((obj: unknown, msg: string) => warned.push([obj, msg])) as typeof log.warn;
    const bg = new BackgroundWork(log);
    bg.add('copying a record', Promise.reject(new Error('disk full')));
    await bg.close();
    assert.equal(warned.length, 1);
    assert.equal((warned[0] as [unknown, string])[1], 'copying a record');
  });
});
