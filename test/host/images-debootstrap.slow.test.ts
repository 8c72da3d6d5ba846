/**
 * SLOW (about a minute; needs Debian's mirror): `image build --from debian:bookworm --package
 * curl` with debootstrap; `curl --version` runs in the result. Also: a cancelled debootstrap
 * leaves no image, no layer, no scratch and no mount behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { isTandemError } from '../../src/base/errors.js';
import { LocalImageStore } from '../../src/images/image-store.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'images-debootstrap-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

it('builds debian:bookworm with curl, and curl runs in it', async () => {
  const images = new LocalImageStore({ root: join(work, 'store'), store: new MemoryStore() });
  const steps: string[] = [];
  const img = await images.build('deb', {
    from: 'debian:bookworm',
    packages: ['curl'],
    onProgress: (p) => steps.push(p.step),
  });
  assert.equal(img.source, 'build:debian:bookworm');
  assert.deepEqual(img.config.cmd, ['bash']);
  assert.ok(
    steps.some((s) => /Retrieving|Unpacking/.test(s)),
    'debootstrap steps reported',
  );
  const [root] = await images.layerPaths('deb');
  const out = execFileSync('chroot', [root, 'curl', '--version'], { encoding: 'utf8' });
  assert.match(out, /^curl \d+\.\d+/);
  assert.match(await readFile(join(root, 'etc/os-release'), 'utf8'), /bookworm/);
  assert.deepEqual(
    (await readdir(join(root, 'var/cache/apt/archives'))).filter((f) => f.endsWith('.deb')),
    [],
  );
  assert.equal(
    execFileSync('sh', ['-c', `grep -c ' ${work}' /proc/self/mountinfo || true`], {
      encoding: 'utf8',
    }).trim(),
    '0',
  );
});

it('cancels a debootstrap build and leaves nothing', async () => {
  const store = new MemoryStore();
  const root = join(work, 'cancel');
  const images = new LocalImageStore({ root, store });
  const ac = new AbortController();
  // Abort while packages are being configured inside the target, when /proc is mounted there.
  const onProgress = (p: { step: string }) => {
    if (p.step.startsWith('Configuring ')) ac.abort();
  };
  await assert.rejects(images.build('deb', { from: 'debian:bookworm', signal: ac.signal, onProgress }), (e) =>
    isTandemError(e, 'unavailable'),
  );
  assert.deepEqual(await readdir(join(root, 'tmp')), []);
  assert.deepEqual(await readdir(join(root, 'layers')), []);
  assert.deepEqual(await store.list('images'), []);
  assert.equal(
    execFileSync('sh', ['-c', `grep -c ' ${root}' /proc/self/mountinfo || true`], {
      encoding: 'utf8',
    }).trim(),
    '0',
  );
});
