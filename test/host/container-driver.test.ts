/**
 * The driver conformance suite against the real container driver (crun, the C monitor,
 * overlayfs, cgroups), on a busybox rootfs prepared as a single image layer.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDriverConformance } from '../../src/drivers/conformance.js';
import { busyboxSpec, prepareBusyboxRootfs } from '../../src/drivers/container/busybox-fixture.js';
import { ContainerDriver, removeDriverHostState } from '../../src/drivers/container/container-driver.js';

execFileSync(join(import.meta.dirname, '../../helpers/monitor/build.sh'), { stdio: 'inherit' });
const layer = await mkdtemp(join(tmpdir(), 'tandem-ctr-layer-'));
await prepareBusyboxRootfs(layer);
const roots = new Set<string>();

runDriverConformance({
  name: 'container (crun)',
  makeDriver: async (root) => {
    roots.add(root);
    return new ContainerDriver({ root });
  },
  makeSpec: (id, args) => busyboxSpec(id, args, layer),
  cleanup: async () => {
    for (const root of roots) await removeDriverHostState(root);
    await rm(layer, { recursive: true, force: true });
  },
});
