// Runs the compiled CLI from a checkout (bin/tandem runs this with Node): the one-file CLI
// bundle that the build makes (scripts/build-cli.sh), else tsc's output; `tandem daemon` goes
// straight to the daemon so the CLI never loads the daemon's code.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const entries =
  process.argv[2] === 'daemon' ? ['daemon/main.js'] : ['cli-bundle/main.js', 'cli/main.js'];
const file = entries.map((e) => join(dist, e)).find((f) => existsSync(f));
if (!file) {
  process.stderr.write(`error: ${join(dist, entries[0])} is missing: run "make build" first\n`);
  process.exit(1);
}
await import(file);
