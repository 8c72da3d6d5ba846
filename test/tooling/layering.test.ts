/**
 * The layer rules bite: a copy of the real config run against a tree with a forbidden import
 * must fail, and the same tree without it must pass (so the failure is the rule's doing).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../helpers/daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'tandem-layers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(dir, 'tree-'));
  copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(root, '.dependency-cruiser.cjs'));
  copyFileSync(join(ROOT, 'tsconfig.json'), join(root, 'tsconfig.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function cruise(root: string): { code: number; out: string } {
  const r = spawnSync(
    join(ROOT, 'node_modules/.bin/depcruise'),
    ['--config', '.dependency-cruiser.cjs', 'src'],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  return { code: r.status ?? 1, out: r.stdout + r.stderr };
}

describe('layering check', () => {
  const base = {
    'src/base/errors.ts': 'export const x = 1;\n',
    'src/core/model.ts': "import { x } from '../base/errors.js';\nexport const y = x;\n",
    'src/daemon/server.ts': "import { y } from '../core/model.js';\nexport const z = y;\n",
    'src/drivers/fake/fake.ts': "import { y } from '../../core/model.js';\nexport const f = y;\n",
    'src/cli/main.ts': 'export const c = 1;\n',
  };

  it('passes a tree that follows the rules', () => {
    const r = cruise(tree(base));
    assert.equal(r.code, 0, r.out);
  });

  for (const [rule, file, text] of [
    [
      'core-is-domain-only',
      'src/core/bad.ts',
      "import { z } from '../daemon/server.js';\nexport const b = z;\n",
    ],
    [
      'cli-and-ui-reach-daemon-through-client',
      'src/cli/bad.ts',
      "import { z } from '../daemon/server.js';\nexport const b = z;\n",
    ],
    [
      'only-compose-picks-implementations',
      'src/daemon/bad.ts',
      "import { f } from '../drivers/fake/fake.js';\nexport const b = f;\n",
    ],
    [
      'base-imports-nothing',
      'src/base/bad.ts',
      "import { y } from '../core/model.js';\nexport const b = y;\n",
    ],
  ] as const) {
    it(`fails on a forbidden import (${rule})`, () => {
      const r = cruise(tree({ ...base, [file]: text }));
      assert.notEqual(r.code, 0, 'depcruise must fail');
      assert.match(r.out, new RegExp(rule));
    });
  }
});
