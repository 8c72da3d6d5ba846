/**
 * Where the API launch time goes: the API row of bench/container-launch split into its requests
 * (POST create+start, the wait for its operation if the POST answered it running, the `stopped`
 * event, DELETE and its wait likewise), median of each over N runs, against a real daemon
 * (--bridge none) with the busybox image.
 *   node --import tsx bench/container-launch/api-steps.ts [-n RUNS]
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Client } from '../../src/client/client.js';
import { httpJson, TestDaemon, waitOp } from '../../test/helpers/daemon.js';

const { values } = parseArgs({ options: { n: { type: 'string', short: 'n' } } });
const RUNS = Number(values.n ?? 30);
const d = await new TestDaemon({ drivers: 'real' }).start();
try {
  const tar = `${d.dir}/bb.tar`;
  execFileSync('sh', [
    '-c',
    `mkdir -p ${d.dir}/bb/bin && cp /bin/busybox ${d.dir}/bb/bin/ && ln -s busybox ${d.dir}/bb/bin/true && tar -C ${d.dir}/bb -cf ${tar} .`,
  ]);
  const imp = await d.cli(['image', 'import', 'bb', tar]);
  if (imp.code !== 0) throw new Error(imp.stderr);
  const stopped = new Map<string, () => void>();
  const ac = new AbortController();
  await new Promise<void>((opened) => {
    void new Client({ socket: d.socket })
      .events(
        (e) => {
          if (e.type === 'lifecycle' && e.action === 'stopped' && e.instance) stopped.get(e.instance)?.();
        },
        { types: ['lifecycle'], signal: ac.signal, onOpen: opened },
      )
      .catch(() => {});
  });
  const steps = ['post', 'wait', 'exited', 'delete', 'deleteWait', 'total'] as const;
  const t: Record<string, number[]> = Object.fromEntries(steps.map((s) => [s, []]));
  for (let i = -3; i < RUNS; i++) {
    const name = `s${i + 3}`;
    const ended = new Promise<void>((r) => stopped.set(name, r));
    await new Promise((r) => setTimeout(r, 50)); // the launch benchmark's pause between runs
    const t0 = performance.now();
    const post = await httpJson(
      'POST',
      '/v1/instances',
      { name, image: 'bb', command: ['/bin/true'], start: true },
      { socket: d.socket },
    );
    const t1 = performance.now();
    if (post.body.status === 'running') await waitOp(d, post.body); // else it ended within the POST
    const t2 = performance.now();
    await ended;
    const t3 = performance.now();
    const del = await httpJson('DELETE', `/v1/instances/${name}`, undefined, { socket: d.socket });
    const t4 = performance.now();
    if (del.body.status === 'running') await waitOp(d, del.body);
    const t5 = performance.now();
    if (i < 0) continue;
    const xs = [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0];
    for (const [k, s] of steps.entries()) t[s]!.push(xs[k]!);
  }
  ac.abort();
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const s of steps) process.stdout.write(`${s.padEnd(12)} ${med(t[s]!).toFixed(1)} ms\n`);
} finally {
  await d.cleanup();
}
