/**
 * VmRuns with a fake QEMU (a Node process serving QMP on the VM's event monitor socket, its
 * command line naming the VM's QMP socket as QEMU's does): one that announces SHUTDOWN and then
 * stays, idle, as Debian's QEMU 7.2 sometimes does, is killed by the exit watchdog, and the run
 * ends with the status the guest wrote.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../base/log.js';
import { waitFor } from '../../base/time.js';
import type { DriverSpec, RuntimeEvent } from '../../core/driver.js';
import { GUEST_FILES } from './qemu-args.js';
import type { VmRun } from './vm-record.js';
import { VmRuns } from './vm-runs.js';

/** Serves QMP on argv[1]; after qmp_capabilities, says SHUTDOWN and stays (argv[2]: the QMP socket, for the command line). */
const FAKE_QEMU = `
const net = require('node:net');
net.createServer((c) => {
  c.write(JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: [] } }) + '\\n');
  c.on('data', (d) => {
    for (const line of d.toString().split('\\n').filter(Boolean)) {
      const m = JSON.parse(line);
      c.write(JSON.stringify({ return: {}, id: m.id }) + '\\n');
      if (m.execute === 'qmp_capabilities') {
        const event = { event: 'SHUTDOWN', data: { guest: true }, timestamp: { seconds: 0, microseconds: 0 } };
        setTimeout(() => c.write(JSON.stringify(event) + '\\n'), 100);
      }
    }
  });
}).listen(process.argv[1]);
`;

/** Serves QMP on argv[1] (the command monitor), answering query-status with argv[2]; counts connections in argv[3]. */
const FAKE_QMP = `
const net = require('node:net');
const fs = require('node:fs');
net.createServer((c) => {
  fs.appendFileSync(process.argv[3], 'c');
  c.write(JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: [] } }) + '\\n');
  c.on('data', (d) => {
    for (const line of d.toString().split('\\n').filter(Boolean)) {
      const m = JSON.parse(line);
      const ret = m.execute === 'query-status' ? { status: process.argv[2], running: process.argv[2] === 'running' } : {};
      c.write(JSON.stringify({ return: ret, id: m.id }) + '\\n');
    }
  });
}).listen(process.argv[1]);
`;

describe('VmRuns', () => {
  const procs: ChildProcess[] = [];
  const dirs: string[] = [];
  after(async () => {
    for (const p of procs) p.kill('SIGKILL');
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  /**
   * A VmRuns on a new root with VM `id` running as a fake QEMU: `script` run by Node with
   * `args(dir)`, listening on `listens` in the VM's dir; `prepare(dir)` runs first.
   */
  async function fakeVm(
    id: string,
    script: string,
    listens: string,
    args: (dir: string) => string[],
    prepare: (dir: string) => Promise<void> = async () => {},
  ): Promise<{ runs: VmRuns; qemu: ChildProcess; root: string }> {
    const root = await mkdtemp(join(tmpdir(), 'tandem-vmruns-'));
    dirs.push(root);
    const runs = new VmRuns(root, silentLogger());
    const dir = runs.records.dir(id);
    await mkdir(dir, { recursive: true });
    await prepare(dir);
    const qemu = spawn(process.execPath, ['-e', script, ...args(dir)], { stdio: 'ignore' });
    procs.push(qemu);
    const listening = () => (existsSync(join(dir, listens)) ? true : undefined);
    assert.ok(await waitFor(listening, 10_000), 'fake QEMU listens');
    const spec = { id, name: id, type: 'vm', process: { args: ['true'] } } as unknown as DriverSpec;
    const now = new Date().toISOString();
    const run: VmRun = { pid: qemu.pid!, startedAt: now, accel: 'tcg', machine: 'microvm', cgroupDirs: [] };
    await runs.records.write({ id, name: id, spec, createdAt: now, run });
    return { runs, qemu, root };
  }

  it('asks QEMU whether it is paused at most once per 500 ms, and knows what it made it do', async () => {
    const id = 'polled';
    const count = join(tmpdir(), `tandem-vmruns-count-${process.pid}`);
    await writeFile(count, '');
    const { runs } = await fakeVm(id, FAKE_QMP, GUEST_FILES.qmp, (dir) => [
      join(dir, GUEST_FILES.qmp),
      'paused',
      count,
    ]);
    dirs.push(count);
    const connections = async () => (await readFile(count, 'utf8')).length;
    try {
      for (let i = 0; i < 10; i++) assert.equal((await runs.observe(id)).status, 'paused');
      assert.equal(await connections(), 1, 'ten state reads in a row: one query');
      runs.notePaused(id, false); // as after our own `cont`
      assert.equal((await runs.observe(id)).status, 'running');
      assert.equal(await connections(), 1);
      await new Promise((r) => setTimeout(r, 600));
      assert.equal((await runs.observe(id)).status, 'paused', 'QEMU asked again after 500 ms');
      assert.equal(await connections(), 2);
    } finally {
      await runs.close();
    }
  });

  it('kills a QEMU that announced SHUTDOWN and sits idle; the run ends with the guest status', async () => {
    const id = 'hung';
    const { runs, qemu } = await fakeVm(
      id,
      FAKE_QEMU,
      GUEST_FILES.qmpEvents,
      (dir) => [join(dir, GUEST_FILES.qmpEvents), join(dir, GUEST_FILES.qmp)],
      (dir) => writeFile(join(dir, GUEST_FILES.status), 'exit 3\n'),
    );
    const events: RuntimeEvent[] = [];
    runs.onEvent((e) => events.push(e));
    try {
      assert.equal((await runs.observe(id)).status, 'running');
      const t0 = Date.now();
      runs.watcher.watch(id);
      const exited = await waitFor(() => events.find((e) => e.kind === 'exited'), 20_000);
      assert.ok(exited, 'the run ended');
      assert.equal(exited.exitCode, 3);
      assert.ok(Date.now() - t0 >= 3000, 'not before the grace period');
      assert.equal(
        qemu.signalCode ?? (await new Promise((r) => qemu.once('exit', (_c, s) => r(s)))),
        'SIGKILL',
      );
      assert.equal((await runs.observe(id)).status, 'stopped');
    } finally {
      await runs.close();
    }
  });
});
