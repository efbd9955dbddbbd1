import test from 'ava';
import { recordPipelineCases } from './record-pipeline.cases.js';

for (const c of recordPipelineCases) test(c.name, (t) => c.fn(t));
