import test from 'ava';
import { envelopeCases } from './envelope.cases.js';

for (const c of envelopeCases) test(c.name, (t) => c.fn(t));
