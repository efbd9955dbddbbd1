/**
 * Writes tests/vectors/envelope-v2.json from tools/envelope-vectors.ts (the real
 * sealer, fixed throwaway keys). Run: npx tsx tools/make-envelope-vectors.ts
 * tests/envelope-vectors.test.ts fails when the committed file differs.
 */
import * as fs from 'node:fs';
import { makeEnvelopeVectors } from './envelope-vectors.js';

const out = new URL('../tests/vectors/envelope-v2.json', import.meta.url);
fs.mkdirSync(new URL('.', out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(makeEnvelopeVectors(), null, 2) + '\n');
console.log(`wrote ${out.pathname}`);
