import test from 'ava';
import { storageCases } from './pairing-storage.cases.js';

for (const [name, fn] of storageCases) test(name, (t) => fn(t));
