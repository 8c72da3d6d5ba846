/**
 * The nodes this daemon reports: today the local node, whose capacity comes from the host and
 * whose allocation is the sum of its instances' requests (best-effort instances request
 * nothing but count toward the instance limit).
 */
import { existsSync, statfsSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import type { Node } from '../api/system.js';
import { DEFAULT_OVERCOMMIT } from '../core/scheduling.js';
import type { InstanceRecords } from './instance-records.js';

const MAX_INSTANCES = 1000;

export async function localNodes(name: string, stateDir: string, records: InstanceRecords): Promise<Node[]> {
  const fs = statfsSync(stateDir);
  const allocated = { cpus: 0, memoryBytes: 0, diskBytes: 0, instances: 0 };
  for (const i of await records.list()) {
    allocated.instances++;
    allocated.cpus += i.config.limits.cpus ?? 0;
    allocated.memoryBytes += i.config.limits.memoryBytes ?? 0;
    allocated.diskBytes += i.config.limits.diskBytes ?? 0;
  }
  return [
    {
      name,
      capacity: {
        cpus: availableParallelism(),
        memoryBytes: totalmem(),
        diskBytes: fs.blocks * fs.bsize,
        instances: MAX_INSTANCES,
      },
      allocated,
      overcommit: { ...DEFAULT_OVERCOMMIT },
      capabilities: { qemu: existsSync('/usr/bin/qemu-system-x86_64'), kvm: existsSync('/dev/kvm') },
      labels: {},
    },
  ];
}
