import test from 'ava';
import { envelopeCases } from './envelope.cases.js';
import { envelopeAttackCases } from './envelope-attacks.cases.js';

for (const c of envelopeCases) test(c.name, (t) => c.fn(t));
for (const c of envelopeAttackCases) test(c.name, (t) => c.fn(t));
