/**
 * Network test world: the daemon runs inside a network namespace the test makes (`tn-<hex>`),
 * so its bridge, veths and nftables table never touch the host's own namespace, and a second
 * namespace (`tn-<hex>-out`) stands for "outside": a veth joins the two (198.51.100.1 in the
 * daemon's namespace, 198.51.100.2 outside, TEST-NET-2 addresses) and busybox httpd runs
 * outside with a CGI that answers the client's address, so a test sees whether NAT happened.
 * Nothing is ever sent to another address. `cleanup()` removes every namespace, process and
 * file it made, and this daemon's leftovers (netns files named after its tag), if any.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { prepareBusyboxRootfs } from '../../src/drivers/container/busybox-fixture.js';
import { networkTag } from '../../src/network/network-names.js';
import { TestDaemon } from '../helpers/daemon.js';

const pexec = promisify(execFile);

export const OUTSIDE = '198.51.100.2';
export const OUTSIDE_GATEWAY = '198.51.100.1';

export class NetFixture {
  readonly id = randomBytes(3).toString('hex');
  readonly ns = `tn-${this.id}`;
  readonly outNs = `tn-${this.id}-out`;
  readonly dir = mkdtempSync(join(tmpdir(), 'tandem-net-'));
  daemon!: TestDaemon;
  private httpd: ChildProcess | undefined;

  /** Makes both namespaces, the outside server, a daemon inside `ns` and the busybox image `bb`. */
  async setup(daemonArgs: string[] = []): Promise<this> {
    await sh(`ip netns add ${this.ns} && ip -n ${this.ns} link set lo up`);
    await sh(`ip netns add ${this.outNs} && ip -n ${this.outNs} link set lo up`);
    await sh(
      `ip -n ${this.ns} link add tno${this.id} type veth peer name tni${this.id} netns ${this.outNs} && ` +
        `ip -n ${this.ns} addr add ${OUTSIDE_GATEWAY}/24 dev tno${this.id} && ip -n ${this.ns} link set tno${this.id} up && ` +
        `ip -n ${this.outNs} addr add ${OUTSIDE}/24 dev tni${this.id} && ip -n ${this.outNs} link set tni${this.id} up`,
    );
    this.startOutsideServer();
    this.daemon = new TestDaemon({ drivers: 'real', netns: this.ns, args: daemonArgs });
    await this.daemon.start();
    await this.importImage();
    return this;
  }

  private startOutsideServer(): void {
    const www = join(this.dir, 'outside');
    mkdirSync(join(www, 'cgi-bin'), { recursive: true });
    writeFileSync(join(www, 'index.html'), 'outside\n');
    writeFileSync(
      join(www, 'cgi-bin/addr'),
      '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"\n',
    );
    chmodSync(join(www, 'cgi-bin/addr'), 0o755);
    this.httpd = spawn(
      'nsenter',
      [`--net=/run/netns/${this.outNs}`, '--', 'busybox', 'httpd', '-f', '-p', `${OUTSIDE}:80`, '-h', www],
      { stdio: 'ignore' },
    );
  }

  private async importImage(): Promise<void> {
    const layer = join(this.dir, 'layer');
    await prepareBusyboxRootfs(layer);
    mkdirSync(join(layer, 'www'), { recursive: true });
    const tar = join(this.dir, 'bb.tar');
    await pexec('tar', ['-C', layer, '-cf', tar, '.']);
    await this.ok(['image', 'import', 'bb', tar]);
  }

  /** Runs the CLI; rejects unless it exits 0; resolves with stdout. */
  async ok(args: string[]): Promise<string> {
    const r = await this.daemon.cli(args);
    if (r.code !== 0) throw new Error(`tandem ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** A command in the daemon's network namespace (as the host of the instances sees it). */
  async inDaemonNs(cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return pexec('nsenter', [`--net=/run/netns/${this.ns}`, '--', ...cmd], { timeout: 20_000 }).then(
      (r) => ({ code: 0, ...r }),
      (e) => ({ code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(e) }),
    );
  }

  /** The tag every host name of this daemon carries (src/network/network-names.ts). */
  get tag(): string {
    return networkTag(join(this.daemon.dir, 'network'));
  }

  /** This daemon's network objects now: links (with alias), netns files, forwards, bridge. */
  async hostObjects(): Promise<{ links: string[]; netns: string[]; forwards: string[]; mounts: string[] }> {
    const tag = this.tag;
    const linksJson = (await this.inDaemonNs(['ip', '-j', 'link', 'show'])).stdout;
    const links = (JSON.parse(linksJson || '[]') as { ifname: string; ifalias?: string }[])
      .filter((l) => l.ifalias?.startsWith(`tandem-${tag}:`))
      .map((l) => `${l.ifname}=${l.ifalias}`);
    const netns = readdirSync('/run/netns').filter((n) => n.startsWith(`tandem-${tag}-`));
    const nft = await this.inDaemonNs(['nft', '-j', 'list', 'table', 'ip', `tandem-${tag}`]);
    const forwards: string[] = [];
    if (nft.code === 0) {
      for (const item of JSON.parse(nft.stdout).nftables as { map?: { name: string; elem?: unknown[] } }[])
        for (const e of item.map?.elem ?? []) forwards.push(`${item.map!.name}:${JSON.stringify(e)}`);
    }
    const mounts = (await pexec('cat', ['/proc/self/mountinfo'])).stdout
      .split('\n')
      .filter((l) => l.includes(`tandem-${tag}`) || l.includes(this.daemon.dir));
    return { links: links.sort(), netns: netns.sort(), forwards: forwards.sort(), mounts };
  }

  /** Stops everything and removes every namespace and file; returns leftover netns it had to remove. */
  async cleanup(): Promise<string[]> {
    const tag = this.daemon ? this.tag : undefined;
    await this.daemon?.cleanup().catch(() => {});
    if (this.httpd?.pid && this.httpd.exitCode === null) this.httpd.kill('SIGKILL');
    const leftovers =
      tag && existsSync('/run/netns')
        ? readdirSync('/run/netns').filter((n) => n.startsWith(`tandem-${tag}-`))
        : [];
    for (const n of [...leftovers, this.ns, this.outNs]) await sh(`ip netns del ${n}`).catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
    return leftovers;
  }
}

async function sh(script: string): Promise<void> {
  await pexec('/bin/sh', ['-c', script]);
}
