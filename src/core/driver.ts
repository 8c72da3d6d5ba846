/**
 * The contract every instance backend implements (crun containers, QEMU VMs, sandboxes, the
 * in-memory fake). The daemon owns legality (core/lifecycle.ts), locking and the store; a driver
 * owns host state and the backend's truth. One conformance suite (drivers/conformance.ts) runs
 * against every implementation.
 *
 * Rules every driver follows:
 * - `create` prepares host state and leaves nothing behind when it fails (a Rollback).
 * - `delete` releases every host resource and is idempotent (deleting a missing id succeeds).
 * - workloads outlive the driver object: a new driver on the same root sees them in `list()`
 *   and `state()` (the daemon-restart case).
 * - backend-originated changes (a workload exits, is OOM-killed, a guest powers off) are
 *   reported through `onEvent`, not only as replies to calls.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import type { ImageConfig } from './image.js';
import type {
  InstanceType,
  Limits,
  NetworkMode,
  PortForward,
  SecuritySettings,
  VolumeMount,
} from './instance.js';
import type { NetworkAttachment } from './network.js';

export interface DriverInfo {
  type: InstanceType;
  /** False when the backend cannot run here; `reason` says what to do. */
  available: boolean;
  reason?: string;
  version?: string;
  /** Optional capabilities this driver has, e.g. 'tty', 'update-live', 'console'. */
  features: string[];
  accel?: 'kvm' | 'tcg';
}

/** An image as a driver needs it: unpacked layer directories, bottom first, and its config. */
export interface ResolvedImage {
  name: string;
  digest: string;
  layers: string[];
  config: ImageConfig;
}

/** The workload process, with the image's defaults already merged with the user's flags. */
export interface ProcessSpec {
  args: string[];
  /** KEY=VALUE strings. */
  env: string[];
  cwd: string;
  /** `uid[:gid]` or a user name from the image. */
  user: string;
  terminal: boolean;
  /** Keep the workload's stdin open for `attach` (podman run -i); absent: /dev/null. */
  stdin?: boolean;
  /**
   * A client attaches right after the start (a foreground run): the workload's output, kept
   * apart by stream, and its exit status wait for it a few seconds after the workload ended.
   */
  attach?: boolean;
}

/** Everything a driver needs to create an instance. */
export interface DriverSpec {
  id: string;
  name: string;
  type: InstanceType;
  hostname: string;
  process: ProcessSpec;
  image: ResolvedImage;
  limits: Limits;
  security: SecuritySettings;
  network: NetworkMode;
  /** With network 'bridge': the address and host plumbing the daemon prepared (core/network.ts). */
  attachment?: NetworkAttachment;
  ports: PortForward[];
  /** Sources are host paths: the daemon resolves named volumes before the driver sees them. */
  volumes: VolumeMount[];
  init?: 'system';
  /**
   * Rootfs changes to start from (`isolate`): a host directory in overlay upper-dir form (added
   * and changed files; a 0/0 character device for a removed one) from another driver's
   * `exportRootfsChanges`. A driver with the 'rootfs-changes' feature takes it over (it may move
   * it); the caller removes whatever is left. Others refuse it.
   */
  rootfsChanges?: string;
}

/** The backend's truth about one instance. `missing`: the driver knows nothing of this id. */
export interface RuntimeState {
  status: 'created' | 'running' | 'paused' | 'stopped' | 'missing';
  pid?: number;
  exitCode?: number;
  /** Why it stopped, e.g. 'exited', 'oom-killed', 'killed', 'failed: ...'. */
  reason?: string;
  startedAt?: string;
  finishedAt?: string;
  accel?: 'kvm' | 'tcg';
}

export type RuntimeEventKind = 'started' | 'exited' | 'oom-killed' | 'failed' | 'paused' | 'resumed';

/** A change the backend noticed on its own (not a reply to a call). */
export interface RuntimeEvent {
  id: string;
  kind: RuntimeEventKind;
  exitCode?: number;
  reason?: string;
  time: string;
}

export interface ResourceUsage {
  time: string;
  cpuSeconds: number;
  memoryBytes: number;
  memoryPeakBytes?: number;
  memoryLimitBytes?: number;
  pids?: number;
  blockReadBytes?: number;
  blockWriteBytes?: number;
  netRxBytes?: number;
  netTxBytes?: number;
}

