/**
 * The daemon process: takes the state-dir lock, composes the implementations, reconciles the
 * store with every driver, then serves the API on the unix socket (and TCP with a token).
 * `stop()` is the SIGTERM path: stop accepting requests, let running operations finish (for a
 * bounded time), close event streams and drivers — workloads keep running — and close the
 * store. Nothing here is specific to one backend.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { TandemError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { DriverInfo } from '../core/driver.js';
import { EventBus } from '../core/events.js';
import { type Composition, compose } from './compose.js';
import type { DaemonContext } from './context.js';
import { metricsSource } from './http/routes-metrics.js';
import { type App, buildApp, listenTcp } from './http/server.js';
import { InstanceRecords } from './instance-records.js';
import { InstanceRuntime } from './instance-runtime.js';
import { type Driver, InstanceService } from './instance-service.js';
import { Operations } from './operations.js';
import { Placement } from './placement.js';
import { StateLock } from './state-lock.js';

export const VERSION = '0.1.0';

export interface DaemonOptions {
  stateDir: string;
  socket: string;
  listen?: { host: string; port: number };
  tokenFile?: string;
  store?: 'sqlite' | 'etcd';
  etcd?: string;
  node?: string;
  drivers?: 'real' | 'fake';
  logger: Logger;
  eventBufferBytes?: number;
  fakeDelays?: Record<string, number>;
  /** Name and bridge of the default network (default tandem0); 'none': no managed networking. */
  bridge?: string;
}

export class Daemon {
  private tcp: Server | undefined;
  private stopWatching = () => {};

  private constructor(
    readonly app: App,
    private readonly parts: Composition,
    private readonly runtime: InstanceRuntime,
    readonly ops: Operations,
    private readonly lock: StateLock,
    private readonly opts: DaemonOptions,
  ) {}

  /** Starts a daemon; rejects (releasing everything) when the state dir or socket is taken. */
  static async start(opts: DaemonOptions): Promise<Daemon> {
    mkdirSync(opts.stateDir, { recursive: true, mode: 0o711 });
    const lock = StateLock.acquire(opts.stateDir);
    try {
      return await Daemon.startLocked(opts, lock);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  private static async startLocked(opts: DaemonOptions, lock: StateLock): Promise<Daemon> {
    const log = opts.logger;
    const token = opts.tokenFile ? readToken(opts.tokenFile) : undefined;
    let records: InstanceRecords | undefined;
    const parts = await compose({
      stateDir: opts.stateDir,
      drivers: opts.drivers ?? 'real',
      store: opts.store ?? 'sqlite',
      etcd: opts.etcd,
      node: opts.node ?? 'local',
      logger: log,
      fakeDelays: opts.fakeDelays,
      imageInUse: async (name) => (await records?.list())?.some((i) => i.config.image === name) ?? true,
      volumeUsers: async (name) =>
        ((await records?.list()) ?? [])
          .filter((i) => i.config.volumes.some((v) => v.source === name))
          .map((i) => i.name),
      bridge: opts.bridge,
    });
    const node = opts.node ?? 'local';
    const events = new EventBus();
    const ops = new Operations(events);
    const drivers = new Map<Driver['info']['type'], Driver>();
    for (const [type, driver] of parts.drivers)
      drivers.set(type, { driver, info: withoutNetworkFeatures(await driver.probe(), !parts.network) });
    records = new InstanceRecords(parts.store);
    const placement = new Placement(
      parts.placer,
      () => parts.nodes,
      records,
      (inst) => drivers.get(inst.type)?.driver.footprint?.(inst.config.limits),
    );
    const svc = new InstanceService({
      records,
      events,
      ops,
      drivers,
      images: parts.images,
      node,
      logger: log,
      placement,
      network: parts.network,
      volumes: parts.volumes,
    });
    const runtime = new InstanceRuntime(svc, log);
    const ctx: DaemonContext = {
      svc,
      ops,
      events,
      images: parts.images,
      eventBufferBytes: opts.eventBufferBytes ?? 1 << 20,
      uploadDir: join(opts.stateDir, 'uploads'),
      network: parts.network,
      volumes: parts.volumes,
      nodes: () => placement.view(),
      metrics: parts.metrics(metricsSource({ svc, ops, events, nodes: () => placement.view() })),
      info: async () => ({
        version: VERSION,
        node,
        store: parts.storeName,
        drivers: [...drivers.values()].map(({ info }: { info: DriverInfo }) => info),
      }),
    };
    const app = await buildApp(ctx, log, token);
    const daemon = new Daemon(app, parts, runtime, ops, lock, opts);
    daemon.stopWatching = runtime.watch();
    if (parts.network) {
      const kept = new Set((await records.list()).map((i) => i.id));
      log.info(await parts.network.reconcile(kept), 'reconciled the network with the instances');
    }
    const summary = await runtime.reconcile();
    log.info(summary, 'reconciled instances with the drivers');
    await daemon.listen(token);
    return daemon;
  }

  private async listen(token: string | undefined): Promise<void> {
    await freeSocket(this.opts.socket);
    await this.app.listen({ path: this.opts.socket });
    chmodSync(this.opts.socket, 0o660);
    if (this.opts.listen) {
      if (!token) throw new TandemError('invalid_argument', '--listen needs --token-file');
      this.tcp = await listenTcp(this.app, this.opts.listen.host, this.opts.listen.port);
    }
    this.opts.logger.info({ socket: this.opts.socket, listen: this.opts.listen }, 'tandem daemon ready');
  }

  /** The TCP port actually bound (useful with port 0). */
  get tcpPort(): number | undefined {
    const a = this.tcp?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  /** Shuts down cleanly; workloads keep running. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopWatching();
    this.runtime.close();
    this.tcp?.closeAllConnections();
    this.tcp?.close();
    const drained = this.ops.drain();
    await Promise.race([drained, new Promise((r) => setTimeout(r, graceMs).unref())]);
    this.app.server.closeAllConnections();
    await this.app.close();
    for (const d of this.parts.drivers.values()) await d.close().catch(() => {});
    await this.parts.network?.close();
    await this.parts.store.close();
    this.lock.release();
  }
}

/** Without managed networking, no driver can offer bridge networks or published ports. */
function withoutNetworkFeatures(info: DriverInfo, strip: boolean): DriverInfo {
  if (!strip) return info;
  return { ...info, features: info.features.filter((f) => f !== 'network-bridge' && f !== 'ports') };
}

function readToken(file: string): string {
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new TandemError('invalid_argument', `reading token file "${file}": ${(err as Error).message}`);
  }
  if (token.length < 16)
    throw new TandemError('invalid_argument', `token in "${file}" is shorter than 16 characters`);
  return token;
}

/** Removes a stale socket file; refuses when a live daemon answers on it. */
async function freeSocket(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  if (!existsSync(path)) return;
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new TandemError('unavailable', `socket "${path}" is in use by another daemon`);
  unlinkSync(path);
}
