/** Instance verbs: launch, create, start/stop/restart/pause/resume, kill, rm, ls, info, update, isolate. */
import type { Command } from 'commander';
import type { Instance } from '../../api/instances.js';
import { TandemError } from '../../base/errors.js';
import { parseSize } from '../../base/units.js';
import type { Client } from '../../client/client.js';
import { addInstanceFlags, createRequest, type InstanceFlags } from '../flags.js';
import { age, printJson, size, table } from '../output.js';

type Ctx = { client: () => Client; trailing: string[] };

/** Runs `fn` for each name, printing each success; fails (exit 1) if any failed, after trying all. */
async function each(names: string[], fn: (n: string) => Promise<void>): Promise<void> {
  let failure: unknown;
  for (const n of names) {
    try {
      await fn(n);
      process.stdout.write(`${n}\n`);
    } catch (err) {
      if (names.length === 1) throw err;
      process.stderr.write(`error: ${(err as Error).message}\n`);
      failure = err;
    }
  }
  if (failure)
    throw new TandemError((failure as TandemError).kind ?? 'internal', 'some instances failed', {
      cause: failure,
    });
}

export function registerInstanceCommands(program: Command, ctx: Ctx): void {
  for (const verb of ['launch', 'create'] as const) {
    addInstanceFlags(
      program
        .command(`${verb} <image> <name>`)
        .description(
          verb === 'launch' ? 'create and start an instance' : 'create an instance without starting it',
        ),
    ).action(async (image: string, name: string, flags: InstanceFlags) => {
      const req = { ...createRequest(image, name, flags, ctx.trailing), start: verb === 'launch' };
      await ctx.client().wait(await ctx.client().create(req));
      process.stdout.write(`${name}\n`);
    });
  }

  const stateVerb = (action: 'start' | 'stop' | 'restart' | 'pause' | 'resume', what: string) =>
    program
      .command(`${action} <names...>`)
      .description(what)
      .option('--timeout <seconds>', 'grace period before the workload is killed', '10')
      .option('--force', 'kill at once')
      .action(async (names: string[], o: { timeout: string; force?: boolean }) => {
        const timeout = Number(o.timeout);
        if (!Number.isFinite(timeout) || timeout < 0)
          throw new TandemError('invalid_argument', `invalid --timeout "${o.timeout}"`);
        await each(names, async (n) => {
          await ctx.client().wait(await ctx.client().changeState(n, { action, timeout, force: o.force }));
        });
      });
  stateVerb('start', 'start instances');
  stateVerb('stop', 'stop instances: SIGTERM (or power button), killed after --timeout');
  stateVerb('restart', 'restart instances');
  stateVerb('pause', 'freeze instances');
  stateVerb('resume', 'thaw instances');

  program
    .command('kill <name>')
    .description('send a signal to the workload')
    .option('-s, --signal <signal>', 'signal name or number', 'KILL')
    .action(async (name: string, o: { signal: string }) => {
      await ctx.client().wait(await ctx.client().changeState(name, { action: 'kill', signal: o.signal }));
      process.stdout.write(`${name}\n`);
    });

  program
    .command('rm <names...>')
    .description('delete instances (a running one needs --force)')
    .option('-f, --force', 'stop and delete running instances')
    .action(async (names: string[], o: { force?: boolean }) => {
      await each(names, async (n) => {
        await ctx.client().wait(await ctx.client().remove(n, o.force));
      });
    });

  program
    .command('ls')
    .description('list instances')
    .option('--json', 'JSON output')
    .action(async (o: { json?: boolean }) => {
      const all = await ctx.client().list();
      if (o.json) return printJson(all);
      process.stdout.write(
        table(
          ['NAME', 'TYPE', 'STATUS', 'IMAGE', 'ADDRESSES', 'CPUS', 'MEMORY', 'CREATED'],
          all.map((i) => [
            i.name,
            i.type,
            statusText(i),
            i.image,
            i.addresses.join(',') || '-',
            i.limits.cpus ?? '-',
            size(i.limits.memoryBytes),
            age(i.createdAt),
          ]),
        ),
      );
    });

  program
    .command('info <name>')
    .description('show an instance')
    .option('--json', 'JSON output')
    .action(async (name: string, o: { json?: boolean }) => {
      const i = await ctx.client().get(name);
      if (o.json) return printJson(i);
      process.stdout.write(infoText(i));
    });

  program
    .command('update <name>')
    .description('change limits, live where the backend allows')
    .option('--cpus <n>', 'CPU limit')
    .option('--memory <size>', 'memory limit')
    .option('--pids <n>', 'process limit')
    .action(async (name: string, o: { cpus?: string; memory?: string; pids?: string }) => {
      const limits: { cpus?: number; memory?: number; pids?: number } = {};
      if (o.cpus !== undefined) limits.cpus = positive('--cpus', o.cpus);
      if (o.memory !== undefined) limits.memory = parseSize(o.memory, 'memory');
      if (o.pids !== undefined) limits.pids = positive('--pids', o.pids);
      if (Object.keys(limits).length === 0)
        throw new TandemError('invalid_argument', 'give at least one of --cpus, --memory, --pids');
      await ctx.client().update(name, limits);
      process.stdout.write(`${name}\n`);
    });

  program
    .command('isolate <name>')
    .description('restart the instance at another isolation level, keeping its rootfs')
    .requiredOption('--to <type>', 'container, sandbox or vm')
    .action(async (name: string, o: { to: string }) => {
      if (!['container', 'sandbox', 'vm'].includes(o.to)) {
        throw new TandemError('invalid_argument', `invalid --to "${o.to}": use container, sandbox or vm`);
      }
      await ctx
        .client()
        .wait(
          await ctx
            .client()
            .request('POST', `/v1/instances/${encodeURIComponent(name)}/isolate`, { to: o.to }),
        );
      process.stdout.write(`${name}\n`);
    });
}

