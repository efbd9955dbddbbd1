import { test } from './xs/harness.js';
import { identityCases } from './identity.cases.js';

for (const [name, fn] of identityCases) test(name, (t) => fn(t));
