/**
 * The QEMU command line of a Tandem guest, shared by VMs and sandboxes. One directory per guest
 * holds its sockets and logs (names in GUEST_FILES). Devices: a serial console (socket for
 * interactive attach, mirrored to a log file), virtio-serial ports for the agent (socket), the
 * workload's output and its exit status (files), virtio-blk disks, 9p shares and virtio-net NICs
 * on host taps. microvm uses virtio-mmio devices; q35 the PCI variants.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The QEMU system emulator for x86-64 guests. */
export const QEMU_BINARY_NAME = 'qemu-system-x86_64';

export type MachineType = 'microvm' | 'q35';
export type Accel = 'kvm' | 'tcg';

/** File names inside a guest's directory. Socket names are short: unix paths max 107 bytes. */
export const GUEST_FILES = {
  qmp: 'qmp.sock',
  qmpEvents: 'qmpev.sock',
  agent: 'agent.sock',
  console: 'console.sock',
  consoleLog: 'console.log',
  workloadLog: 'workload.log',
  status: 'status',
  pid: 'qemu.pid',
  initrd: 'initrd.img',
} as const;

export interface GuestDisk {
  id: string;
  path: string;
  format: 'qcow2' | 'raw';
  readOnly?: boolean;
}

export interface GuestShare {
  tag: string;
  path: string;
  readOnly?: boolean;
  /** The share holds mount points of other filesystems: remap their inode numbers (no clashes). */
  multidevs?: boolean;
}

/** A virtio NIC on a host tap the daemon made (script=no: QEMU only opens it). */
export interface GuestNic {
  tap: string;
  mac: string;
}

export interface QemuLaunchSpec {
  /** The guest's directory (sockets, logs, pid file). */
  dir: string;
  /** Shown by `ps` and in QEMU's messages. */
  name: string;
  machine: MachineType;
  accel: Accel;
  cpus: number;
  memoryMiB: number;
  kernel: string;
  initrd: string;
  cmdline: string;
  disks: GuestDisk[];
  shares: GuestShare[];
  nics?: GuestNic[];
}

/** The host CPU's frequency in kHz (microvm under TCG hangs without tsc_early_khz, RECIPES.md). */
export function hostTscKhz(): number | undefined {
  try {
    const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? Math.round(Number(m[1]) * 1000) : undefined;
  } catch {
    return undefined;
  }
}

/** The guest kernel's command line: serial console, quiet, power off on panic, early TSC, then TANDEM_VM_KERNEL_ARGS. */
export function kernelCmdline(extra: string[] = []): string {
  const khz = hostTscKhz();
  const env = process.env.TANDEM_VM_KERNEL_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  // cryptomgr.notests: the crypto self-tests cost ~0.25 s of a TCG boot (initcall_debug).
  const parts = [
    'console=ttyS0',
    'quiet',
    'panic=-1',
    'cryptomgr.notests',
    ...(khz ? [`tsc_early_khz=${khz}`] : []),
    ...extra,
    ...env,
  ];
  return parts.join(' ');
}

/** Escapes a path for a QEMU option value (a comma is written twice). */
export function qemuPath(path: string): string {
  return path.replace(/,/g, ',,');
}

function port(id: string, name: string, chardev: string): string[] {
  return ['-chardev', chardev, '-device', `virtserialport,chardev=${id},name=${name}`];
}

/** The full argument list (after the binary) for a detached QEMU with two QMP monitors. */
export function qemuArgs(s: QemuLaunchSpec): string[] {
  const dev = (base: string) => (s.machine === 'microvm' ? `${base}-device` : `${base}-pci`);
  const f = (name: string) => qemuPath(join(s.dir, name));
  const machine = s.machine === 'microvm' ? 'microvm,acpi=on' : 'q35,smbus=off,vmport=off,sata=off,usb=off';
  const args = [
    ...['-name', s.name, '-machine', machine, '-accel', s.accel],
    ...(s.accel === 'kvm' ? ['-cpu', 'host'] : []),
    ...['-smp', String(s.cpus), '-m', `${s.memoryMiB}M`],
    ...['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot'],
    ...['-kernel', s.kernel, '-initrd', s.initrd, '-append', s.cmdline],
    ...[
      '-chardev',
      `socket,id=con0,path=${f(GUEST_FILES.console)},server=on,wait=off,logfile=${f(GUEST_FILES.consoleLog)},logappend=on`,
    ],
    ...['-serial', 'chardev:con0'],
    // max_ports: the guest fills every port's receive queue with page-sized buffers (~16 MiB of
    // guest RAM for the default 31 ports); three ports (and the reserved port 0) need 4.
    ...['-device', `${dev('virtio-serial')},max_ports=4`],
    ...port('agent0', 'tandem.agent', `socket,id=agent0,path=${f(GUEST_FILES.agent)},server=on,wait=off`),
    ...port('log0', 'tandem.log', `file,id=log0,path=${f(GUEST_FILES.workloadLog)},append=on`),
    ...port('st0', 'tandem.status', `file,id=st0,path=${f(GUEST_FILES.status)},append=on`),
    ...['-qmp', `unix:${f(GUEST_FILES.qmp)},server=on,wait=off`],
    ...['-qmp', `unix:${f(GUEST_FILES.qmpEvents)},server=on,wait=off`],
    ...['-daemonize', '-pidfile', f(GUEST_FILES.pid)],
  ];
  for (const d of s.disks) {
    const ro = d.readOnly ? ',read-only=on' : '';
    args.push(
      '-drive',
      `file=${qemuPath(d.path)},format=${d.format},if=none,id=${d.id},cache=writeback,discard=unmap${ro}`,
    );
    args.push('-device', `${dev('virtio-blk')},drive=${d.id}`);
  }
  s.shares.forEach((sh, i) => {
    const ro = (sh.readOnly ? ',readonly=on' : '') + (sh.multidevs ? ',multidevs=remap' : '');
    args.push('-fsdev', `local,id=fs${i},path=${qemuPath(sh.path)},security_model=none${ro}`);
    args.push('-device', `${dev('virtio-9p')},fsdev=fs${i},mount_tag=${sh.tag}`);
  });
  (s.nics ?? []).forEach((n, i) => {
    args.push('-netdev', `tap,id=n${i},ifname=${n.tap},script=no,downscript=no`);
    // romfile= : no option ROM to load for the PCI variant (nothing in the guest boots from it)
    const rom = s.machine === 'microvm' ? '' : ',romfile=';
    args.push('-device', `${dev('virtio-net')},netdev=n${i},mac=${n.mac}${rom}`);
  });
  return args;
}
