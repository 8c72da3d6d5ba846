/**
 * What the network benchmarks share (bench/network/bench.ts for containers, guests.ts for VMs
 * and sandboxes): the TCP transfer through busybox nc with the byte count checked at the server,
 * the rate rows, and running a benchmark in its own test network namespace.
 */
import { NetFixture } from '../../test/host/network-fixture.js';

export const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

export interface Transfer {
  mib: number;
  /** The instance that runs the `nc -l` server, on port `listen`. */
  server: string;
  listen: number;
  /** Where the client connects (an address or name, and a port: a forward's host port, say). */
  target: string;
  port: number;
  /** The instance the client runs in, or the daemon's namespace. */
  from: string | 'daemon';
  /** How long the server gets to listen before the client starts (guests need longer). */
  listenWaitMs?: number;
  timeoutMs?: number;
}

/** Seconds the client took to push `mib` MiB to the server (the count checked at the server). */
export async function transfer(fx: NetFixture, t: Transfer): Promise<number> {
  const bytes = t.mib * 1024 * 1024;
  const opts = { timeoutMs: t.timeoutMs ?? 600_000 };
  // nc -e hands the connection to `wc -c`; the server's exec ends when the transfer does
  const listen = `rm -f /tmp/count; nc -l -p ${t.listen} -e /bin/sh -c 'wc -c > /tmp/count'`;
  const server = fx.daemon.cli(['exec', t.server, '--', 'sh', '-c', listen], opts);
  await new Promise((r) => setTimeout(r, t.listenWaitMs ?? 400));
  const script = `busybox time -p sh -c 'busybox dd if=/dev/zero bs=65536 count=${t.mib * 16} 2>/dev/null | busybox nc ${t.target} ${t.port}'`;
  const r =
    t.from === 'daemon'
      ? await fx.inDaemonNs(['sh', '-c', script])
      : await fx.daemon.cli(['exec', t.from, '--', 'sh', '-c', script], opts);
  const real = Number(/real ([\d.]+)/.exec(r.stderr)?.[1]);
  const done = await server;
  if (done.code !== 0) throw new Error(`server ${t.server}: ${done.stderr}`);
  const got = (await fx.daemon.cli(['exec', t.server, '--', 'cat', '/tmp/count'])).stdout.trim();
  if (Number(got) !== bytes) throw new Error(`${t.server} got ${got} of ${bytes} bytes`);
  if (!(real > 0)) throw new Error(`no timing: ${r.stderr}`);
  return real;
}

/** One table row per case: the median MiB/s of three runs, and each run's. */
export async function rateRows(mib: number, cases: [string, () => Promise<number>][]): Promise<string[]> {
  const rows: string[] = [];
  for (const [label, seconds] of cases) {
    const rates: number[] = [];
    for (let i = 0; i < 3; i++) rates.push(mib / (await seconds()));
    rows.push(
      `| ${label} | ${quantile(rates, 0.5).toFixed(0)} | ${rates.map((x) => x.toFixed(0)).join(', ')} |`,
    );
  }
  return rows;
}

/** Sets up the namespace and daemon, prints the launch table (unless ONLY=tcp) and the TCP table. */
export async function runNetworkBench(
  name: string,
  launchRows: (fx: NetFixture) => Promise<string[]>,
  tcpRows: (fx: NetFixture) => Promise<string[]>,
): Promise<void> {
  const fx = new NetFixture();
  try {
    await fx.setup();
    const launch = process.env.ONLY === 'tcp' ? [] : await launchRows(fx);
    const tcp = await tcpRows(fx);
    process.stdout.write(`${launch.join('\n')}\n\n${tcp.join('\n')}\n`);
  } finally {
    const left = await fx.cleanup();
    if (left.length) process.stderr.write(`${name}: removed leftover netns ${left.join(', ')}\n`);
  }
}
