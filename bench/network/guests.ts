/**
 * Network benchmark of VMs and sandboxes on the bridge, with a real daemon inside a test network
 * namespace (test/host/network-fixture.ts; QEMU under TCG here):
 *   launch   POST /v1/instances {start: true} of a busybox `sleep` VM (128 MiB) and sandbox,
 *            --network none vs bridge, waiting for the operation; rows alternate so that load
 *            from other jobs hits all alike; the delete after each is not timed
 *   tcp      MiB/s of a fixed byte count through busybox nc over the bridge (by name): container
 *            → VM, VM → container, container → sandbox, and container → container for reference;
 *            the client's `time -p`, the byte count checked at the server; and the sender's own
 *            ceiling, the same `dd` into `wc -c` inside a container and inside the VM
 *
 *   node --import tsx bench/network/guests.ts [-n RUNS] [--mib MIB]     (ONLY=tcp skips launch)
 */
import { parseArgs } from 'node:util';
import { waitOp } from '../../test/helpers/daemon.js';
import type { NetFixture } from '../../test/host/network-fixture.js';
import { quantile, rateRows, runNetworkBench, transfer } from './common.js';

const { values } = parseArgs({ options: { n: { type: 'string', short: 'n' }, mib: { type: 'string' } } });
const RUNS = Number(values.n ?? 5);
const MIB = Number(values.mib ?? 256);

async function launchRows(fx: NetFixture): Promise<string[]> {
  const kinds = [
    ['vm', 'none'],
    ['vm', 'bridge'],
    ['sandbox', 'none'],
    ['sandbox', 'bridge'],
  ] as const;
  const times = new Map<string, number[]>(kinds.map((k) => [k.join(' '), []]));
  for (let i = -1; i < RUNS; i++) {
    for (const [type, network] of kinds) {
      const name = `l${i + 1}-${type}-${network}`;
      const t0 = performance.now();
      const op = await fx.daemon.api('POST', '/v1/instances', {
        name,
        image: 'bb',
        type,
        network,
        start: true,
        limits: { memory: '128MiB' },
        command: ['sleep', '100000'],
      });
      const done = await waitOp(fx.daemon, op.body);
      const ms = performance.now() - t0;
      if (done.status !== 'success') throw new Error(`${name}: ${JSON.stringify(done.error ?? op.body)}`);
      if (i >= 0) times.get(`${type} ${network}`)!.push(ms);
      await waitOp(fx.daemon, (await fx.daemon.api('DELETE', `/v1/instances/${name}?force=true`)).body);
    }
  }
  const rows = [
    `| launch (API, start → running), ${RUNS} runs | median ms | p90 ms | added by the bridge |`,
    '|---|---:|---:|---:|',
  ];
  for (const [type, network] of kinds) {
    const xs = times.get(`${type} ${network}`)!;
    const base = quantile(times.get(`${type} none`)!, 0.5);
    const med = quantile(xs, 0.5);
    const added = network === 'none' ? '' : `${med >= base ? '+' : ''}${(med - base).toFixed(0)}`;
    rows.push(
      `| ${type} --network ${network} | ${med.toFixed(0)} | ${quantile(xs, 0.9).toFixed(0)} | ${added} |`,
    );
  }
  return rows;
}

/** Seconds a `dd | wc -c` of MIB MiB takes inside `name` (no network: the sender's own ceiling). */
async function pipeline(fx: NetFixture, name: string): Promise<number> {
  const script = `time -p sh -c 'dd if=/dev/zero bs=65536 count=${MIB * 16} 2>/dev/null | wc -c'`;
  const r = await fx.daemon.cli(['exec', name, '--', 'sh', '-c', script], { timeoutMs: 600_000 });
  if (Number(r.stdout.trim()) !== MIB * 1024 * 1024) throw new Error(`${name}: wc -c said ${r.stdout}`);
  return Number(/real ([\d.]+)/.exec(r.stderr)?.[1]);
}

async function tcpRows(fx: NetFixture): Promise<string[]> {
  const sleep = ['--', 'sleep', '100000'];
  await fx.ok(['launch', 'bb', 'ctr', ...sleep]);
  await fx.ok(['launch', 'bb', 'ctr2', ...sleep]);
  await fx.ok(['launch', 'bb', 'vm', '--vm', ...sleep]);
  await fx.ok(['launch', 'bb', 'sb', '--sandbox', ...sleep]);
  // by name over the bridge; a guest's server needs a moment longer to listen
  const t = (server: string, port: number, from: string) =>
    transfer(fx, { mib: MIB, server, listen: port, target: server, port, from, listenWaitMs: 1000 });
  const rows = [
    `| TCP over the bridge, ${MIB} MiB through busybox nc | median MiB/s | runs |`,
    '|---|---:|---:|',
    ...(await rateRows(MIB, [
      ['container → container', () => t('ctr2', 5020, 'ctr')],
      ['container → VM', () => t('vm', 5021, 'ctr')],
      ['VM → container', () => t('ctr', 5022, 'vm')],
      ['container → sandbox', () => t('sb', 5023, 'ctr')],
      ['no network: dd into wc -c inside the container', () => pipeline(fx, 'ctr')],
      ['no network: dd into wc -c inside the VM', () => pipeline(fx, 'vm')],
    ])),
  ];
  return rows;
}

await runNetworkBench('bench/network/guests', launchRows, tcpRows);
