/**
 * The instance flags shared by launch, create and run, and their translation into a create
 * request. Values are checked here (sizes, names, ports, volumes) so a typo is a usage error
 * (exit 2) before anything reaches the daemon.
 */
import type { Command } from 'commander';
import type { CreateInstanceRequest } from '../api/instances.js';
import { TandemError } from '../base/errors.js';
import { assertValidName } from '../base/ids.js';
import { parseSize } from '../base/units.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Adds every instance flag of DESIGN.md to `cmd`. */
export function addInstanceFlags(cmd: Command): Command {
  return cmd
    .option('--vm', 'a virtual machine with its own kernel')
    .option('--sandbox', 'a container inside a lightweight VM')
    .option('--cpus <n>', 'CPU limit (fractions allowed)')
    .option('--memory <size>', 'memory limit, e.g. 64MiB')
    .option('--pids <n>', 'process limit')
    .option('--disk <size>', 'disk size (vm, sandbox)')
    .option('-e, --env <KEY=VAL>', 'environment variable (repeatable)', collect)
    .option('--user <uid[:gid]>', 'user of the workload')
    .option('--workdir <dir>', 'working directory')
    .option('--entrypoint <cmd>', 'override the image entrypoint')
    .option('--hostname <name>', 'hostname (default: the instance name)')
    .option('-p, --publish <hostport:port>', 'forward a host port (repeatable)', collect)
    .option('-v, --volume <src:path[:ro]>', 'mount a volume or host path (repeatable)', collect)
    .option('--network <mode>', 'bridge, none or host')
    .option('--cap-add <cap>', 'add a capability (repeatable)', collect)
    .option('--cap-drop <cap>', 'drop a capability (repeatable)', collect)
    .option('--privileged', 'all capabilities and devices (explicit, off by default)')
    .option('--read-only', 'read-only root filesystem')
    .option('--userns <mode>', 'auto or host')
    .option('--restart <policy>', 'no, on-failure or always')
    .option('--init <kind>', 'system: boot the image\u2019s own init (vm)')
    .option('--node <node>', 'run on this node')
    .option('--rm', 'delete the instance when its workload ends');
}

export interface InstanceFlags {
  vm?: boolean;
  sandbox?: boolean;
  cpus?: string;
  memory?: string;
  pids?: string;
  disk?: string;
  env?: string[];
  user?: string;
  workdir?: string;
  entrypoint?: string;
  hostname?: string;
  publish?: string[];
  volume?: string[];
  network?: string;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  readOnly?: boolean;
  userns?: string;
  restart?: string;
  init?: string;
  node?: string;
  rm?: boolean;
}

function usage(msg: string): never {
  throw new TandemError('invalid_argument', msg);
}

function oneOf<T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) usage(`invalid ${flag} "${v}": use ${allowed.join(', ')}`);
  return v as T;
}

function positiveNumber(flag: string, v: string | undefined, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) usage(`invalid ${flag} "${v}"`);
  return n;
}

/** Parses `-e KEY=VAL` flags into a record. */
export function parseEnv(list: string[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i <= 0) usage(`invalid environment variable "${kv}": use KEY=VALUE`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

function parsePort(spec: string): { hostPort: number; port: number; protocol: 'tcp' | 'udp' } {
  const m = /^(\d+):(\d+)(?:\/(tcp|udp))?$/.exec(spec);
  const [hostPort, port] = [Number(m?.[1]), Number(m?.[2])];
  if (!m || hostPort < 1 || hostPort > 65535 || port < 1 || port > 65535)
    usage(`invalid port forward "${spec}": use HOSTPORT:PORT`);
  return { hostPort, port, protocol: (m[3] as 'tcp' | 'udp' | undefined) ?? 'tcp' };
}

function parseVolume(spec: string): { source: string; target: string; readOnly: boolean } {
  const parts = spec.split(':');
  const ro = parts.length === 3 && parts[2] === 'ro';
  if (
    parts.length < 2 ||
    parts.length > 3 ||
    (parts.length === 3 && !ro && parts[2] !== 'rw') ||
    !parts[1]!.startsWith('/')
  ) {
    usage(`invalid volume "${spec}": use VOLUME:/PATH or /HOST/PATH:/PATH[:ro]`);
  }
  if (!parts[0]!.startsWith('/')) assertValidName(parts[0]!, 'volume name');
  return { source: parts[0]!, target: parts[1]!, readOnly: ro };
}

/** Builds the create request for `image` and `name` from the flags and the command after `--`. */
export function createRequest(
  image: string,
  name: string,
  f: InstanceFlags,
  command: string[],
): CreateInstanceRequest {
  assertValidName(name, 'instance name');
  if (f.vm && f.sandbox) usage('choose one of --vm and --sandbox');
  const limits = {
    cpus: positiveNumber('--cpus', f.cpus, false),
    memory: f.memory === undefined ? undefined : parseSize(f.memory, 'memory'),
    pids: positiveNumber('--pids', f.pids, true),
    disk: f.disk === undefined ? undefined : parseSize(f.disk, 'disk size'),
  };
  const req: CreateInstanceRequest = {
    name,
    image,
    type: f.vm ? 'vm' : f.sandbox ? 'sandbox' : 'container',
    limits: Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)),
    env: parseEnv(f.env),
    user: f.user,
    workdir: f.workdir,
    hostname: f.hostname,
    entrypoint: f.entrypoint === undefined ? undefined : [f.entrypoint],
    command: command.length > 0 ? command : undefined,
    ports: f.publish?.map(parsePort),
    volumes: f.volume?.map(parseVolume),
    network: oneOf('--network', f.network, ['bridge', 'none', 'host'] as const),
    capAdd: f.capAdd,
    capDrop: f.capDrop,
    privileged: f.privileged,
    readOnly: f.readOnly,
    userns: oneOf('--userns', f.userns, ['auto', 'host'] as const),
    restart: oneOf('--restart', f.restart, ['no', 'on-failure', 'always'] as const),
    init: oneOf('--init', f.init, ['system'] as const),
    node: f.node,
    autoRemove: f.rm,
  };
  return Object.fromEntries(Object.entries(req).filter(([, v]) => v !== undefined)) as CreateInstanceRequest;
}
