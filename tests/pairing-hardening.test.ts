import test from 'ava';
import { hardeningCases } from './pairing-hardening.cases.js';

for (const [name, fn] of hardeningCases) test(name, (t) => fn(t));
