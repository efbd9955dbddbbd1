/** One row of the `npm run bench` table. Every value is measured in the run that prints it. */
export interface BenchRow {
  /** What is measured, e.g. "record path (JS core, codec faked)". */
  what: string;
  /** The number. */
  value: number;
  /** Its unit, e.g. "XS steps / s of audio", "x real time". */
  unit: string;
  /** How it was measured, or what it is compared with. */
  note?: string;
}

/** A bench section: a title and a function that measures and returns its rows. */
export interface BenchSection {
  title: string;
  run(): Promise<BenchRow[]>;
}

export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toPrecision(3);
}

export function printTable(title: string, rows: BenchRow[]): void {
  const w0 = Math.max(4, ...rows.map((r) => r.what.length));
  const vals = rows.map((r) => formatValue(r.value));
  const w1 = Math.max(5, ...vals.map((v) => v.length));
  const w2 = Math.max(4, ...rows.map((r) => r.unit.length));
  console.log(`\n## ${title}\n`);
  console.log(`| ${'what'.padEnd(w0)} | ${'value'.padStart(w1)} | ${'unit'.padEnd(w2)} | note |`);
  console.log(`|${'-'.repeat(w0 + 2)}|${'-'.repeat(w1 + 1)}:|${'-'.repeat(w2 + 2)}|------|`);
  rows.forEach((r, i) => console.log(`| ${r.what.padEnd(w0)} | ${vals[i]!.padStart(w1)} | ${r.unit.padEnd(w2)} | ${r.note ?? ''} |`));
}
