/** The cgroup types shared by the v1 and v2 implementations (see cgroup.ts). */

/** Where the cgroup hierarchies are mounted. */
export interface CgroupLayout {
  version: 1 | 2;
  /** v1: controller (or `name=systemd`) → mount point of its hierarchy. Empty on v2. */
  v1: Record<string, string>;
  /** The cgroup2 mount: the only hierarchy on v2, the (controller-less) unified one on hybrid v1. */
  unified?: string;
  /** Every hierarchy's mount point, for cleanup across all of them. */
  all: string[];
}

export interface CgroupLimits {
  cpus?: number;
  memoryBytes?: number;
  pids?: number;
}

export interface CgroupUsage {
  cpuSeconds: number;
  memoryBytes: number;
  memoryPeakBytes?: number;
  memoryLimitBytes?: number;
  pids?: number;
  blockReadBytes?: number;
  blockWriteBytes?: number;
}

export type FreezeState = 'thawed' | 'freezing' | 'frozen';

/** One instance's cgroup; every method works on the hierarchies the layout names. */
export interface Cgroup {
  /** Path relative to the hierarchy roots, starting with `/`. */
  readonly path: string;
  /** Creates the group where limits, freezer and stats live (enabling v2 controllers); idempotent. */
  create(): Promise<void>;
  exists(): Promise<boolean>;
  /** Writes every limit; an absent field removes that limit. */
  setLimits(limits: CgroupLimits): Promise<void>;
  readLimits(): Promise<CgroupLimits>;
  usage(): Promise<CgroupUsage>;
  /** Freezes every process in the group; resolves once frozen. */
  freeze(): Promise<void>;
  /** Thaws the group; resolves once thawed. */
  thaw(): Promise<void>;
  freezeState(): Promise<FreezeState>;
  /** The directory whose memory OOM events cover the group (v1 memory hierarchy, or the v2 group). */
  memoryDir(): string;
  /** Pids of every process in the group and below. */
  pids(): Promise<number[]>;
  /** Kills what is left and removes the group (and groups below it) from every hierarchy; idempotent. */
  remove(): Promise<void>;
  /** Absolute path of the group in a controller's hierarchy (v2: the one directory). */
  dir(controller: string): string;
}
