import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isTandemError } from '../../base/errors.js';
import { AgentClient, encodeFrame, FRAME, FrameDecoder, signalNumber } from './agent-client.js';

type Frame = { type: number; session: number; payload: Buffer };

/** A fake guest agent: answers HELLO, hands every other frame to `onFrame`. */
async function fakeAgent(
  path: string,
  onFrame: (f: Frame, sock: Socket) => void,
): Promise<{ server: Server; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((sock) => {
    sockets.push(sock);
    const dec = new FrameDecoder();
    sock.on('data', (d) => {
      for (const f of dec.push(d)) {
        if (f.type === FRAME.hello)
          sock.write(
            encodeFrame(FRAME.ready, 0, 'release=6.1.0-test\nworkload=42\nuptime=1.5\nmode=workload\n'),
          );
        else onFrame(f, sock);
      }
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { server, sockets };
}

const stop = (s: { server: Server; sockets: Socket[] }) =>
  new Promise<void>((r) => {
    for (const x of s.sockets) x.destroy();
    s.server.close(() => r());
  });

const read = async (r: NodeJS.ReadableStream) => {
  let out = '';
  for await (const c of r) out += c.toString();
  return out;
};

describe('agent protocol', () => {
  it('decodes frames split across chunks and refuses oversized ones', () => {
    const bytes = Buffer.concat([encodeFrame(FRAME.stdout, 7, 'hello'), encodeFrame(FRAME.exit, 7, '3')]);
    const dec = new FrameDecoder();
    const got = [
      ...dec.push(bytes.subarray(0, 4)),
      ...dec.push(bytes.subarray(4, 16)),
      ...dec.push(bytes.subarray(16)),
    ];
    assert.deepEqual(
      got.map((f) => [String.fromCharCode(f.type), f.session, f.payload.toString()]),
      [
        ['O', 7, 'hello'],
        ['X', 7, '3'],
      ],
    );
    const big = Buffer.alloc(9);
    big[0] = FRAME.stdout;
    big.writeUInt32BE(1 << 20, 5);
    assert.throws(() => new FrameDecoder().push(big));
  });

  it('maps signal names to numbers', () => {
    assert.equal(signalNumber('SIGKILL'), 9);
    assert.equal(signalNumber('TERM'), 15);
    assert.throws(
      () => signalNumber('SIGNOPE'),
      (e) => isTandemError(e, 'invalid_argument'),
    );
  });
});

describe('AgentClient', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vm-agent-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('connects, runs an exec with stdin, stdout, stderr and exit status, and signals', async () => {
    const path = join(dir, 'a.sock');
    const seen: Frame[] = [];
    const agent = await fakeAgent(path, (f, sock) => {
      seen.push(f);
      if (f.type === FRAME.exec) sock.write(encodeFrame(FRAME.stderr, f.session, 'warn\n'));
      if (f.type === FRAME.stdin && f.payload.length > 0)
        sock.write(encodeFrame(FRAME.stdout, f.session, f.payload.toString().toUpperCase()));
      if (f.type === FRAME.stdin && f.payload.length === 0)
        sock.write(encodeFrame(FRAME.exit, f.session, '5'));
    });
    const client = new AgentClient(path);
    const ready = await client.connect({ timeoutMs: 2000 });
    assert.deepEqual(ready, { release: '6.1.0-test', workloadPid: 42, uptimeSeconds: 1.5, mode: 'workload' });
    const s = client.exec({ args: ['tr', 'a-z', 'A-Z'], env: ['A=b\nc'], cwd: '/tmp', stdin: true });
    const out = Promise.all([read(s.stdout), read(s.stderr)]);
    s.stdin?.end('abc');
    assert.equal(await s.exit, 5);
    assert.deepEqual(await out, ['ABC', 'warn\n']);
    const exec = seen.find((f) => f.type === FRAME.exec);
    assert.equal(exec?.payload.toString(), 'arg=tr\narg=a-z\narg=A-Z\nenv=A=b\\nc\ncwd=/tmp\nstdin=1\n');
    client.sendSignal(0, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 50));
    const sig = seen.find((f) => f.type === FRAME.signal);
    assert.deepEqual([sig?.session, sig?.payload.toString()], [0, '15']);
    client.close();
    await stop(agent);
  });

  it('reports a lost connection to running execs and to listeners', async () => {
    const path = join(dir, 'b.sock');
    const agent = await fakeAgent(path, (f, sock) => {
      if (f.type === FRAME.exec)
        sock.write(encodeFrame(FRAME.stdout, f.session, 'partial'), () => sock.destroy());
    });
    const client = new AgentClient(path);
    await client.connect();
    let closed = false;
    client.onClose(() => {
      closed = true;
    });
    const s = client.exec({ args: ['sleep', '9'], env: [] });
    const out = read(s.stdout);
    await assert.rejects(s.exit, (e) => isTandemError(e, 'unavailable'));
    assert.equal(await out, 'partial');
    assert.equal(closed, true);
    assert.equal(client.connected, false);
    assert.throws(
      () => client.exec({ args: ['true'], env: [] }),
      (e) => isTandemError(e, 'unavailable'),
    );
    await stop(agent);
  });

  it('times out when the guest never answers', async () => {
    const path = join(dir, 'c.sock');
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(path, r));
    await assert.rejects(
      new AgentClient(path).connect({ timeoutMs: 150 }),
      (e) => isTandemError(e, 'unavailable') && /did not answer/.test(e.message),
    );
    await stop({ server, sockets });
  });
});
