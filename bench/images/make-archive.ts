/**
 * Assembles a docker-archive (as `docker save` writes it) or an OCI archive from layer tars
 * made by GNU tar: `make-archive.ts docker|oci OUT LAYER.tar...` (layers bottom first; OCI
 * layers are gzipped here, docker-archive layers stay plain, as each tool writes them).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

const [format, out, ...layers] = process.argv.slice(2);
if (!['docker', 'oci'].includes(format) || !out || layers.length === 0) {
  console.error('usage: make-archive.ts docker|oci OUT LAYER.tar...');
  process.exit(2);
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const tars = await Promise.all(layers.map((l) => readFile(l)));
const diffIds = tars.map((t) => `sha256:${sha(t)}`);
const config = Buffer.from(
  JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['bash'], Env: ['PATH=/usr/bin:/bin'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
  }),
);
const files: [string, Buffer][] = [];
if (format === 'docker') {
  for (const t of tars) files.push([`${sha(t)}/layer.tar`, t]);
  files.push([`${sha(config)}.json`, config]);
  files.push([
    'manifest.json',
    Buffer.from(
      JSON.stringify([
        {
          Config: `${sha(config)}.json`,
          RepoTags: ['localhost/bench:latest'],
          Layers: tars.map((t) => `${sha(t)}/layer.tar`),
        },
      ]),
    ),
  ]);
} else {
  const blobs = tars.map((t) => gzipSync(t, { level: 6 }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: `sha256:${sha(config)}`,
        size: config.length,
      },
      layers: blobs.map((b) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: `sha256:${sha(b)}`,
        size: b.length,
      })),
    }),
  );
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: `sha256:${sha(manifest)}`,
        size: manifest.length,
        annotations: { 'org.opencontainers.image.ref.name': 'localhost/bench:latest' },
      },
    ],
  };
  files.push(
    ['oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
    ['index.json', Buffer.from(JSON.stringify(index))],
  );
  for (const b of [manifest, config, ...blobs]) files.push([`blobs/sha256/${sha(b)}`, b]);
}
const p = pack();
const done = pipeline(p, createWriteStream(out));
for (const [name, data] of files) p.entry({ name, size: data.length }, data);
p.finalize();
await done;
console.log(`${out}: ${(await stat(out)).size} bytes, ${layers.length} layers`);
