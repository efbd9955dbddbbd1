import test from 'ava';
import { pairingAppCases } from './pairing-app.cases.js';

for (const [name, fn] of pairingAppCases) test(name, (t) => fn(t));
