/** The wire form of an instance (DESIGN.md, `info --json`): every field present, null when unknown. */
import type { Instance as WireInstance } from '../api/instances.js';
import type { Instance } from '../core/instance.js';

/** Converts a stored instance to its wire form; `command` is the resolved workload command. */
export function toWire(inst: Instance, command: string[]): WireInstance {
  const c = inst.config;
  return {
    name: inst.name,
    type: inst.type,
    status: inst.status,
    statusReason: inst.statusReason,
    image: c.image,
    node: inst.node,
    accel: inst.accel ?? null,
    pid: inst.pid ?? null,
    exitCode: inst.exitCode ?? null,
    createdAt: inst.createdAt,
    startedAt: inst.startedAt ?? null,
    finishedAt: inst.finishedAt ?? null,
    limits: {
      cpus: c.limits.cpus ?? null,
      memoryBytes: c.limits.memoryBytes ?? null,
      pids: c.limits.pids ?? null,
      diskBytes: c.limits.diskBytes ?? null,
    },
    addresses: inst.addresses,
    ports: c.ports,
    volumes: c.volumes,
    security: { ...c.security },
    command,
    env: c.env,
    restart: c.restart,
    restartCount: inst.restartCount,
    autoRemove: c.autoRemove,
  };
}
