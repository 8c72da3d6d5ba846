/**
 * Imported layers stacked by overlayfs (as the container driver stacks them) give the image's
 * merged view: the whiteout hides the deleted file, the opaque directory hides the lower one's
 * contents, symlinks and setuid bits survive. Needs root and overlayfs.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import {
  blobsOf,
  dockerArchive,
  ociArchive,
  sampleImage,
  writeOciLayout,
} from '../../src/images/image-fixtures.js';
import { LocalImageStore } from '../../src/images/image-store.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';

let work: string;
const mounted: string[] = [];
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'images-overlay-'));
});
after(async () => {
  for (const m of mounted.reverse()) execFileSync('umount', [m]);
  await rm(work, { recursive: true, force: true });
});

async function mountImage(lowers: string[], withUpper: boolean): Promise<string> {
  const base = await mkdtemp(join(work, 'mnt-'));
  const merged = join(base, 'merged');
  await mkdir(merged);
  let opts = `lowerdir=${[...lowers].reverse().join(':')}`;
  if (withUpper) {
    await mkdir(join(base, 'upper'));
    await mkdir(join(base, 'work'));
    opts += `,upperdir=${join(base, 'upper')},workdir=${join(base, 'work')}`;
  }
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', opts, merged]);
  mounted.push(merged);
  return merged;
}

async function checkMergedView(merged: string): Promise<void> {
  assert.deepEqual((await readdir(join(merged, 'etc'))).sort(), ['keep']);
  assert.equal(await readFile(join(merged, 'etc/keep'), 'utf8'), 'kept\n');
  assert.deepEqual(await readdir(join(merged, 'data')), ['new']);
  assert.equal((await stat(join(merged, 'bin/tool'))).mode & 0o7777, 0o4755);
  assert.equal((await lstat(join(merged, 'bin/tool-link'))).isSymbolicLink(), true);
}

it('stacks an imported OCI layout, OCI archive and docker-archive into the right merged view', async () => {
  const store = new MemoryStore();
  const images = new LocalImageStore({ root: join(work, 'store'), store });
  const blobs = await blobsOf(sampleImage());
  await writeOciLayout(join(work, 'layout'), blobs);
  await writeFile(join(work, 'oci.tar'), await ociArchive(blobs));
  await writeFile(join(work, 'docker.tar'), await dockerArchive(blobs));
  await images.import('layout', join(work, 'layout'));
  await images.import('archive', join(work, 'oci.tar'));
  await images.import('docker', join(work, 'docker.tar'));
  for (const name of ['layout', 'archive', 'docker']) {
    const lowers = await images.layerPaths(name);
    assert.equal(lowers.length, 2);
    await checkMergedView(await mountImage(lowers, false));
  }
  // With a writable upper layer, as a container sees it: changes go up, the layers stay untouched.
  const merged = await mountImage(await images.layerPaths('layout'), true);
  await checkMergedView(merged);
  await writeFile(join(merged, 'etc/gone'), 'back');
  await rm(join(merged, 'etc/keep'));
  const [bottom, top] = await images.layerPaths('layout');
  assert.equal(await readFile(join(bottom, 'etc/keep'), 'utf8'), 'kept\n');
  assert.equal((await lstat(join(top, 'etc/gone'))).isCharacterDevice(), true);
});
