/**
 * Shared vocabulary for audio test cases that run in both tiers: a case file
 * (tests/*.cases.ts) exports a list of cases written against `CaseT` (the
 * assertions ava and tests/xs/harness.ts have in common); the .test.ts file runs
 * them in Node with ava, the .xs.ts file inside XS. Portable.
 */
import type { CaseAssert } from './xs/harness.js';
export type CaseT = CaseAssert;

export interface AudioCase {
  name: string;
  fn: (t: CaseT) => void;
}

/** Asserts fn throws an error with `name` and `code`. */
export function throwsCode(t: CaseT, fn: () => unknown, name: string, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  t.true(caught instanceof Error, `expected ${name}(${code}) to be thrown`);
  t.is((caught as Error).name, name);
  t.is((caught as { code?: string }).code, code);
}

/** A small deterministic PRNG (LCG) so property-style cases replay identically in both tiers. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}
