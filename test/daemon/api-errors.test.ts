/**
 * Refusals through the CLI and the API (issue 2): illegal actions are conflicts (exit 1, HTTP
 * 409), unknown instances 404, bad names and sizes usage errors (exit 2, HTTP 400), duplicates
 * already_exists, malformed JSON 400 — and in every case the state is unchanged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestDaemon, waitOp } from '../helpers/daemon.js';

describe('errors through the CLI and API (fake driver)', () => {
  const d = new TestDaemon();
  const snapshot = async () => JSON.stringify((await d.api('GET', '/v1/instances')).body);
  before(async () => {
    await d.start();
    await d.cli(['create', 'busybox', 'stopped-one', '--', 'sh', '-c', 'sleep 1000']);
    await d.cli(['launch', 'busybox', 'running-one', '--', 'sh', '-c', 'sleep 1000']);
  });
  after(() => d.cleanup());

  it('illegal actions: exit 1 and 409 conflict, state unchanged', async () => {
    const cases: [string[], string, unknown][] = [
      [['pause', 'stopped-one'], '/v1/instances/stopped-one/state', { action: 'pause' }],
      [['resume', 'running-one'], '/v1/instances/running-one/state', { action: 'resume' }],
      [['kill', 'stopped-one'], '/v1/instances/stopped-one/state', { action: 'kill' }],
    ];
    for (const [args, path, body] of cases) {
      const before = await snapshot();
      const r = await d.cli(args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /^error: cannot \w+ instance "[a-z-]+": it is \w+\n$/);
      const h = await d.api('PUT', path, body);
      assert.equal(h.status, 409);
      assert.equal(h.body.error.code, 'conflict');
      assert.equal(await snapshot(), before);
    }
    const before = await snapshot();
    const rm = await d.cli(['rm', 'running-one']);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /is running: stop it first or delete with force/);
    const h = await d.api('DELETE', '/v1/instances/running-one');
    assert.equal(h.status, 409);
    assert.equal(h.body.error.code, 'conflict');
    assert.equal(await snapshot(), before);
  });

  it('unknown instance: exit 1 and 404', async () => {
    const r = await d.cli(['stop', 'nope']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: instance "nope" not found\n');
    const h = await d.api('GET', '/v1/instances/nope');
    assert.equal(h.status, 404);
    assert.equal(h.body.error.code, 'not_found');
  });

  it('invalid name or size: exit 2 and 400, nothing created', async () => {
    const before = await snapshot();
    for (const args of [
      ['create', 'busybox', 'Bad_Name'],
      ['create', 'busybox', 'ok-name', '--memory', '64XB'],
      ['create', 'busybox', 'ok-name', '--cpus', 'lots'],
      ['create', 'busybox', 'ok-name', '--bogus-flag'],
    ]) {
      const r = await d.cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error: /);
    }
    for (const body of [
      { name: 'Bad_Name', image: 'busybox' },
      { name: 'ok-name', image: 'busybox', limits: { memory: '64XB' } },
      { name: 'ok-name', image: 'busybox', limits: { memory: -5 } },
      { name: 'ok-name', image: 'busybox', unknownField: true },
    ]) {
      const h = await d.api('POST', '/v1/instances', body);
      assert.equal(h.status, 400, JSON.stringify(body));
      assert.equal(h.body.error.code, 'invalid_argument');
    }
    const badPath = await d.api('GET', '/v1/instances/Not_A_Name');
    assert.equal(badPath.status, 400);
    assert.equal(await snapshot(), before);
  });

  it('duplicate name: 409 already_exists, the first is untouched', async () => {
    const before = await snapshot();
    const r = await d.cli(['create', 'busybox', 'running-one']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: instance "running-one" already exists\n');
    const h = await d.api('POST', '/v1/instances', { name: 'running-one', image: 'busybox' });
    assert.equal(h.status, 409);
    assert.equal(h.body.error.code, 'already_exists');
    assert.equal(await snapshot(), before);
  });

  it('malformed JSON: 400', async () => {
    const before = await snapshot();
    const h = await d.api('POST', '/v1/instances', undefined, { raw: '{"name": "x",' });
    assert.equal(h.status, 400);
    assert.equal(h.body.error.code, 'invalid_argument');
    assert.equal(await snapshot(), before);
  });

  it('missing image: 404 and nothing created; a stopped instance stops again as a no-op', async () => {
    const before = await snapshot();
    const h = await d.api('POST', '/v1/instances', { name: 'no-image', image: 'does-not-exist' });
    assert.equal(h.status, 404);
    assert.equal(await snapshot(), before);
    const stop = await d.api('PUT', '/v1/instances/stopped-one/state', { action: 'stop' });
    assert.equal(stop.status, 202);
    assert.equal((await waitOp(d, stop.body)).status, 'success');
    assert.equal(await snapshot(), before);
  });

  it('a launch that does not fit: 422 insufficient_resources with the reason, nothing created', async () => {
    const before = await snapshot();
    const r = await d.cli(['launch', 'busybox', 'too-big', '--memory', '64TiB']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: instance "too-big": 0\/1 nodes fit: 1 insufficient memory/);
    const h = await d.api('POST', '/v1/instances', {
      name: 'too-big',
      image: 'busybox',
      limits: { cpus: 1000 },
    });
    assert.equal(h.status, 422);
    assert.equal(h.body.error.code, 'insufficient_resources');
    assert.equal(await snapshot(), before);
    const nodes = (await d.api('GET', '/v1/nodes')).body;
    assert.equal(nodes.length, 1);
    assert.ok(nodes[0].capacity.cpus >= 1 && nodes[0].allocated.instances === 2);
  });

  it('the OpenAPI document is generated from the route schemas', async () => {
    const h = await d.api('GET', '/v1/openapi.json');
    assert.equal(h.status, 200);
    assert.equal(h.body.openapi, '3.1.0');
    const create = h.body.paths['/v1/instances'].post;
    assert.ok(create.requestBody.content['application/json'].schema.properties.name.pattern);
    assert.ok(h.body.paths['/v1/instances/{name}/state'].put);
  });
});
