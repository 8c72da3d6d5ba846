import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTandemError } from '../base/errors.js';
import type { InstanceType } from '../core/instance.js';
import {
  type Allocation,
  DEFAULT_OVERCOMMIT,
  type NodeInfo,
  type PlacementRequest,
} from '../core/scheduling.js';
import { ClusterIndex } from './cluster-index.js';
import { createPlacer, explainNoFit, placeOn } from './online-placer.js';

const GiB = 1024 ** 3;

function node(
  name: string,
  over: Partial<NodeInfo> & { cpus?: number; mem?: number; disk?: number; max?: number } = {},
): NodeInfo {
  return {
    name,
    capacity: {
      cpus: over.cpus ?? 4,
      memoryBytes: (over.mem ?? 8) * GiB,
      diskBytes: (over.disk ?? 100) * GiB,
      instances: over.max ?? 10,
    },
    capabilities: over.capabilities ?? { qemu: true, kvm: false },
    labels: over.labels ?? {},
    overcommit: over.overcommit ?? { ...DEFAULT_OVERCOMMIT },
  };
}

function req(
  name: string,
  over: Partial<PlacementRequest> & { mem?: number; disk?: number } = {},
): PlacementRequest {
  const r: PlacementRequest = { name, type: (over.type ?? 'container') as InstanceType, ...over };
  if (over.mem !== undefined) r.memoryBytes = over.mem * GiB;
  if (over.disk !== undefined) r.diskBytes = over.disk * GiB;
  delete (r as { mem?: number }).mem;
  delete (r as { disk?: number }).disk;
  return r;
}

function place(
  nodes: NodeInfo[],
  request: PlacementRequest,
  allocations: Allocation[] = [],
  policy: 'binpack' | 'spread' = 'binpack',
) {
  return createPlacer(policy).place(request, nodes, allocations);
}

function rejection(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isTandemError(err, 'insufficient_resources'), `expected insufficient_resources, got ${err}`);
    return err.message;
  }
  assert.fail('expected a rejection');
}

describe('filters', () => {
  it('capacity: cpu is overcommitted 4x by default, memory and disk are not', () => {
    const nodes = [node('a', { cpus: 2, mem: 4, disk: 10 })];
    assert.equal(place(nodes, req('x', { cpus: 8 })), 'a');
    assert.match(
      rejection(() => place(nodes, req('x', { cpus: 8.5 }))),
      /0\/1 nodes fit: 1 insufficient cpu/,
    );
    assert.equal(place(nodes, req('x', { mem: 4 })), 'a');
    assert.match(
      rejection(() => place(nodes, req('x', { mem: 4.5 }))),
      /1 insufficient memory/,
    );
    assert.match(
      rejection(() => place(nodes, req('x', { disk: 11 }))),
      /1 insufficient disk/,
    );
  });

  it('capacity: counts what is already allocated, per resource', () => {
    const nodes = [node('a', { mem: 8 })];
    const allocations = [{ node: 'a', request: req('old', { mem: 6 }) }];
    assert.match(
      rejection(() => place(nodes, req('x', { mem: 3 }), allocations)),
      /insufficient memory/,
    );
    assert.equal(place(nodes, req('x', { mem: 2 }), allocations), 'a');
  });

  it('capacity: honours per-node overcommit ratios', () => {
    const nodes = [node('a', { mem: 4, overcommit: { cpu: 1, memory: 1.5, disk: 1 } })];
    assert.equal(place(nodes, req('x', { mem: 6 })), 'a');
    assert.match(
      rejection(() => place(nodes, req('x', { cpus: 5 }))),
      /insufficient cpu/,
    );
  });

  it('best effort: no cpus/memory requests nothing but still takes an instance slot', () => {
    const nodes = [node('a', { cpus: 1, mem: 1, max: 2 })];
    const full = [{ node: 'a', request: req('big', { cpus: 4, mem: 1 }) }];
    assert.equal(place(nodes, req('tiny'), full), 'a');
    full.push({ node: 'a', request: req('tiny2') });
    assert.match(
      rejection(() => place(nodes, req('tiny3'), full)),
      /0\/1 nodes fit: 1 instance limit reached/,
    );
  });

  it('type: vm and sandbox need qemu, containers run anywhere', () => {
    const nodes = [node('a', { capabilities: { qemu: false, kvm: false } })];
    assert.equal(place(nodes, req('c')), 'a');
    assert.match(
      rejection(() => place(nodes, req('v', { type: 'vm' }))),
      /1 cannot run vm/,
    );
    assert.match(
      rejection(() => place(nodes, req('s', { type: 'sandbox' }))),
      /1 cannot run sandbox/,
    );
  });

  it('node selector: every selected label must match', () => {
    const nodes = [node('a', { labels: { zone: 'a', disk: 'ssd' } }), node('b', { labels: { zone: 'b' } })];
    assert.equal(place(nodes, req('x', { nodeSelector: { zone: 'b' } })), 'b');
    assert.equal(place(nodes, req('x', { nodeSelector: { zone: 'a', disk: 'ssd' } })), 'a');
    assert.match(
      rejection(() => place(nodes, req('x', { nodeSelector: { zone: 'c' } }))),
      /2 node selector mismatch/,
    );
  });

  it('anti-affinity: members of a group never share a node', () => {
    const nodes = [node('a'), node('b')];
    const allocations = [{ node: 'a', request: req('web-1', { antiAffinity: ['web'] }) }];
    assert.equal(place(nodes, req('web-2', { antiAffinity: ['web'] }), allocations), 'b');
    allocations.push({ node: 'b', request: req('web-2', { antiAffinity: ['web', 'x'] }) });
    assert.match(
      rejection(() => place(nodes, req('web-3', { antiAffinity: ['web'] }), allocations)),
      /2 anti-affinity conflict/,
    );
    assert.equal(place(nodes, req('other', { antiAffinity: ['db'] }), allocations), 'a');
  });

  it('pinned node: only that node is considered; an unknown node is not_found', () => {
    const nodes = [node('a'), node('b', { mem: 1 })];
    assert.equal(place(nodes, req('x', { node: 'b' })), 'b');
    assert.match(
      rejection(() => place(nodes, req('x', { node: 'b', mem: 2 }))),
      /0\/2 nodes fit: 1 insufficient memory, 1 not the pinned node/,
    );
    assert.throws(
      () => place(nodes, req('x', { node: 'zz' })),
      (err) => isTandemError(err, 'not_found'),
    );
  });

  it('explains every node, most frequent reason first, naming the instance', () => {
    const nodes = [
      node('n1', { mem: 1 }),
      node('n2', { mem: 1 }),
      node('n3', { mem: 1 }),
      node('n4', { capabilities: { qemu: false, kvm: false } }),
      node('n5', { capabilities: { qemu: false, kvm: false } }),
    ];
    const message = rejection(() => place(nodes, req('web', { type: 'vm', mem: 2 })));
    assert.equal(message, 'instance "web": 0/5 nodes fit: 3 insufficient memory, 2 cannot run vm');
    assert.equal(explainNoFit(new ClusterIndex([]), req('x')), '0/0 nodes fit: no nodes');
  });
});

