import test from 'ava';
import { deviceInfoCases } from './pairing-device-info.cases.js';

for (const [name, fn] of deviceInfoCases) test(name, (t) => fn(t));
