import assert from 'node:assert/strict';
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { appendFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sleep } from '../../base/time.js';
import { lastLines, readLog } from './log-file.js';

async function all(it: AsyncIterable<Buffer>): Promise<string> {
  let s = '';
  for await (const c of it) s += c.toString();
  return s;
}

describe('log files with rotation', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tandem-log-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('takes the last lines', () => {
    const b = Buffer.from('a\nb\nc\n');
    assert.equal(lastLines(b, 2).toString(), 'b\nc\n');
    assert.equal(lastLines(b, 5).toString(), 'a\nb\nc\n');
    assert.equal(lastLines(Buffer.from('a\nb\nc'), 1).toString(), 'c');
    assert.equal(lastLines(b, 0).toString(), '');
  });

  it('reads the rotated file first, then the current one, and tails across both', async () => {
    const p = join(dir, 'a.log');
    assert.equal(await all(readLog(p)), '', 'a missing log is empty');
    await writeFile(`${p}.1`, 'one\ntwo\n');
    await writeFile(p, 'three\nfour\n');
    assert.equal(await all(readLog(p)), 'one\ntwo\nthree\nfour\n');
    assert.equal(await all(readLog(p, { tail: 3 })), 'two\nthree\nfour\n');
  });

  it('follows through a rotation and ends when the writer is done', async () => {
    const p = join(dir, 'b.log');
    await writeFile(p, 'first\n');
    let writerDone = false;
    const reading = all(readLog(p, { follow: true, pollMs: 50, until: () => writerDone }));
    await sleep(80);
    await appendFile(p, 'second\n');
    await sleep(80);
    await rename(p, `${p}.1`);
    await writeFile(p, 'third\n');
    await sleep(80);
    await appendFile(p, 'fourth\n');
    writerDone = true;
    assert.equal(await reading, 'first\nsecond\nthird\nfourth\n');
  });

  it('catches up through the older file when two rotations happen between reads', async () => {
    const p = join(dir, 'd.log');
    writeFileSync(p, 'a\n');
    let writerDone = false;
    const reading = all(readLog(p, { follow: true, pollMs: 200, until: () => writerDone }));
    await sleep(50);
    appendFileSync(p, 'b\n');
    renameSync(p, `${p}.1`);
    writeFileSync(p, 'c\n');
    renameSync(p, `${p}.1`);
    writeFileSync(p, 'd\n');
    writerDone = true;
    assert.equal(await reading, 'a\nb\nc\nd\n');
  });

  it('stops following on abort', async () => {
    const p = join(dir, 'c.log');
    await writeFile(p, 'x\n');
    const ac = new AbortController();
    const reading = all(readLog(p, { follow: true, signal: ac.signal }));
    await sleep(50);
    ac.abort();
    assert.equal(await reading, 'x\n');
  });
});
