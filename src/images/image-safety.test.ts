/**
 * Hostile and corrupt images: each is refused (or made harmless), nothing is written outside
 * the store, and a failed import leaves no image, no layer dir and no scratch files behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isTandemError } from '../base/errors.js';
import { MemoryStore } from '../stores/memory/memory-store.js';
import { sha256 } from './image-config.js';
import {
  blobsOf,
  dockerArchive,
  type FixtureEntry,
  sampleImage,
  tarOf,
  writeOciLayout,
} from './image-fixtures.js';
import { LocalImageStore } from './image-store.js';

let work: string;
let outside: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'images-safety-'));
  outside = await mkdtemp(join(tmpdir(), 'images-outside-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

async function fresh() {
  const root = await mkdtemp(join(work, 'store-'));
  const store = new MemoryStore();
  return { root, store, images: new LocalImageStore({ root, store }) };
}

/** Asserts that the store holds nothing and that nothing was written outside it. */
async function assertNothingLeft(root: string, store: MemoryStore): Promise<void> {
  assert.deepEqual(await readdir(outside), [], 'nothing written outside the store');
  assert.deepEqual(await readdir(join(root, 'layers')), [], 'no layer dir left');
  assert.deepEqual(await readdir(join(root, 'tmp')), [], 'no scratch left');
  assert.deepEqual(await store.list('images'), []);
  assert.deepEqual(await store.list('layers'), []);
}

async function importLayer(entries: FixtureEntry[][], name = 'hostile') {
  const { images, root, store } = await fresh();
  const dir = await mkdtemp(join(work, 'layout-'));
  await writeOciLayout(dir, { layers: entries });
  return { result: images.import(name, dir), images, root, store };
}

const refused = (e: unknown) => isTandemError(e, 'invalid_argument');

