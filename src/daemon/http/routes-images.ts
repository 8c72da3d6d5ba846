/**
 * Image endpoints: list, import from a path on the daemon's host or from an upload, build,
 * remove. Import and build are operations (202) with progress. Removing an image that an
 * instance uses is a conflict.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import Type from 'typebox';
import { Name, Operation } from '../../api/common.js';
import { Image, ImportImageRequest } from '../../api/images.js';
import { TandemError } from '../../base/errors.js';
import { newId } from '../../base/ids.js';
import type { DaemonContext } from '../context.js';
import { type App, accepted } from './app.js';

const NameParam = Type.Object({ name: Name });

export function registerImageRoutes(app: App, ctx: DaemonContext): void {
  const { images, ops } = ctx;
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  app.get('/v1/images', { schema: { response: { 200: Type.Array(Image) } } }, async () => images.list());

  app.get('/v1/images/:name', { schema: { params: NameParam, response: { 200: Image } } }, async (req) => {
    const image = await images.get(req.params.name);
    if (!image) throw new TandemError('not_found', `image "${req.params.name}" not found`);
    return image;
  });

  app.post(
    '/v1/images',
    { schema: { body: ImportImageRequest, response: { 202: Operation } } },
    async (req, reply) => {
      const { name, path, build } = req.body;
      if (!path === !build)
        throw new TandemError('invalid_argument', 'give exactly one of "path" and "build"');
      await assertFree(name);
      const op = ops.start(build ? 'image.build' : 'image.import', name, async (progress) => {
        const opts = { onProgress: progress };
        const image = build
          ? await images.build(name, { ...opts, from: build.from, packages: build.packages })
          : await images.import(name, path!, opts);
        ctx.events.publish({
          type: 'image',
          action: 'imported',
          message: image.name,
          data: { digest: image.digest },
        });
        return { name: image.name, digest: image.digest };
      });
      return accepted(reply, ops, op);
    },
  );

  app.post(
    '/v1/images/upload',
    { schema: { querystring: Type.Object({ name: Name }), response: { 202: Operation } } },
    async (req, reply) => {
      const name = req.query.name;
      await assertFree(name);
      if (!req.body || typeof (req.body as NodeJS.ReadableStream).pipe !== 'function') {
        throw new TandemError('invalid_argument', 'upload the archive as application/octet-stream');
      }
      const dir = join(ctx.uploadDir, newId());
      await mkdir(dir, { recursive: true });
      const file = join(dir, 'upload');
      await pipeline(req.body as NodeJS.ReadableStream, createWriteStream(file));
      const op = ops.start('image.import', name, async (progress, signal) => {
        try {
          const image = await images.import(name, file, { onProgress: progress, signal });
          ctx.events.publish({ type: 'image', action: 'imported', message: image.name });
          return { name: image.name, digest: image.digest };
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
      return accepted(reply, ops, op);
    },
  );

  app.delete('/v1/images/:name', { schema: { params: NameParam } }, async (req, reply) => {
    const name = req.params.name;
    await images.remove(name);
    ctx.events.publish({ type: 'image', action: 'removed', message: name });
    return reply.status(200).send({});
  });

  async function assertFree(name: string): Promise<void> {
    if (await images.get(name)) throw new TandemError('already_exists', `image "${name}" already exists`);
  }
}
