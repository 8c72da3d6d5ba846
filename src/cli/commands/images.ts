/** Image verbs: import, build, ls, rm. Imports and builds show their progress while they run. */
import { createReadStream, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Operation } from '../../api/common.js';
import { TandemError } from '../../base/errors.js';
import { assertValidName } from '../../base/ids.js';
import type { Client } from '../../client/client.js';
import { age, printJson, size, table } from '../output.js';

type Ctx = { client: () => Client };

export function registerImageCommands(program: Command, ctx: Ctx): void {
  const image = program.command('image').description('manage images');

  image
    .command('import <name> <path>')
    .description('import a rootfs tar(.gz), an OCI layout or archive, or a docker-archive')
    .option('--upload', 'send the file over the API (for a remote daemon)')
    .action(async (name: string, path: string, o: { upload?: boolean }) => {
      assertValidName(name, 'image name');
      const full = resolve(path);
      const st = statSync(full, { throwIfNoEntry: false });
      if (!st) throw new TandemError('not_found', `"${path}" does not exist`);
      const client = ctx.client();
      const upload = o.upload ?? client.opts.url !== undefined;
      let op: Operation;
      if (upload) {
        if (st.isDirectory())
          throw new TandemError(
            'invalid_argument',
            'only archive files can be uploaded: tar the layout first',
          );
        op = await client.uploadImage(name, createReadStream(full), st.size);
      } else op = await client.importImage({ name, path: full });
      await follow(client, op);
      process.stdout.write(`${name}\n`);
    });

  image
    .command('build <name>')
    .description('build an image locally from Debian packages')
    .requiredOption('--from <base>', 'busybox or debian:bookworm')
    .option('--package <pkg>', 'extra package (debian; repeatable)', (v: string, p: string[] = []) => [
      ...p,
      v,
    ])
    .action(async (name: string, o: { from: string; package?: string[] }) => {
      assertValidName(name, 'image name');
      if (o.from !== 'busybox' && o.from !== 'debian:bookworm') {
        throw new TandemError(
          'invalid_argument',
          `invalid --from "${o.from}": use busybox or debian:bookworm`,
        );
      }
      if (o.package && o.from === 'busybox')
        throw new TandemError('invalid_argument', '--package needs --from debian:bookworm');
      const client = ctx.client();
      await follow(client, await client.importImage({ name, build: { from: o.from, packages: o.package } }));
      process.stdout.write(`${name}\n`);
    });

  image
    .command('ls')
    .description('list images')
    .option('--json', 'JSON output')
    .action(async (o: { json?: boolean }) => {
      const all = await ctx.client().images();
      if (o.json) return printJson(all);
      process.stdout.write(
        table(
          ['NAME', 'DIGEST', 'SIZE', 'LAYERS', 'CREATED'],
          all.map((i) => [
            i.name,
            i.digest.replace(/^sha256:/, '').slice(0, 12),
            size(i.size),
            i.layers.length,
            age(i.createdAt),
          ]),
        ),
      );
    });

  image
    .command('rm <names...>')
    .description('remove images (an image in use is a conflict)')
    .action(async (names: string[]) => {
      for (const n of names) {
        await ctx.client().removeImage(n);
        process.stdout.write(`${n}\n`);
      }
    });
}

/** Waits for an operation, drawing its progress on stderr when it is a terminal. */
async function follow(client: Client, op: Operation): Promise<Operation> {
  if (!process.stderr.isTTY) return client.wait(op);
  let cur = op;
  const draw = () => {
    const p = cur.progress;
    if (!p) return;
    const pct = p.total ? Math.min(100, Math.floor((p.done / p.total) * 100)) : undefined;
    const bar = pct === undefined ? '' : `[${'#'.repeat(pct / 5).padEnd(20)}] ${pct}% `;
    const amount =
      p.unit === 'bytes'
        ? `${size(p.done)}${p.total ? `/${size(p.total)}` : ''}`
        : `${p.done}${p.total ? `/${p.total}` : ''}`;
    process.stderr.write(`\r\x1b[K${bar}${p.step} ${amount}`);
  };
  while (cur.status === 'running') {
    await new Promise((r) => setTimeout(r, 200));
    cur = await client.operation(op.id);
    draw();
  }
  process.stderr.write('\r\x1b[K');
  return client.wait(cur);
}
