/** Wire schemas of the image endpoints. */
import Type, { type Static } from 'typebox';
import { Name } from './common.js';

export const ImportImageRequest = Type.Object(
  {
    name: Name,
    /** A path on the daemon's host; the alternative is an upload (PUT /v1/images/{name}/archive). */
    path: Type.Optional(Type.String({ minLength: 1 })),
    build: Type.Optional(
      Type.Object(
        {
          from: Type.Union([Type.Literal('busybox'), Type.Literal('debian:bookworm')]),
          packages: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z0-9][a-z0-9+.-]*$' }))),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ImportImageRequest = Static<typeof ImportImageRequest>;

export const Image = Type.Object({
  name: Type.String(),
  digest: Type.String(),
  size: Type.Number(),
  layers: Type.Array(Type.Object({ digest: Type.String(), diffId: Type.String(), size: Type.Number() })),
  config: Type.Object({
    entrypoint: Type.Optional(Type.Array(Type.String())),
    cmd: Type.Optional(Type.Array(Type.String())),
    env: Type.Array(Type.String()),
    workingDir: Type.Optional(Type.String()),
    user: Type.Optional(Type.String()),
    exposedPorts: Type.Array(Type.String()),
    labels: Type.Record(Type.String(), Type.String()),
  }),
  createdAt: Type.String(),
  source: Type.String(),
});
export type Image = Static<typeof Image>;
