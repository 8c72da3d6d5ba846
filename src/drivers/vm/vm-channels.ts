/**
 * The driver's connections to its VMs: short-lived QMP command connections (QEMU serves one
 * client per monitor socket, so none is held) and one shared agent connection per running VM.
 */
import { join } from 'node:path';
import { AgentClient } from './agent-client.js';
import { GUEST_FILES } from './qemu-args.js';
import { QmpClient } from './qmp-client.js';
import type { VmRecords } from './vm-record.js';

export class VmChannels {
  private readonly agents = new Map<string, Promise<AgentClient>>();

  constructor(private readonly records: VmRecords) {}

  /** Runs `fn` on a new QMP connection to the VM and closes it; rejects with unavailable. */
  async withQmp<T>(id: string, fn: (q: QmpClient) => Promise<T>, timeoutMs = 5000): Promise<T> {
    const q = new QmpClient(join(this.records.dir(id), GUEST_FILES.qmp));
    await q.connect({ timeoutMs });
    try {
      return await fn(q);
    } finally {
      await q.close();
    }
  }

  /** The VM's agent, connected (shared by execs and signals until the VM stops). */
  agent(id: string, timeoutMs: number, signal?: AbortSignal): Promise<AgentClient> {
    const have = this.agents.get(id);
    if (have) return have;
    const client = new AgentClient(join(this.records.dir(id), GUEST_FILES.agent));
    const p = client.connect({ timeoutMs, signal }).then(() => client);
    this.agents.set(id, p);
    const forget = () => {
      if (this.agents.get(id) === p) this.agents.delete(id);
    };
    client.onClose(forget);
    p.catch(forget);
    return p;
  }

  /** Closes the VM's agent connection, if any. */
  async drop(id: string): Promise<void> {
    const p = this.agents.get(id);
    this.agents.delete(id);
    if (p) (await p.catch(() => undefined))?.close();
  }

  /** Closes every agent connection. */
  async close(): Promise<void> {
    for (const id of [...this.agents.keys()]) await this.drop(id);
  }
}
