/**
 * The one file that picks implementations (DESIGN.md): the state store, a driver per instance
 * type, the image store and the placer. Everything else in the daemon sees only core
 * interfaces. `drivers: 'fake'` composes the in-memory fake world (fake drivers for every type
 * and a fake image store) for tests and demos without crun or QEMU.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../base/log.js';
import type { InstanceDriver } from '../core/driver.js';
import type { ImageStore } from '../core/image.js';
import type { InstanceType } from '../core/instance.js';
import type { MetricsFactory } from '../core/monitoring.js';
import type { NetworkService, VolumeService } from '../core/network.js';
import type { NodeInfo, Placer } from '../core/scheduling.js';
import type { Store } from '../core/store.js';
import { ContainerDriver } from '../drivers/container/container-driver.js';
import { FakeDriver } from '../drivers/fake/fake-driver.js';
import { FakeImageStore } from '../drivers/fake/fake-image-store.js';
import { SandboxDriver } from '../drivers/sandbox/sandbox-driver.js';
import { VmDriver } from '../drivers/vm/vm-driver.js';
import { LocalImageStore } from '../images/image-store.js';
import { createPrometheusMetrics } from '../monitoring/prometheus-metrics.js';
import { NetworkManager } from '../network/network-manager.js';
import { LocalVolumes } from '../network/volumes.js';
import { hostNodeInfo } from '../scheduler/host-node.js';
import { createPlacer } from '../scheduler/online-placer.js';
import { SqliteStore } from '../stores/sqlite/sqlite-store.js';

export interface ComposeOptions {
  stateDir: string;
  drivers: 'real' | 'fake';
  store: 'sqlite' | 'etcd';
  etcd?: string;
  node: string;
  logger: Logger;
  /** True when an instance uses the image (removal is then a conflict). */
  imageInUse: (name: string) => Promise<boolean>;
  /** Fake world only: delays per driver call, to make races observable in tests. */
  fakeDelays?: Record<string, number>;
  /** Names of the instances that mount volume `name` (its removal is then a conflict). */
  volumeUsers: (name: string) => Promise<string[]>;
  /** Name and bridge of the default network (default tandem0); 'none': no managed networking. */
  bridge?: string;
}

export interface Composition {
  store: Store;
  drivers: Map<InstanceType, InstanceDriver>;
  images: ImageStore;
  storeName: string;
  placer: Placer;
  /** The nodes placement may use: this host today. */
  nodes: NodeInfo[];
  /** Builds the daemon's metrics over what it shows monitoring (Prometheus, 1 s collection cache). */
  metrics: MetricsFactory;
  /** Managed bridge networks; absent with fake drivers or `--bridge none`. */
  network?: NetworkService;
  volumes: VolumeService;
}

/** Builds the implementations for one daemon; every path lives under `stateDir`. */
export async function compose(opts: ComposeOptions): Promise<Composition> {
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o711 });
  const store = openStore(opts);
  const scheduling = {
    placer: createPlacer('binpack'),
    nodes: [await hostNodeInfo({ stateDir: opts.stateDir, name: opts.node })],
  };
  const metrics = createPrometheusMetrics;
  const drivers = new Map<InstanceType, InstanceDriver>();
  const volumes = new LocalVolumes({
    root: join(opts.stateDir, 'volumes'),
    store,
    usedBy: opts.volumeUsers,
  });
  if (opts.drivers === 'fake') {
    for (const type of ['container', 'vm', 'sandbox'] as const) {
      drivers.set(type, new FakeDriver({ root: join(opts.stateDir, 'fake'), type, delays: opts.fakeDelays }));
    }
    const images = new FakeImageStore();
    return { store, drivers, images, storeName: 'sqlite', metrics, volumes, ...scheduling };
  }
  const network =
    opts.bridge === 'none'
      ? undefined
      : new NetworkManager({
          root: join(opts.stateDir, 'network'),
          store,
          logger: opts.logger,
          defaultNetwork: opts.bridge,
        });
  drivers.set(
    'container',
    new ContainerDriver({ root: join(opts.stateDir, 'containers'), logger: opts.logger }),
  );
  drivers.set('vm', new VmDriver({ root: join(opts.stateDir, 'vms'), logger: opts.logger }));
  drivers.set('sandbox', new SandboxDriver({ root: join(opts.stateDir, 'sandboxes'), logger: opts.logger }));
  const images = new LocalImageStore({
    root: join(opts.stateDir, 'images'),
    store,
    logger: opts.logger,
    inUse: opts.imageInUse,
  });
  await images.recover();
  return { store, drivers, images, storeName: 'sqlite', metrics, network, volumes, ...scheduling };
}

function openStore(opts: ComposeOptions): Store {
  if (opts.store === 'etcd') throw new Error('the etcd store is not available yet');
  return new SqliteStore(join(opts.stateDir, 'state.db'));
}
