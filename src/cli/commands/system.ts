/** Daemon-wide verbs: events, stats, node ls, volume, network. */
import type { Command } from 'commander';
import type { ResourceUsage } from '../../api/instances.js';
import type { Event } from '../../api/system.js';
import type { Client } from '../../client/client.js';
import { printJson, size, table } from '../output.js';

type Ctx = { client: () => Client };

export function registerSystemCommands(program: Command, ctx: Ctx): void {
  program
    .command('events')
    .description('follow lifecycle and operation events')
    .option('--json', 'one JSON object per line')
    .option('--since <seq>', 'replay buffered events after this sequence number')
    .action(async (o: { json?: boolean; since?: string }) => {
      await ctx
        .client()
        .events((e) => process.stdout.write(o.json ? `${JSON.stringify(e)}\n` : eventLine(e)), {
          since: o.since === undefined ? undefined : Number(o.since),
        });
    });

  program
    .command('stats [name]')
    .description('resource usage of running instances (live unless --json or --no-stream)')
    .option('--json', 'one JSON snapshot')
    .option('--no-stream', 'one table snapshot')
    .option('--interval <seconds>', 'refresh interval', '1')
    .action(async (name: string | undefined, o: { json?: boolean; stream: boolean; interval: string }) => {
      const client = ctx.client();
      const sample = async () => {
        const names = name
          ? [name]
          : (await client.list())
              .filter((i) => i.status === 'running' || i.status === 'paused')
              .map((i) => i.name);
        return (await Promise.all(names.map((n) => client.stats(n).catch(() => undefined)))).filter(
          (s): s is ResourceUsage => !!s,
        );
      };
      if (o.json) return printJson(name ? (await sample())[0] : await sample());
      let prev = new Map<string, ResourceUsage>();
      for (;;) {
        const now = await sample();
        const out = statsTable(now, prev);
        process.stdout.write(o.stream ? `\x1b[2J\x1b[H${out}` : out);
        if (!o.stream) return;
        prev = new Map(now.map((s) => [s.name, s]));
        await new Promise((r) => setTimeout(r, Number(o.interval) * 1000));
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
