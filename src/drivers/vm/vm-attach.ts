/**
 * Attaching to a VM's workload (a foreground `run`): its output is the workload log from where
 * the current run began (or from now), followed until QEMU is gone; its exit status is the
 * run's recorded one. Input (when the spec kept stdin open, or with a TTY), resize and signals
 * go through the agent as session 0.
 */
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { TandemError } from '../../base/errors.js';
import type { ExecSession } from '../../core/driver.js';
import { readLog } from './log-file.js';
import { GUEST_FILES } from './qemu-args.js';
import type { VmRuns } from './vm-runs.js';

/** An ExecSession on the workload of running VM `id`, its output read from byte `from` of the log. */
export async function attachWorkload(
  runs: VmRuns,
  id: string,
  from: number,
  input: boolean,
): Promise<ExecSession> {
  const agent = input ? await runs.channels.agent(id, 10_000) : undefined;
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stderr.end();
  const abort = new AbortController();
  const path = join(runs.records.dir(id), GUEST_FILES.workloadLog);
  const exit = (async () => {
    try {
      for await (const chunk of readLog(path, {
        from,
        follow: true,
        signal: abort.signal,
        active: () => runs.qemuAlive(id),
      })) {
        if (!stdout.write(chunk)) await new Promise((r) => stdout.once('drain', r));
      }
    } finally {
      stdout.end();
    }
    const st = await runs.observe(id);
    if (st.exitCode === undefined)
      throw new TandemError('internal', `instance "${id}": ${st.reason ?? 'ended without an exit status'}`);
    return st.exitCode;
  })();
  exit.catch(() => {});
  stdout.once('close', () => abort.abort());
  return {
    stdin: agent ? agent.workloadStdin() : null,
    stdout,
    stderr,
    exit,
    resize: (cols, rows) => agent?.resizeWorkload(cols, rows),
    signal: (sig) => {
      void runs.channels
        .agent(id, 5000)
        .then((a) => a.sendSignal(0, sig))
        .catch(() => {});
    },
  };
}