function positive(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new TandemError('invalid_argument', `invalid ${flag} "${v}"`);
  return n;
}

function statusText(i: Instance): string {
  if (i.status === 'stopped' && i.exitCode !== null) return `stopped (${i.exitCode})`;
  return i.status;
}

function infoText(i: Instance): string {
  const lines: [string, string][] = [
    ['Name', i.name],
    ['Type', i.type],
    ['Status', statusText(i) + (i.statusReason ? ` \u2014 ${i.statusReason}` : '')],
    ['Image', i.image],
    ['Node', i.node],
    ['Command', i.command.join(' ')],
    ['PID', String(i.pid ?? '-')],
    ['Accel', i.accel ?? '-'],
    ['Created', `${i.createdAt} (${age(i.createdAt)})`],
    ['Started', i.startedAt ?? '-'],
    ['Finished', i.finishedAt ?? '-'],
    [
      'Limits',
      `cpus=${i.limits.cpus ?? '-'} memory=${size(i.limits.memoryBytes)} pids=${i.limits.pids ?? '-'} disk=${size(i.limits.diskBytes)}`,
    ],
    ['Addresses', i.addresses.join(', ') || '-'],
    ['Ports', i.ports.map((p) => `${p.hostPort}:${p.port}/${p.protocol}`).join(', ') || '-'],
    ['Volumes', i.volumes.map((v) => `${v.source}:${v.target}${v.readOnly ? ':ro' : ''}`).join(', ') || '-'],
    [
      'Security',
      `capAdd=[${i.security.capAdd}] capDrop=[${i.security.capDrop}] privileged=${i.security.privileged} readOnly=${i.security.readOnly} userns=${i.security.userns}`,
    ],
    ['Restart', `${i.restart} (${i.restartCount} restarts)`],
  ];
  return lines.map(([k, v]) => `${`${k}:`.padEnd(11)}${v}\n`).join('');
}
