/**
 * `npm run bench`: runs every bench/*.bench.ts section (or those whose file name
 * contains an argument) and prints one table per section, all measured in this run.
 * Each section module exports `section: BenchSection`.
 *
 * `npm run bench -- --json [sections]`: the same tables go to stderr and stdout
 * gets one JSON document, {"date", "node", "sections": [{"title", "file",
 * "rows": [{"what", "value", "unit", "note"}], "error"?}]}, for scripts and CI.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { printTable, type BenchRow, type BenchSection } from './table.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const filters = args.filter((a) => a !== '--json');
if (json) console.log = (...a: unknown[]) => process.stderr.write(a.join(' ') + '\n');
const dir = path.dirname(new URL(import.meta.url).pathname);
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
const date = new Date().toISOString();
console.log(`# PawPost benchmarks (${date}, node ${process.version})`);
let failed = 0;
const doc: { date: string; node: string; sections: { title: string; file: string; rows: BenchRow[]; error?: string }[] } = { date, node: process.version, sections: [] };
for (const f of files) {
  const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { section: BenchSection };
  try {
    const rows = await mod.section.run();
    printTable(mod.section.title, rows);
    doc.sections.push({ title: mod.section.title, file: f, rows });
  } catch (e) {
    failed++;
    const error = e instanceof Error ? e.message : String(e);
    console.log(`\n## ${mod.section.title}\n\nFAILED: ${error}`);
    doc.sections.push({ title: mod.section.title, file: f, rows: [], error });
  }
}
if (json) process.stdout.write(JSON.stringify(doc, null, 1) + '\n');
process.exitCode = failed ? 1 : 0;
