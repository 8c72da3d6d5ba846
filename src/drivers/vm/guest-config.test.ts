import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configArchive, encodeConfig } from './guest-config.js';

/** Reads a newc archive back: names, modes and contents. */
function parseNewc(buf: Buffer): { name: string; mode: number; data: string }[] {
  const out: { name: string; mode: number; data: string }[] = [];
  let off = 0;
  const pad = (n: number) => (n + 3) & ~3;
  for (;;) {
    assert.equal(buf.toString('latin1', off, off + 6), '070701');
    const field = (i: number) =>
      Number.parseInt(buf.toString('latin1', off + 6 + i * 8, off + 14 + i * 8), 16);
    const [mode, size, nameSize] = [field(1), field(6), field(11)];
    const name = buf.toString('latin1', off + 110, off + 110 + nameSize - 1);
    const dataStart = pad(off + 110 + nameSize);
    if (name === 'TRAILER!!!') return out;
    out.push({ name, mode, data: buf.toString('utf8', dataStart, dataStart + size) });
    off = pad(dataStart + size);
  }
}

describe('guest config', () => {
  it('encodes key=value lines, escaping newlines and backslashes', () => {
    const text = encodeConfig({
      mode: 'workload',
      root: '/dev/vda',
      grow: true,
      hostname: 'web',
      pids: 100,
      process: {
        args: ['sh', '-c', 'echo a\nb \\ c'],
        env: ['K=V'],
        cwd: '/srv',
        user: '1000:1000',
        tty: false,
      },
    });
    assert.equal(
      text,
      'mode=workload\nroot=/dev/vda\ngrow=1\nhostname=web\npids=100\narg=sh\narg=-c\narg=echo a\\nb \\\\ c\nenv=K=V\ncwd=/srv\nuser=1000:1000\ntty=0\n',
    );
  });

  it('encodes 9p roots and extra shares', () => {
    const text = encodeConfig({
      mode: 'workload',
      root: '9p:rootfs',
      mounts: [
        { tag: 'v0', target: '/data', readOnly: true },
        { tag: 'v1', target: '/srv/x' },
      ],
    });
    assert.equal(text, 'mode=workload\nroot=9p:rootfs\nmount=v0:/data:ro\nmount=v1:/srv/x\n');
  });

  it('packs /tandem/config as a newc archive padded to 512 bytes', () => {
    const archive = configArchive('mode=probe\n');
    assert.equal(archive.length % 512, 0);
    assert.deepEqual(parseNewc(archive), [
      { name: 'tandem', mode: 0o040755, data: '' },
      { name: 'tandem/config', mode: 0o100644, data: 'mode=probe\n' },
    ]);
  });
});
