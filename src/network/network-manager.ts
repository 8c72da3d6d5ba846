/**
 * The daemon's host networking (core/network.ts `NetworkService`): managed bridge networks,
 * address leases in the store, per-instance plumbing (a netns with a veth for containers, a tap
 * for VMs and sandboxes), port forwards and outbound NAT in one nftables table, and maintained
 * hosts files for name resolution between instances.
 *
 * Host objects are made lazily: a bridge and the table appear with the first instance on a
 * network, and go again when the daemon stops or restarts with no instance left, so a daemon
 * that never runs a networked instance leaves nothing on the host. Changes to records are
 * serialised (one at a time, quick); plumbing of different instances runs in parallel. Every
 * name derives from the network root (network-names.ts), so reconcile and cleanup only ever
 * see this daemon's objects.
 */
import { rmSync } from 'node:fs';
import { TandemError, wrapError } from '../base/errors.js';
import { isValidName } from '../base/ids.js';
import { type Logger, silentLogger } from '../base/log.js';
import { Rollback } from '../base/rollback.js';
import { nowIso } from '../base/time.js';
import type { AttachRequest, NetworkAttachment, NetworkInfo, NetworkService } from '../core/network.js';
import type { Store } from '../core/store.js';
import { Firewall } from './firewall.js';
import { HostLinks } from './host-links.js';
import { formatAddress, gatewayOf, macFor, parseSubnet } from './ipv4.js';
import { isInterfaceName, type NetworkNames, networkNames } from './network-names.js';
import { forwardsOf, Plumbing } from './network-plumbing.js';
import { type Lease, type NetworkRecord, NetworkRecords } from './network-records.js';
import { checkSubnetFree, chooseSubnet } from './network-subnets.js';

export interface NetworkManagerOptions {
  /** This daemon's network root (`<state-dir>/network`); every host name derives from it. */
  root: string;
  store: Store;
  logger?: Logger;
  /** Name and bridge device of the default network (`--network bridge`). Default tandem0. */
  defaultNetwork?: string;
  /** Subnet of the default network when it is first recorded. Default 10.88.0.0/16 (Podman's). */
  defaultSubnet?: string;
  /** Tests: where hosts files and netns names live. */
  runDir?: string;
  netnsDir?: string;
}

export class NetworkManager implements NetworkService {
  readonly names: NetworkNames;
  readonly links: HostLinks;
  readonly firewall: Firewall;
  private readonly plumbing: Plumbing;
  readonly defaultNetwork: string;
  private readonly records: NetworkRecords;
  private readonly log: Logger;
  private readonly ready: Promise<void>;
  private tail: Promise<unknown> = Promise.resolve();
  /** Bridges checked to be ours since this object was made. */
  private readonly verified = new Set<string>();
  private tableLoaded = false;

  constructor(opts: NetworkManagerOptions) {
    this.names = networkNames(opts.root, { runDir: opts.runDir, netnsDir: opts.netnsDir });
    this.links = new HostLinks(this.names);
    this.firewall = new Firewall(this.names.table);
    this.records = new NetworkRecords(opts.store);
    this.log = opts.logger ?? silentLogger();
    this.plumbing = new Plumbing(this.names, this.links, this.log);
    this.defaultNetwork = opts.defaultNetwork ?? 'tandem0';
    if (!isValidName(this.defaultNetwork) || !isInterfaceName(this.defaultNetwork))
      throw new TandemError('invalid_argument', `invalid bridge name "${this.defaultNetwork}"`);
    this.ready = this.init(opts.defaultSubnet ?? '10.88.0.0/16');
    this.ready.catch(() => {});
  }

  private async init(subnet: string): Promise<void> {
    await this.records.load();
    if (this.records.networks.has(this.defaultNetwork)) return;
    await this.records.addNetwork(this.record(this.defaultNetwork, this.defaultNetwork, subnet));
  }

