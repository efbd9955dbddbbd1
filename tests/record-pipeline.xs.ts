import { test } from './xs/harness.js';
import { recordPipelineCases } from './record-pipeline.cases.js';

for (const c of recordPipelineCases) test(c.name, (t) => c.fn(t));
