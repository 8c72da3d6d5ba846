/**
 * Starting and watching detached QEMU processes. QEMU daemonizes itself (`-daemonize`): the
 * parent exits once the sockets listen, so start-up errors arrive on its stderr and the VM
 * survives the daemon. A `sh` wrapper first moves itself into the given cgroups (QEMU and all
 * its threads inherit them), then execs QEMU (through `unshare -m` after mounting a sandbox's
 * rootfs overlay, or binding a guest's hosts file, in that private mount namespace). A pid is trusted only while /proc/PID/cmdline
 * still names the guest's QMP socket (pids are reused).
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError } from '../../base/errors.js';
import { sleep, waitFor } from '../../base/time.js';
import { GUEST_FILES, QEMU_BINARY_NAME } from './qemu-args.js';

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * An overlay filesystem QEMU sees at `target` (a sandbox's rootfs): mounted in a mount namespace
 * of QEMU's own (a slave of the host's), so the host never holds the mount and it goes with QEMU.
 */
export interface QemuOverlay {
  /** Lower directories, top first. */
  lower: string[];
  upper: string;
  work: string;
  target: string;
}

/**
 * A host file QEMU sees at `target` too (e.g. an instance's hosts file inside the directory it
 * shares with the guest): a bind mount in QEMU's own mount namespace, like the overlay.
 */
export interface QemuBind {
  source: string;
  /** An existing file. */
  target: string;
}

/**
 * The shell that runs QEMU: joins the cgroups, then (with an overlay or binds) a new mount
 * namespace where they are mounted. Returns the script and the arguments before QEMU's.
 */
export function launchScript(
  binary: string,
  cgroupProcs: string[],
  overlay?: QemuOverlay,
  binds: readonly QemuBind[] = [],
): string[] {
  const joins = cgroupProcs.map((f) => `echo $$ > ${shellQuote(f)} 2>/dev/null;`).join(' ');
  if (!overlay && binds.length === 0) return [`${joins} exec ${shellQuote(binary)} "$@"`];
  const steps: string[] = [];
  const pre: string[] = [];
  if (overlay) {
    steps.push('mount -t overlay overlay -o "$1" "$2" || exit 1; shift 2;');
    pre.push(`lowerdir=${overlay.lower.join(':')},upperdir=${overlay.upper},workdir=${overlay.work}`);
    pre.push(overlay.target);
  }
  for (const b of binds) {
    steps.push('mount --bind "$1" "$2" || exit 1; shift 2;');
    pre.push(b.source, b.target);
  }
  const inner = `${steps.join(' ')} exec ${shellQuote(binary)} "$@"`;
  const script = `${joins} exec unshare -m --propagation slave -- sh -c ${shellQuote(inner)} sh "$@"`;
  return [script, ...pre];
}

/** Starts QEMU detached with `args` (which include -daemonize and -pidfile); resolves with its pid. */
export async function launchQemu(opts: {
  args: string[];
  dir: string;
  cgroupProcs?: string[];
  binary?: string;
  overlay?: QemuOverlay;
  binds?: QemuBind[];
}): Promise<number> {
  const [script, ...pre] = launchScript(
    opts.binary ?? QEMU_BINARY_NAME,
    opts.cgroupProcs ?? [],
    opts.overlay,
    opts.binds,
  );
  const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve, reject) => {
    const child = spawn('sh', ['-c', script as string, 'sh', ...pre, ...opts.args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.on('error', (e) =>
      reject(new TandemError('unavailable', `starting qemu: ${e.message}`, { cause: e })),
    );
    child.on('close', (c, sig) => resolve({ code: c ?? (sig ? 128 : 1), stderr: err }));
  });
  if (code !== 0) {
    const detail = stderr.trim().split('\n').slice(-3).join('; ');
    throw new TandemError('internal', `qemu exited with status ${code}${detail ? `: ${detail}` : ''}`);
  }
  const pid = await waitFor(() => readPid(opts.dir), 2000);
  if (!pid) throw new TandemError('internal', 'qemu daemonized but wrote no pid file');
  return pid;
}

/** The pid in the guest's pid file, if any. */
export async function readPid(dir: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(join(dir, GUEST_FILES.pid), 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` is the QEMU of the guest in `dir` (its command line names the QMP socket). */
export async function isGuestQemu(pid: number, dir: string): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes(join(dir, GUEST_FILES.qmp))) return false;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** CPU ticks (1/100 s, user + system) a process used, from /proc/PID/stat. */
async function processCpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** CPU seconds (user + system) a process used. */
export async function processCpuSeconds(pid: number): Promise<number> {
  return (await processCpuTicks(pid)) / 100;
}

/** CPU ticks and disk bytes (read + written) a process used, from /proc (qemu-exit-watchdog.ts). */
export async function processActivity(pid: number): Promise<{ cpuTicks: number; ioBytes: number }> {
  const io = await readFile(`/proc/${pid}/io`, 'utf8');
  const bytes = (key: string) => Number(new RegExp(`^${key}: (\\d+)$`, 'm').exec(io)?.[1] ?? 0);
  return { cpuTicks: await processCpuTicks(pid), ioBytes: bytes('read_bytes') + bytes('write_bytes') };
}

/** Resident memory of a process in bytes, from /proc/PID/status (VmRSS). */
export async function processRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Waits until the guest's QEMU is gone; true when it went within `timeoutMs`. */
export async function waitQemuGone(pid: number, dir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isGuestQemu(pid, dir))) return true;
    await sleep(20);
  }
  return !(await isGuestQemu(pid, dir));
}

/** Kills the guest's QEMU with SIGKILL (when it still is that QEMU) and waits for it to go. */
export async function killQemu(pid: number, dir: string): Promise<void> {
  if (!(await isGuestQemu(pid, dir))) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitQemuGone(pid, dir, 5000);
}
