/**
 * Writes tests/vectors/pairing-v2.json from tests/pairing-vectors.cases.ts (the
 * real toy and phone, fixed throwaway keys). Run: npx tsx tools/make-pairing-vectors.ts
 * tests/pairing-vectors.test.ts fails when the committed file differs from what
 * the code produces now, and checks the file against @noble/* independently.
 */
import * as fs from 'node:fs';
import { makePairingVectors } from '../tests/pairing-vectors.cases.js';

const out = new URL('../tests/vectors/pairing-v2.json', import.meta.url);
fs.mkdirSync(new URL('.', out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(makePairingVectors(), null, 2) + '\n');
console.log(`wrote ${out.pathname}`);
