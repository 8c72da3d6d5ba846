/**
 * bin/tandem, the sh wrapper a user runs: it starts bin/tandem.cjs with Node from PATH, passes
 * arguments and exit status through, works through a symlink (as npm installs it), and drops
 * NODE_EXTRA_CA_CERTS (Node reads the whole file at every start) unless the command is the
 * daemon or the CLI talks to an https daemon.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../helpers/daemon.js';

const WRAPPER = join(ROOT, 'bin/tandem');
const dir = mkdtempSync(join(tmpdir(), 'tandem-wrapper-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
}

describe('bin/tandem', () => {
  it('runs the CLI with its arguments and exit status, also through a symlink', () => {
    const link = join(dir, 'tandem');
    symlinkSync(WRAPPER, link);
    for (const cmd of [WRAPPER, link]) {
      const v = run(cmd, ['--version'], {});
      assert.equal(v.status, 0, v.stderr);
      assert.equal(v.stdout.trim(), '0.1.0');
      const bad = run(cmd, ['ls', '--no-such-flag'], {});
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /unknown option/);
    }
  });

  it('drops NODE_EXTRA_CA_CERTS for the CLI, keeps it for the daemon and for an https daemon', () => {
    // a `node` first on PATH that reports what the wrapper handed it
    const bin = join(dir, 'fake-bin');
    spawnSync('mkdir', ['-p', bin]);
    writeFileSync(join(bin, 'node'), '#!/bin/sh\necho "${NODE_EXTRA_CA_CERTS-unset} $*"\n');
    chmodSync(join(bin, 'node'), 0o755);
    const env = { PATH: `${bin}:${process.env.PATH}`, NODE_EXTRA_CA_CERTS: '/etc/extra.pem', TANDEM_URL: '' };
    const entry = join(ROOT, 'bin/tandem.cjs');
    assert.equal(run(WRAPPER, ['ls', '-a'], env).stdout, `unset ${entry} ls -a\n`);
    assert.equal(run(WRAPPER, ['daemon', '--x'], env).stdout, `/etc/extra.pem ${entry} daemon --x\n`);
    const https = { ...env, TANDEM_URL: 'https://127.0.0.1:8443' };
    assert.equal(run(WRAPPER, ['ls'], https).stdout, `/etc/extra.pem ${entry} ls\n`);
    const http = { ...env, TANDEM_URL: 'http://127.0.0.1:8443' };
    assert.equal(run(WRAPPER, ['ls'], http).stdout, `unset ${entry} ls\n`);
  });
});
