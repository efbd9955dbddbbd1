import { test } from './xs/harness.js';
import { packetRingCases } from './packet-ring.cases.js';

for (const c of packetRingCases) test(c.name, (t) => c.fn(t));
