/** Daemon-wide verbs: events, stats, node ls, volume, network. */
import { type Command, InvalidArgumentError } from 'commander';
import type { ResourceUsage } from '../../api/instances.js';
import type { Event } from '../../api/system.js';
import { TandemError } from '../../base/errors.js';
import type { Client } from '../../client/client.js';
import { printJson, size, table } from '../output.js';

const EVENT_TYPES = ['lifecycle', 'operation', 'image'];

type Ctx = { client: () => Client };

export function registerSystemCommands(program: Command, ctx: Ctx): void {
  program
    .command('events')
    .description('follow lifecycle and operation events')
    .option('--json', 'one JSON object per line')
    .option('--since <seq>', 'replay buffered events after this sequence number')
    .option('--type <types>', 'only these event types: lifecycle, operation, image (comma-separated)')
    .option('--instance <name>', "only this instance's events")
    .action(async (o: { json?: boolean; since?: string; type?: string; instance?: string }) => {
      const types = o.type?.split(',');
      const bad = types?.find((t) => !EVENT_TYPES.includes(t));
      if (bad !== undefined)
        throw new TandemError('invalid_argument', `unknown event type "${bad}" (${EVENT_TYPES.join(', ')})`);
      await ctx
        .client()
        .events((e) => process.stdout.write(o.json ? `${JSON.stringify(e)}\n` : eventLine(e)), {
          since: o.since === undefined ? undefined : Number(o.since),
          types,
          instance: o.instance,
        });
    });

  program
    .command('stats [name]')
    .description(
      'resource usage of running instances: a live table (CPU % over each interval) unless --json or --no-stream',
    )
    .option('--json', 'one JSON snapshot of the raw counters (cpuSeconds, memoryBytes, ...)')
    .option('--no-stream', 'one table, CPU % measured over one interval')
    .option('--interval <seconds>', 'refresh interval', seconds, 1)
    .action(async (name: string | undefined, o: { json?: boolean; stream: boolean; interval: number }) => {
      const client = ctx.client();
      const sample = () => sampleStats(client, name);
      if (o.json) return printJson(name ? (await sample())[0] : await sample());
      const wait = () => new Promise((r) => setTimeout(r, o.interval * 1000));
      let prev = new Map<string, ResourceUsage>();
      if (!o.stream) {
        prev = byName(await sample());
        await wait();
        process.stdout.write(statsTable(await sample(), prev));
        return;
      }
      for (;;) {
        const now = await sample();
        process.stdout.write(`\x1b[2J\x1b[H${statsTable(now, prev)}`);
        prev = byName(now);
        await wait();
      }
    });

  const node = program.command('node').description('cluster nodes');
  node
    .command('ls')
    .description('list nodes with capacity and allocation')
    .option('--json', 'JSON output')
    .action(async (o: { json?: boolean }) => {
      const nodes = await ctx.client().nodes();
      if (o.json) return printJson(nodes);
      process.stdout.write(
        table(
          ['NAME', 'CPUS', 'MEMORY', 'DISK', 'INSTANCES', 'OVERCOMMIT', 'QEMU', 'KVM'],
          nodes.map((n) => [
            n.name,
            `${n.allocated.cpus}/${n.capacity.cpus}`,
            `${size(n.allocated.memoryBytes)}/${size(n.capacity.memoryBytes)}`,
            `${size(n.allocated.diskBytes)}/${size(n.capacity.diskBytes)}`,
            `${n.allocated.instances}/${n.capacity.instances}`,
            `cpu=${n.overcommit.cpu} mem=${n.overcommit.memory} disk=${n.overcommit.disk}`,
            n.capabilities.qemu ? 'yes' : 'no',
            n.capabilities.kvm ? 'yes' : 'no',
          ]),
        ),
      );
    });

  for (const kind of ['volume', 'network'] as const) {
    const group = program.command(kind).description(`manage ${kind}s`);
    const path = `/v1/${kind}s`;
    group
      .command('create <name>')
      .option('--subnet <cidr>', 'subnet (network)')
      .action(async (name: string, o: { subnet?: string }) => {
        await ctx.client().request('POST', path, { name, ...o });
        process.stdout.write(`${name}\n`);
      });
    group
      .command('ls')
      .option('--json', 'JSON output')
      .action(async (o: { json?: boolean }) => {
        const all = await ctx.client().request<{ name: string }[]>('GET', path);
        if (o.json) return printJson(all);
        process.stdout.write(
          table(
            ['NAME'],
            all.map((v) => [v.name]),
          ),
        );
      });
    group.command('rm <name>').action(async (name: string) => {
      await ctx.client().request('DELETE', `${path}/${encodeURIComponent(name)}`);
      process.stdout.write(`${name}\n`);
    });
  }
}

function eventLine(e: Event): string {
  const subject = e.instance ?? e.operation ?? e.message ?? '';
  const extra = e.data && e.type === 'lifecycle' && 'exitCode' in e.data ? ` (exit ${e.data.exitCode})` : '';
  return `${e.time} ${e.type} ${e.action} ${subject}${extra}\n`;
}

function seconds(v: string): number {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError('expected a positive number of seconds');
  return n;
}

/** Usage of `name`, or of every running or paused instance (those that stop meanwhile are left out). */
async function sampleStats(client: Client, name: string | undefined): Promise<ResourceUsage[]> {
  if (name) return [await client.stats(name)];
  const names = (await client.list())
    .filter((i) => i.status === 'running' || i.status === 'paused')
    .map((i) => i.name);
  const all = await Promise.all(names.map((n) => client.stats(n).catch(() => undefined)));
  return all.filter((s): s is ResourceUsage => !!s);
}

function byName(list: ResourceUsage[]): Map<string, ResourceUsage> {
  return new Map(list.map((s) => [s.name, s]));
}

/** CPU % of one core between two samples (by their own timestamps); `--` without an earlier one. */
function statsTable(now: ResourceUsage[], prev: Map<string, ResourceUsage>): string {
  return table(
    ['NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM PEAK', 'PIDS', 'BLOCK I/O', 'NET I/O'],
    now.map((s) => {
      const p = prev.get(s.name);
      const dt = p ? (Date.parse(s.time) - Date.parse(p.time)) / 1000 : 0;
      const cpu = p && dt > 0 ? `${(((s.cpuSeconds - p.cpuSeconds) / dt) * 100).toFixed(1)}%` : '--';
      return [
        s.name,
        cpu,
        `${size(s.memoryBytes)} / ${s.memoryLimitBytes ? size(s.memoryLimitBytes) : '-'}`,
        size(s.memoryPeakBytes),
        s.pids ?? '-',
        `${size(s.blockReadBytes ?? 0)} / ${size(s.blockWriteBytes ?? 0)}`,
        `${size(s.netRxBytes ?? 0)} / ${size(s.netTxBytes ?? 0)}`,
      ];
    }),
  );
}
