/**
 * Images through the daemon and real containers (issue 4 acceptance): an OCI layout with two
 * layers — the second deleting a file (whiteout) and replacing a directory (opaque) — and a
 * config with Cmd and Env runs as a container that sees exactly that; the same as a
 * docker-archive and an OCI archive (uploaded over the API). Removing an image in use is a
 * conflict (exit 1).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  dockerArchive,
  type FixtureEntry,
  type FixtureImage,
  ociArchive,
  sampleImage,
  writeOciLayout,
} from '../../src/images/image-fixtures.js';
import { TestDaemon } from '../helpers/daemon.js';

const APPLETS = ['sh', 'ls', 'cat', 'test', 'echo', 'env'];

/** The sample image of the images issue on top of a busybox layer, so it can run a shell. */
function runnableSample(): FixtureImage {
  const sample = sampleImage(['gzip', 'gzip', 'zstd']);
  const busybox: FixtureEntry[] = [
    { name: 'bin/' },
    { name: 'bin/busybox', content: readFileSync('/bin/busybox'), mode: 0o755 },
    ...APPLETS.map((a): FixtureEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'tmp/', mode: 0o1777 },
  ];
  return {
    ...sample,
    layers: [busybox, ...sample.layers],
    config: {
      ...sample.config,
      Cmd: [
        'sh',
        '-c',
        'echo "greeting=$GREETING pwd=$(pwd)"; ls /data; test -e /etc/gone && echo gone-present || echo gone-absent; cat /etc/keep',
      ],
    },
  };
}

const EXPECTED = 'greeting=hello pwd=/data\nnew\ngone-absent\nkept\n';

describe('images run as containers', () => {
  const d = new TestDaemon({ drivers: 'real' });
  const dir = mkdtempSync(join(tmpdir(), 'tandem-imgrun-'));
  before(() => d.start());
  after(async () => {
    await d.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const ok = (args: string[]) => d.ok(args);

  it('an OCI layout: whiteout, opaque directory, Cmd, Env and WorkingDir hold', async () => {
    const layout = join(dir, 'layout');
    await writeOciLayout(layout, runnableSample());
    await ok(['image', 'import', 'oci-sample', layout]);
    assert.equal(await ok(['run', '--rm', 'oci-sample']), EXPECTED);
  });

  it('the same as a docker-archive and as an uploaded OCI archive', async () => {
    const image = runnableSample();
    writeFileSync(join(dir, 'docker.tar'), await dockerArchive(image));
    writeFileSync(join(dir, 'oci.tar'), await ociArchive(image));
    await ok(['image', 'import', 'docker-sample', join(dir, 'docker.tar')]);
    await ok(['image', 'import', '--upload', 'oci-upload', join(dir, 'oci.tar')]);
    assert.equal(await ok(['run', '--rm', 'docker-sample']), EXPECTED);
    assert.equal(await ok(['run', '--rm', 'oci-upload']), EXPECTED);
    const images = JSON.parse(await ok(['image', 'ls', '--json'])) as {
      name: string;
      layers: { diffId: string }[];
    }[];
    const docker = images.find((i) => i.name === 'docker-sample')!;
    const oci = images.find((i) => i.name === 'oci-upload')!;
    assert.deepEqual(
      docker.layers.map((l) => l.diffId),
      oci.layers.map((l) => l.diffId),
      'the same layers, stored once',
    );
  });

  it('image rm of an image in use: exit 1, conflict; once unused it goes', async () => {
    await ok(['create', 'oci-sample', 'user-of-image']);
    const r = await d.cli(['image', 'rm', 'oci-sample']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is used by an instance/);
    await ok(['rm', 'user-of-image']);
    await ok(['image', 'rm', 'oci-sample']);
    const left = JSON.parse(await ok(['image', 'ls', '--json'])) as { name: string }[];
    assert.ok(!left.some((i) => i.name === 'oci-sample'));
  });
});
