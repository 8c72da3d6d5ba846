import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Fastify from 'fastify';
import type { App } from './app.js';
import { installErrorHandlers } from './errors.js';
import { registerUiRoutes } from './routes-ui.js';
import { Sessions, sessionCookie } from './session.js';

describe('web UI files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-ui-files-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const app = Fastify() as unknown as App;
  installErrorHandlers(app);
  registerUiRoutes(app, dir);

  it('answers unavailable until the UI is built', async () => {
    const r = await app.inject({ url: '/ui/' });
    assert.equal(r.statusCode, 503);
    assert.match(r.json().error.message, /not built/);
  });

  it('serves the build (gzip when asked), nothing else, and notices a rebuild', async () => {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><p>one</p>');
    writeFileSync(join(dir, 'assets/app-1.js'), `console.log(${JSON.stringify('x'.repeat(2000))});`);
    const page = await app.inject({ url: '/ui/' });
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    const js = await app.inject({ url: '/ui/assets/app-1.js', headers: { 'accept-encoding': 'gzip, br' } });
    assert.equal(js.headers['content-encoding'], 'gzip');
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.match(String(js.headers['cache-control']), /immutable/);
    assert.ok(js.rawPayload.length < 200, 'compressed');
    assert.equal((await app.inject({ url: '/ui/assets/app-1.js' })).headers['content-encoding'], undefined);
    for (const url of ['/ui/assets/nope.js', '/ui/../index.html', '/ui/assets/../../x']) {
      assert.equal((await app.inject({ url })).statusCode, 404, url);
    }
    assert.equal((await app.inject({ url: '/ui' })).headers.location, '/ui/');
    writeFileSync(join(dir, 'index.html'), '<!doctype html><p>two</p>');
    utimesSync(join(dir, 'index.html'), new Date(), new Date(Date.now() + 5000));
    assert.match((await app.inject({ url: '/ui/' })).body, /two/);
  });
});

describe('sessions', () => {
  it('open for the right token only, expire, and cap their number', () => {
    let now = 1000;
    const s = new Sessions('the-token-0123456789', 100, () => now);
    assert.equal(s.open('the-token-012345678'), undefined);
    assert.equal(new Sessions(undefined).open(''), undefined, 'no token configured: no sessions');
    const a = s.open('the-token-0123456789')!;
    assert.equal(a.expiresAt, 1100);
    const req = (cookie: string, origin?: string) =>
      ({ headers: { cookie, host: 'h:1', ...(origin ? { origin } : {}) } }) as never;
    assert.equal(s.accepts(req(`x=1; tandem_session=${a.id}`)), true);
    assert.equal(s.accepts(req(`tandem_session=${a.id}`, 'http://h:1')), true);
    assert.equal(s.accepts(req(`tandem_session=${a.id}`, 'http://evil:1')), false);
    assert.equal(s.accepts(req('tandem_session=nope')), false);
    now = 1100;
    assert.equal(s.accepts(req(`tandem_session=${a.id}`)), false, 'expired');
    const many = Array.from({ length: 1001 }, () => s.open('the-token-0123456789')!);
    assert.equal(s.accepts(req(`tandem_session=${many[0]!.id}`)), false, 'the oldest was dropped');
    assert.equal(s.accepts(req(`tandem_session=${many[1000]!.id}`)), true);
  });

  it('reads the cookie among others', () => {
    assert.equal(sessionCookie('a=b; tandem_session=xyz ; c=d'), 'xyz');
    assert.equal(sessionCookie('tandem_sessionx=1'), undefined);
    assert.equal(sessionCookie(undefined), undefined);
  });
});
