/**
 * What the guest's init reads at boot: `/tandem/config`, key=value lines (guest/init/util.c).
 * The host appends it to the shared initramfs as a second newc cpio archive (the kernel unpacks
 * concatenated archives in order), so a VM needs no host round trip before its workload runs.
 * The same line format carries exec requests over the agent channel.
 */
import { copyFile, open } from 'node:fs/promises';

/** A process as the guest runs it (workload or exec). */
export interface GuestProcess {
  args: readonly string[];
  env: readonly string[];
  cwd?: string;
  user?: string;
  tty?: boolean;
  stdin?: boolean;
  cols?: number;
  rows?: number;
}

/** The boot configuration of one guest. */
export interface GuestConfig {
  /** workload: run `process`, power off when it exits; system: boot the image's /sbin/init; probe: power off at once. */
  mode: 'workload' | 'system' | 'probe' | 'shell';
  /** The root: a block device (`/dev/vda`), a 9p share (`9p:TAG`), or '' to stay in the initramfs. */
  root: string;
  /** Grow the root ext4 to the size of its disk. */
  grow?: boolean;
  hostname?: string;
  /** Limit on the number of processes of the workload and execs (a cgroup in the guest). */
  pids?: number;
  /** Run a root shell on the serial console. */
  consoleShell?: boolean;
  /** Extra module groups to load (e.g. 9p, net). */
  modules?: string[];
  /** Extra 9p shares to mount after the switch to the root (QEMU shares with these tags). */
  mounts?: { tag: string; target: string; readOnly?: boolean }[];
  /** Log boot stage times on the console. */
  debug?: boolean;
  /** A bridge network: eth0's address, the default route and name servers (guest/init/net.c). */
  net?: GuestNetwork;
  /** A guest path bound over /etc/hosts (in a read-only share the host keeps current). */
  hostsFile?: string;
  /** Sandbox: the workload runs in its own namespaces with the settings below (guest/init/sandbox.c). */
  sandbox?: SandboxSettings;
  process?: GuestProcess;
}

/** The guest's interface on a bridge network (the address the daemon leased). */
export interface GuestNetwork {
  address: string;
  prefixLength: number;
  gateway: string;
  /** Name servers for /etc/resolv.conf; none: the image's file stays. */
  dns: string[];
}

/** How a sandbox's guest confines its workload (and the execs that join it). */
export interface SandboxSettings {
  /** memory.max of the workload's cgroup in the guest. */
  memoryBytes?: number;
  /** Capabilities kept, as a bit mask (CAP_CHOWN = bit 0); absent: all. */
  capabilities?: bigint;
  noNewPrivileges: boolean;
  readOnlyRoot: boolean;
  /** Content of the workload's /etc/hosts. */
  hosts?: string;
}

/** Escapes a value for one line: backslash and newline. */
function escapeValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function line(key: string, value: string | number | boolean | undefined): string {
  if (value === undefined || value === '') return '';
  const v = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
  return `${key}=${escapeValue(v)}\n`;
}

/** Encodes a process as the guest's key=value lines. */
export function encodeProcess(p: GuestProcess): string {
  let out = '';
  for (const a of p.args) out += `arg=${escapeValue(a)}\n`;
  for (const e of p.env) out += `env=${escapeValue(e)}\n`;
  out += line('cwd', p.cwd) + line('user', p.user) + line('tty', p.tty) + line('stdin', p.stdin);
  out += line('cols', p.cols) + line('rows', p.rows);
  return out;
}

/** Encodes the boot configuration. */
export function encodeConfig(c: GuestConfig): string {
  let out = line('mode', c.mode) + line('root', c.root) + line('grow', c.grow) + line('hostname', c.hostname);
  out += line('pids', c.pids) + line('console_shell', c.consoleShell) + line('debug', c.debug);
  out += line('modules', c.modules?.join(','));
  for (const m of c.mounts ?? []) out += line('mount', `${m.tag}:${m.target}${m.readOnly ? ':ro' : ''}`);
  if (c.net) {
    out += line('net', `${c.net.address}/${c.net.prefixLength}`) + line('gateway', c.net.gateway);
    out += line('dns', c.net.dns.join(','));
  }
  out += line('hosts_file', c.hostsFile);
  const sb = c.sandbox;
  if (sb) {
    out += line('sandbox', true) + line('memory', sb.memoryBytes) + line('nnp', sb.noNewPrivileges);
    out +=
      line('caps', sb.capabilities?.toString(16)) +
      line('ro_root', sb.readOnlyRoot) +
      line('hosts', sb.hosts);
  }
  return out + (c.process ? encodeProcess(c.process) : '');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function cpioEntry(name: string, mode: number, data: Buffer, ino: number): Buffer {
  const fields = [ino, mode, 0, 0, mode & 0o040000 ? 2 : 1, 0, data.length, 0, 0, 0, 0, name.length + 1, 0];
  const header = `070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`;
  const head = Buffer.from(`${header}${name}\0`, 'latin1');
  return Buffer.concat([head, Buffer.alloc(pad4(head.length)), data, Buffer.alloc(pad4(data.length))]);
}

/** A newc cpio archive holding /tandem/config (what the kernel unpacks over the initramfs). */
export function configArchive(config: string): Buffer {
  const body = Buffer.concat([
    cpioEntry('tandem', 0o040755, Buffer.alloc(0), 1),
    cpioEntry('tandem/config', 0o100644, Buffer.from(config, 'utf8'), 2),
    cpioEntry('TRAILER!!!', 0, Buffer.alloc(0), 0),
  ]);
  return Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

/** Writes `dest` = the shared initramfs followed by the archive of `config`. */
export async function writeInitrd(baseInitramfs: string, config: GuestConfig, dest: string): Promise<void> {
  await copyFile(baseInitramfs, dest);
  const fh = await open(dest, 'a');
  try {
    await fh.write(configArchive(encodeConfig(config)));
  } finally {
    await fh.close();
  }
}
