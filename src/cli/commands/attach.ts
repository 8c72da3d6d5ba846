/** Verbs that stream: run (foreground), exec, logs, console. */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { TandemError } from '../../base/errors.js';
import { normalizeSignal } from '../../base/signals.js';
import type { Client } from '../../client/client.js';
import { addInstanceFlags, createRequest, type InstanceFlags, parseEnv } from '../flags.js';

type Ctx = { client: () => Client; trailing: string[]; exit: (code: number) => void };

export function registerAttachCommands(program: Command, ctx: Ctx): void {
  addInstanceFlags(
    program
      .command('run <image> [name]')
      .description('run a workload in the foreground and exit with its status')
      .option('-i, --interactive', 'keep stdin open')
      .option('-t, --tty', 'allocate a terminal')
      .option('-d, --detach', 'run in the background (same as launch)'),
  ).action(
    async (
      image: string,
      name: string | undefined,
      f: InstanceFlags & { interactive?: boolean; tty?: boolean; detach?: boolean },
    ) => {
      const instance = name ?? `run-${randomBytes(4).toString('hex')}`;
      const req = createRequest(image, instance, f, ctx.trailing);
      const client = ctx.client();
      if (f.detach) {
        await client.wait(await client.create({ ...req, start: true }));
        process.stdout.write(`${instance}\n`);
        return;
      }
      if (f.interactive || f.tty)
        throw new TandemError(
          'not_supported',
          'interactive run (-i, -t) is not supported yet: use launch and exec',
        );
      ctx.exit(await runForeground(client, instance, req));
    },
  );

  program
    .command('exec <name>')
    .description('run a command in a running instance; exits with its status')
    .option('-i, --interactive', 'forward stdin')
    .option('-t, --tty', 'allocate a terminal')
    .option('-e, --env <KEY=VAL>', 'environment variable (repeatable)', (v: string, p: string[] = []) => [
      ...p,
      v,
    ])
    .option('--user <user>', 'user to run as')
    .option('--workdir <dir>', 'working directory')
    .action(
      async (
        name: string,
        o: { interactive?: boolean; tty?: boolean; env?: string[]; user?: string; workdir?: string },
      ) => {
        if (ctx.trailing.length === 0)
          throw new TandemError(
            'invalid_argument',
            'give the command after --: tandem exec NAME -- CMD ARG...',
          );
        const tty = o.tty ?? false;
        const request = {
          command: ctx.trailing,
          env: parseEnv(o.env),
          user: o.user,
          workdir: o.workdir,
          tty,
          stdin: o.interactive ?? false,
          ...(tty && process.stdout.columns
            ? { cols: process.stdout.columns, rows: process.stdout.rows }
            : {}),
        };
        const { runSession } = await import('../stream-session.js');
      const code = await runSession(ctx.client(), {
          path: `/v1/instances/${encodeURIComponent(name)}/exec`,
          request,
          stdin: o.interactive ?? false,
          tty,
        });
        ctx.exit(code);
      },
    );

  program
    .command('logs <name>')
    .description("show the workload's output")
    .option('-f, --follow', 'keep following')
    .option('--tail <n>', 'last N lines only')
    .action(async (name: string, o: { follow?: boolean; tail?: string }) => {
      const tail = o.tail === undefined ? undefined : Number(o.tail);
      if (tail !== undefined && (!Number.isInteger(tail) || tail < 0))
        throw new TandemError('invalid_argument', `invalid --tail "${o.tail}"`);
      const res = await ctx.client().logs(name, { follow: o.follow, tail });
      for await (const chunk of res) process.stdout.write(chunk as Buffer);
    });

  program
    .command('console <name>')
    .description('attach to the serial console (vm, sandbox); Ctrl-] detaches')
    .action(async (name: string) => {
      const { runSession } = await import('../stream-session.js');
      await runSession(ctx.client(), {
        path: `/v1/instances/${encodeURIComponent(name)}/console`,
        request: {},
        stdin: true,
        tty: true,
        detachable: true,
      });
    });
}

/**
 * `run` in the foreground: create, subscribe to events and logs, start, stream output, forward
 * signals as kills, and resolve with the workload's exit status from its `stopped` event (which
 * arrives even when --rm deletes the instance right after).
 */
async function runForeground(
  client: Client,
  name: string,
  req: ReturnType<typeof createRequest>,
): Promise<number> {
  await client.wait(await client.create({ ...req, start: false }));
  const abort = new AbortController();
  let opened!: () => void;
  const open = new Promise<void>((r) => (opened = r));
  const exited = new Promise<number>((resolve, reject) => {
    client
      .events(
        (e) => {
          if (e.instance === name && e.type === 'lifecycle' && e.action === 'stopped') {
            resolve(Number((e.data as { exitCode?: number } | undefined)?.exitCode ?? 1));
          }
        },
        { signal: abort.signal, onOpen: opened },
      )
      .catch(reject);
  });
  await open;
  const logs = await client.logs(name, { follow: true });
  const streamed = (async () => {
    for await (const chunk of logs) process.stdout.write(chunk as Buffer);
  })().catch(() => {});
  const forward = (sig: NodeJS.Signals) => () => {
    void client.changeState(name, { action: 'kill', signal: normalizeSignal(sig) }).catch(() => {});
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const)
    process.on(sig, forward(sig));
  try {
    await client.wait(await client.changeState(name, { action: 'start' }));
  } catch (err) {
    abort.abort();
    logs.destroy();
    throw err;
  }
  const code = await exited;
  await Promise.race([streamed, new Promise((r) => setTimeout(r, 2000))]);
  abort.abort();
  logs.destroy();
  return code;
}
