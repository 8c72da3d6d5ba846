/**
 * The web UI's files at /ui/ (built by scripts/build-ui.sh into dist/ui, not committed). They
 * are public: the page holds no data, and without a session it shows only the login step, every
 * API call behind it needing the token or a session. Files are read into memory (with a gzip
 * copy) on first use and again whenever index.html changes; only files found in the build are
 * served, so no request path reaches the filesystem. Hashed assets are immutable; the page
 * is revalidated and sent with a strict Content-Security-Policy.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { TandemError } from '../../base/errors.js';
import type { App } from './app.js';

interface Asset {
  body: Buffer;
  gzip?: Buffer;
  type: string;
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
};

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** The built UI: dist/ui next to the compiled daemon, or the checkout's dist/ui when run from source. */
export function defaultUiDir(): string {
  const here = import.meta.dirname;
  const candidates = [resolve(here, '../../ui'), resolve(here, '../../../dist/ui')];
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? candidates[0]!;
}

export function registerUiRoutes(app: App, dir = defaultUiDir()): void {
  const files = new UiFiles(dir);
  const config = { public: true };
  const schema = { hide: true };
  app.get('/', { config, schema }, async (_req, reply) => reply.redirect('/ui/'));
  app.get('/ui', { config, schema }, async (_req, reply) => reply.redirect('/ui/'));
  app.get('/ui/*', { config, schema }, async (req, reply) => {
    const path = (req.params as { '*': string })['*'] || 'index.html';
    const asset = files.get(path);
    if (!asset) throw new TandemError('not_found', `"/ui/${path}" not found`);
    const gzip = asset.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    reply
      .header('content-type', asset.type)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('vary', 'accept-encoding');
    if (asset.type.startsWith('text/html')) {
      reply.header('content-security-policy', CSP).header('referrer-policy', 'no-referrer');
    }
    if (gzip) reply.header('content-encoding', 'gzip');
    return reply.send(gzip ? asset.gzip : asset.body);
  });
}

class UiFiles {
  private assets = new Map<string, Asset>();
  private loadedFor = -1;

  constructor(private readonly dir: string) {}

  /** The file at `path` in the current build, undefined when the build has none. */
  get(path: string): Asset | undefined {
    const index = join(this.dir, 'index.html');
    const mtime = existsSync(index) ? statSync(index).mtimeMs : -1;
    if (mtime < 0) throw new TandemError('unavailable', 'the web UI is not built: run "make build"');
    if (mtime !== this.loadedFor) {
      this.assets = load(this.dir);
      this.loadedFor = mtime;
    }
    return this.assets.get(path);
  }
}

function load(dir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.isFile()) out.set(relative(dir, full), asset(full, relative(dir, full)));
    }
  };
  walk(dir);
  return out;
}

function asset(file: string, rel: string): Asset {
  const body = readFileSync(file);
  const type = TYPES[extname(file)] ?? 'application/octet-stream';
  const compressible = /^(text\/|image\/svg|application\/json)/.test(type) && body.length > 512;
  return {
    body,
    type,
    gzip: compressible ? gzipSync(body, { level: 9 }) : undefined,
    immutable: rel.startsWith('assets/'),
  };
}
