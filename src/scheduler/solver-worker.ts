/**
 * Runs the MILP batch placer in a worker thread (HiGHS blocks the thread it runs on). One
 * worker per batch; it is terminated when it answers, fails, or overruns its time limit.
 * Under tsx (tests, `node --import tsx`) the worker registers tsx itself before loading the
 * TypeScript entry, because Node 20 workers do not inherit loader hooks.
 */
import { Worker } from 'node:worker_threads';
import { TandemError } from '../base/errors.js';
import type { BatchProblem } from './batch-problem.js';
import type { MilpOptions, MilpResult } from './milp-batch.js';

function spawn(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const entry = new URL('./milp-worker.ts', here).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    const code = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
    return new Worker(code, { eval: true });
  }
  return new Worker(new URL('./milp-worker.js', here));
}

/** Solves in a fresh worker; rejects with unavailable when no answer comes within `timeoutMs`. */
export function solveInWorker(
  problem: BatchProblem,
  greedy: Int32Array,
  options: MilpOptions,
  timeoutMs: number,
): Promise<MilpResult> {
  const worker = spawn();
  return new Promise<MilpResult>((resolve, reject) => {
    const finish = (fn: () => void) => {
      clearTimeout(timer);
      worker.removeAllListeners();
      void worker.terminate();
      fn();
    };
    const timer = setTimeout(
      () =>
        finish(() => reject(new TandemError('unavailable', `milp solver: no answer within ${timeoutMs} ms`))),
      timeoutMs,
    );
    worker.on('message', (msg: { ok: boolean; result?: MilpResult; error?: string }) =>
      finish(() =>
        msg.ok ? resolve(msg.result!) : reject(new TandemError('internal', `milp solver: ${msg.error}`)),
      ),
    );
    worker.on('error', (err) =>
      finish(() => reject(new TandemError('internal', `milp solver: ${err.message}`))),
    );
    worker.on('exit', (code) =>
      finish(() => reject(new TandemError('internal', `milp solver exited with status ${code}`))),
    );
    worker.postMessage({ problem, greedy, options });
  });
}
