/**
 * Networks and volumes as the daemon and the drivers see them. Pure data and interfaces; the
 * implementation (src/network) is picked by daemon/compose.ts.
 *
 * The daemon owns addresses and host plumbing: before a driver creates an instance on a bridge
 * network, the daemon `attach`es it — an address lease in the store, a network namespace with a
 * veth on the bridge (containers) or a tap on the bridge (VMs, sandboxes), its port forwards and
 * a maintained hosts file — and hands the driver the resulting `NetworkAttachment` (pure data in
 * `DriverSpec.attachment`). A driver only consumes it: crun joins `netns`, QEMU opens `tap`. The
 * daemon `detach`es after the driver deleted the instance. Named volumes are resolved to host
 * directories the same way, so drivers only ever see host paths.
 */
import type { InstanceType, PortForward } from './instance.js';

/** A managed bridge network. */
export interface NetworkInfo {
  name: string;
  /** The bridge device on the host. */
  bridge: string;
  /** IPv4 CIDR, e.g. 10.88.0.0/16. */
  subnet: string;
  /** The bridge's own address: the instances' default route. */
  gateway: string;
  createdAt: string;
  /** Instances holding an address on it. */
  instances: number;
  /** True for the daemon's default network (the one `--network bridge` uses). */
  default: boolean;
}

/** What an instance on a bridge network gets; handed to its driver (DriverSpec.attachment). */
export interface NetworkAttachment {
  network: string;
  bridge: string;
  /** IPv4 address of the instance, without prefix. */
  address: string;
  prefixLength: number;
  gateway: string;
  /** MAC of the instance's interface (derived from the address, stable across restarts). */
  mac: string;
  /** Name servers for the guest (the host's, without loopback ones); may be empty. */
  dns: string[];
  /**
   * Host path of the instance's /etc/hosts, kept current by the network (localhost, every
   * instance of the network by name and hostname). Rewritten in place: bind-mount it.
   */
  hostsFile: string;
  /** Containers: the network namespace to join (eth0 configured, lo up, default route set). */
  netns?: string;
  /** VMs and sandboxes: a persistent tap device on the bridge, up, for `-netdev tap,ifname=`. */
  tap?: string;
}

/** Who asks for an attachment. */
export interface AttachRequest {
  id: string;
  name: string;
  hostname: string;
  type: InstanceType;
  /** Network name; absent: the default network. */
  network?: string;
  ports: PortForward[];
  /** An address to keep (e.g. the instance's before `isolate`): used when free, else a new one. */
  address?: string;
}

/** Host networking of one daemon (src/network). */
export interface NetworkService {
  /** Every network, the default one included (it exists once configured, created on first use). */
  list(): Promise<NetworkInfo[]>;
  /** Creates a network; already_exists, invalid_argument for a bad or overlapping subnet. */
  create(name: string, opts: { subnet?: string }): Promise<NetworkInfo>;
  /** Removes a network and its bridge; conflict while an instance holds an address on it. */
  remove(name: string): Promise<void>;
  /**
   * Leases an address and builds the host side (netns + veth or tap, forwards, hosts files);
   * conflict when a host port is taken. Leaves nothing behind when it fails.
   */
  attach(req: AttachRequest): Promise<NetworkAttachment>;
  /** The attachment of instance `id`, rebuilding host plumbing that went missing; undefined when none. */
  ensure(id: string): Promise<NetworkAttachment | undefined>;
  /** Releases the address, plumbing, forwards and hosts file of `id`; idempotent. */
  detach(id: string): Promise<void>;
  /**
   * After a daemon start: keeps the leases of `keep` (rebuilding a missing bridge, rules and
   * plumbing) and drops every other lease and host object of this daemon.
   */
  reconcile(keep: ReadonlySet<string>): Promise<{ kept: number; dropped: number }>;
  /** Stops using the host; with no lease left, removes this daemon's bridges and rules. */
  close(): Promise<void>;
}

/** A named volume: a directory owned by the daemon that outlives the instances using it. */
export interface VolumeInfo {
  name: string;
  /** Host directory mounted into instances. */
  path: string;
  createdAt: string;
}

/** Named volumes of one daemon (src/network/volumes.ts). */
export interface VolumeService {
  list(): Promise<VolumeInfo[]>;
  /** Creates a volume; already_exists when it exists. */
  create(name: string): Promise<VolumeInfo>;
  /** Removes a volume and its data; conflict while an instance uses it, not_found when missing. */
  remove(name: string): Promise<void>;
  /** The host directory of volume `name`, creating the volume on first use (as Podman does). */
  resolve(name: string): Promise<string>;
}
