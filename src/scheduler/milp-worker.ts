/**
 * Entry point of the solver worker thread: loads HiGHS (WebAssembly) once and answers each
 * message `{ problem, greedy, options }` with `{ ok: true, result }` or `{ ok: false, error }`.
 * HiGHS solves synchronously, so it runs here and never blocks the daemon's or CLI's thread.
 */
import { parentPort } from 'node:worker_threads';
import type { Highs } from 'highs';
import type { BatchProblem } from './batch-problem.js';
import { loadHighs } from './highs-load.js';
import { type MilpOptions, solveBatch } from './milp-batch.js';

let highs: Promise<Highs> | null = null;

parentPort?.on('message', (msg: { problem: BatchProblem; greedy: Int32Array; options: MilpOptions }) => {
  highs ??= loadHighs();
  const loading = highs;
  loading
    .then((h) =>
      parentPort?.postMessage({ ok: true, result: solveBatch(h, msg.problem, msg.greedy, msg.options) }),
    )
    .catch((err: unknown) =>
      parentPort?.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
});
