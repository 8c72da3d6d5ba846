/**
 * `tandem daemon`: parses the daemon's flags, starts it, and stops it cleanly on SIGTERM or
 * SIGINT (workloads keep running). Exit status 2 for bad flags, 1 when it cannot start.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { isTandemError } from '../base/errors.js';
import { createLogger } from '../base/log.js';
import { Daemon } from './daemon.js';

function hostPort(v: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(v);
  const port = Number(m?.[2]);
  if (!m?.[1] || port > 65535) throw new InvalidArgumentError('expected HOST:PORT');
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

const program = new Command('tandem daemon')
  .description('run the tandem daemon')
  .option('--state-dir <dir>', 'where state lives', process.env.TANDEM_STATE_DIR ?? '/var/lib/tandem')
  .option('--socket <path>', 'unix socket of the API', process.env.TANDEM_SOCKET ?? '/run/tandem/tandem.sock')
  .option('--listen <host:port>', 'also serve the API on TCP (needs --token-file)', hostPort)
  .option('--token-file <file>', 'bearer token required on TCP')
  .option('--store <kind>', 'sqlite (embedded) or etcd (cluster)', 'sqlite')
  .option('--etcd <urls>', 'etcd endpoints, comma-separated')
  .option('--node <name>', 'this node\u2019s name', 'local')
  .option('--drivers <kind>', 'real, or fake for the in-memory test world', 'real')
  .option(
    '--bridge <name>',
    'bridge (and name) of the default network, or none for no managed networks',
    'tandem0',
  )
  .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
  .addOption(
    new Option('--event-buffer <bytes>', 'bytes a slow event client may lag before it is cut off')
      .default('1048576')
      .hideHelp(),
  )
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .configureOutput({ writeErr: (s) => process.stderr.write(s) })
  .allowExcessArguments(false);

program.parse(process.argv.slice(3), { from: 'user' });
const o = program.opts();
for (const [flag, value, allowed] of [
  ['--store', o.store, ['sqlite', 'etcd']],
  ['--drivers', o.drivers, ['real', 'fake']],
] as const) {
  if (!(allowed as readonly string[]).includes(value)) {
    process.stderr.write(`error: invalid ${flag} "${value}": use ${allowed.join(' or ')}\n`);
    process.exit(2);
  }
}
const logger = createLogger({ level: o.logLevel });

try {
  const daemon = await Daemon.start({
    stateDir: o.stateDir,
    socket: o.socket,
    listen: o.listen,
    tokenFile: o.tokenFile,
    store: o.store,
    etcd: o.etcd,
    node: o.node,
    drivers: o.drivers,
    eventBufferBytes: Number(o.eventBuffer),
    bridge: o.bridge,
    logger,
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down; workloads keep running');
    daemon.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
} catch (err) {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${msg}\n`);
  process.exit(isTandemError(err, 'invalid_argument') ? 2 : 1);
}
