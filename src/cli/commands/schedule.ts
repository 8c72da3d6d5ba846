/**
 * `tandem schedule simulate`: offline placement simulation on a generated (or given) cluster
 * and workload. It needs no daemon, so this command may use the scheduler directly (the one
 * layering exception of the CLI, declared in .dependency-cruiser.cjs); it is imported lazily so
 * that other commands do not pay for it at start-up.
 */
import type { Command } from 'commander';
import { TandemError } from '../../base/errors.js';
import { printJson } from '../output.js';

const POLICIES = ['binpack', 'spread', 'ffd', 'milp'] as const;

function whole(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new TandemError('invalid_argument', `invalid ${flag} "${v}": must be a whole number`);
  return n;
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('placement tools');
  schedule
    .command('simulate')
    .description('simulate placing a workload on a cluster (generated from a seed, or read from files)')
    .option('--nodes <n>', 'number of generated nodes', '100')
    .option('--instances <m>', 'number of generated instances', '1000')
    .option('--policy <policy>', 'binpack, spread, ffd or milp', 'binpack')
    .option('--seed <s>', 'random seed', '1')
    .option('--generator <kind>', 'generated workload: heterogeneous or uniform', 'heterogeneous')
    .option('--workload <file>', 'read the instances from a JSON file')
    .option('--cluster <file>', 'read the nodes (and allocations) from a JSON file')
    .option('--time-limit <seconds>', 'time limit of the milp policy and the bound', '10')
    .option('--json', 'JSON output')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const policy = String(o.policy);
      if (!(POLICIES as readonly string[]).includes(policy)) {
        throw new TandemError('invalid_argument', `invalid --policy "${policy}": use ${POLICIES.join(', ')}`);
      }
      const generator = String(o.generator);
      if (generator !== 'heterogeneous' && generator !== 'uniform') {
        throw new TandemError(
          'invalid_argument',
          `invalid --generator "${generator}": use heterogeneous or uniform`,
        );
      }
      const { simulate, formatSimulationReport } = await import('../../scheduler/simulate.js');
      const report = await simulate({
        nodes: whole('--nodes', String(o.nodes)),
        instances: whole('--instances', String(o.instances)),
        policy: policy as (typeof POLICIES)[number],
        seed: whole('--seed', String(o.seed)),
        workload: generator,
        workloadFile: o.workload as string | undefined,
        clusterFile: o.cluster as string | undefined,
        timeLimitSeconds: Number(o.timeLimit),
      });
      if (o.json) printJson(report);
      else process.stdout.write(formatSimulationReport(report));
    });
}
