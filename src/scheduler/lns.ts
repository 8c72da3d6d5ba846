/**
 * Improvement of a complete assignment, node by node ("per-shard models" of the batch placer):
 *  1. consolidation — nodes, emptiest first, whose items can all move greedily to the fullest
 *     used nodes that take them are freed;
 *  2. neighbourhood MILPs — otherwise, for each node in the same order (the target), HiGHS
 *     decides exactly (packing-model.ts) whether its items fit on the used nodes with the most
 *     room for them when the smallest items of those nodes may move too (swaps). Targets whose
 *     partners lack the room in some resource (a necessary condition) are skipped unsolved.
 * A round that frees a node starts over; the search stops at the lower bound, at the deadline,
 * after `maxRounds`, or when a round frees nothing (or meets `maxFailures` failed models).
 */
import type { Highs } from 'highs';
import { RESOURCES as R } from './class-tree.js';
import { solvePacking } from './packing-model.js';
import type { PackingState } from './packing-state.js';
import { Prng } from './prng.js';

/** Limits of the search. */
export interface LnsOptions {
  /** performance.now() value after which no new step starts. */
  deadline: number;
  maxRounds: number;
  /** Items per neighbourhood model. */
  maxItems: number;
  /** Nodes that may take the target's items in one neighbourhood. */
  partners: number;
  /** Time limit of one neighbourhood model (seconds). */
  stepSeconds: number;
  /** Per round, give up after this many neighbourhood models that could not free their target. */
  maxFailures: number;
  seed: number;
  lowerBound: number | null;
}

/** What the search did. */
export interface LnsStats {
  rounds: number;
  /** Neighbourhood models handed to HiGHS (targets whose partners lacked room are skipped). */
  milpSolves: number;
  freedByMoves: number;
  freedByMilp: number;
  timeLimitedSteps: number;
}

/** Highest utilisation over resources of node j. */
export function fill(state: PackingState, j: number): number {
  const p = state.p;
  let f = 0;
  for (let r = 0; r < R; r++) {
    const free = p.free[j * R + r]!;
    if (free > 0) f = Math.max(f, state.load[j * R + r]! / free);
  }
  return f;
}

/** Nodes the search may empty (used, without existing allocations), emptiest first. */
function candidates(state: PackingState): number[] {
  const out: number[] = [];
  for (let j = 0; j < state.p.nodeCount; j++) {
    if (!state.p.preUsed[j] && state.countOn(j) > 0) out.push(j);
  }
  const f = new Map(out.map((j) => [j, fill(state, j)]));
  return out.sort((a, b) => f.get(a)! - f.get(b)! || a - b);
}

/** Tries to empty node t by moving each item to the fullest other used node it fits; undoes on failure. */
export function evacuate(state: PackingState, t: number): boolean {
  const items = state.itemsOn(t).sort((a, b) => state.p.size[b]! - state.p.size[a]! || a - b);
  const others: number[] = [];
  for (let j = 0; j < state.p.nodeCount; j++) if (j !== t && state.used(j)) others.push(j);
  const f = new Map(others.map((j) => [j, fill(state, j)]));
  others.sort((a, b) => f.get(b)! - f.get(a)! || a - b);
  const moved: number[] = [];
  for (const k of items) {
    state.remove(k);
    const j = others.find((o) => state.fits(k, o));
    if (j === undefined) {
      state.add(k, t);
      for (const m of moved) {
        state.remove(m);
        state.add(m, t);
      }
      return false;
    }
    state.add(k, j);
    moved.push(k);
  }
  return true;
}

/** Used nodes with the most room for target t's load, best first. */
function partners(state: PackingState, t: number, count: number, rng: Prng): number[] {
  const p = state.p;
  const need = state.load.subarray(t * R, (t + 1) * R);
  const score = new Map<number, number>();
  for (let j = 0; j < p.nodeCount; j++) {
    if (j === t || !state.used(j)) continue;
    let s = 0;
    for (let r = 0; r < R; r++) {
      if (need[r]! <= 0) continue;
      const room = p.free[j * R + r]! - state.load[j * R + r]!;
      s += Math.min(1, room / need[r]!);
    }
    score.set(j, s * (0.8 + 0.4 * rng.next()));
  }
  return [...score.keys()].sort((a, b) => score.get(b)! - score.get(a)! || a - b).slice(0, count);
}

/** Necessary condition: the partners' spare capacity covers the target's load in every resource. */
function enoughRoom(state: PackingState, t: number, nodes: readonly number[]): boolean {
  const p = state.p;
  for (let r = 0; r < R; r++) {
    let room = 0;
    for (const j of nodes) room += p.free[j * R + r]! - state.load[j * R + r]!;
    if (room < state.load[t * R + r]!) return false;
  }
  return true;
}

/**
 * One neighbourhood: can target t's items go on its partners, if the partners' smallest items
 * may move too? Solved exactly (feasibility) by HiGHS; applied when a packing is found.
 */
function milpStep(
  highs: Highs,
  state: PackingState,
  t: number,
  nodes: readonly number[],
  opts: LnsOptions,
  stats: LnsStats,
): boolean {
  const p = state.p;
  const own = state.itemsOn(t);
  const perNode = Math.max(1, Math.floor((opts.maxItems - own.length) / Math.max(1, nodes.length)));
  const items = [...own];
  for (const j of nodes) {
    const on = state.itemsOn(j).sort((a, b) => p.size[a]! - p.size[b]! || a - b);
    items.push(...on.slice(0, perNode));
  }
  const seconds = Math.min(opts.stepSeconds, (opts.deadline - performance.now()) / 1000);
  if (seconds <= 0.01) return false;
  stats.milpSolves++;
  const spec = { items, nodes, allowUnplaced: false };
  const res = solvePacking(highs, state, spec, { timeLimitSeconds: seconds, seed: opts.seed });
  if (res.timeLimited) stats.timeLimitedSteps++;
  if (!res.assignment) return false;
  for (const k of items) state.remove(k);
  for (const k of items) state.add(k, res.assignment.get(k)!);
  stats.freedByMilp++;
  return true;
}

/** Improves `state` in place. Synchronous. */
export function improveByLns(highs: Highs, state: PackingState, opts: LnsOptions): LnsStats {
  const stats: LnsStats = { rounds: 0, milpSolves: 0, freedByMoves: 0, freedByMilp: 0, timeLimitedSteps: 0 };
  const rng = new Prng(opts.seed);
  const atBound = () => opts.lowerBound !== null && state.nodesUsed() <= opts.lowerBound;
  const inTime = () => performance.now() < opts.deadline;
  while (stats.rounds < opts.maxRounds && inTime() && !atBound()) {
    const list = candidates(state);
    if (list.length === 0) break;
    stats.rounds++;
    if (list.some((j) => evacuate(state, j))) {
      stats.freedByMoves++;
      continue;
    }
    let failures = 0;
    const freed = list.find((t) => {
      if (failures >= opts.maxFailures || !inTime()) return false;
      const nodes = partners(state, t, opts.partners, rng);
      if (!enoughRoom(state, t, nodes)) return false;
      if (milpStep(highs, state, t, nodes, opts, stats)) return true;
      failures++;
      return false;
    });
    if (freed === undefined) break;
  }
  return stats;
}
