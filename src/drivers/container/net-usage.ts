/** Network counters of a container: /proc/<pid>/net/dev of its init, loopback excluded. */
import { readFile } from 'node:fs/promises';

/** Received and sent bytes over the non-loopback interfaces of `pid`'s network namespace. */
export async function netUsage(pid: number): Promise<{ netRxBytes?: number; netTxBytes?: number }> {
  const text = await readFile(`/proc/${pid}/net/dev`, 'utf8').catch(() => undefined);
  if (text === undefined) return {};
  return parseNetDev(text);
}

/** Sums the rx/tx byte columns of /proc/net/dev text, skipping `lo`. */
export function parseNetDev(text: string): { netRxBytes: number; netTxBytes: number } {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    if (!name || rest === undefined || name.trim() === 'lo') continue;
    const cols = rest.trim().split(/\s+/).map(Number);
    rx += cols[0] ?? 0;
    tx += cols[8] ?? 0;
  }
  return { netRxBytes: rx, netTxBytes: tx };
}
