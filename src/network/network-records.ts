/**
 * Networks and address leases in the state store (collections `networks` and `leases`), with
 * an in-memory copy that the manager changes only through these methods, one at a time (the
 * caller serialises them). A lease is keyed `<network>/<address>` and written with a `create`
 * mutation, so the store itself refuses a second lease of one address. Allocation is round
 * robin per network (ipv4.ts `nextFree`): a released address is not reused at once.
 */
import { TandemError } from '../base/errors.js';
import { nowIso } from '../base/time.js';
import type { InstanceType, PortForward } from '../core/instance.js';
import type { Store } from '../core/store.js';
import { formatAddress, nextFree, parseAddress, parseSubnet } from './ipv4.js';

export interface NetworkRecord {
  name: string;
  bridge: string;
  subnet: string;
  gateway: string;
  createdAt: string;
}

export interface Lease {
  id: string;
  name: string;
  hostname: string;
  type: InstanceType;
  network: string;
  address: string;
  ports: PortForward[];
  createdAt: string;
}

export interface LeaseRequest {
  id: string;
  name: string;
  hostname: string;
  type: InstanceType;
  ports: PortForward[];
  /** Preferred address, taken when it is a free host address of the subnet. */
  address?: string;
}

const leaseKey = (l: Pick<Lease, 'network' | 'address'>) => `${l.network}/${l.address}`;

export class NetworkRecords {
  readonly networks = new Map<string, NetworkRecord>();
  private readonly leases = new Map<string, Lease>();
  private readonly lastAllocated = new Map<string, number>();

  constructor(private readonly store: Store) {}

  /** Loads both collections from the store. */
  async load(): Promise<void> {
    for (const n of await this.store.list<NetworkRecord>('networks')) this.networks.set(n.name, n);
    for (const l of await this.store.list<Lease>('leases')) this.leases.set(l.id, l);
  }

  allLeases(): Lease[] {
    return [...this.leases.values()];
  }

  leaseOf(id: string): Lease | undefined {
    return this.leases.get(id);
  }

  leasesOn(network: string): Lease[] {
    return this.allLeases().filter((l) => l.network === network);
  }

  async addNetwork(n: NetworkRecord): Promise<void> {
    await this.store.commit([{ op: 'create', collection: 'networks', key: n.name, value: n }]);
    this.networks.set(n.name, n);
  }

  async removeNetwork(name: string): Promise<void> {
    await this.store.commit([{ op: 'delete', collection: 'networks', key: name }]);
    this.networks.delete(name);
    this.lastAllocated.delete(name);
  }

  /** Leases the next free address of `network` to `req`; conflict when a host port is taken. */
  async lease(network: NetworkRecord, req: LeaseRequest): Promise<Lease> {
    if (!this.networks.has(network.name))
      throw new TandemError('not_found', `network "${network.name}" not found`);
    if (this.leases.has(req.id))
      throw new TandemError('already_exists', `instance "${req.name}" already has an address`);
    this.checkPorts(req);
    const subnet = parseSubnet(network.subnet);
    const used = new Set(this.leasesOn(network.name).map((l) => parseAddress(l.address)));
    const wanted = req.address ? parseAddress(req.address) : undefined;
    const addr =
      wanted !== undefined && nextFree(subnet, used, wanted - 1) === wanted
        ? wanted
        : nextFree(subnet, used, this.lastAllocated.get(network.name));
    if (addr === undefined)
      throw new TandemError(
        'insufficient_resources',
        `network "${network.name}" has no free address in ${network.subnet}`,
      );
    const { address: _preferred, ...rest } = req;
    const lease: Lease = {
      ...rest,
      network: network.name,
      address: formatAddress(addr),
      createdAt: nowIso(),
    };
    await this.store.commit([{ op: 'create', collection: 'leases', key: leaseKey(lease), value: lease }]);
    this.leases.set(lease.id, lease);
    if (addr !== wanted) this.lastAllocated.set(network.name, addr);
    return lease;
  }

  /** Forgets the leases of these instance ids (one commit). */
  async release(ids: readonly string[]): Promise<void> {
    const doomed = ids.map((id) => this.leases.get(id)).filter((l): l is Lease => !!l);
    if (!doomed.length) return;
    await this.store.commit(
      doomed.map((l) => ({ op: 'delete' as const, collection: 'leases' as const, key: leaseKey(l) })),
    );
    for (const l of doomed) this.leases.delete(l.id);
  }

  private checkPorts(req: LeaseRequest): void {
    const seen = new Set<string>();
    const taken = new Map<string, string>();
    for (const l of this.leases.values())
      for (const p of l.ports) taken.set(`${p.protocol}/${p.hostPort}`, l.name);
    for (const p of req.ports) {
      const key = `${p.protocol}/${p.hostPort}`;
      if (seen.has(key))
        throw new TandemError('invalid_argument', `host port ${p.hostPort}/${p.protocol} is published twice`);
      seen.add(key);
      const owner = taken.get(key);
      if (owner)
        throw new TandemError(
          'conflict',
          `host port ${p.hostPort}/${p.protocol} is already published by instance "${owner}"`,
        );
    }
  }
}
