/**
 * The `tandem` CLI: every verb of DESIGN.md, talking to the daemon only through the client.
 * Exit status: 0 success; 2 usage error (unknown flag, invalid name, size or value); 1 when the
 * daemon refuses or fails; exec and foreground run exit with the workload's status.
 * Everything after the first `--` is the workload command, never parsed as flags.
 */
import { Command, CommanderError } from 'commander';
import { isTandemError } from '../base/errors.js';
import { Client, optionsFromEnv } from '../client/client.js';
import { registerAttachCommands } from './commands/attach.js';
import { registerImageCommands } from './commands/images.js';
import { registerInstanceCommands } from './commands/instances.js';
import { registerScheduleCommands } from './commands/schedule.js';
import { registerSystemCommands } from './commands/system.js';

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const head = dash >= 0 ? argv.slice(0, dash) : argv;
const trailing = dash >= 0 ? argv.slice(dash + 1) : [];

let client: Client | undefined;
let exitCode = 0;
const ctx = {
  client: () => (client ??= new Client(optionsFromEnv())),
  trailing,
  exit: (code: number) => {
    exitCode = code;
  },
};

const program = new Command('tandem')
  .description('containers and virtual machines side by side on one API')
  .version('0.1.0')
  .exitOverride()
  .showSuggestionAfterError()
  .enablePositionalOptions()
  .configureHelp({ sortSubcommands: false });
program.command('daemon').description('run the daemon (see tandem daemon --help)');
registerInstanceCommands(program, ctx);
registerAttachCommands(program, ctx);
registerImageCommands(program, ctx);
registerSystemCommands(program, ctx);
registerScheduleCommands(program);
program.commands.forEach(function strict(c: Command) {
  c.exitOverride().allowExcessArguments(false);
  c.commands.forEach(strict);
});

// no top-level await: the bundle is CommonJS (bin/tandem.cjs says why)
async function main(): Promise<void> {
  try {
    await program.parseAsync(head, { from: 'user' });
    process.exitCode = exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 || err.code === 'commander.helpDisplayed' ? 0 : 2;
    } else {
      const msg = err instanceof Error ? err.message : String(err);
      process.stderr.write(`error: ${msg}\n`);
      process.exitCode = isTandemError(err, 'invalid_argument') ? 2 : 1;
    }
  }
}
void main();
