/**
 * `npm run bench`: runs every bench/*.bench.ts section (or those whose file name
 * contains an argument) and prints one table per section, all measured in this run.
 * Each section module exports `section: BenchSection`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { printTable, type BenchSection } from './table.js';

const filters = process.argv.slice(2);
const dir = path.dirname(new URL(import.meta.url).pathname);
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
console.log(`# PawPost benchmarks (${new Date().toISOString()}, node ${process.version})`);
let failed = 0;
for (const f of files) {
  const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { section: BenchSection };
  try {
    printTable(mod.section.title, await mod.section.run());
  } catch (e) {
    failed++;
    console.log(`\n## ${mod.section.title}\n\nFAILED: ${e instanceof Error ? e.message : String(e)}`);
  }
}
process.exitCode = failed ? 1 : 0;
