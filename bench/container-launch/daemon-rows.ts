/**
 * The rows of the launch benchmark that go through a real Tandem daemon (real drivers, its own
 * temp state dir and socket), as API users and CLI users launch:
 *   api   POST /v1/instances {start: true} + wait for the `stopped` event + DELETE, over the socket
 *   cli   `tandem run --rm IMAGE -- /bin/true`, as a user types it
 * The image is the benchmark's busybox layer imported as a rootfs tarball; the daemon runs with
 * `--bridge none`, so instances get a private netns with only lo, like the raw crun and podman rows.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import { removeDriverHostState } from '../../src/drivers/container/container-driver.js';
import { canConnect, httpJson, runCli } from '../../test/helpers/daemon.js';
import { type BenchRow, exec } from './bench.js';

interface Env {
  dir: string;
  layer: string;
}

/** One daemon shared by the daemon rows of a run. */
class BenchDaemon {
  proc: ChildProcess | undefined;
  users = 0;
  readonly stateDir: string;
  readonly socket: string;
  private stopped = new Map<string, () => void>();
  private abort: AbortController | undefined;

  constructor(env: Env) {
    this.stateDir = join(env.dir, 'daemon');
    this.socket = join(env.dir, 'daemon.sock');
  }

  async up(env: Env): Promise<void> {
    if (this.users++ > 0) return;
    const bin = join(import.meta.dirname, '../../bin/tandem.cjs');
    this.proc = spawn(
      process.execPath,
      [
        bin,
        'daemon',
        '--state-dir',
        this.stateDir,
        '--socket',
        this.socket,
        '--log-level',
        'warn',
        '--bridge',
        'none',
      ],
      {
        stdio: 'ignore',
      },
    );
    for (let i = 0; i < 300 && !(await canConnect(this.socket)); i++)
      await new Promise((r) => setTimeout(r, 50));
    const tar = join(env.dir, 'daemon-rootfs.tar');
    await exec('tar', ['-C', env.layer, '-cf', tar, '.']);
    const r = await runCli(['image', 'import', 'bench-busybox', tar], { env: this.env });
    if (r.code !== 0) throw new Error(`image import: ${r.stderr}`);
    // Lifecycle events (only those) in this process, as an API client would, not through another process.
    this.abort = new AbortController();
    await new Promise<void>((opened) => {
      void new Client({ socket: this.socket })
        .events(
          (e) => {
            if (e.type === 'lifecycle' && e.action === 'stopped' && e.instance)
              this.stopped.get(e.instance)?.();
          },
          { types: ['lifecycle'], signal: this.abort!.signal, onOpen: opened },
        )
        .catch(() => {});
    });
    await new Promise((r) => setTimeout(r, 300));
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, TANDEM_SOCKET: this.socket, TANDEM_URL: '' };
  }

  whenStopped(name: string): Promise<void> {
    return new Promise((resolve) => this.stopped.set(name, resolve));
  }

  async down(): Promise<void> {
    if (--this.users > 0) return;
    this.abort?.abort();
    const p = this.proc;
    if (p && p.exitCode === null) {
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await done;
    }
    await removeDriverHostState(join(this.stateDir, 'containers'));
  }
}

const TANDEM = join(import.meta.dirname, '../../bin/tandem');

function runCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (b: Buffer) => {
      stderr += b;
    });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stderr }));
  });
}

let shared: BenchDaemon | undefined;
const daemonOf = (env: Env) => (shared ??= new BenchDaemon(env));

async function waitOp(socket: string, op: { id: string; status: string }): Promise<void> {
  let cur = op;
  while (cur.status === 'running')
    cur = (await httpJson('GET', `/v1/operations/${op.id}/wait?timeout=30`, undefined, { socket })).body;
  if (cur.status !== 'success') throw new Error(`operation failed: ${JSON.stringify(cur)}`);
}

export function apiRow(env: Env): BenchRow {
  const d = daemonOf(env);
  return {
    name: 'tandem API: create+start+wait+delete',
    setup: () => d.up(env),
    async run(i) {
      const name = `api-${i + 1}`;
      const stopped = d.whenStopped(name);
      const created = await httpJson(
        'POST',
        '/v1/instances',
        { name, image: 'bench-busybox', command: ['/bin/true'], start: true },
        { socket: d.socket },
      );
      await waitOp(d.socket, created.body);
      await stopped;
      await waitOp(
        d.socket,
        (await httpJson('DELETE', `/v1/instances/${name}`, undefined, { socket: d.socket })).body,
      );
    },
    teardown: () => d.down(),
  };
}

export function cliRow(env: Env): BenchRow {
  const d = daemonOf(env);
  return {
    name: 'tandem run --rm (CLI)',
    setup: () => d.up(env),
    async run() {
      // bin/tandem itself (the sh wrapper a user runs), in the benchmark's own environment
      const r = await runCommand(TANDEM, ['run', '--rm', 'bench-busybox', '--', '/bin/true'], d.env);
      if (r.code !== 0) throw new Error(`tandem run: ${r.code} ${r.stderr}`);
    },
    teardown: () => d.down(),
  };
}
