/**
 * Links and network namespaces on the host, through iproute2 (`ip -batch -`: one spawn runs
 * several commands; each spawn costs milliseconds here, so they are counted):
 *
 *   bridge     1 spawn   link add (fixed MAC) + alias + address + up; then route_localnet=1
 *   netns      1 spawn   of /bin/sh running: ip -batch [netns add; veth with its peer `eth0`
 *                        created inside; host end on the bridge, aliased, up]; ip -n NS -batch
 *                        [address, eth0 up, lo up, default route]; and, through nsenter,
 *                        ip_unprivileged_port_start=0 in the netns (as Docker: root of a
 *                        --userns auto container has no CAP_NET_BIND_SERVICE over a netns the
 *                        host's user namespace owns, and non-root users may bind :80 too).
 *                        One shell with three small execs measured 12.5 ms, against 9.5 ms for
 *                        two Node spawns without the sysctl and 15 ms with a third for it.
 *   tap        1 spawn   tuntap add + on the bridge, aliased, up
 * Bridge ports have hairpin mode on, so an instance reaches its own published port through a
 * host address (the DNAT sends the packet back out of the port it came in).
 *   unplug     1 spawn   link del (both veth ends go at once) + netns del, errors ignored
 *
 * Interfaces of this namespace are read from /proc/self/net/dev (no spawn; /sys/class/net
 * may show another namespace when the daemon was moved with `nsenter --net`).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { TandemError } from '../base/errors.js';
import { run, runChecked } from '../base/proc.js';
import type { LinkKind, NetworkNames } from './network-names.js';

export interface OwnLink {
  name: string;
  kind: LinkKind;
  subject: string;
  /** The bridge it is a port of, if any. */
  master?: string;
}

export interface NetnsPlug {
  id: string;
  bridge: string;
  /** `address/prefix`. */
  cidr: string;
  gateway: string;
  mac: string;
}

/** The iproute2 binary (Debian: /usr/sbin/ip). */
export function ipBinary(): string {
  return ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p)) ?? 'ip';
}

export class HostLinks {
  constructor(
    private readonly names: NetworkNames,
    private readonly ip = ipBinary(),
  ) {}

  /** Interface names of the daemon's network namespace. */
  interfaces(): Set<string> {
    const text = readFileSync('/proc/self/net/dev', 'utf8');
    const out = new Set<string>();
    for (const line of text.split('\n').slice(2)) {
      const name = line.split(':')[0]?.trim();
      if (name) out.add(name);
    }
    return out;
  }

  /** Our links (by alias) in this namespace and our netns names. */
  async listOwn(): Promise<{ links: OwnLink[]; netns: string[] }> {
    const res = await runChecked(this.ip, ['-j', 'link', 'show']);
    const links: OwnLink[] = [];
    const all = JSON.parse(res.stdout || '[]') as { ifname: string; ifalias?: string; master?: string }[];
    for (const l of all) {
      const own = this.names.parseAlias(l.ifalias);
      if (own) links.push({ name: l.ifname, ...own, master: l.master });
    }
    const netns = existsSync(this.names.netnsDir)
      ? readdirSync(this.names.netnsDir).filter((n) => this.names.netnsId(n) !== undefined)
      : [];
    return { links, netns };
  }

  /** 'missing', 'ours' (our alias for `network`), or 'foreign' (a device we did not make). */
  async bridgeState(bridge: string, network: string): Promise<'missing' | 'ours' | 'foreign'> {
    if (!this.interfaces().has(bridge)) return 'missing';
    const res = await run(this.ip, ['-j', 'link', 'show', 'dev', bridge]);
    const alias = (JSON.parse(res.stdout || '[]') as { ifalias?: string }[])[0]?.ifalias;
    const own = this.names.parseAlias(alias);
    return own?.kind === 'bridge' && own.subject === network ? 'ours' : 'foreign';
  }

  /** Creates the bridge of `network` with its gateway address, up, accepting 127.0.0.1 DNAT. */
  async createBridge(bridge: string, network: string, gatewayCidr: string, mac: string): Promise<void> {
    await this.batch([
      `link add ${bridge} address ${mac} type bridge`,
      `link set ${bridge} alias ${this.names.alias('bridge', network)}`,
      `addr add ${gatewayCidr} dev ${bridge}`,
      `link set ${bridge} up`,
    ]);
    writeSysctl(`net/ipv4/conf/${bridge}/route_localnet`, '1');
    writeSysctl('net/ipv4/ip_forward', '1');
  }

