/**
 * The portable tests (tests/*.xs.ts) run in the XS tier inside the real XS
 * engine; this file runs the same cases under Node too (one ava test per file,
 * each failing case named), so that a difference between the engines shows up
 * as a failure in exactly one tier. Cases marked xsOnly are skipped here.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeAssert, registeredCases } from './xs/harness.js';

const dir = path.dirname(new URL(import.meta.url).pathname);
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.xs.ts')).sort();
let seen = 0;
for (const f of files) {
  test.serial(`[node] ${f}`, async (t) => {
    await import(pathToFileURL(path.join(dir, f)).href);
    const all = registeredCases();
    const mine = all.slice(seen);
    seen = all.length;
    const failures: string[] = [];
    let ran = 0;
    for (const c of mine) {
      if (c.xsOnly) continue;
      ran++;
      const logs: string[] = [];
      const counter = { n: 0 };
      try {
        await c.fn(makeAssert(logs, counter));
        if (counter.n === 0) throw new Error('made no assertion');
      } catch (e) {
        failures.push(`${c.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    t.log(`${ran} portable cases`);
    t.deepEqual(failures, []);
  });
}
