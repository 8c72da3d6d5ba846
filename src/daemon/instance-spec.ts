/**
 * Turns a create request into the stored InstanceConfig, and a stored instance plus its image
 * into the DriverSpec a driver gets. The image's defaults are merged as Podman does: the
 * entrypoint stays unless overridden; a new entrypoint drops the image's Cmd; `/bin/sh` when
 * nothing defines a command; image Env first, then the user's; hostname = instance name.
 * Flags whose capability the driver lacks are refused with not_supported, never ignored.
 */

import type { CreateInstanceRequest, LimitsInput } from '../api/instances.js';
import { TandemError } from '../base/errors.js';
import { parseSize } from '../base/units.js';
import type { DriverInfo, DriverSpec, ResolvedImage } from '../core/driver.js';
import type { ImageConfig } from '../core/image.js';
import { defaultSecurity, type Instance, type InstanceConfig, type Limits } from '../core/instance.js';

/** Parses limits from the wire (sizes as strings or bytes); invalid_argument on a bad size. */
export function limitsFromInput(input: LimitsInput | undefined): Limits {
  const out: Limits = {};
  if (!input) return out;
  if (input.cpus !== undefined) out.cpus = input.cpus;
  if (input.pids !== undefined) out.pids = input.pids;
  if (input.memory !== undefined) out.memoryBytes = toBytes(input.memory, 'memory');
  if (input.disk !== undefined) out.diskBytes = toBytes(input.disk, 'disk size');
  return out; // each driver knows its own minimum (a container's, a VM's)
}

function toBytes(v: number | string, what: string): number {
  return typeof v === 'number' ? v : parseSize(v, what);
}

/** The stored config of a new instance, from a validated create request. */
export function configFromRequest(req: CreateInstanceRequest): InstanceConfig {
  const security = defaultSecurity();
  return {
    image: req.image,
    command: req.command,
    entrypoint: req.entrypoint,
    env: req.env ?? {},
    user: req.user,
    workdir: req.workdir,
    hostname: req.hostname,
    tty: req.tty,
    stdin: req.stdin,
    attach: req.attach,
    limits: limitsFromInput(req.limits),
    ports: (req.ports ?? []).map((p) => ({
      hostPort: p.hostPort,
      port: p.port,
      protocol: p.protocol ?? 'tcp',
    })),
    volumes: (req.volumes ?? []).map((v) => ({
      source: v.source,
      target: v.target,
      readOnly: v.readOnly ?? false,
    })),
    network: req.network,
    security: {
      capAdd: req.capAdd ?? security.capAdd,
      capDrop: req.capDrop ?? security.capDrop,
      privileged: req.privileged ?? security.privileged,
      readOnly: req.readOnly ?? security.readOnly,
      userns: req.userns ?? security.userns,
    },
    restart: req.restart ?? 'no',
    init: req.init,
    autoRemove: req.autoRemove ?? false,
    node: req.node,
  };
}

/** The network of an instance created without --network: bridge where the driver can join one (Podman's default). */
export function defaultNetworkMode(info: DriverInfo): 'bridge' | 'none' {
  return info.features.includes('network-bridge') ? 'bridge' : 'none';
}

/** Rejects with not_supported every setting the driver cannot honour yet. */
export function assertSupported(config: InstanceConfig, info: DriverInfo): void {
  const has = (f: string) => info.features.includes(f);
  const refuse = (what: string) => {
    throw new TandemError('not_supported', `${what} is not supported for ${info.type} instances yet`);
  };
  if (config.ports.length > 0 && !has('ports')) refuse('publishing ports (-p)');
  if (config.volumes.length > 0 && !has('volumes')) refuse('volumes (-v)');
  if (config.network === 'bridge' && !has('network-bridge')) refuse('--network bridge');
  if (config.network === 'host' && !has('network-host')) refuse('--network host');
  const s = config.security;
  if ((s.capAdd.length || s.capDrop.length) && !has('capabilities')) refuse('--cap-add/--cap-drop');
  if (s.privileged && !has('privileged')) refuse('--privileged');
  if (s.readOnly && !has('read-only')) refuse('--read-only');
  if (s.userns === 'auto' && !has('userns')) refuse('--userns auto');
  if (config.init === 'system' && !has('init-system')) refuse('--init system');
  if (config.limits.diskBytes !== undefined && !has('disk-limit')) refuse('--disk');
  if (config.tty && !has('tty')) refuse('a terminal (-t)');
  if ((config.tty || config.stdin) && !has('attach')) refuse('an interactive workload (-i, -t)');
  if (config.ports.length > 0 && config.network !== 'bridge')
    throw new TandemError(
      'invalid_argument',
      `publishing ports (-p) needs --network bridge, not ${config.network ?? 'none'}`,
    );
}

/** The command the workload runs: entrypoint + cmd as Podman merges them; /bin/sh when empty. */
export function workloadArgs(config: InstanceConfig, image: ImageConfig): string[] {
  const entrypoint = config.entrypoint ?? image.entrypoint ?? [];
  const cmd = config.command ?? (config.entrypoint ? [] : (image.cmd ?? []));
  const args = [...entrypoint, ...cmd];
  return args.length > 0 ? args : ['/bin/sh'];
}

/** The environment of the workload as KEY=VALUE strings: defaults, image, then the user's. */
export function workloadEnv(inst: Instance, image: ImageConfig): string[] {
  const env = new Map<string, string>([
    ['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
  ]);
  for (const kv of image.env) {
    const i = kv.indexOf('=');
    if (i > 0) env.set(kv.slice(0, i), kv.slice(i + 1));
  }
  env.set('HOSTNAME', inst.config.hostname ?? inst.name);
  if (inst.config.tty) env.set('TERM', 'xterm');
  for (const [k, v] of Object.entries(inst.config.env)) env.set(k, v);
  return [...env].map(([k, v]) => `${k}=${v}`);
}

/** The spec a driver needs to create `inst` from `image`. */
export function driverSpec(inst: Instance, image: ResolvedImage): DriverSpec {
  const c = inst.config;
  return {
    id: inst.id,
    name: inst.name,
    type: inst.type,
    hostname: c.hostname ?? inst.name,
    process: {
      args: workloadArgs(c, image.config),
      env: workloadEnv(inst, image.config),
      cwd: c.workdir ?? image.config.workingDir ?? '/',
      user: c.user ?? image.config.user ?? '0:0',
      terminal: c.tty ?? false,
      stdin: c.stdin ?? false,
      attach: c.attach ?? false,
    },
    image,
    limits: c.limits,
    security: c.security,
    network: c.network ?? 'none',
    ports: c.ports,
    volumes: c.volumes,
    init: c.init,
  };
}
