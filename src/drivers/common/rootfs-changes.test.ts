import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { copyChanges, diffTrees, takeChanges, writeDiff } from './rootfs-changes.js';

const dirs: string[] = [];
function tree(files: Record<string, string | { link: string } | { dir: true; mode?: number }>): string {
  const root = mkdtempSync(join(tmpdir(), 'rootfs-changes-'));
  dirs.push(root);
  for (const [rel, v] of Object.entries(files)) {
    const p = join(root, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    if (typeof v === 'string') writeFileSync(p, v);
    else if ('link' in v) symlinkSync(v.link, p);
    else mkdirSync(p, { recursive: true, mode: v.mode });
  }
  return root;
}

/** Sets the same mtime on every entry of both trees, as mkfs.ext4 -d copies times. */
function sameTimes(...roots: string[]): void {
  for (const root of roots) {
    const files = execFileSync('find', [root, '-not', '-type', 'l'], { encoding: 'utf8' }).trim().split('\n');
    for (const f of files) utimesSync(f, 946684800, 946684800);
  }
}

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('rootfs changes', () => {
  it('diffTrees finds added, changed and removed entries, with their parents', async () => {
    const base = tree({
      'bin/sh': 'shell',
      'bin/vi': 'editor',
      'etc/passwd': 'root\n',
      'etc/hosts': 'localhost\n',
      'usr/lib/a': 'a',
      'root/l': { link: 'x' },
    });
    const changed = tree({
      'bin/sh': 'shell',
      'etc/passwd': 'root\nnobody\n',
      'etc/hosts': 'localhost\n',
      'usr/lib/a': 'a',
      'root/l': { link: 'y' },
      'srv/new/deep': 'data',
      'lost+found': { dir: true },
    });
    sameTimes(base, changed);
    const d = await diffTrees(changed, base, ['lost+found']);
    assert.deepEqual(d.copy, [
      'bin',
      'etc',
      'etc/passwd',
      'root',
      'root/l',
      'srv',
      'srv/new',
      'srv/new/deep',
    ]);
    assert.deepEqual(d.whiteout, ['bin/vi']);
  });

  it('same size and content but another mtime is no change; another mode or owner is', async () => {
    const base = tree({ 'a/f': 'same', 'a/g': 'same', 'a/h': 'same' });
    const changed = tree({ 'a/f': 'same', 'a/g': 'same', 'a/h': 'same' });
    sameTimes(base);
    chmodSync(join(changed, 'a/g'), 0o600);
    lchownSync(join(changed, 'a/h'), 65534, 65534);
    sameTimes(changed);
    utimesSync(join(changed, 'a/f'), 1000, 1000);
    const d = await diffTrees(changed, base);
    assert.deepEqual(d.copy, ['a', 'a/g', 'a/h']);
  });

  it('a directory replacing a file is copied whole; writeDiff makes whiteouts and keeps metadata', async () => {
    const base = tree({ 'x/thing': 'file', 'x/gone': 'old' });
    const changed = tree({ 'x/thing/inner': 'now a dir' });
    chmodSync(join(changed, 'x/thing/inner'), 0o640);
    lchownSync(join(changed, 'x/thing/inner'), 65534, 100);
    const d = await diffTrees(changed, base);
    assert.deepEqual(d, { copy: ['x', 'x/thing', 'x/thing/inner'], whiteout: ['x/gone'] });
    const out = join(tree({}), 'out');
    await writeDiff(changed, d, out);
    assert.equal(readFileSync(join(out, 'x/thing/inner'), 'utf8'), 'now a dir');
    const st = lstatSync(join(out, 'x/thing/inner'));
    assert.deepEqual([st.mode & 0o777, st.uid, st.gid], [0o640, 65534, 100]);
    const wh = lstatSync(join(out, 'x/gone'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'a 0/0 character device marks the removal');
  });

  it('copyChanges links the upper dir; takeChanges moves it', async () => {
    const upper = tree({ 'etc/motd': 'hi', 'bin/link': { link: '/bin/sh' } });
    const copy = join(tree({}), 'copy');
    await copyChanges(upper, copy);
    assert.equal(lstatSync(join(copy, 'etc/motd')).ino, lstatSync(join(upper, 'etc/motd')).ino, 'hard links');
    assert.equal(readlinkSync(join(copy, 'bin/link')), '/bin/sh');
    const moved = join(tree({}), 'moved');
    await takeChanges(copy, moved);
    assert.equal(readFileSync(join(moved, 'etc/motd'), 'utf8'), 'hi');
    assert.throws(() => lstatSync(copy));
  });
});
