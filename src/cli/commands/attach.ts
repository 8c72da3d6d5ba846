/** Verbs that stream: run (foreground), exec, logs, console. */
import type { Command } from 'commander';
import { CHANNEL, decodeStreamFrames } from '../../api/exec-frames.js';
import { isTandemError, TandemError } from '../../base/errors.js';
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
      // not node:crypto, whose load costs every start; a clash is refused as already_exists
      const instance =
        name ??
        `run-${Math.floor(Math.random() * 2 ** 32)
          .toString(16)
          .padStart(8, '0')}`;
      const req = createRequest(image, instance, f, ctx.trailing);
      const client = ctx.client();
      if (f.detach) {
        await client.wait(await client.create({ ...req, start: true }));
        process.stdout.write(`${instance}\n`);
        return;
      }
      ctx.exit(
        await runForeground(client, instance, req, {
          interactive: f.interactive ?? false,
          tty: f.tty ?? false,
        }),
      );
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
 * `run` in the foreground: create and start in one operation, then attach to the workload's own
 * stdio (replaying what it already wrote) and exit with its status. Without -i and -t the output
 * comes as a framed HTTP stream and signals are forwarded as kills (no websocket client to load);
 * with them, a websocket carries stdin, the terminal and its size. A workload that ended before
 * the attach is read back from its logs. `--rm` deletes the instance afterwards (here, so that
 * the status is never lost to a removal).
 */
async function runForeground(
  client: Client,
  name: string,
  req: ReturnType<typeof createRequest>,
  o: { interactive: boolean; tty: boolean },
): Promise<number> {
  const rm = req.autoRemove ?? false;
  const interactive = o.interactive || o.tty;
  const loading = interactive ? import('../stream-session.js') : undefined;
  await client.wait(
    await client.create({
      ...req,
      autoRemove: false,
      stdin: o.interactive,
      tty: o.tty,
      attach: true, // a short workload's output and status wait for the attach below
      start: true,
    }),
  );
  try {
    if (!interactive) return await attachOutput(client, name);
    const { runSession } = await loading!;
    const size =
      o.tty && process.stdout.columns ? { cols: process.stdout.columns, rows: process.stdout.rows } : {};
    return await runSession(client, {
      path: `/v1/instances/${encodeURIComponent(name)}/attach`,
      request: { replay: true, ...size },
      stdin: o.interactive,
      tty: o.tty,
      forwardSignals: true,
    });
  } finally {
    if (rm) await client.wait(await client.remove(name, true)).catch(() => {});
  }
}

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

/** Streams the workload's output until it ends, forwarding signals as kills; resolves with its status. */
async function attachOutput(client: Client, name: string): Promise<number> {
  const forward = (sig: NodeJS.Signals) => {
    void client.changeState(name, { action: 'kill', signal: normalizeSignal(sig) }).catch(() => {});
  };
  for (const sig of FORWARDED) process.on(sig, forward);
  try {
    let res: Awaited<ReturnType<Client['attachStream']>>;
    try {
      res = await client.attachStream(name, true);
    } catch (err) {
      if (!isTandemError(err, 'not_supported') && !isTandemError(err, 'conflict')) throw err;
      return await fromLogs(client, name);
    }
    let rest: Buffer = Buffer.alloc(0);
    let printed = false;
    for await (const chunk of res) {
      const { frames, rest: left } = decodeStreamFrames(Buffer.concat([rest, chunk as Buffer]));
      rest = left;
      for (const f of frames) {
        if (f.channel === CHANNEL.stdout) process.stdout.write(f.payload);
        else if (f.channel === CHANNEL.stderr) process.stderr.write(f.payload);
        else if (f.channel === CHANNEL.control) {
          const end = JSON.parse(f.payload.toString()) as { exit: number; complete?: boolean };
          // A workload that ended as the attach began may not have been replayed: its log has it
          // (unless the daemon says the frames held all of the run's output).
          if (!printed && !end.complete) await printLogs(client, name);
          return end.exit;
        }
        printed = true;
      }
    }
    return await fromLogs(client, name, !printed);
  } finally {
    for (const sig of FORWARDED) process.off(sig, forward);
  }
}

/** Prints the logs, following them until the workload ends when `follow` is set. */
async function printLogs(client: Client, name: string, follow = false): Promise<void> {
  for await (const chunk of await client.logs(name, { follow })) process.stdout.write(chunk as Buffer);
}

/** Prints the logs (following them unless `print` is false) and resolves with the status once stopped. */
async function fromLogs(client: Client, name: string, print = true): Promise<number> {
  if (print) await printLogs(client, name, true);
  for (;;) {
    const i = await client.get(name);
    if (i.status === 'stopped' || i.status === 'error') return i.exitCode ?? 1;
    await new Promise((r) => setTimeout(r, 50));
  }
}