  /** Makes the instance's netns with eth0 on the bridge, configured; partial state on failure (unplug). */
  async plugNetns(p: NetnsPlug): Promise<void> {
    const ns = this.names.netnsName(p.id);
    const veth = this.names.veth(p.id);
    for (const v of [ns, veth, p.bridge, p.cidr, p.gateway, p.mac])
      if (!/^[A-Za-z0-9_.:/-]+$/.test(v)) throw new TandemError('internal', `unsafe network value "${v}"`);
    const script = [
      'set -e',
      `${this.ip} -batch - <<'EOF'`,
      `netns add ${ns}`,
      `link add ${veth} type veth peer name eth0 address ${p.mac} netns ${ns}`,
      `link set ${veth} master ${p.bridge} alias ${this.names.alias('veth', p.id)} up`,
      `link set ${veth} type bridge_slave hairpin on`,
      'EOF',
      `${this.ip} -n ${ns} -batch - <<'EOF'`,
      `addr add ${p.cidr} dev eth0`,
      'link set eth0 up',
      'link set lo up',
      `route add default via ${p.gateway}`,
      'EOF',
      `nsenter --net=${this.names.netnsPath(p.id)} /bin/sh -c 'echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start'`,
    ].join('\n');
    const res = await run('/bin/sh', ['-c', script]);
    if (res.code !== 0) {
      const why = res.stderr.trim().split('\n').slice(-2).join('; ');
      throw new TandemError('internal', `making network namespace "${ns}": ${why || `status ${res.code}`}`);
    }
  }

  /** Makes the instance's persistent tap on the bridge, up. */
  async plugTap(id: string, bridge: string): Promise<void> {
    const tap = this.names.tap(id);
    await this.batch([
      `tuntap add dev ${tap} mode tap`,
      `link set ${tap} master ${bridge} alias ${this.names.alias('tap', id)} up`,
      `link set ${tap} type bridge_slave hairpin on`,
    ]);
  }

  /** True when the instance's plumbing is complete (no spawn). */
  plugged(id: string, kind: 'netns' | 'tap', ifaces = this.interfaces()): boolean {
    if (kind === 'tap') return ifaces.has(this.names.tap(id));
    return ifaces.has(this.names.veth(id)) && existsSync(this.names.netnsPath(id));
  }

  /** Removes the instance's veth, tap and netns, whichever exist. */
  async unplug(id: string): Promise<void> {
    const ifaces = this.interfaces();
    const cmds: string[] = [];
    for (const l of [this.names.veth(id), this.names.tap(id)]) if (ifaces.has(l)) cmds.push(`link del ${l}`);
    if (existsSync(this.names.netnsPath(id))) cmds.push(`netns del ${this.names.netnsName(id)}`);
    if (cmds.length) await this.batch(cmds, undefined, true);
  }

  /** Makes `link` a port of `bridge` again (after the bridge was recreated). */
  async setMaster(link: string, bridge: string): Promise<void> {
    await this.batch([`link set ${link} master ${bridge} up`]);
  }

  /** Removes links and netns by name (reconcile); errors are ignored. */
  async remove(links: readonly string[], netns: readonly string[]): Promise<void> {
    const cmds = [...links.map((l) => `link del ${l}`), ...netns.map((n) => `netns del ${n}`)];
    if (cmds.length) await this.batch(cmds, undefined, true);
  }

  private async batch(cmds: readonly string[], netns?: string, force = false): Promise<void> {
    const args = [...(netns ? ['-n', netns] : []), ...(force ? ['-force'] : []), '-batch', '-'];
    const res = await run(this.ip, args, { input: `${cmds.join('\n')}\n` });
    if (res.code !== 0 && !force) {
      const why = res.stderr.trim().split('\n').slice(-2).join('; ');
      throw new TandemError('internal', `ip${netns ? ` -n ${netns}` : ''}: ${why || `status ${res.code}`}`);
    }
  }
}

/** Writes a sysctl of the daemon's network namespace (e.g. `net/ipv4/ip_forward`). */
export function writeSysctl(key: string, value: string): void {
  const path = `/proc/sys/${key}`;
  if (readFileSync(path, 'utf8').trim() !== value) writeFileSync(path, value);
}
