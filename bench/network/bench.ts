/**
 * Network benchmark, with a real daemon inside a test network namespace:
 *   launch   POST /v1/instances {start: true} of a busybox `sleep` container and wait for the
 *            operation, --network none vs bridge vs bridge with one published port (the delete
 *            after each is not timed); rows alternate so that load from other jobs hits all alike
 *   tcp      MiB/s of a fixed byte count through busybox nc: inside one container over lo,
 *            container to container over the bridge (by name), and the daemon's namespace to a
 *            container through a port forward on 127.0.0.1:HOSTPORT (DNAT); the client's time,
 *            the byte count checked at the server; and, for comparison, the same through a Node
 *            userspace proxy in the daemon's namespace (the alternative to DNAT that was not built)
 *   ONLY=tcp skips the launch rows
 *
 *   node --import tsx bench/network/bench.ts [-n RUNS] [--mib MIB]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { waitOp } from '../../test/helpers/daemon.js';
import type { NetFixture } from '../../test/host/network-fixture.js';
import { quantile, rateRows, runNetworkBench, transfer } from './common.js';

const { values } = parseArgs({ options: { n: { type: 'string', short: 'n' }, mib: { type: 'string' } } });
const RUNS = Number(values.n ?? 30);
const MIB = Number(values.mib ?? 256);

async function launchRows(fx: NetFixture): Promise<string[]> {
  const kinds = {
    none: { network: 'none' },
    bridge: { network: 'bridge' },
    'bridge + -p': { network: 'bridge', ports: [{ hostPort: 9200, port: 80 }] },
  } as const;
  const times = new Map<string, number[]>(Object.keys(kinds).map((k) => [k, []]));
  for (let i = -3; i < RUNS; i++) {
    for (const [kind, extra] of Object.entries(kinds)) {
      const name = `l${i + 3}-${kind.replace(/[^a-z]/g, '')}`;
      const t0 = performance.now();
      const op = await fx.daemon.api('POST', '/v1/instances', {
        name,
        image: 'bb',
        start: true,
        command: ['sleep', '1000'],
        ...extra,
      });
      const done = await waitOp(fx.daemon, op.body);
      const ms = performance.now() - t0;
      if (done.status !== 'success') throw new Error(`${kind}: ${JSON.stringify(done.error)}`);
      if (i >= 0) times.get(kind)!.push(ms);
      await waitOp(fx.daemon, (await fx.daemon.api('DELETE', `/v1/instances/${name}?force=true`)).body);
    }
  }
  const base = quantile(times.get('none')!, 0.5);
  const rows = [
    '| launch (API, start → running) | median ms | p90 ms | added vs none |',
    '|---|---:|---:|---:|',
  ];
  for (const [kind, xs] of times) {
    const med = quantile(xs, 0.5);
    rows.push(
      `| --network ${kind} | ${med.toFixed(1)} | ${quantile(xs, 0.9).toFixed(1)} | ${kind === 'none' ? '' : `+${(med - base).toFixed(1)}`} |`,
    );
  }
  return rows;
}

/** A userspace TCP proxy (Node, as a daemon-side alternative to DNAT) on 127.0.0.1:from → to:port, in the daemon's netns. */
function startProxy(fx: NetFixture, from: number, to: string, port: number): ChildProcess {
  const code = `require('net').createServer((c) => { const u = require('net').connect(${port}, '${to}'); c.pipe(u); u.pipe(c); c.on('error', () => u.destroy()); u.on('error', () => c.destroy()); }).listen(${from}, '127.0.0.1')`;
  return spawn('nsenter', [`--net=/run/netns/${fx.ns}`, '--', process.execPath, '-e', code], {
    stdio: 'ignore',
  });
}

async function tcpRows(fx: NetFixture): Promise<string[]> {
  await fx.ok(['launch', 'bb', 'srv', '-p', '9300:5003', '--', 'sleep', '100000']);
  await fx.ok(['launch', 'bb', 'cli', '--', 'sleep', '100000']);
  const srvAddr = JSON.parse(await fx.ok(['info', 'srv', '--json'])).addresses[0] as string;
  const proxy = startProxy(fx, 9301, srvAddr, 5004);
  await new Promise((r) => setTimeout(r, 500));
  const t = (listen: number, target: string, port: number, from: string) =>
    transfer(fx, { mib: MIB, server: 'srv', listen, target, port, from });
  const rows = [`| TCP, ${MIB} MiB through busybox nc | median MiB/s | runs |`, '|---|---:|---:|'];
  try {
    rows.push(
      ...(await rateRows(MIB, [
        ['loopback inside one container', () => t(5001, '127.0.0.1', 5001, 'srv')],
        ['container → container over the bridge', () => t(5002, 'srv', 5002, 'cli')],
        ['host → container, forward 127.0.0.1:HOSTPORT', () => t(5003, '127.0.0.1', 9300, 'daemon')],
        [
          'host → container, userspace proxy (Node) instead, for comparison',
          () => t(5004, '127.0.0.1', 9301, 'daemon'),
        ],
      ])),
    );
  } finally {
    proxy.kill('SIGKILL');
  }
  return rows;
}

await runNetworkBench('bench/network', launchRows, tcpRows);
