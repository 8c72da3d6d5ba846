/** `tandem schedule simulate`: offline placement simulation (needs no daemon). */
import type { Command } from 'commander';
import { TandemError } from '../../base/errors.js';

export function registerScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('placement tools');
  schedule
    .command('simulate')
    .description('simulate placing a generated workload on a generated cluster')
    .requiredOption('--nodes <n>', 'number of nodes')
    .requiredOption('--instances <m>', 'number of instances')
    .option('--policy <policy>', 'binpack, spread, ffd or milp', 'binpack')
    .option('--seed <s>', 'random seed', '1')
    .option('--json', 'JSON output')
    .action(async () => {
      throw new TandemError('not_supported', 'schedule simulate is not supported yet');
    });
}
