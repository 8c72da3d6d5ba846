import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { capLog, readLog, tailLines } from './log-file.js';

describe('log files', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vm-log-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('tails the last lines', () => {
    assert.equal(tailLines(Buffer.from('a\nb\nc\n'), 2).toString(), 'b\nc\n');
    assert.equal(tailLines(Buffer.from('a\nb\nc'), 1).toString(), 'c');
    assert.equal(tailLines(Buffer.from('a\nb\n'), 5).toString(), 'a\nb\n');
    assert.equal(tailLines(Buffer.from('a\n'), 0).toString(), '');
  });

  it('caps a file to its last half', async () => {
    const f = join(dir, 'cap.log');
    await writeFile(f, 'x'.repeat(900) + 'y'.repeat(100));
    await capLog(f, 400);
    const left = await readFile(f, 'utf8');
    assert.equal(left, 'x'.repeat(100) + 'y'.repeat(100));
    await capLog(f, 400);
    assert.equal((await readFile(f, 'utf8')).length, 200);
  });

  it('follows a growing file until the writer is done', async () => {
    const f = join(dir, 'follow.log');
    await writeFile(f, 'one\n');
    let active = true;
    const got: string[] = [];
    const reader = (async () => {
      for await (const c of readLog(f, { follow: true, active: async () => active })) got.push(c.toString());
    })();
    await new Promise((r) => setTimeout(r, 150));
    await appendFile(f, 'two\n');
    await new Promise((r) => setTimeout(r, 250));
    active = false;
    await reader;
    assert.equal(got.join(''), 'one\ntwo\n');
  });
});
