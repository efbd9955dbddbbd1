import test from 'ava';
import { packetRingCases } from './packet-ring.cases.js';

for (const c of packetRingCases) test(c.name, (t) => c.fn(t));
