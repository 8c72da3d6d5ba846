/**
 * The web UI end to end in Debian's Chromium (playwright-core), on the real daemon over TCP with
 * real containers: the page without a session shows only the login step; a wrong token is
 * refused; the token logs in (HttpOnly cookie, invisible to scripts); a container launched from
 * the form shows running with live CPU, its chart (two CPU points at least), the node's allocation and its events; pause
 * shows paused; delete removes it. The screenshot is saved as artifacts/ui.png. Fails (never
 * skips) when Chromium or the UI build is missing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { ROOT, TestDaemon } from '../helpers/daemon.js';

const CHROMIUM = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => existsSync(p));
const ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

describe('web UI in Chromium', () => {
  const d = new TestDaemon({ drivers: 'real', tcp: true });
  const profile = mkdtempSync(join(tmpdir(), 'tandem-ui-chromium-'));
  let context: BrowserContext | undefined;
  let page: Page;
  let base = '';
  const problems: string[] = [];

  before(async () => {
    assert.ok(CHROMIUM, 'chromium is missing: install it with scripts/install-packages.sh (make setup)');
    assert.ok(existsSync(join(ROOT, 'dist/ui/index.html')), 'the web UI is not built: run make build');
    await d.start();
    base = `http://127.0.0.1:${d.port}`;
    const build = await d.cli(['image', 'build', 'busybox', '--from', 'busybox']);
    assert.equal(build.code, 0, build.stderr);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ARGS,
      headless: true,
      viewport: { width: 1280, height: 760 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (/Content Security Policy|Uncaught/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
  });

  after(async () => {
    await context?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    const all = JSON.parse((await d.cli(['ls', '--json'])).stdout || '[]') as { name: string }[];
    if (all.length) await d.cli(['rm', '-f', ...all.map((i) => i.name)]);
    await d.cleanup();
  });

  it('shows only the login step without a session, then logs in with the token', async () => {
    const dataAnswers: number[] = [];
    page.on('response', (r) => {
      if (/\/v1\/(instances|nodes)/.test(r.url())) dataAnswers.push(r.status());
    });
    await page.goto(`${base}/ui/`);
    await page.locator('input[name=token]').waitFor();
    assert.equal(await page.locator('table.instances, .nodes, .events').count(), 0, 'no data shown');
    assert.ok(
      dataAnswers.every((s) => s === 401),
      `data requests were refused: ${dataAnswers}`,
    );
    await page.fill('input[name=token]', 'wrong-token-0123456789abcdef');
    await page.click('form button[type=submit]');
    await page.locator('.login .error', { hasText: 'wrong token' }).waitFor();
    await page.fill('input[name=token]', d.token);
    await page.click('form button[type=submit]');
    await page.locator('h2', { hasText: 'Instances' }).waitFor();
    const cookie = (await context!.cookies()).find((c) => c.name === 'tandem_session');
    assert.ok(cookie?.httpOnly, 'the session cookie is HttpOnly');
    assert.equal(cookie.sameSite, 'Strict');
    assert.doesNotMatch(await page.evaluate(() => document.cookie), /tandem_session/);
  });

  it('launches a container from the form and shows it running with live CPU', async () => {
    const form = page.locator('form.launch');
    await form.locator('input[name=name]').fill('ui-busy');
    await form.locator('input[name=image]').fill('busybox');
    await form.locator('select[name=type]').selectOption('container');
    await form.locator('input[name=cpus]').fill('0.5');
    await form.locator('input[name=memory]').fill('64MiB');
    await form.locator('input[name=command]').fill("sh -c 'while :; do :; done'");
    await form.locator('button[type=submit]').click();
    const row = page.locator('tr[data-instance="ui-busy"]');
    await page.locator('tr[data-instance="ui-busy"][data-status="running"]').waitFor({ timeout: 30_000 });
    await page.waitForFunction(
      () => {
        const cell = document.querySelector('tr[data-instance="ui-busy"] td[data-col="cpu"]');
        return Number.parseFloat(cell?.textContent ?? '') > 10;
      },
      undefined,
      { timeout: 20_000, polling: 250 },
    );
    const cpu = Number.parseFloat((await row.locator('td[data-col="cpu"]').textContent()) ?? '');
    assert.ok(cpu > 10 && cpu < 70, `CPU ${cpu}% under a 0.5 CPU limit`);
    assert.match(
      (await row.locator('td[data-col="memory"]').textContent()) ?? '',
      /^[\d.]+ (KiB|MiB) \/ 64 MiB$/,
    );
    await page.waitForFunction(
      () => {
        const line = document.querySelector('tr[data-instance="ui-busy"] svg.chart polyline.cpu');
        return (line?.getAttribute('points') ?? '').split(' ').length >= 2;
      },
      undefined,
      { timeout: 20_000, polling: 250 },
    );
    await page.locator('.events li', { hasText: 'ui-busy' }).first().waitFor();
    await page.locator('.events li.lifecycle', { hasText: 'started' }).first().waitFor();
    const cpus = (await page.locator('[data-node] [data-resource="cpus"] .num').textContent()) ?? '';
    assert.match(cpus, /^0\.5 \/ /, `node allocation shows the 0.5 CPU: ${cpus}`);
    mkdirSync(join(ROOT, 'artifacts'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'artifacts/ui.png'), fullPage: true });
  });

  it('pauses it and shows paused, then deletes it', async () => {
    const row = page.locator('tr[data-instance="ui-busy"]');
    await row.locator('button[data-action="pause"]').click();
    await page.locator('tr[data-instance="ui-busy"][data-status="paused"]').waitFor();
    assert.equal(await row.locator('td[data-col="cpu"]').textContent(), '0.0%');
    assert.equal((await d.api('GET', '/v1/instances/ui-busy')).body.status, 'paused');
    await row.locator('button[data-action="delete"]').click();
    await row.locator('button[data-action="delete"]', { hasText: 'confirm delete' }).click();
    await row.waitFor({ state: 'detached', timeout: 30_000 });
    assert.equal((await d.api('GET', '/v1/instances/ui-busy')).status, 404);
    assert.deepEqual(problems, [], 'no script errors or CSP violations');
  });
});
