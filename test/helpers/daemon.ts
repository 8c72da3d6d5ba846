/**
 * Test harness: a real `tandem daemon` process on its own temp state dir and socket, and a way
 * to run the real CLI against it. Each test file starts its own daemon and stops it (by PID)
 * at the end, removing the state dir.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { removeDriverHostState } from '../../src/drivers/container/container-driver.js';

export const ROOT = resolve(import.meta.dirname, '../..');
/** The CLI's JS entry, for `node BIN ...` (bin/tandem is the sh wrapper a user runs). */
export const BIN = join(ROOT, 'bin/tandem.cjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface DaemonOptions {
  drivers?: 'fake' | 'real';
  tcp?: boolean;
  args?: string[];
  /** Reuse a state dir (restart cases). */
  dir?: string;
  /**
   * Run the daemon inside this network namespace (`nsenter --net=/run/netns/NAME`), so every
   * bridge, veth and firewall rule it makes stays there. Without it, a real-driver daemon gets
   * `--bridge none` and never touches the host's network.
   */
  netns?: string;
}

export class TestDaemon {
  proc: ChildProcess | undefined;
  readonly dir: string;
  readonly socket: string;
  readonly token = 'test-token-0123456789abcdef';
  port = 0;
  log = '';

  constructor(private readonly opts: DaemonOptions = {}) {
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'tandem-test-'));
    this.socket = join(this.dir, 'tandem.sock');
  }

  /** Starts the daemon process and resolves once its socket answers. */
  async start(): Promise<this> {
    const args = [
      BIN,
      'daemon',
      '--state-dir',
      this.dir,
      '--socket',
      this.socket,
      '--drivers',
      this.opts.drivers ?? 'fake',
    ];
    if (this.opts.tcp) {
      writeFileSync(join(this.dir, 'token'), this.token);
      this.port = this.port || 20000 + Math.floor(Math.random() * 20000);
      args.push('--listen', `127.0.0.1:${this.port}`, '--token-file', join(this.dir, 'token'));
    }
    if (!this.opts.netns && this.opts.drivers === 'real' && !this.opts.args?.includes('--bridge'))
      args.push('--bridge', 'none');
    args.push('--log-level', 'info', ...(this.opts.args ?? []));
    const proc = this.opts.netns
      ? spawn('nsenter', [`--net=/run/netns/${this.opts.netns}`, '--', process.execPath, ...args], {
          stdio: ['ignore', 'ignore', 'pipe'],
        })
      : spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    proc.stderr!.on('data', (b: Buffer) => {
      this.log += b.toString();
    });
    const deadline = Date.now() + 30_000;
    // Ready means this process said so: another daemon's socket may answer at the same path.
    while (!this.log.includes('tandem daemon ready') || !(await canConnect(this.socket))) {
      if (proc.exitCode !== null) throw new Error(`daemon exited with ${proc.exitCode}: ${this.log}`);
      if (Date.now() > deadline) throw new Error(`daemon did not start: ${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return this;
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, TANDEM_SOCKET: this.socket, TANDEM_URL: '', TANDEM_TOKEN: '' };
  }

  /** Runs the real CLI against this daemon. */
  cli(
    args: string[],
    opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
  ): Promise<CliResult> {
    return runCli(args, { ...opts, env: opts.env ?? this.env });
  }

  /** Runs the real CLI and asserts it exited 0 (its stderr in the message); resolves with stdout. */
  async ok(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.cli(args, opts);
    assert.equal(r.code, 0, `tandem ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  /** A JSON request on the unix socket (or TCP with `tcp`). */
  api(
    method: string,
    path: string,
    body?: unknown,
    opts: { tcp?: boolean; token?: string; raw?: string } = {},
  ) {
    return httpJson(
      method,
      path,
      body,
      opts.tcp ? { port: this.port, token: opts.token } : { socket: this.socket },
      opts.raw,
    );
  }

  /** Sends `signal` and waits for the process to exit; returns its exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill(signal);
    return exited;
  }

  /** Deletes every instance, stops the daemon (SIGKILL if it does not stop), removes the state dir and host state. */
  async cleanup(): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const ls = await this.cli(['ls', '--json']).catch(() => undefined);
      const names = ls?.code === 0 ? (JSON.parse(ls.stdout) as { name: string }[]).map((i) => i.name) : [];
      if (names.length) await this.cli(['rm', '-f', ...names]);
    }
    if (p && p.exitCode === null && p.signalCode === null) {
      const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
      await this.stop('SIGTERM');
      clearTimeout(t);
    }
    if (this.opts.drivers === 'real') await removeDriverHostState(join(this.dir, 'containers'));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function runCli(
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const t = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    p.stdout.on('data', (b: Buffer) => (stdout += b));
    p.stderr.on('data', (b: Buffer) => (stderr += b));
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(t);
      resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    p.stdin.end(opts.input ?? '');
  });
}

export function canConnect(socket: string): Promise<boolean> {
  return new Promise((r) => {
    const s = connect(socket);
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
}

export interface JsonResponse {
  status: number;
  body: any;
}

export function httpJson(
  method: string,
  path: string,
  body: unknown,
  where: { socket?: string; port?: number; token?: string },
  raw?: string,
): Promise<JsonResponse> {
  return new Promise((resolvePromise, reject) => {
    const payload = raw ?? (body === undefined ? undefined : JSON.stringify(body));
    const headers: Record<string, string> = {};
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (where.token) headers.authorization = `Bearer ${where.token}`;
    const req = request(
      where.socket
        ? { socketPath: where.socket, path, method, headers }
        : { host: '127.0.0.1', port: where.port, path, method, headers },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {}
          resolvePromise({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Waits for an operation through the API and returns its final form. */
export async function waitOp(d: TestDaemon, op: { id: string }): Promise<any> {
  for (;;) {
    const r = await d.api('GET', `/v1/operations/${op.id}/wait?timeout=30`);
    if (r.body.status !== 'running') return r.body;
  }
}