export interface ExecRequest {
  args: string[];
  env: string[];
  cwd?: string;
  user?: string;
  tty: boolean;
  /** When false the process gets /dev/null as stdin and `stdin` of the session is null. */
  stdin: boolean;
  cols?: number;
  rows?: number;
}

/** A running exec (or attach): its streams, controls and exit status (128+N when killed by N). */
export interface ExecSession {
  stdin: Writable | null;
  stdout: Readable;
  /** With a TTY, stderr is merged into stdout and this stream ends empty. */
  stderr: Readable;
  resize(cols: number, rows: number): void;
  signal(sig: NodeJS.Signals): void;
  exit: Promise<number>;
}

export interface AttachOptions {
  /** Start with the output of the current run so far (as much as the backend kept), not only new output. */
  replay?: boolean;
}

export interface StopOptions {
  /** Grace period after the polite request (SIGTERM, ACPI power button) before killing. */
  timeoutMs: number;
  /** Skip the grace period. */
  force?: boolean;
}

export interface LogOptions {
  follow?: boolean;
  /** Last N lines only. */
  tail?: number;
  signal?: AbortSignal;
}

export interface InstanceDriver {
  readonly type: InstanceType;
  /** Tells whether this backend can run here and what it supports; never throws. */
  probe(): Promise<DriverInfo>;
  /**
   * The host memory an instance with `limits` takes where it differs from its memory limit: a
   * VM's guest RAM (its default when no limit is set), a sandbox's guest RAM (the workload's
   * limit plus the guest kernel's own share). Placement counts this. Omitted: the limit itself.
   */
  footprint?(limits: Limits): { memoryBytes: number };
  /** Prepares host state for a new instance that is not running; leaves nothing when it fails. */
  create(spec: DriverSpec, signal?: AbortSignal): Promise<void>;
  /** Starts the workload of a created or stopped instance; resolves once it runs. */
  start(id: string, signal?: AbortSignal): Promise<void>;
  /** Stops politely, kills at the timeout; resolves once the workload is gone. No-op when stopped. */
  stop(id: string, opts: StopOptions): Promise<void>;
  /** Sends a signal to the workload (a VM treats KILL and TERM as forced and polite power-off). */
  kill(id: string, signal: NodeJS.Signals): Promise<void>;
  /** Freezes a running workload. */
  pause(id: string): Promise<void>;
  /** Thaws a paused workload. */
  resume(id: string): Promise<void>;
  /** Releases every host resource of the instance; idempotent; `force` kills a live workload first. */
  delete(id: string, opts: { force?: boolean }): Promise<void>;
  /** Applies new limits; live where the backend allows, else rejects with not_supported. */
  update(id: string, limits: Limits): Promise<void>;
  /** The backend's truth about one instance; `missing` when unknown. */
  state(id: string): Promise<RuntimeState>;
  /** Ids of every instance this driver (on this root) holds, for reconcile after a restart. */
  list(): Promise<string[]>;
  /** Current resource usage; rejects with conflict unless the workload runs. */
  stats(id: string): Promise<ResourceUsage>;
  /** Runs a command inside a running instance. */
  exec(id: string, req: ExecRequest): Promise<ExecSession>;
  /**
   * Optional: attaches to the running workload's own stdio (for a foreground `run`): its output,
   * stdin when the spec kept it open, resize with a terminal; `exit` is the workload's status.
   * Rejects with conflict unless the workload runs.
   */
  attach?(id: string, opts?: AttachOptions): Promise<ExecSession>;
  /** The workload's output (stdout and stderr interleaved), optionally following. */
  logs(id: string, opts: LogOptions): AsyncIterable<Buffer>;
  /**
   * Attaches to the instance's interactive serial console (vm, sandbox): bytes both ways until
   * the caller destroys the stream; conflict unless running or paused. Absent: no console.
   */
  console?(id: string): Promise<Duplex>;
  /**
   * Optional ('rootfs-changes' feature): copies the rootfs changes of a stopped or created
   * instance against its image into a new directory under the driver's root, in overlay
   * upper-dir form, and returns its path; the caller owns it (passes it on as
   * `DriverSpec.rootfsChanges`, or removes it). Conflict unless stopped or created.
   */
  exportRootfsChanges?(id: string): Promise<string>;
  /** Subscribes to backend-originated events; returns the unsubscribe function. */
  onEvent(listener: (event: RuntimeEvent) => void): () => void;
  /** Releases the driver's own resources (watchers, sockets); workloads keep running. */
  close(): Promise<void>;
}
