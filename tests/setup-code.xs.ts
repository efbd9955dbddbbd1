import { test } from './xs/harness.js';
import { setupCodeCases } from './setup-code.cases.js';

for (const [name, fn] of setupCodeCases) test(name, (t) => fn(t));
