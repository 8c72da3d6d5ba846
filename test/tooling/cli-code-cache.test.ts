/**
 * The CLI's V8 code cache (bin/tandem.cjs, runCached): a CommonJS file runs as a module with
 * its arguments; the cache is written when missing, used as is when V8 accepts it, rewritten
 * when V8 rejects it (here: garbage), and the command's output never depends on it. And the
 * cache the build made is one this Node accepts (a rejected one would be rewritten on use).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../helpers/daemon.js';

const ENTRY = join(ROOT, 'bin/tandem.cjs');
const dir = mkdtempSync(join(tmpdir(), 'tandem-code-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `file` through runCached with `arg`; returns stdout (asserting success). */
function run(file: string, arg: string): string {
  const code = `require(${JSON.stringify(ENTRY)}).runCached(${JSON.stringify(file)})`;
  const r = spawnSync(process.execPath, ['-e', code, arg], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('CLI code cache', () => {
  it('writes the cache once, keeps an accepted one, rewrites a rejected one', () => {
    const file = join(dir, 'main.cjs');
    const cache = `${file}.cache`;
    writeFileSync(
      file,
      [
        "const { basename } = require('node:path');",
        'function greet(who) { return "hello " + who + " from " + basename(__filename); }',
        'module.exports.greet = greet;',
        'console.log(greet(process.argv[1]), typeof exports, basename(__dirname) !== "");',
      ].join('\n'),
    );
    const expected = 'hello a from main.cjs object true\n';
    assert.equal(run(file, 'a'), expected);
    assert.ok(existsSync(cache), 'the first run writes the cache');
    const first = readFileSync(cache);
    assert.ok(first.length > 0);
    assert.equal(run(file, 'a'), expected);
    assert.deepEqual(readFileSync(cache), first, 'an accepted cache is not rewritten');
    writeFileSync(cache, 'not a code cache');
    assert.equal(run(file, 'a'), expected);
    const rewritten = readFileSync(cache);
    assert.notEqual(rewritten.toString(), 'not a code cache', 'a rejected cache is rewritten');
    assert.equal(run(file, 'a'), expected);
    assert.deepEqual(readFileSync(cache), rewritten, 'the rewritten cache is accepted');
  });

  it('the build made a cache this Node accepts for the CLI bundle', () => {
    const cache = join(ROOT, 'dist/cli-bundle/main.cjs.cache');
    assert.ok(existsSync(cache), 'make build writes dist/cli-bundle/main.cjs.cache');
    const before = readFileSync(cache);
    const r = spawnSync(process.execPath, [ENTRY, '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '0.1.0');
    assert.deepEqual(readFileSync(cache), before, 'V8 accepted the build’s cache (else it is rewritten)');
  });
});
