import type { DriverSpec } from '../../core/driver.js';
import { defaultSecurity } from '../../core/instance.js';
import { runDriverConformance } from '../conformance.js';
import { FakeDriver } from './fake-driver.js';

/** A minimal spec for the fake: no image files are needed. */
export function fakeSpec(id: string, args: readonly string[]): DriverSpec {
  return {
    id,
    name: id,
    type: 'container',
    hostname: id,
    process: { args: [...args], env: ['PATH=/bin'], cwd: '/', user: '0:0', terminal: false },
    image: {
      name: 'fake',
      digest: 'sha256:0',
      layers: [],
      config: { env: [], exposedPorts: [], labels: {} },
    },
    limits: {},
    security: defaultSecurity(),
    network: 'none',
    ports: [],
    volumes: [],
  };
}

runDriverConformance({
  name: 'fake',
  makeDriver: async (root) => new FakeDriver({ root, delays: { start: 5, stop: 5 } }),
  makeSpec: fakeSpec,
  stopTimeoutMs: 500,
});
