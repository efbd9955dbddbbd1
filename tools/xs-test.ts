/**
 * The XS test tier: every tests/**\/*.xs.ts file is bundled with esbuild and run
 * inside the real XS engine (@agoric/xsnap), one worker per file. Each case's
 * pass or failure is printed; the last line is `xs: N passed, N failed`.
 * Exit code 1 when any case failed or a file did not load.
 *
 * Usage: tsx tools/xs-test.ts [file-filter-substring ...]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { XsSession } from './xs-worker.js';

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name === 'fixtures' || e.name === 'node_modules') continue;
      out.push(...findTests(p));
    } else if (e.name.endsWith('.xs.ts')) out.push(p);
  }
  return out.sort();
}

async function runFile(file: string): Promise<{ passed: number; failed: number }> {
  let passed = 0;
  let failed = 0;
  let session: XsSession | undefined;
  try {
    session = await XsSession.start(file);
    await session.evaluate('globalThis.__pawpostRunTests()');
    let done = false;
    for (const raw of session.drain()) {
      const m = JSON.parse(raw) as { kind: string; name?: string; ok?: boolean; error?: string; logs?: string[] };
      if (m.kind === 'done') {
        done = true;
        continue;
      }
      if (m.kind !== 'result') continue;
      for (const l of m.logs ?? []) console.log(`    ℹ ${l}`);
      if (m.ok) {
        passed++;
        console.log(`  ✔ [xs] ${path.basename(file)} › ${m.name}`);
      } else {
        failed++;
        console.log(`  ✘ [xs] ${path.basename(file)} › ${m.name}\n      ${String(m.error).split('\n').join('\n      ')}`);
      }
    }
    if (!done) {
      failed++;
      console.log(`  ✘ [xs] ${path.basename(file)}: the run did not finish (a test left a promise pending)`);
    }
  } catch (e) {
    failed++;
    console.log(`  ✘ [xs] ${path.basename(file)}: could not run in XS: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await session?.close();
  }
  return { passed, failed };
}

const filters = process.argv.slice(2);
const files = findTests('tests').filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
let passed = 0;
let failed = 0;
for (const f of files) {
  const r = await runFile(f);
  passed += r.passed;
  failed += r.failed;
}
console.log(`xs: ${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
