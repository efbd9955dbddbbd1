/**
 * Writes tests/vectors/envelope-v2.json from tools/envelope-vectors.ts (the real
 * sealer, fixed throwaway keys). Run: npx tsx tools/make-envelope-vectors.ts
 * tests/envelope-vectors.test.ts fails when the committed file differs.
 */
import * as fs from 'node:fs';
import { makeEnvelopeVectors } from './envelope-vectors.js';
import v1Vectors from '../tests/vectors/envelope-v1.json' with { type: 'json' };

const out = new URL('../tests/vectors/envelope-v2.json', import.meta.url);
fs.mkdirSync(new URL('.', out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(makeEnvelopeVectors(v1Vectors.messages[1]!.chunks[0]!.bytes), null, 2) + '\n');
console.log(`wrote ${out.pathname}`);
