import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hostsText, writeInPlace } from './hosts-file.js';

describe('hosts file', () => {
  it('lists localhost, the instance, the host and its peers', () => {
    const web = { address: '10.88.0.2', name: 'web', hostname: 'web' };
    const db = { address: '10.88.0.3', name: 'db', hostname: 'database' };
    const text = hostsText(web, [db, web], '10.88.0.1');
    assert.equal(
      text,
      '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.88.0.2\tweb\n' +
        '10.88.0.1\thost.tandem.internal\n10.88.0.3\tdatabase db\n',
    );
  });

  it('rewrites in place, keeping the inode, shorter or longer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-hosts-'));
    try {
      const f = join(dir, 'hosts');
      writeInPlace(f, 'a long first version\n');
      const ino = statSync(f).ino;
      writeInPlace(f, 'short\n');
      assert.equal(readFileSync(f, 'utf8'), 'short\n');
      writeInPlace(f, 'a much longer third version of it\n');
      assert.equal(readFileSync(f, 'utf8'), 'a much longer third version of it\n');
      assert.equal(statSync(f).ino, ino);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
