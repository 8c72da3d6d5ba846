// The `tandem` command's JS entry (bin/tandem runs it with Node): `tandem daemon` imports the
// daemon (tsc's output), so the CLI never loads the daemon's code; anything else runs the CLI.
//
// The CLI is one CommonJS file that esbuild made (scripts/build-cli.sh), compiled here with a
// V8 code cache beside it: V8 then skips parsing and compiling what the cache holds (the build
// made it by running the CLI once), about 20 ms of each ~110 ms `tandem run --rm` here. A
// cache V8 rejects (another Node, a new bundle) is rewritten when the command ends, best effort.
// CommonJS because Node 20's ES module loader alone costs ≈5 ms a start and has no code cache.
// Without a bundle (no build yet with esbuild), tsc's output runs as an ES module.
'use strict';
const { existsSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { Script } = require('node:vm');

/**
 * Runs the CommonJS file `file` as a module, with the V8 code cache at `file + '.cache'`;
 * the cache is (re)written at exit when it was missing or rejected.
 */
function runCached(file) {
  const cacheFile = `${file}.cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {}
  const source = readFileSync(file, 'utf8');
  // the wrapper Node gives every CommonJS module
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new Script(wrapped, { filename: file, cachedData });
  if (!cachedData || script.cachedDataRejected) {
    process.once('exit', () => {
      try {
        const tmp = `${cacheFile}.${process.pid}`;
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch {} // a read-only install runs without a cache
    });
  }
  const mod = { exports: {}, filename: file };
  const req = require('node:module').createRequire(file);
  script.runInThisContext()(mod.exports, req, mod, file, dirname(file));
}

function main() {
  const dist = join(__dirname, '..', 'dist');
  const daemon = process.argv[2] === 'daemon';
  const entries = daemon ? ['daemon/main.js'] : ['cli-bundle/main.cjs', 'cli/main.js'];
  const file = entries.map((e) => join(dist, e)).find((f) => existsSync(f));
  if (!file) {
    process.stderr.write(`error: ${join(dist, entries[0])} is missing: run "make build" first\n`);
    process.exit(1);
  }
  if (file.endsWith('.cjs')) return runCached(file);
  import(pathToFileURL(file).href).catch((err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(1);
  });
}

if (require.main === module) main();
module.exports = { runCached };
