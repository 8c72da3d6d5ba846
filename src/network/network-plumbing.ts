/**
 * The host side of one instance on a network, for the manager (network-manager.ts): building
 * and rebuilding its plumbing (a netns with a veth for a container, a tap for a VM or sandbox),
 * dropping stale objects of this daemon at reconcile, the network's hosts files, and the
 * `NetworkAttachment` a driver gets. Holds no state of its own.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { Logger } from '../base/log.js';
import type { InstanceType } from '../core/instance.js';
import type { NetworkAttachment } from '../core/network.js';
import type { HostLinks, OwnLink } from './host-links.js';
import { hostsText, writeInPlace } from './hosts-file.js';
import { macFor, parseSubnet } from './ipv4.js';
import type { NetworkNames } from './network-names.js';
import type { Lease, NetworkRecord } from './network-records.js';
import type { Forward } from './nft-ruleset.js';

/** Containers get a netns with a veth; VMs and sandboxes a tap. */
export const plumbingOf = (type: InstanceType): 'netns' | 'tap' => (type === 'container' ? 'netns' : 'tap');

/** The port forwards of a lease, as nftables map elements. */
export function forwardsOf(l: Lease): Forward[] {
  return l.ports.map((p) => ({
    protocol: p.protocol,
    hostPort: p.hostPort,
    address: l.address,
    port: p.port,
  }));
}

export class Plumbing {
  constructor(
    private readonly names: NetworkNames,
    private readonly links: HostLinks,
    private readonly log: Logger,
  ) {}

  /** Builds the instance's netns+veth or tap on the network's bridge. */
  async plug(lease: Lease, net: NetworkRecord): Promise<void> {
    if (plumbingOf(lease.type) === 'tap') return this.links.plugTap(lease.id, net.bridge);
    await this.links.plugNetns({
      id: lease.id,
      bridge: net.bridge,
      cidr: `${lease.address}/${parseSubnet(net.subnet).prefixLength}`,
      gateway: net.gateway,
      mac: macFor(lease.address),
    });
  }

  /** True when the instance's plumbing is complete (no spawn). */
  plugged(lease: Lease): boolean {
    return this.links.plugged(lease.id, plumbingOf(lease.type));
  }

  /** Reconcile: rebuilds missing plumbing, puts a stray port back on its bridge; never throws. */
  async replug(l: Lease, net: NetworkRecord, links: OwnLink[], ifaces: Set<string>): Promise<void> {
    const kind = plumbingOf(l.type);
    const port = kind === 'tap' ? this.names.tap(l.id) : this.names.veth(l.id);
    const link = links.find((o) => o.name === port);
    const plugged = this.links.plugged(l.id, kind, ifaces);
    if (plugged && link?.master === net.bridge) return;
    this.log.info({ id: l.id, network: net.name }, 'rebuilding the network plumbing of an instance');
    try {
      if (link && plugged) return await this.links.setMaster(port, net.bridge);
      await this.links.unplug(l.id);
      await this.plug(l, net);
    } catch (err) {
      this.log.warn({ err, id: l.id }, 'plumbing not rebuilt');
    }
  }

  /** Reconcile: removes our links and netns that no kept lease or kept network needs. */
  async dropStale(own: { links: OwnLink[]; netns: string[] }, kept: Lease[], nets: NetworkRecord[]) {
    const want = new Set<string>(nets.map((n) => n.bridge));
    const wantNetns = new Set<string>();
    for (const l of kept) {
      if (plumbingOf(l.type) === 'tap') want.add(this.names.tap(l.id));
      else {
        want.add(this.names.veth(l.id));
        wantNetns.add(this.names.netnsName(l.id));
      }
    }
    const links = own.links.filter((l) => !want.has(l.name)).map((l) => l.name);
    const netns = own.netns.filter((n) => !wantNetns.has(n));
    if (links.length || netns.length) this.log.info({ links, netns }, 'removing stale network objects');
    await this.links.remove(links, netns);
  }

  /** Rewrites the hosts file of every member of a network (in place). */
  writeHosts(net: NetworkRecord, members: Lease[]): void {
    if (!members.length) return;
    mkdirSync(this.names.hostsDir, { recursive: true });
    for (const m of members) writeInPlace(this.names.hostsFile(m.id), hostsText(m, members, net.gateway));
  }

  /** True when the instance's hosts file exists. */
  hasHosts(id: string): boolean {
    return existsSync(this.names.hostsFile(id));
  }

  /** Removes hosts files of instances not in `keep` (all of them for an empty set). */
  pruneHosts(keep: ReadonlySet<string>): void {
    let files: string[] = [];
    try {
      files = readdirSync(this.names.hostsDir);
    } catch {}
    for (const f of files) if (!keep.has(f)) rmSync(this.names.hostsFile(f), { force: true });
  }

  /** What the instance's driver gets. */
  attachmentOf(l: Lease, net: NetworkRecord): NetworkAttachment {
    const tap = plumbingOf(l.type) === 'tap';
    return {
      network: net.name,
      bridge: net.bridge,
      address: l.address,
      prefixLength: parseSubnet(net.subnet).prefixLength,
      gateway: net.gateway,
      mac: macFor(l.address),
      dns: hostNameservers(),
      hostsFile: this.names.hostsFile(l.id),
      ...(tap ? { tap: this.names.tap(l.id) } : { netns: this.names.netnsPath(l.id) }),
    };
  }
}

/** The host's name servers without loopback ones (unreachable from an instance). */
export function hostNameservers(text = readOptional('/etc/resolv.conf')): string[] {
  return [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)]
    .map((m) => m[1]!)
    .filter((a) => !/^127\.|^::1$/.test(a));
}

function readOptional(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
