import { test } from './xs/harness.js';
import { frameRingCases } from './frame-ring.cases.js';

for (const c of frameRingCases) test(c.name, (t) => c.fn(t));
