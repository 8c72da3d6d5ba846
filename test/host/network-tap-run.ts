/**
 * Run by network-tap.test.ts inside a test network namespace (nsenter --net): a NetworkManager
 * on an in-memory store attaches a `vm` instance (a tap), reports what the host then has,
 * detaches it, attaches again and lets a second manager reconcile it away. One JSON line per step.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { NetworkManager } from '../../src/network/network-manager.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';

const root = process.argv[2]!;
const store = new MemoryStore();
const links = () =>
  (JSON.parse(execFileSync('ip', ['-j', '-d', 'link', 'show']).toString()) as Record<string, unknown>[]).map(
    (l) => ({
      name: l.ifname,
      alias: l.ifalias,
      master: l.master,
      up: (l.flags as string[]).includes('UP'),
    }),
  );
const say = (step: string, data: unknown) => process.stdout.write(`${JSON.stringify({ step, data })}\n`);

const m = new NetworkManager({ root, store });
const req = {
  id: '0123456789ab',
  name: 'vm1',
  hostname: 'vm1',
  type: 'vm' as const,
  ports: [{ hostPort: 9400, port: 22, protocol: 'tcp' as const }],
};
const a = await m.attach(req);
say('attached', {
  a,
  links: links(),
  hosts: readFileSync(a.hostsFile, 'utf8'),
  forwards: [...(await m.firewall.listForwards())],
});
await m.detach(req.id);
say('detached', {
  links: links(),
  hosts: existsSync(a.hostsFile),
  forwards: [...(await m.firewall.listForwards())],
});
await m.attach({ ...req, id: 'ba9876543210' });
const again = new NetworkManager({ root, store });
say('reconciled', { result: await again.reconcile(new Set()), links: links() });
await again.close();
say('closed', { links: links(), table: await again.firewall.exists() });
