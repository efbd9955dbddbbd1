import test from 'ava';
import { identityCases } from './identity.cases.js';

for (const [name, fn] of identityCases) test(name, (t) => fn(t));
