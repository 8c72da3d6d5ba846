/**
 * The image store against real files (as root: ownership, whiteout devices, trusted xattrs)
 * with an in-memory metadata store. Images are made by the tests themselves.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isTandemError } from '../base/errors.js';
import type { ImportProgress } from '../core/image.js';
import { MemoryStore } from '../stores/memory/memory-store.js';
import { blobsOf, dockerArchive, ociArchive, sampleImage, tarOf, writeOciLayout } from './image-fixtures.js';
import { LocalImageStore } from './image-store.js';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'images-unit-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

async function fresh(opts: { inUse?: (n: string) => boolean } = {}) {
  const root = await mkdtemp(join(work, 'store-'));
  const store = new MemoryStore();
  return { root, store, images: new LocalImageStore({ root, store, ...opts }) };
}

const xattr = (path: string, name: string) =>
  execFileSync('getfattr', ['-h', '--only-values', '-n', name, path], { encoding: 'utf8' });

async function isWhiteout(path: string): Promise<boolean> {
  const st = await lstat(path);
  return st.isCharacterDevice() && st.rdev === 0;
}

describe('import formats', () => {
  it('imports an OCI layout: two layers, whiteout, opaque dir, config', async () => {
    const { images, store } = await fresh();
    const dir = join(work, 'layout-1');
    const blobs = await writeOciLayout(dir, sampleImage());
    const progress: ImportProgress[] = [];
    const img = await images.import('sample', dir, { onProgress: (p) => progress.push(p) });
    assert.equal(img.source, 'oci-layout');
    assert.equal(img.digest, blobs.manifestDigest);
    assert.deepEqual(
      img.layers.map((l) => l.diffId),
      blobs.diffIds,
    );
    assert.deepEqual(img.config.cmd, ['/bin/tool']);
    assert.deepEqual(img.config.env, ['PATH=/bin', 'GREETING=hello']);
    assert.equal(img.config.workingDir, '/data');
    assert.deepEqual(img.config.exposedPorts, ['80/tcp']);
    assert.deepEqual(img.config.labels, { test: 'yes' });
    const [base, top] = await images.layerPaths('sample');
    assert.equal(await readFile(join(base, 'etc/gone'), 'utf8'), 'deleted by the top layer\n');
    assert.equal((await stat(join(base, 'bin/tool'))).mode & 0o7777, 0o4755);
    assert.equal((await lstat(join(base, 'bin/tool-link'))).isSymbolicLink(), true);
    assert.equal(await isWhiteout(join(top, 'etc/gone')), true);
    assert.equal(xattr(join(top, 'data'), 'trusted.overlay.opaque'), 'y');
    assert.deepEqual((await readdir(join(top, 'data'))).sort(), ['new']);
    assert.equal(progress.at(-1)?.done, progress.at(-1)?.total);
    assert.ok(progress.every((p) => p.unit === 'bytes'));
    assert.deepEqual(await store.get('images', 'sample'), img);
    assert.equal((await store.list('layers')).length, 2);
  });

  it('imports the same image as an OCI archive and as a docker-archive, sharing its layers', async () => {
    const { images, root } = await fresh();
    const blobs = await blobsOf(sampleImage(['none', 'gzip']));
    await writeFile(join(work, 'oci.tar'), await ociArchive(blobs));
    await writeFile(join(work, 'docker.tar'), await dockerArchive(blobs));
    const a = await images.import('oci', join(work, 'oci.tar'));
    const b = await images.import('docker', join(work, 'docker.tar'));
    assert.equal(a.source, 'oci-archive');
    assert.equal(b.source, 'docker-archive');
    assert.deepEqual(b.config.cmd, ['/bin/tool']);
    assert.deepEqual(await images.layerPaths('oci'), await images.layerPaths('docker'));
    assert.equal((await readdir(join(root, 'layers'))).length, 2);
  });

  it('imports a gzipped docker-archive and a rootfs tar.gz', async () => {
    const { images } = await fresh();
    const blobs = await blobsOf(sampleImage());
    execFileSync('gzip', ['-c'], { input: await dockerArchive(blobs) });
    await writeFile(
      join(work, 'docker.tar.gz'),
      execFileSync('gzip', ['-c'], { input: await dockerArchive(blobs) }),
    );
    const d = await images.import('docker-gz', join(work, 'docker.tar.gz'));
    assert.equal(d.source, 'docker-archive');
    const rootfs = await tarOf([
      { name: './' },
      { name: './bin/' },
      { name: './bin/sh', content: 'x', mode: 0o755 },
    ]);
    await writeFile(join(work, 'rootfs.tar.gz'), execFileSync('gzip', ['-c'], { input: rootfs }));
    const r = await images.import('rootfs', join(work, 'rootfs.tar.gz'));
    assert.equal(r.source, 'rootfs-tar');
    assert.equal(r.layers.length, 1);
    assert.match(r.config.env[0], /^PATH=/);
    assert.equal(r.config.cmd, undefined);
    const [dir] = await images.layerPaths('rootfs');
    assert.equal(await readFile(join(dir, 'bin/sh'), 'utf8'), 'x');
    assert.equal((await stat(dir)).mode & 0o777, 0o755);
  });

  it('keeps ownership, setuid, hard links, fifos, long names and binary xattrs written by GNU tar', async () => {
    const { images } = await fresh();
    const src = join(work, 'gnu-src');
    const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
    await mkdir(join(src, 'd'.repeat(120)), { recursive: true });
    await writeFile(join(src, long), 'long');
    await writeFile(join(src, 'ping'), 'binary');
    execFileSync('sh', [
      '-c',
      `cd ${src} && chown 1234:5678 ping && chmod 4750 ping && ln ping ping-hard && mkfifo pipe && ln -s /etc/passwd abs-link &&
       setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 ping &&
       setfattr -n user.note -v hello ping && setfattr -n trusted.evil -v 1 ping`,
    ]);
    execFileSync('tar', [
      '--xattrs',
      '--xattrs-include=*',
      '--format=pax',
      '-C',
      src,
      '-cf',
      join(work, 'gnu.tar'),
      '.',
    ]);
    await images.import('gnu', join(work, 'gnu.tar'));
    const [dir] = await images.layerPaths('gnu');
    const st = await stat(join(dir, 'ping'));
    assert.equal(st.uid, 1234);
    assert.equal(st.gid, 5678);
    assert.equal(st.mode & 0o7777, 0o4750);
    assert.equal((await stat(join(dir, 'ping-hard'))).ino, st.ino);
    assert.equal((await lstat(join(dir, 'pipe'))).isFIFO(), true);
    assert.equal(await readFile(join(dir, long), 'utf8'), 'long');
    const caps = execFileSync('getfattr', ['-e', 'hex', '-n', 'security.capability', join(dir, 'ping')], {
      encoding: 'utf8',
    });
    assert.match(caps, /0x0100000200200000000000000000000000000000/);
    assert.equal(xattr(join(dir, 'ping'), 'user.note'), 'hello');
    assert.throws(() => xattr(join(dir, 'ping'), 'trusted.evil'));
  });
});

describe('layer sharing and removal', () => {
  const base = [{ name: 'base/' }, { name: 'base/file', content: 'base' }];
  const image = (top: string) => ({
    layers: [base, [{ name: `${top}`, content: top }]],
    config: { Cmd: ['/bin/sh'] },
  });

  it('stores a shared base layer once and frees it only when unreferenced', async () => {
    const { images, root, store } = await fresh();
    await writeOciLayout(join(work, 'share-a'), image('a'));
    await writeOciLayout(join(work, 'share-b'), image('b'));
    await images.import('a', join(work, 'share-a'));
    await images.import('b', join(work, 'share-b'));
    const layers = () => readdir(join(root, 'layers'));
    assert.equal((await layers()).length, 3);
    const [baseA] = await images.layerPaths('a');
    assert.equal((await images.layerPaths('b'))[0], baseA);
    await images.remove('a');
    assert.equal((await layers()).length, 2);
    for (const p of await images.layerPaths('b')) await stat(p);
    assert.equal(await readFile(join(baseA, 'base/file'), 'utf8'), 'base');
    await images.remove('b');
    assert.deepEqual(await layers(), []);
    assert.deepEqual(await store.list('layers'), []);
    assert.deepEqual(await images.list(), []);
  });

  it('refuses duplicates, bad names, missing images, and images in use', async () => {
    const { images } = await fresh({ inUse: (n) => n === 'busy' });
    await writeOciLayout(join(work, 'dup'), image('x'));
    await images.import('busy', join(work, 'dup'));
    await assert.rejects(images.import('busy', join(work, 'dup')), (e) => isTandemError(e, 'already_exists'));
    await assert.rejects(images.import('Bad_Name', join(work, 'dup')), (e) =>
      isTandemError(e, 'invalid_argument'),
    );
    await assert.rejects(images.remove('nope'), (e) => isTandemError(e, 'not_found'));
    await assert.rejects(images.layerPaths('nope'), (e) => isTandemError(e, 'not_found'));
    await assert.rejects(images.remove('busy'), (e) => isTandemError(e, 'conflict'));
    assert.ok(await images.get('busy'));
    await assert.rejects(images.import('missing', join(work, 'no-such-file')), (e) =>
      isTandemError(e, 'not_found'),
    );
  });

  it('recovers from a crash: scratch space and unreferenced layer dirs are removed', async () => {
    const { images, root, store } = await fresh();
    await writeOciLayout(join(work, 'crash'), image('c'));
    await images.import('kept', join(work, 'crash'));
    await mkdir(join(root, 'tmp/layer-half'), { recursive: true });
    await mkdir(join(root, 'layers', 'f'.repeat(64)), { recursive: true });
    const again = new LocalImageStore({ root, store });
    await again.recover();
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    assert.equal((await readdir(join(root, 'layers'))).length, 2);
    for (const p of await again.layerPaths('kept')) await stat(p);
  });

  it('lets concurrent imports of one image share its layers, and a removal meanwhile keeps them', async () => {
    const { images, root, store } = await fresh();
    await writeOciLayout(join(work, 'conc-1'), image('c1'));
    await images.import('first', join(work, 'conc-1'));
    const names = ['p1', 'p2', 'p3'];
    await Promise.all([...names.map((n) => images.import(n, join(work, 'conc-1'))), images.remove('first')]);
    assert.deepEqual(
      (await images.list()).map((i) => i.name),
      names,
    );
    assert.equal((await readdir(join(root, 'layers'))).length, 2);
    assert.equal((await store.list('layers')).length, 2);
    for (const n of names) for (const p of await images.layerPaths(n)) await stat(p);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
  });
});
