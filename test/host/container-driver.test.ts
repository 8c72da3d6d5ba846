/**
 * The driver conformance suite against the real container driver (crun, the C monitor,
 * overlayfs, cgroups), on a busybox rootfs prepared as a single image layer.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectCgroupLayout } from '../../src/drivers/common/cgroup.js';
import { runDriverConformance } from '../../src/drivers/conformance.js';
import { busyboxSpec, prepareBusyboxRootfs } from '../../src/drivers/container/busybox-fixture.js';
import { ContainerDriver, removeDriverHostState } from '../../src/drivers/container/container-driver.js';
import { driverPaths } from '../../src/drivers/container/container-paths.js';

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
    for (const root of roots) {
      await removeDriverHostState(root);
      // nothing of the driver is left outside its root: no run root, no cgroup parent
      const left = [
        driverPaths(root).runRoot,
        ...(await detectCgroupLayout()).all.map((h) => join(h, driverPaths(root).cgroupParent)),
      ];
      assert.deepEqual(
        left.filter((p) => existsSync(p)),
        [],
        `left behind by the driver at ${root}`,
      );
    }
    await rm(layer, { recursive: true, force: true });
  },
});
