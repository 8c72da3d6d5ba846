/**
 * The web UI's access rules over TCP, at the HTTP level (a daemon on fake drivers; the browser
 * test does the same with Chromium): the page is public but holds no data; without the token
 * or a session every API call is 401; the token buys an HttpOnly, SameSite=Strict cookie that
 * then opens the API, the event stream and /metrics; a forged, logged-out or cross-origin
 * cookie request is refused; only files of the build are served.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { TestDaemon } from '../helpers/daemon.js';

describe('web UI sessions on TCP', () => {
  const d = new TestDaemon({ tcp: true });
  let base = '';
  before(async () => {
    await d.start();
    base = `http://127.0.0.1:${d.port}`;
  });
  after(() => d.cleanup());

  const login = async (token: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ token }),
    });
  const cookieOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0]!;

  it('serves the page (no data) and refuses the API without a session', async () => {
    const page = await fetch(`${base}/ui/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await page.text();
    const js = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(js, 'the page loads its script from /ui/assets');
    const script = await fetch(`${base}${js}`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(script.status, 200);
    assert.match(script.headers.get('cache-control') ?? '', /immutable/);
    assert.equal((await fetch(`${base}/`, { redirect: 'manual' })).headers.get('location'), '/ui/');
    for (const path of ['/v1', '/v1/instances', '/v1/nodes', '/v1/events', '/metrics', '/v1/nowhere']) {
      assert.equal((await fetch(`${base}${path}`)).status, 401, path);
    }
  });

  it('serves only files of the build', async () => {
    const paths = [
      '/ui/nothing.js',
      '/ui/..%2f..%2fpackage.json',
      '/ui/%2e%2e/%2e%2e/package.json',
      '/ui/../../package.json',
    ];
    for (const path of paths) {
      // node:http sends the path as written (fetch would normalise the dots away).
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: d.port, path }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 404, path);
    }
  });

  it('trades the token for an HttpOnly session cookie that opens the API', async () => {
    const wrong = await login('wrong-token-0123456789abcdef');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('set-cookie'), null);
    const res = await login(d.token);
    assert.equal(res.status, 200);
    const setCookie = res.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /^tandem_session=[A-Za-z0-9_-]{40,};/);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    const cookie = cookieOf(res);
    const list = await fetch(`${base}/v1/instances`, { headers: { cookie } });
    assert.equal(list.status, 200);
    assert.deepEqual(await list.json(), []);
    assert.equal((await fetch(`${base}/metrics`, { headers: { cookie } })).status, 200);
    const ac = new AbortController();
    const events = await fetch(`${base}/v1/events`, { headers: { cookie }, signal: ac.signal });
    assert.equal(events.status, 200);
    assert.match(events.headers.get('content-type') ?? '', /text\/event-stream/);
    ac.abort();
    const create = await fetch(`${base}/v1/instances`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', origin: base },
      body: JSON.stringify({ name: 'from-ui', image: 'busybox' }),
    });
    assert.equal(create.status, 202, 'a same-origin change goes through');
  });

  it('refuses forged cookies, other origins and ended sessions', async () => {
    const cookie = cookieOf(await login(d.token));
    const forged = 'tandem_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    assert.equal((await fetch(`${base}/v1/instances`, { headers: { cookie: forged } })).status, 401);
    const cross = await fetch(`${base}/v1/instances`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', origin: 'http://evil.example' },
      body: JSON.stringify({ name: 'sneaky', image: 'busybox' }),
    });
    assert.equal(cross.status, 401);
    assert.equal((await login(d.token, { origin: 'http://evil.example' })).status, 401);
    const out = await fetch(`${base}/v1/session`, { method: 'DELETE', headers: { cookie } });
    assert.equal(out.status, 200);
    assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
    assert.equal((await fetch(`${base}/v1/instances`, { headers: { cookie } })).status, 401);
    const names = (await d.api('GET', '/v1/instances')).body.map((i: { name: string }) => i.name);
    assert.deepEqual(names, ['from-ui'], 'nothing else was created');
  });
});
