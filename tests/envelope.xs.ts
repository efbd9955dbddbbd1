import { test } from './xs/harness.js';
import { envelopeCases } from './envelope.cases.js';
import { envelopeAttackCases } from './envelope-attacks.cases.js';
import { envelopeVectorCases } from './envelope-vectors.cases.js';

for (const c of envelopeCases) test(c.name, (t) => c.fn(t));
for (const c of envelopeAttackCases) test(c.name, (t) => c.fn(t));
for (const c of envelopeVectorCases) test(c.name, (t) => c.fn(t));
