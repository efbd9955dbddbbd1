import test from 'ava';
import { frameRingCases } from './frame-ring.cases.js';

for (const c of frameRingCases) test(c.name, (t) => c.fn(t));
