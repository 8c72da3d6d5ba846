/**
 * File-system operations Node has no API for: mknod (fifos, overlay whiteouts) and extended
 * attributes. Each runs as one batch per layer through Debian's coreutils `mknod` (inside one
 * `sh`) and attr's `setfattr --restore`, so a layer with a thousand whiteouts costs two process
 * spawns, not two thousand.
 */
import { spawn } from 'node:child_process';
import { TandemError } from '../base/errors.js';

export interface MknodOp {
  path: string;
  kind: 'fifo' | 'char';
  mode: number;
  major: number;
  minor: number;
}

export interface XattrOp {
  path: string;
  name: string;
  value: Buffer;
}

function exec(cmd: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) =>
      reject(new TandemError('internal', `running ${cmd}: ${e.message}`, { cause: e })),
    );
    child.on('close', (code) => {
      if (code === 0) return resolve();
      const detail = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-3).join('; ');
      reject(new TandemError('internal', `${cmd} exited with status ${code}: ${detail}`));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

const MKNOD_SCRIPT =
  'while [ $# -gt 0 ]; do if [ "$3" = p ]; then mknod -m "$1" -- "$2" p || exit 1; ' +
  'else mknod -m "$1" -- "$2" "$3" "$4" "$5" || exit 1; fi; shift 5; done';

/** Creates fifos and character devices (absolute paths whose parents exist); rejects on the first failure. */
export async function mknodBatch(ops: readonly MknodOp[]): Promise<void> {
  for (let i = 0; i < ops.length; i += 2000) {
    const args = ops.slice(i, i + 2000).flatMap((o) => {
      const mode = (o.mode & 0o7777).toString(8).padStart(4, '0');
      return [mode, o.path, o.kind === 'fifo' ? 'p' : 'c', String(o.major), String(o.minor)];
    });
    await exec('sh', ['-c', MKNOD_SCRIPT, 'mknod-batch', ...args], '');
  }
}

/** Escapes a name for setfattr's restore format (octal for bytes outside printable ASCII and backslash). */
function quote(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out +=
      b <= 0x20 || b >= 0x7f || b === 0x5c || b === 0x3d
        ? `\\${b.toString(8).padStart(3, '0')}`
        : String.fromCharCode(b);
  }
  return out;
}

/** Sets extended attributes without following symlinks; rejects when any cannot be set. */
export async function setXattrs(ops: readonly XattrOp[]): Promise<void> {
  if (ops.length === 0) return;
  let text = '';
  for (const o of ops) {
    if (!/^[a-zA-Z0-9._-]+$/.test(o.name))
      throw new TandemError('invalid_argument', `invalid extended attribute name "${o.name}"`);
    const value = o.value.length === 0 ? '""' : `0s${o.value.toString('base64')}`;
    text += `# file: ${quote(o.path)}\n${o.name}=${value}\n\n`;
  }
  await exec('setfattr', ['-h', '--restore=-'], text);
}
