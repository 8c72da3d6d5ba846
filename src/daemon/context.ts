/** What the HTTP routes may use: the services the daemon composed. */
import type { DaemonInfo, Node } from '../api/system.js';
import type { EventBus } from '../core/events.js';
import type { ImageStore } from '../core/image.js';
import type { Metrics } from '../core/monitoring.js';
import type { NetworkService, VolumeService } from '../core/network.js';
import type { InstanceService } from './instance-service.js';
import type { Operations } from './operations.js';

export interface DaemonContext {
  svc: InstanceService;
  ops: Operations;
  events: EventBus;
  images: ImageStore;
  /** Prometheus series and the API latency histogram (GET /metrics). */
  metrics: Metrics;
  info(): Promise<DaemonInfo>;
  nodes(): Promise<Node[]>;
  /** Bytes a slow event subscriber may have queued before it is disconnected. */
  eventBufferBytes: number;
  /** Where uploads wait until they are imported. */
  uploadDir: string;
  /** Managed networks; absent when the daemon runs without them (`--bridge none`, fake drivers). */
  network?: NetworkService;
  volumes: VolumeService;
}
