/**
 * `image build --from busybox`: made from Debian's busybox-static in a process that has no
 * network at all (its own empty network namespace), then run with chroot.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, it } from 'node:test';
import { LocalImageStore } from '../../src/images/image-store.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'images-build-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

it('builds a busybox image with no network', async () => {
  const storeTs = resolve('src/images/image-store.ts');
  const memTs = resolve('src/stores/memory/memory-store.ts');
  const script = `
    import { LocalImageStore } from ${JSON.stringify(storeTs)};
    import { MemoryStore } from ${JSON.stringify(memTs)};
    import { execFileSync } from 'node:child_process';
    const links = execFileSync('ip', ['-o', 'link']).toString().trim().split('\\n');
    if (links.length !== 1 || !links[0].includes('lo:')) throw new Error('network present: ' + links);
    const images = new LocalImageStore({ root: ${JSON.stringify(join(work, 'store'))}, store: new MemoryStore() });
    const steps = [];
    const img = await images.build('bb', { from: 'busybox', onProgress: (p) => steps.push(p.step) });
    console.log(JSON.stringify({ img, paths: await images.layerPaths('bb'), steps }));`;
  const out = execFileSync(
    'unshare',
    ['-n', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script],
    {
      encoding: 'utf8',
    },
  );
  const { img, paths } = JSON.parse(out.trim().split('\n').at(-1) ?? '{}');
  assert.equal(img.source, 'build:busybox');
  assert.deepEqual(img.config.cmd, ['/bin/sh']);
  assert.match(img.config.env[0], /^PATH=/);
  assert.equal(paths.length, 1);
  const [root] = paths;
  assert.equal(await readlink(join(root, 'bin/sh')), '/bin/busybox');
  assert.equal((await lstat(join(root, 'tmp'))).mode & 0o7777, 0o1777);
  assert.match(await readFile(join(root, 'etc/passwd'), 'utf8'), /^root:x:0:0:/);
  const res = execFileSync('chroot', [root, '/bin/sh', '-c', 'echo hello from $(id -un); ls /usr/bin/env'], {
    encoding: 'utf8',
  });
  assert.equal(res, 'hello from root\n/usr/bin/env\n');
});

it('gives the same layer for two busybox builds, and removing both frees it', async () => {
  const store = new MemoryStore();
  const images = new LocalImageStore({ root: join(work, 'twice'), store });
  const a = await images.build('a', { from: 'busybox' });
  const b = await images.build('b', { from: 'busybox' });
  assert.equal(a.layers[0].diffId, b.layers[0].diffId);
  assert.ok(a.size > 1_000_000, `busybox image size ${a.size}`);
  await images.remove('a');
  await images.remove('b');
  assert.deepEqual(await store.list('layers'), []);
});
