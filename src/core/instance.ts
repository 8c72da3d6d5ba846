/**
 * The instance model: what a user asked for (`InstanceConfig`, fixed at create except limits)
 * and what Tandem knows now (`Instance`, the record the store keeps). Pure data, no I/O.
 */

export const INSTANCE_TYPES = ['container', 'vm', 'sandbox'] as const;
export type InstanceType = (typeof INSTANCE_TYPES)[number];

export const INSTANCE_STATUSES = [
  'created',
  'starting',
  'running',
  'paused',
  'stopping',
  'stopped',
  'error',
] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

export type RestartPolicy = 'no' | 'on-failure' | 'always';
export type NetworkMode = 'bridge' | 'none' | 'host';

/** Resource limits; an absent field means "no limit" (and no request for placement). */
export interface Limits {
  cpus?: number;
  memoryBytes?: number;
  pids?: number;
  diskBytes?: number;
}

export interface PortForward {
  hostPort: number;
  port: number;
  protocol: 'tcp' | 'udp';
}

export interface VolumeMount {
  /** A volume name, or an absolute host path for a bind mount. */
  source: string;
  target: string;
  readOnly: boolean;
  /** In a DriverSpec: the volume's name when `source` is the resolved path of a named volume. */
  volume?: string;
}

export interface SecuritySettings {
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  readOnly: boolean;
  userns: 'host' | 'auto';
}

/** Everything a user chooses at create time. Absent fields take the image's defaults. */
export interface InstanceConfig {
  image: string;
  /** Overrides the image's Cmd (or, with `entrypoint`, the arguments after it). */
  command?: string[];
  entrypoint?: string[];
  env: Record<string, string>;
  user?: string;
  workdir?: string;
  hostname?: string;
  tty?: boolean;
  stdin?: boolean;
  /** A client attaches right after the start (foreground run): keep output and status for it. */
  attach?: boolean;
  limits: Limits;
  ports: PortForward[];
  volumes: VolumeMount[];
  network?: NetworkMode;
  security: SecuritySettings;
  restart: RestartPolicy;
  init?: 'system';
  autoRemove: boolean;
  /** Node the user pinned the instance to, if any. */
  node?: string;
}

/** The record of one instance as the store keeps it. */
export interface Instance {
  id: string;
  name: string;
  type: InstanceType;
  config: InstanceConfig;
  status: InstanceStatus;
  statusReason: string;
  node: string;
  /** vm/sandbox: the accelerator in use. */
  accel?: 'kvm' | 'tcg';
  pid?: number;
  exitCode?: number;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  addresses: string[];
  /** Count of automatic restarts applied by the restart policy. */
  restartCount: number;
}

/** Security settings a user gets without asking for anything (DESIGN.md, Podman's defaults). */
export function defaultSecurity(): SecuritySettings {
  return { capAdd: [], capDrop: [], privileged: false, readOnly: false, userns: 'host' };
}

/** True for statuses where a workload process exists (running or frozen). */
export function isActive(status: InstanceStatus): boolean {
  return status === 'running' || status === 'paused' || status === 'starting' || status === 'stopping';
}