describe('hostile archives', () => {
  it('refuses an entry written through a symlink (evil -> outside, then evil/pwned)', async () => {
    const { result, root, store } = await importLayer([
      [
        { name: 'evil', type: 'symlink', linkname: outside },
        { name: 'evil/pwned', content: 'pwned' },
      ],
    ]);
    await assert.rejects(result, (e) => refused(e) && /goes through "evil"/.test((e as Error).message));
    await assertNothingLeft(root, store);
  });

  it('refuses ../ paths that leave the layer', async () => {
    const deep = `${'../'.repeat(12)}${outside.slice(1)}/pwned`;
    for (const name of [deep, 'a/../../pwned', '../pwned']) {
      const { result, root, store } = await importLayer([[{ name, content: 'pwned' }]]);
      await assert.rejects(result, (e) => refused(e) && /leaves the layer/.test((e as Error).message));
      await assertNothingLeft(root, store);
    }
  });

  it('keeps absolute paths inside the layer', async () => {
    const { result, images, root } = await importLayer([[{ name: `${outside}/pwned`, content: 'inside' }]]);
    await result;
    assert.deepEqual(await readdir(outside), []);
    const [dir] = await images.layerPaths('hostile');
    assert.equal(await readFile(join(dir, outside, 'pwned'), 'utf8'), 'inside');
    assert.ok(dir.startsWith(root));
  });

  it('refuses hard links that point outside the layer, absolutely, or through a symlink', async () => {
    await writeFile(join(outside, 'secret'), 'secret');
    const cases: FixtureEntry[][] = [
      [{ name: 'h', type: 'link', linkname: `${'../'.repeat(12)}${outside.slice(1)}/secret` }],
      [{ name: 'h', type: 'link', linkname: `${outside}/secret` }],
      [
        { name: 'evil', type: 'symlink', linkname: outside },
        { name: 'h', type: 'link', linkname: 'evil/secret' },
      ],
      [
        { name: 'evil', type: 'symlink', linkname: `${outside}/secret` },
        { name: 'h', type: 'link', linkname: 'evil' },
        { name: 'h', content: 'overwrite' },
      ],
    ];
    for (const [i, layer] of cases.entries()) {
      const { result, root, store } = await importLayer([layer]);
      if (i < 3) {
        await assert.rejects(result, refused, `case ${i}`);
        assert.deepEqual(await readdir(join(root, 'layers')), []);
        assert.deepEqual(await store.list('images'), []);
      } else await result; // a link to a symlink is a link to the symlink itself; replacing it writes nothing outside
      assert.equal(await readFile(join(outside, 'secret'), 'utf8'), 'secret');
      assert.equal(
        (await stat(join(outside, 'secret'))).nlink,
        1,
        `case ${i}: no new link to the outside file`,
      );
    }
    await rm(join(outside, 'secret'));
  });

  it('replaces a symlink instead of writing through it', async () => {
    const { result, images } = await importLayer([
      [
        { name: 'evil', type: 'symlink', linkname: `${outside}/file` },
        { name: 'evil', content: 'replaced' },
        { name: 'dir', type: 'symlink', linkname: outside },
        { name: 'dir/', type: 'directory' },
        { name: 'dir/inner', content: 'inner' },
      ],
    ]);
    await result;
    assert.deepEqual(await readdir(outside), []);
    const [dir] = await images.layerPaths('hostile');
    assert.equal(await readFile(join(dir, 'evil'), 'utf8'), 'replaced');
    assert.equal((await lstat(join(dir, 'dir'))).isDirectory(), true);
  });

  it('keeps layers apart: a symlink in a lower layer is not followed by a higher one', async () => {
    const { result, images } = await importLayer([
      [{ name: 'evil', type: 'symlink', linkname: outside }],
      [{ name: 'evil/pwned', content: 'pwned' }],
    ]);
    await result;
    assert.deepEqual(await readdir(outside), []);
    const [, top] = await images.layerPaths('hostile');
    assert.equal(await readFile(join(top, 'evil/pwned'), 'utf8'), 'pwned');
  });

  it('creates no device nodes from an archive', async () => {
    const { result, images } = await importLayer([
      [
        { name: 'dev/' },
        { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
        { name: 'etc/' },
        { name: 'etc/mem', type: 'character-device', devmajor: 1, devminor: 1 },
        { name: 'etc/fake-whiteout', type: 'character-device', devmajor: 0, devminor: 0 },
        { name: 'etc/ok', content: 'ok' },
      ],
    ]);
    await result;
    const [dir] = await images.layerPaths('hostile');
    assert.deepEqual(await readdir(join(dir, 'dev')), []);
    assert.deepEqual(await readdir(join(dir, 'etc')), ['ok']);
  });

  it('refuses xattrs that would steer overlayfs', async () => {
    const { result, images } = await importLayer([
      [{ name: 'd/', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.user.ok': 'fine' } }],
    ]);
    await result;
    const [dir] = await images.layerPaths('hostile');
    const attrs = execFileSync('getfattr', ['-h', '-d', '-m', '-', join(dir, 'd')], { encoding: 'utf8' });
    assert.match(attrs, /user\.ok="fine"/);
    assert.doesNotMatch(attrs, /trusted/);
  });
});

describe('corrupt images', () => {
  it('refuses a layer blob whose content does not match its digest, leaving nothing (the good layer is undone)', async () => {
    const { images, root, store } = await fresh();
    const dir = await mkdtemp(join(work, 'layout-'));
    const blobs = await writeOciLayout(dir, sampleImage(['gzip', 'gzip']));
    const other = execFileSync('gzip', ['-c'], { input: await tarOf([{ name: 'x', content: 'tampered' }]) });
    await writeFile(join(dir, 'blobs/sha256', sha256(blobs.blobs[1]).slice(7)), other);
    await assert.rejects(
      images.import('corrupt', dir),
      (e) => refused(e) && /layer 2\/2 .*digest mismatch/.test((e as Error).message),
    );
    await assertNothingLeft(root, store);
  });

  it('refuses a layer whose diff id does not match the config', async () => {
    const { images, root, store } = await fresh();
    const blobs = await blobsOf(sampleImage(['none', 'none']));
    const tampered = await tarOf([{ name: 'x', content: 'tampered' }]);
    blobs.tars[1] = tampered; // docker-archives carry no blob digests: only the diff id can catch this
    await writeFile(join(work, 'tampered.tar'), await dockerArchive(blobs));
    await assert.rejects(
      images.import('corrupt', join(work, 'tampered.tar')),
      (e) => refused(e) && /diff id: digest mismatch/.test((e as Error).message),
    );
    await assertNothingLeft(root, store);
  });

  it('refuses a manifest or config that does not match its digest', async () => {
    const { images, root, store } = await fresh();
    const dir = await mkdtemp(join(work, 'layout-'));
    const blobs = await writeOciLayout(dir, sampleImage());
    await writeFile(
      join(dir, 'blobs/sha256', sha256(blobs.config).slice(7)),
      blobs.config.toString().replace('hello', 'HELLO'),
    );
    await assert.rejects(
      images.import('corrupt', dir),
      (e) => refused(e) && /config .*digest mismatch/.test((e as Error).message),
    );
    await assertNothingLeft(root, store);
  });

  it('refuses truncated and non-tar input', async () => {
    const { images, root, store } = await fresh();
    const good = execFileSync('gzip', ['-c'], {
      input: await tarOf([{ name: 'a', content: 'x'.repeat(100000) }]),
    });
    await writeFile(join(work, 'truncated.tar.gz'), good.subarray(0, good.length / 2));
    await assert.rejects(images.import('t', join(work, 'truncated.tar.gz')), refused);
    await writeFile(join(work, 'garbage.tar'), Buffer.alloc(4096, 7));
    await assert.rejects(
      images.import('g', join(work, 'garbage.tar')),
      (e) => refused(e) && /not a tar/.test((e as Error).message),
    );
    await assertNothingLeft(root, store);
  });

  it('stops when cancelled, leaving nothing', async () => {
    const { images, root, store } = await fresh();
    const dir = await mkdtemp(join(work, 'layout-'));
    await writeOciLayout(dir, sampleImage());
    const ac = new AbortController();
    const result = images.import('cancelled', dir, { signal: ac.signal, onProgress: () => ac.abort() });
    await assert.rejects(
      result,
      (e) => isTandemError(e, 'unavailable') && /cancelled/.test((e as Error).message),
    );
    await assertNothingLeft(root, store);
  });
});
