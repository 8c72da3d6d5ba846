/** The tar reader against archives written by GNU tar (gnu and pax formats) and by hand. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { isTandemError } from '../base/errors.js';
import { parsePax, readTar, StreamByteSource, type TarHeader } from './tar-reader.js';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'images-tar-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

async function entries(tar: Buffer): Promise<(TarHeader & { data: string })[]> {
  const chunks = (async function* () {
    for (let i = 0; i < tar.length; i += 700) yield tar.subarray(i, i + 700); // odd chunk sizes
  })();
  const out: (TarHeader & { data: string })[] = [];
  for await (const e of readTar(new StreamByteSource(chunks))) {
    const parts: Buffer[] = [];
    for await (const c of e.body()) parts.push(c);
    out.push({ ...e.header, data: Buffer.concat(parts).toString() });
  }
  return out;
}

it('reads GNU long names, base-256 ids and every entry type', async () => {
  const src = join(work, 'src');
  const long = `${'n'.repeat(150)}/${'m'.repeat(150)}`;
  await mkdir(join(src, 'n'.repeat(150)), { recursive: true });
  await writeFile(join(src, long), 'long body');
  execFileSync('sh', ['-c', `cd ${src} && ln -s ${'t'.repeat(200)} sym && mkfifo fifo && ln ${long} hard`]);
  const tar = execFileSync('tar', [
    '--format=gnu',
    '--owner=:3000000',
    '--group=:7',
    '-C',
    src,
    '-cf',
    '-',
    '.',
  ]);
  const got = await entries(tar);
  const byName = new Map(got.map((e) => [e.name.replace(/^\.\//, ''), e]));
  assert.equal(byName.get(long)?.data, 'long body');
  assert.equal(byName.get(long)?.uid, 3000000);
  assert.equal(byName.get(long)?.gid, 7);
  assert.equal(byName.get('sym')?.type, 'symlink');
  assert.equal(byName.get('sym')?.linkname, 't'.repeat(200));
  assert.equal(byName.get('fifo')?.type, 'fifo');
  assert.equal(byName.get('hard')?.type, 'link');
  assert.equal(byName.get(`${'n'.repeat(150)}/`)?.type, 'directory');
});

it('keeps binary pax values and refuses truncated archives', async () => {
  const value = Buffer.from([0x01, 0x00, 0x00, 0x02, 0xff, 0xfe, 0x80]);
  const rec = Buffer.concat([Buffer.from(' SCHILY.xattr.security.capability='), value, Buffer.from('\n')]);
  const len = rec.length + String(rec.length + 3).length;
  const pax = parsePax(Buffer.concat([Buffer.from(String(len)), rec]));
  assert.deepEqual(pax.get('SCHILY.xattr.security.capability'), value);
  const tar = execFileSync('tar', ['-C', work, '-cf', '-', 'src']);
  await assert.rejects(
    entries(tar.subarray(0, 1000)),
    (e) => isTandemError(e, 'invalid_argument') && /truncated/.test((e as Error).message),
  );
});
