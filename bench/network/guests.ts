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
import { NetFixture } from '../../test/host/network-fixture.js';

const { values } = parseArgs({ options: { n: { type: 'string', short: 'n' }, mib: { type: 'string' } } });
const RUNS = Number(values.n ?? 5);
const MIB = Number(values.mib ?? 256);

const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

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

/** Seconds the client `from` took to push MIB MiB to `server` by name (count checked there). */
async function transfer(fx: NetFixture, server: string, port: number, from: string): Promise<number> {
  const bytes = MIB * 1024 * 1024;
  // nc -e hands the connection to `wc -c`; the server's exec ends when the transfer does
  const done = fx.daemon.cli(
    [
      'exec',
      server,
      '--',
      'sh',
      '-c',
      `rm -f /tmp/count; nc -l -p ${port} -e /bin/sh -c 'wc -c > /tmp/count'`,
    ],
    { timeoutMs: 600_000 },
  );
  await new Promise((r) => setTimeout(r, 1000));
  const script = `time -p sh -c 'dd if=/dev/zero bs=65536 count=${MIB * 16} 2>/dev/null | nc ${server} ${port}'`;
  const r = await fx.daemon.cli(['exec', from, '--', 'sh', '-c', script], { timeoutMs: 600_000 });
  const real = Number(/real ([\d.]+)/.exec(r.stderr)?.[1]);
  const srv = await done;
  if (srv.code !== 0) throw new Error(`server ${server}: ${srv.stderr}`);
  const got = (await fx.daemon.cli(['exec', server, '--', 'cat', '/tmp/count'])).stdout.trim();
  if (Number(got) !== bytes) throw new Error(`${server} got ${got} of ${bytes} bytes`);
  if (!(real > 0)) throw new Error(`no timing: ${r.stderr}`);
  return real;
}

async function tcpRows(fx: NetFixture): Promise<string[]> {
  const sleep = ['--', 'sleep', '100000'];
  await fx.ok(['launch', 'bb', 'ctr', ...sleep]);
  await fx.ok(['launch', 'bb', 'ctr2', ...sleep]);
  await fx.ok(['launch', 'bb', 'vm', '--vm', ...sleep]);
  await fx.ok(['launch', 'bb', 'sb', '--sandbox', ...sleep]);
  const cases: [string, () => Promise<number>][] = [
    ['container → container', () => transfer(fx, 'ctr2', 5020, 'ctr')],
    ['container → VM', () => transfer(fx, 'vm', 5021, 'ctr')],
    ['VM → container', () => transfer(fx, 'ctr', 5022, 'vm')],
    ['container → sandbox', () => transfer(fx, 'sb', 5023, 'ctr')],
    ['no network: dd into wc -c inside the container', () => pipeline(fx, 'ctr')],
    ['no network: dd into wc -c inside the VM', () => pipeline(fx, 'vm')],
  ];
  const rows = [
    `| TCP over the bridge, ${MIB} MiB through busybox nc | median MiB/s | runs |`,
    '|---|---:|---:|',
  ];
  for (const [label, fn] of cases) {
    const rates: number[] = [];
    for (let i = 0; i < 3; i++) rates.push(MIB / (await fn()));
    rows.push(
      `| ${label} | ${quantile(rates, 0.5).toFixed(0)} | ${rates.map((x) => x.toFixed(0)).join(', ')} |`,
    );
  }
  return rows;
}

const fx = new NetFixture();
try {
  await fx.setup();
  const launch = process.env.ONLY === 'tcp' ? [] : await launchRows(fx);
  const tcp = await tcpRows(fx);
  process.stdout.write(`${launch.join('\n')}\n\n${tcp.join('\n')}\n`);
} finally {
  const left = await fx.cleanup();
  if (left.length) process.stderr.write(`bench/network/guests: removed leftover netns ${left.join(', ')}\n`);
}
