/**
 * Builds an OCI runtime-spec `config.json` (and `crun exec` process objects) from a
 * DriverSpec. Pure: every host fact it needs (resolved user, paths, catatonit) is an input.
 *
 * Shape, as Podman's defaults: catatonit is PID 1 (bound at /dev/init, args prefixed
 * `/dev/init --`) so SIGTERM reaches the workload and zombies are reaped; pid, ipc, uts,
 * mount, cgroup and (unless network=host) network namespaces — with network=bridge, the netns
 * the daemon prepared (a veth on the bridge, core/network.ts) and its maintained /etc/hosts;
 * with `--userns auto`, a user namespace mapping the container's ids to the instance's own host
 * range (container-idmap.ts) and volumes mounted idmapped; the standard /proc, /dev, /sys
 * mounts; /etc/hosts, /etc/hostname and /etc/resolv.conf bound from the bundle; volumes as
 * bind mounts. Limits are not in the config: they live in the instance's own cgroup, above
 * the container's (see container-paths.ts), so they survive restarts and OOM kills are seen
 * there.
 */
import type { DriverSpec, ExecRequest } from '../../core/driver.js';
import type { ResolvedUser } from '../common/rootfs-lookup.js';
import type { IdMap } from './container-idmap.js';
import {
  capabilitySet,
  deviceRules,
  MASKED_PATHS,
  processCapabilities,
  READONLY_PATHS,
} from './oci-security.js';
import { defaultSeccompProfile } from './seccomp-profile.js';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface OciInputs {
  spec: DriverSpec;
  user: ResolvedUser;
  /** Absolute rootfs path (the overlay mount point). */
  rootfs: string;
  hostsFile: string;
  hostnameFile: string;
  resolvFile: string;
  /** crun's cgroup for the container, relative to the hierarchy roots. */
  cgroupsPath: string;
  catatonit: string;
  /** `--userns auto`: the instance's host id range. */
  idmap?: IdMap;
}

/** The environment of the workload: the spec's, plus PATH, HOSTNAME, HOME and TERM when missing. */
export function workloadEnv(
  spec: DriverSpec,
  user: ResolvedUser,
  terminal: boolean,
  extra: readonly string[] = [],
): string[] {
  const env = [...spec.process.env, ...extra];
  const has = (k: string) => env.some((e) => e.startsWith(`${k}=`));
  const defaults: string[] = [];
  if (!has('PATH')) defaults.push(DEFAULT_PATH);
  if (!has('HOSTNAME')) defaults.push(`HOSTNAME=${spec.hostname || spec.name}`);
  if (!has('HOME')) defaults.push(`HOME=${user.home}`);
  if (terminal && !has('TERM')) defaults.push('TERM=xterm');
  if (!has('container')) defaults.push('container=tandem');
  return dedupeEnv([...defaults, ...env]);
}

/** KEY=VALUE list where a later KEY replaces an earlier one (keeping the first position). */
export function dedupeEnv(env: readonly string[]): string[] {
  const map = new Map<string, string>();
  for (const e of env) {
    const k = e.includes('=') ? e.slice(0, e.indexOf('=')) : e;
    map.set(k, e);
  }
  return [...map.values()];
}

/** The OCI config.json object of a container. */
export function buildOciConfig(i: OciInputs): Record<string, unknown> {
  const { spec } = i;
  const caps = capabilitySet(spec.security);
  const privileged = spec.security.privileged;
  const terminal = spec.process.terminal;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal,
      ...(terminal ? { consoleSize: { height: 24, width: 80 } } : {}),
      user: { uid: i.user.uid, gid: i.user.gid, additionalGids: i.user.additionalGids, umask: 0o022 },
      args: ['/dev/init', '--', ...spec.process.args],
      env: workloadEnv(spec, i.user, terminal),
      cwd: spec.process.cwd || '/',
      capabilities: processCapabilities(caps, i.user.uid),
      noNewPrivileges: !privileged,
    },
    root: { path: i.rootfs, readonly: spec.security.readOnly },
    hostname: spec.hostname || spec.name,
    mounts: mounts(i),
    linux: {
      namespaces: namespaces(i),
      ...(i.idmap ? idMappings(i.idmap) : {}),
      cgroupsPath: i.cgroupsPath,
      resources: { devices: deviceRules() },
      ...(privileged
        ? {}
        : { maskedPaths: MASKED_PATHS, readonlyPaths: READONLY_PATHS, seccomp: defaultSeccompProfile() }),
    },
  };
}

function namespaces(i: OciInputs): Record<string, string>[] {
  const { spec } = i;
  const ns: Record<string, string>[] = ['pid', 'ipc', 'uts', 'mount', 'cgroup'].map((type) => ({ type }));
  if (spec.network === 'bridge') ns.push({ type: 'network', path: spec.attachment!.netns! });
  else if (spec.network !== 'host') ns.push({ type: 'network' });
  if (i.idmap) ns.push({ type: 'user' });
  return ns;
}

function idMappings(m: IdMap): Record<string, unknown> {
  const map = [{ containerID: 0, hostID: m.hostId, size: m.size }];
  return { uidMappings: map, gidMappings: map };
}

function mounts(i: OciInputs): Record<string, unknown>[] {
  const { spec } = i;
  const hostNet = spec.network === 'host';
  const bind = (destination: string, source: string, ro: boolean, idmap = false) => ({
    destination,
    type: 'bind',
    source,
    options: ['rbind', 'rprivate', ro ? 'ro' : 'rw', ...(idmap ? ['idmap'] : [])],
  });
  const tmpfs = (destination: string, opts: string[]) => ({
    destination,
    type: 'tmpfs',
    source: 'tmpfs',
    options: opts,
  });
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    tmpfs('/dev', ['nosuid', 'strictatime', 'mode=755', 'size=65536k']),
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    tmpfs('/dev/shm', ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k']),
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    hostNet
      ? {
          destination: '/sys',
          type: 'bind',
          source: '/sys',
          options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
        }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
    },
    {
      destination: '/dev/init',
      type: 'bind',
      source: i.catatonit,
      options: ['bind', 'ro', 'nosuid', 'nodev'],
    },
    bind('/etc/hosts', i.hostsFile, false),
    bind('/etc/hostname', i.hostnameFile, false),
    bind('/etc/resolv.conf', i.resolvFile, false),
    ...(spec.security.readOnly
      ? ['/tmp', '/var/tmp', '/run'].map((d) => tmpfs(d, ['rw', 'nosuid', 'nodev', 'mode=1777']))
      : []),
    ...spec.volumes.map((v) => bind(v.target, v.source, v.readOnly, !!i.idmap)),
  ];
}

/** The OCI process object of `crun exec`: the container's identity and limits, the request's command. */
export function buildExecProcess(
  spec: DriverSpec,
  req: ExecRequest,
  user: ResolvedUser,
): Record<string, unknown> {
  const caps = capabilitySet(spec.security);
  return {
    terminal: req.tty,
    ...(req.tty ? { consoleSize: { height: req.rows || 24, width: req.cols || 80 } } : {}),
    user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids, umask: 0o022 },
    args: req.args,
    env: workloadEnv(spec, user, req.tty, req.env),
    cwd: req.cwd || spec.process.cwd || '/',
    capabilities: processCapabilities(caps, user.uid),
    noNewPrivileges: !spec.security.privileged,
  };
}
