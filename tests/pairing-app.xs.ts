import { test } from './xs/harness.js';
import { pairingAppCases } from './pairing-app.cases.js';

for (const [name, fn] of pairingAppCases) test(`${name} (XS)`, (t) => fn(t));
