import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isTandemError } from '../../base/errors.js';
import { QmpClient, type QmpEvent } from './qmp-client.js';

type Handler = (cmd: { execute: string; arguments?: unknown; id?: string }, sock: Socket) => void;

/** A fake QMP server: greets, accepts qmp_capabilities, hands other commands to `handler`. */
async function fakeQmp(path: string, handler: Handler): Promise<{ server: Server; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((sock) => {
    sockets.push(sock);
    sock.write(
      `${JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 }, package: 'fake' }, capabilities: ['oob'] } })}\n`,
    );
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const cmd = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (cmd.execute === 'qmp_capabilities') sock.write(`${JSON.stringify({ return: {}, id: cmd.id })}\n`);
        else handler(cmd, sock);
      }
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { server, sockets };
}

const reply = (sock: Socket, msg: object) => sock.write(`${JSON.stringify(msg)}\n`);
const closeServer = (s: Server, sockets: Socket[]) =>
  new Promise<void>((resolve) => {
    for (const x of sockets) x.destroy();
    s.close(() => resolve());
  });

describe('QmpClient', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vm-qmp-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the greeting, negotiates capabilities and runs a typed command', async () => {
    const path = join(dir, 'a.sock');
    const { server, sockets } = await fakeQmp(path, (cmd, sock) => {
      if (cmd.execute === 'query-status')
        reply(sock, { return: { status: 'running', running: true }, id: cmd.id });
    });
    const qmp = new QmpClient(path);
    const greeting = await qmp.connect();
    assert.equal(greeting.version.qemu.major, 7);
    assert.equal(qmp.connected, true);
    assert.deepEqual(await qmp.execute('query-status'), { status: 'running', running: true });
    await qmp.close();
    assert.equal(qmp.connected, false);
    await closeServer(server, sockets);
  });

  it('turns error replies into TandemErrors with the QMP class', async () => {
    const path = join(dir, 'b.sock');
    const { server, sockets } = await fakeQmp(path, (cmd, sock) => {
      const cls = cmd.execute === 'nope' ? 'CommandNotFound' : 'GenericError';
      reply(sock, { error: { class: cls, desc: `The command ${cmd.execute} failed` }, id: cmd.id });
    });
    const qmp = new QmpClient(path);
    await qmp.connect();
    await assert.rejects(
      qmp.send('nope'),
      (e) => isTandemError(e, 'not_supported') && /nope/.test(e.message),
    );
    await assert.rejects(
      qmp.execute('stop'),
      (e) => isTandemError(e, 'internal') && /"stop": The command stop failed/.test(e.message),
    );
    await qmp.close();
    await closeServer(server, sockets);
  });

  it('delivers events apart from replies, also when they arrive first or replies come out of order', async () => {
    const path = join(dir, 'c.sock');
    const held: { id?: string }[] = [];
    const { server, sockets } = await fakeQmp(path, (cmd, sock) => {
      if (cmd.execute === 'stop') {
        reply(sock, { event: 'STOP', timestamp: { seconds: 1, microseconds: 0 } });
        held.push(cmd);
      } else if (cmd.execute === 'query-status') {
        reply(sock, { return: { status: 'paused', running: false }, id: cmd.id });
        for (const h of held.splice(0)) reply(sock, { return: {}, id: h.id });
        sock.write(
          `${JSON.stringify({ event: 'RESUME' })}\n${JSON.stringify({ event: 'POWERDOWN' }).slice(0, 10)}`,
        );
        setTimeout(() => sock.write(`${JSON.stringify({ event: 'POWERDOWN' }).slice(10)}\n`), 20);
      }
    });
    const qmp = new QmpClient(path);
    await qmp.connect();
    const events: QmpEvent[] = [];
    qmp.onEvent((e) => events.push(e));
    const stopped = qmp.execute('stop');
    const status = await qmp.execute('query-status');
    assert.equal(status.status, 'paused');
    assert.deepEqual(await stopped, {});
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(
      events.map((e) => e.event),
      ['STOP', 'RESUME', 'POWERDOWN'],
    );
    await qmp.close();
    await closeServer(server, sockets);
  });

  it('rejects pending commands on disconnect and connects again', async () => {
    const path = join(dir, 'd.sock');
    const first = await fakeQmp(path, (_cmd, sock) => sock.destroy());
    const qmp = new QmpClient(path);
    const closes: (Error | undefined)[] = [];
    qmp.onClose((e) => closes.push(e));
    await qmp.connect();
    await assert.rejects(qmp.execute('query-status'), (e) => isTandemError(e, 'unavailable'));
    assert.equal(qmp.connected, false);
    assert.equal(closes.length, 1);
    await assert.rejects(
      qmp.execute('query-status'),
      (e) => isTandemError(e, 'unavailable') && /not connected/.test(e.message),
    );
    await closeServer(first.server, first.sockets);
    await rm(path, { force: true });
    const second = await fakeQmp(path, (cmd, sock) =>
      reply(sock, { return: { status: 'running', running: true }, id: cmd.id }),
    );
    await qmp.connect();
    assert.equal((await qmp.execute('query-status')).running, true);
    await qmp.close();
    await closeServer(second.server, second.sockets);
  });

  it('fails to connect with unavailable when nothing listens or no greeting comes', async () => {
    await assert.rejects(new QmpClient(join(dir, 'none.sock')).connect(), (e) =>
      isTandemError(e, 'unavailable'),
    );
    const path = join(dir, 'mute.sock');
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(path, r));
    await assert.rejects(
      new QmpClient(path).connect({ timeoutMs: 100 }),
      (e) => isTandemError(e, 'unavailable') && /greeting/.test(e.message),
    );
    await closeServer(server, sockets);
  });

  it('quit resolves when the server closes without replying', async () => {
    const path = join(dir, 'e.sock');
    const { server, sockets } = await fakeQmp(path, (cmd, sock) => {
      if (cmd.execute === 'quit') sock.destroy();
    });
    const qmp = new QmpClient(path);
    await qmp.connect();
    await qmp.quit(2000);
    assert.equal(qmp.connected, false);
    await closeServer(server, sockets);
  });
});
