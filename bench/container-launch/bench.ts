/**
 * Container launch latency: one short-lived busybox `/bin/true` container, start to gone.
 * Rows (each a `BenchRow`; add more to ROWS, e.g. through the API or the CLI):
 *   crun run       raw `crun run` of a prepared bundle (the driver's own config.json, a plain
 *                  rootfs directory), spawned from Node as any program would
 *   driver         ContainerDriver create + start + wait for the exited event + delete (and
 *                  the background removal of its files)
 *   api, cli       through a real daemon (daemon-rows.ts)
 *   podman run     `podman run --rm` of the same rootfs imported into podman (isolated storage)
 * Rows run round-robin (one iteration of each in turn) so that load from other jobs on the
 * machine hits all of them alike, with an untimed pause after each run (PAUSE_MS). Prints median and p95 per row and ratios against raw crun
 * and podman, as a markdown table.
 *
 *   node --import tsx bench/container-launch/bench.ts [-n RUNS] [--rows crun,driver,podman]
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectCgroupLayout, openCgroup } from '../../src/drivers/common/cgroup.js';
import { busyboxSpec, prepareBusyboxRootfs } from '../../src/drivers/container/busybox-fixture.js';
import { ContainerDriver, removeDriverHostState } from '../../src/drivers/container/container-driver.js';
import { instancePaths } from '../../src/drivers/container/container-paths.js';
import { apiRow, cliRow } from './daemon-rows.js';

/** One measured way to launch a container; `run` is timed, setup and teardown are not. */
export interface BenchRow {
  name: string;
  setup?(): Promise<void>;
  run(i: number): Promise<void>;
  teardown?(): Promise<void>;
}

interface Env {
  dir: string;
  layer: string;
}

