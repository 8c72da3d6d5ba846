/** TCP needs the bearer token (issue 2): without it 401 and nothing changes; with it the API and CLI work. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestDaemon } from '../helpers/daemon.js';

describe('TCP listener with a token', () => {
  const d = new TestDaemon({ tcp: true });
  before(() => d.start());
  after(() => d.cleanup());

  it('refuses requests without the right token and changes nothing', async () => {
    for (const token of [undefined, 'wrong-token-0123456789abcdef']) {
      const list = await d.api('GET', '/v1/instances', undefined, { tcp: true, token });
      assert.equal(list.status, 401);
      assert.equal(list.body.error.code, 'unauthorized');
      const create = await d.api(
        'POST',
        '/v1/instances',
        { name: 'sneaky', image: 'busybox', start: true },
        { tcp: true, token },
      );
      assert.equal(create.status, 401);
    }
    const local = await d.api('GET', '/v1/instances');
    assert.deepEqual(local.body, [], 'nothing was created');
  });

  it('works with the token, through the API and the CLI', async () => {
    const create = await d.api(
      'POST',
      '/v1/instances',
      { name: 'remote', image: 'busybox' },
      { tcp: true, token: d.token },
    );
    assert.equal(create.status, 202);
    const env = {
      ...process.env,
      TANDEM_URL: `http://127.0.0.1:${d.port}`,
      TANDEM_TOKEN: d.token,
      TANDEM_SOCKET: '',
    };
    const ls = await d.cli(['ls', '--json'], { env });
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual(
      JSON.parse(ls.stdout).map((i: { name: string }) => i.name),
      ['remote'],
    );
    const bad = await d.cli(['ls'], { env: { ...env, TANDEM_TOKEN: 'nope' } });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /bearer token/);
  });
});
