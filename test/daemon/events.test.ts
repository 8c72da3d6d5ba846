/**
 * The event stream (issue 2): `tandem events --json` receives created, started, paused,
 * resumed, stopped, deleted in order for a scripted sequence; a client that stops reading is
 * disconnected while the others keep receiving, and the daemon keeps serving; `--type` and
 * `--instance` filter the stream.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BIN, TestDaemon, waitOp } from '../helpers/daemon.js';

describe('event stream (fake driver)', () => {
  const d = new TestDaemon({ args: ['--event-buffer', '16384'] });
  before(() => d.start());
  after(() => d.cleanup());

  it('tandem events --json follows a scripted sequence in order', async () => {
    const follower = spawn(process.execPath, [BIN, 'events', '--json'], {
      env: d.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    follower.stdout.on('data', (b: Buffer) => (out += b));
    await new Promise((r) => setTimeout(r, 700));
    for (const args of [
      ['create', 'busybox', 'ev', '--', 'sh', '-c', 'sleep 1000'],
      ['start', 'ev'],
      ['pause', 'ev'],
      ['resume', 'ev'],
      ['stop', 'ev'],
      ['rm', 'ev'],
    ]) {
      const r = await d.cli(args);
      assert.equal(r.code, 0, r.stderr);
    }
    await new Promise((r) => setTimeout(r, 500));
    follower.kill('SIGTERM');
    const events = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const lifecycle = events
      .filter((e) => e.type === 'lifecycle' && e.instance === 'ev')
      .map((e) => e.action);
    assert.deepEqual(lifecycle, ['created', 'started', 'paused', 'resumed', 'stopped', 'deleted']);
    const seqs = events.map((e) => e.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'sequence numbers increase',
    );
  });

  it('--type and --instance keep only those events; a bad type is a usage error', async () => {
    const follow = (args: string[]) => {
      const p = spawn(process.execPath, [BIN, 'events', '--json', ...args], {
        env: d.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      p.stdout.on('data', (b: Buffer) => (out += b));
      return {
        stop: () => {
          p.kill('SIGTERM');
          return out
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l));
        },
      };
    };
    const lifecycleOfA = follow(['--type', 'lifecycle', '--instance', 'fa']);
    const operations = follow(['--type', 'operation']);
    await new Promise((r) => setTimeout(r, 700));
    for (const args of [
      ['launch', 'busybox', 'fa', '--', 'sh', '-c', 'sleep 1000'],
      ['launch', 'busybox', 'fb', '--', 'sh', '-c', 'sleep 1000'],
      ['rm', '-f', 'fa', 'fb'],
    ])
      await d.ok(args);
    await new Promise((r) => setTimeout(r, 500));
    const a = lifecycleOfA.stop();
    assert.deepEqual(
      a.map((e) => `${e.type} ${e.instance} ${e.action}`),
      ['lifecycle fa created', 'lifecycle fa started', 'lifecycle fa deleted'],
    );
    const ops = operations.stop();
    assert.ok(ops.length >= 6, `operation events: ${ops.length}`);
    assert.ok(ops.every((e) => e.type === 'operation'));
    const bad = await d.cli(['events', '--type', 'lifecycle,nonsense']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /unknown event type "nonsense"/);
  });

  it('disconnects a client that stops reading while others keep receiving', async () => {
    // A raw client that sends the request and never reads the response.
    const slow = connect(d.socket);
    slow.write('GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n');
    slow.pause();
    let slowClosed = false;
    slow.on('close', () => (slowClosed = true));
    slow.on('error', () => {});

    const follower = spawn(process.execPath, [BIN, 'events', '--json'], {
      env: d.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let lines = 0;
    follower.stdout.on('data', (b: Buffer) => (lines += b.toString().split('\n').length - 1));
    await new Promise((r) => setTimeout(r, 700));

    // Make thousands of events: create and delete instances in parallel batches.
    for (let round = 0; round < 30; round++) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const name = `flood-${round}-${i}`;
          await waitOp(
            d,
            (
              await d.api('POST', '/v1/instances', {
                name,
                image: 'busybox',
                start: true,
                command: ['sh', '-c', 'sleep 1000'],
              })
            ).body,
          );
          await waitOp(d, (await d.api('DELETE', `/v1/instances/${name}?force=true`)).body);
        }),
      );
    }
    // A paused socket cannot notice the server's close: read what was buffered, then it must end.
    slow.resume();
    for (let i = 0; i < 50 && !slowClosed; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(slowClosed, `the slow client was disconnected (the reader got ${lines} events)`);
    const before = lines;
    assert.ok(before > 1000, `the reading client kept receiving (${before} events)`);
    const r = await d.cli(['launch', 'busybox', 'after-flood', '--', 'sh', '-c', 'sleep 1000']);
    assert.equal(r.code, 0, 'the daemon still serves');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(lines > before, 'and the reading client still receives');
    follower.kill('SIGTERM');
    slow.destroy();
  });
});