/** Runs `cmd args`, rejecting unless it exits 0. */
export function exec(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: env ?? process.env });
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args[0]}: status ${code}: ${err}`)),
    );
  });
}

function rawCrunRow(env: Env): BenchRow {
  const root = join(env.dir, 'raw');
  const parent = `tandem-bench-raw-${process.pid}`;
  const crunRoot = `/run/tandem-bench-raw-${process.pid}`; // tmpfs, as crun's default /run/crun
  return {
    name: 'crun run (raw)',
    async setup() {
      // the driver writes the very config the raw run uses: take it from a created instance
      const d = new ContainerDriver({ root: join(env.dir, 'cfg') });
      await d.create(busyboxSpec('cfg', ['/bin/true'], env.layer));
      const p = instancePaths(d.paths, 'cfg');
      const config = JSON.parse(await readFile(p.config, 'utf8'));
      await mkdir(join(root, 'bundle'), { recursive: true });
      for (const f of ['hosts', 'hostname', 'resolv.conf'])
        await writeFile(join(root, 'bundle', f), await readFile(join(p.bundle, f)));
      config.root.path = env.layer;
      for (const m of config.mounts)
        if (m.source?.startsWith(p.bundle))
          m.source = join(root, 'bundle', m.source.slice(p.bundle.length + 1));
      await writeFile(join(root, 'bundle/config.json'), JSON.stringify(config));
      await d.delete('cfg', {});
      await d.close();
      await removeDriverHostState(join(env.dir, 'cfg'));
      (this as { config?: unknown }).config = config;
    },
    async run(i) {
      const config = (this as unknown as { config: { linux: { cgroupsPath: string } } }).config;
      config.linux.cgroupsPath = `/${parent}/r${i}`;
      await writeFile(join(root, 'bundle/config.json'), JSON.stringify(config));
      await exec('/usr/bin/crun', [
        '--root',
        join(root, 'state'),
        'run',
        '--bundle',
        join(root, 'bundle'),
        `r${i}`,
      ]);
    },
    async teardown() {
      await openCgroup(await detectCgroupLayout(), `/${parent}`).remove();
      await rm(crunRoot, { recursive: true, force: true });
    },
  };
}

function driverRow(env: Env): BenchRow {
  const root = join(env.dir, 'driver');
  let driver: ContainerDriver;
  const waiting = new Map<string, () => void>();
  return {
    name: 'driver: create+start+wait+delete',
    async setup() {
      driver = new ContainerDriver({ root });
      driver.onEvent((e) => {
        if (e.kind === 'exited') waiting.get(e.id)?.();
      });
      const info = await driver.probe();
      if (!info.available) throw new Error(`container driver unavailable: ${info.reason}`);
    },
    async run(i) {
      const id = `d${i}`;
      const exited = new Promise<void>((resolve) => waiting.set(id, resolve));
      await driver.create(busyboxSpec(id, ['/bin/true'], env.layer));
      await driver.start(id);
      await exited;
      await driver.delete(id, {});
      await driver.settle(); // its files' removal is charged to this row, not the next one
      waiting.delete(id);
    },
    async teardown() {
      await driver.close();
      await removeDriverHostState(root);
    },
  };
}

function podmanRow(env: Env): BenchRow {
  const conf = join(env.dir, 'containers.conf');
  const podmanEnv = { ...process.env, CONTAINERS_CONF: conf };
  const base = [
    '--root',
    join(env.dir, 'podman/root'),
    '--runroot',
    join(env.dir, 'podman/run'),
    '--storage-driver',
    'overlay',
  ];
  return {
    name: 'podman run --rm',
    async setup() {
      await writeFile(
        conf,
        '[containers]\nnetns = "none"\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n' +
          '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "crun"\n',
      );
      const tar = join(env.dir, 'rootfs.tar');
      await exec('tar', ['-C', env.layer, '-cf', tar, '.']);
      await exec(
        'podman',
        [...base, 'import', '--change', 'CMD ["/bin/sh"]', tar, 'localhost/tandem-bench-busybox'],
        podmanEnv,
      );
    },
    async run() {
      await exec(
        'podman',
        [...base, 'run', '--rm', 'localhost/tandem-bench-busybox', '/bin/true'],
        podmanEnv,
      );
    },
    async teardown() {
      await exec('podman', [...base, 'rmi', '-f', 'localhost/tandem-bench-busybox'], podmanEnv).catch(
        () => {},
      );
    },
  };
}

/** The rows known to this benchmark, by key. */
export const ROWS: Record<string, (env: Env) => BenchRow> = {
  crun: rawCrunRow,
  driver: driverRow,
  podman: podmanRow,
  api: (env) => apiRow(env),
  cli: (env) => cliRow(env),
};

/**
 * Untimed pause after each run: work a row leaves behind (podman's cleanup process, the daemon's
 * background removal of a deleted instance's files) ends there, not in the next row's time.
 */
const PAUSE_MS = 50;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const n = Number(args[args.indexOf('-n') + 1] || 30) || 30;
  const keys = (
    args.includes('--rows') ? args[args.indexOf('--rows') + 1]! : 'crun,driver,api,cli,podman'
  ).split(',');
  const dir = await mkdtemp(join(tmpdir(), 'tandem-bench-launch-'));
  const env: Env = { dir, layer: join(dir, 'layer') };
  const rows = keys.map((k) => {
    const make = ROWS[k];
    if (!make) throw new Error(`unknown row "${k}" (known: ${Object.keys(ROWS).join(', ')})`);
    return make(env);
  });
  const times = rows.map(() => [] as number[]);
  try {
    await prepareBusyboxRootfs(env.layer);
    for (const r of rows) await r.setup?.();
    for (const r of rows) await r.run(-1); // warm caches
    for (let i = 0; i < n; i++) {
      for (const [k, r] of rows.entries()) {
        const t0 = performance.now();
        await r.run(i);
        times[k]!.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, PAUSE_MS));
      }
    }
  } finally {
    for (const r of rows) await r.teardown?.().catch((e) => console.error(`teardown ${r.name}: ${e}`));
    await rm(dir, { recursive: true, force: true });
  }
  report(rows, times, n);
}

function report(rows: BenchRow[], times: number[][], n: number): void {
  const med = times.map((t) =>
    quantile(
      [...t].sort((a, b) => a - b),
      0.5,
    ),
  );
  const p95 = times.map((t) =>
    quantile(
      [...t].sort((a, b) => a - b),
      0.95,
    ),
  );
  const raw = rows.findIndex((r) => r.name.startsWith('crun run'));
  const pod = rows.findIndex((r) => r.name.startsWith('podman'));
  const ratio = (i: number, j: number) => (i >= 0 && j >= 0 ? `${(med[i]! / med[j]!).toFixed(2)}x` : '-');
  console.log(`container launch of busybox /bin/true, ${n} runs per row, round-robin (ms)\n`);
  console.log('| row | median | p95 | vs raw crun | podman vs row |');
  console.log('|---|---:|---:|---:|---:|');
  rows.forEach((r, i) => {
    console.log(
      `| ${r.name} | ${med[i]!.toFixed(1)} | ${p95[i]!.toFixed(1)} | ${ratio(i, raw)} | ${ratio(pod, i)} |`,
    );
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