  async list(): Promise<NetworkInfo[]> {
    await this.ready;
    return [...this.records.networks.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((n) => this.info(n));
  }

  async create(name: string, opts: { subnet?: string }): Promise<NetworkInfo> {
    await this.ready;
    if (!isValidName(name))
      throw new TandemError(
        'invalid_argument',
        `invalid network name "${name}": use lowercase letters, digits and inner dashes`,
      );
    return this.serial(async () => {
      if (this.records.networks.has(name))
        throw new TandemError('already_exists', `network "${name}" already exists`);
      const others = [...this.records.networks.values()];
      const subnet = opts.subnet
        ? checkSubnetFree(opts.subnet, others, this.ourBridges())
        : chooseSubnet(others, this.ourBridges());
      const bridge = name === this.defaultNetwork ? name : this.names.bridge(name);
      const rec = this.record(name, bridge, subnet);
      await this.records.addNetwork(rec);
      if (this.tableLoaded) await this.reloadFirewall();
      return this.info(rec);
    });
  }

  async remove(name: string): Promise<void> {
    await this.ready;
    await this.serial(async () => {
      const net = this.records.networks.get(name);
      if (!net) throw new TandemError('not_found', `network "${name}" not found`);
      const users = this.records.leasesOn(name).map((l) => `"${l.name}"`);
      if (users.length)
        throw new TandemError('conflict', `network "${name}" is in use by instance ${users.join(', ')}`);
      const own = await this.links.listOwn();
      await this.links.remove(
        own.links.filter((l) => l.kind === 'bridge' && l.subject === name).map((l) => l.name),
        [],
      );
      this.verified.delete(net.bridge);
      await this.records.removeNetwork(name);
      if (this.tableLoaded) await this.reloadFirewall();
    });
  }

  async attach(req: AttachRequest): Promise<NetworkAttachment> {
    await this.ready;
    const name = req.network ?? this.defaultNetwork;
    const net = this.records.networks.get(name);
    if (!net) throw new TandemError('not_found', `network "${name}" not found`);
    const subject = `attaching instance "${req.name}" to network "${name}"`;
    const rb = new Rollback();
    try {
      await this.serial(() => this.ensureBridge(net));
      const lease = await this.serial(() => this.records.lease(net, req));
      rb.add('address lease', () => this.serial(() => this.records.release([lease.id])));
      rb.add('plumbing', () => this.links.unplug(lease.id));
      await this.plumbing.plug(lease, net);
      if (lease.ports.length) {
        await this.firewall.add(forwardsOf(lease));
        rb.add('port forwards', async () => void (await this.firewall.delete(forwardsOf(lease))));
      }
      this.writeHosts(net);
      rb.commit();
      return this.plumbing.attachmentOf(lease, net);
    } catch (err) {
      await rb.undo();
      throw wrapError(err, subject);
    }
  }

  async ensure(id: string): Promise<NetworkAttachment | undefined> {
    await this.ready;
    const lease = this.records.leaseOf(id);
    if (!lease) return undefined;
    const net = this.networkOf(lease);
    await this.serial(() => this.ensureBridge(net));
    if (!this.plumbing.plugged(lease)) {
      this.log.info({ id, network: net.name }, 'rebuilding the network plumbing of an instance');
      await this.links.unplug(id);
      await this.plumbing.plug(lease, net);
    }
    if (!this.plumbing.hasHosts(id)) this.writeHosts(net);
    return this.plumbing.attachmentOf(lease, net);
  }

  async detach(id: string): Promise<void> {
    await this.ready;
    await this.links.unplug(id);
    rmSync(this.names.hostsFile(id), { force: true });
    const lease = this.records.leaseOf(id);
    if (!lease) return;
    const removed = lease.ports.length ? await this.firewall.delete(forwardsOf(lease)) : true;
    await this.serial(async () => {
      await this.records.release([id]);
      if (!removed && this.tableLoaded) await this.reloadFirewall();
    });
    const net = this.records.networks.get(lease.network);
    if (net) this.writeHosts(net);
  }

  async reconcile(keep: ReadonlySet<string>): Promise<{ kept: number; dropped: number }> {
    await this.ready;
    return this.serial(async () => {
      const dropped = this.records
        .allLeases()
        .filter((l) => !keep.has(l.id))
        .map((l) => l.id);
      await this.records.release(dropped);
      const kept = this.records.allLeases();
      const nets = [...new Set(kept.map((l) => l.network))].map((n) => this.networkOf({ network: n }));
      const own = await this.links.listOwn();
      await this.plumbing.dropStale(own, kept, nets);
      this.verified.clear();
      this.tableLoaded = false;
      const warn = (what: string) => (err: unknown) => this.log.warn({ err }, what);
      for (const net of nets) await this.ensureBridge(net).catch(warn(`rebuilding network "${net.name}"`));
      if (!kept.length) await this.firewall.load([], []).catch(warn('removing the firewall table'));
      const ifaces = this.links.interfaces();
      for (const l of kept) await this.plumbing.replug(l, this.networkOf(l), own.links, ifaces);
      this.plumbing.pruneHosts(new Set(kept.map((l) => l.id)));
      for (const net of nets) this.writeHosts(net);
      return { kept: kept.length, dropped: dropped.length };
    });
  }

  async close(): Promise<void> {
    await this.ready.catch(() => {});
    await this.serial(async () => {
      if (this.records.allLeases().length) return;
      const own = await this.links.listOwn();
      await this.links.remove(
        own.links.map((l) => l.name),
        own.netns,
      );
      await this.firewall.load([], []);
      rmSync(this.names.runDir, { recursive: true, force: true });
    }).catch((err) => this.log.warn({ err }, 'removing the network of a daemon without instances'));
  }

  /** The lease of instance `id` (tests and diagnostics). */
  leaseOf(id: string): Lease | undefined {
    return this.records.leaseOf(id);
  }

  // ---- internals (callers hold the serial queue where noted) ----

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => {});
    return next;
  }

  /** Makes the bridge of `net` exist (and the table loaded). Serialised. */
  private async ensureBridge(net: NetworkRecord): Promise<void> {
    const present = this.links.interfaces().has(net.bridge);
    if (!present || !this.verified.has(net.bridge)) {
      const state = present ? await this.links.bridgeState(net.bridge, net.name) : 'missing';
      if (state === 'foreign')
        throw new TandemError(
          'conflict',
          `bridge "${net.bridge}" exists and is not this daemon's (start the daemon with another --bridge)`,
        );
      if (state === 'missing') {
        checkSubnetFree(net.subnet, [], this.ourBridges());
        const s = parseSubnet(net.subnet);
        await this.links.createBridge(
          net.bridge,
          net.name,
          `${net.gateway}/${s.prefixLength}`,
          macFor(net.gateway),
        );
        this.log.info({ network: net.name, bridge: net.bridge, subnet: net.subnet }, 'created a bridge');
      }
      this.verified.add(net.bridge);
    }
    if (!this.tableLoaded) await this.reloadFirewall();
  }

  /** Replaces the table from the records. Serialised. */
  private async reloadFirewall(): Promise<void> {
    const nets = [...this.records.networks.values()].map((n) => ({ bridge: n.bridge, subnet: n.subnet }));
    await this.firewall.load(
      nets,
      this.records.allLeases().flatMap((l) => forwardsOf(l)),
    );
    this.tableLoaded = true;
  }

  private writeHosts(net: NetworkRecord): void {
    this.plumbing.writeHosts(net, this.records.leasesOn(net.name));
  }

  private networkOf(l: Pick<Lease, 'network'>): NetworkRecord {
    const net = this.records.networks.get(l.network);
    if (!net) throw new TandemError('internal', `network "${l.network}" of a lease is not recorded`);
    return net;
  }

  private ourBridges(): Set<string> {
    return new Set([...this.records.networks.values()].map((n) => n.bridge));
  }

  private record(name: string, bridge: string, subnet: string): NetworkRecord {
    const s = parseSubnet(subnet);
    return { name, bridge, subnet, gateway: formatAddress(gatewayOf(s)), createdAt: nowIso() };
  }

  private info(n: NetworkRecord): NetworkInfo {
    return {
      ...n,
      instances: this.records.leasesOn(n.name).length,
      default: n.name === this.defaultNetwork,
    };
  }
}