describe('scores', () => {
  const nodes = [node('a', { mem: 8 }), node('b', { mem: 8 }), node('c', { mem: 8 })];
  const allocations = [
    { node: 'b', request: req('half', { mem: 4 }) },
    { node: 'c', request: req('quarter', { mem: 2 }) },
  ];

  it('binpack picks the most allocated node that fits', () => {
    assert.equal(place(nodes, req('x', { mem: 1 }), allocations, 'binpack'), 'b');
    assert.equal(place(nodes, req('x', { mem: 5 }), allocations, 'binpack'), 'c');
  });

  it('spread picks the least allocated node', () => {
    assert.equal(place(nodes, req('x', { mem: 1 }), allocations, 'spread'), 'a');
  });

  it('scores are relative to each node: a fuller small node wins binpack over a big one', () => {
    const mixed = [
      node('big', { cpus: 16, mem: 64, disk: 1000, max: 100 }),
      node('small', { cpus: 4, mem: 8, disk: 100, max: 10 }),
    ];
    assert.equal(place(mixed, req('x', { cpus: 1, mem: 1, disk: 1 }), [], 'binpack'), 'small');
    assert.equal(place(mixed, req('x', { cpus: 1, mem: 1, disk: 1 }), [], 'spread'), 'big');
  });

  it('instance slots count in the score, so best-effort requests spread and pack too', () => {
    const two = [node('a'), node('b')];
    const one = [{ node: 'a', request: req('t1') }];
    assert.equal(place(two, req('t2'), one, 'spread'), 'b');
    assert.equal(place(two, req('t2'), one, 'binpack'), 'a');
  });

  it('kvm is preferred for vm and sandbox whatever the resource score', () => {
    const two = [
      node('plain', { capabilities: { qemu: true, kvm: false } }),
      node('fast', { capabilities: { qemu: true, kvm: true } }),
    ];
    const busy = [{ node: 'plain', request: req('load', { mem: 4 }) }];
    assert.equal(place(two, req('v', { type: 'vm', mem: 1 }), busy, 'binpack'), 'fast');
    assert.equal(place(two, req('s', { type: 'sandbox', mem: 1 }), busy, 'binpack'), 'fast');
    assert.equal(place(two, req('c', { mem: 1 }), busy, 'binpack'), 'plain');
  });

  it('kvm is not a filter: a vm goes to a tcg node when no kvm node fits', () => {
    const two = [
      node('plain', { capabilities: { qemu: true, kvm: false } }),
      node('fast', { mem: 1, capabilities: { qemu: true, kvm: true } }),
    ];
    assert.equal(place(two, req('v', { type: 'vm', mem: 2 })), 'plain');
  });

  it('ties go to the first node by name, whatever the input order', () => {
    const same = [node('n3'), node('n1'), node('n2')];
    assert.equal(place(same, req('x', { mem: 1 }), [], 'binpack'), 'n1');
    assert.equal(place(same, req('x', { mem: 1 }), [], 'spread'), 'n1');
  });
});

describe('ClusterIndex', () => {
  it('bind and unbind keep the index consistent', () => {
    const index = new ClusterIndex([node('a', { mem: 4 }), node('b', { mem: 4 })]);
    const big = req('big', { mem: 3, antiAffinity: ['g'] });
    const a = placeOn(index, big, 'binpack');
    index.bind(a, big);
    const again = placeOn(index, req('big2', { mem: 3, antiAffinity: ['g'] }), 'binpack');
    assert.notEqual(again, a);
    index.unbind(a, big);
    assert.equal(placeOn(index, req('big3', { mem: 4 }), 'binpack'), 0);
  });

  it('rejects invalid input', () => {
    assert.throws(
      () => new ClusterIndex([node('a'), node('a')]),
      (err) => isTandemError(err, 'invalid_argument'),
    );
    const index = new ClusterIndex([node('a')]);
    assert.throws(
      () => index.find(req('x', { cpus: -1 }), 'binpack'),
      (err) => isTandemError(err, 'invalid_argument'),
    );
  });
});
