import test from 'ava';
import { checkSource, checkTree } from '../tools/portability-guard.js';

test('src/ and audio/ import nothing from Node or Moddable and use no Node global', (t) => {
  const v = checkTree(process.cwd());
  t.deepEqual(v, [], v.map((x) => `${x.file}:${x.line} ${x.rule}: ${x.text}`).join('\n'));
});

test('the guard bites: a bad file is reported on every rule', (t) => {
  const bad = [
    "import * as fs from 'node:fs';",
    "import { randomBytes } from 'crypto';",
    "import Digital from 'pins/digital';",
    "import Timer from 'timer';",
    "const b = Buffer.from('x');",
    "if (process.env.X) {}",
    "const m = await import('node:path');",
  ].join('\n');
  const v = checkSource('bad.ts', bad);
  t.deepEqual(v.map((x) => [x.line, x.rule]), [
    [1, 'node-import'],
    [2, 'node-import'],
    [3, 'moddable-import'],
    [4, 'moddable-import'],
    [5, 'node-global'],
    [6, 'node-global'],
    [7, 'node-import'],
  ]);
});

test('the guard ignores comments, strings and relative imports', (t) => {
  const ok = [
    "// import fs from 'node:fs'",
    "/* Buffer.from(x) */",
    "const s = 'process.env';",
    "import { x } from './timer.js';",
    "import nacl from 'tweetnacl';",
    "const o = { process: 1 }; o.process;",
  ].join('\n');
  t.deepEqual(checkSource('ok.ts', ok), []);
});
