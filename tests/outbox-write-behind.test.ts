import test from 'ava';
import { outboxWriteBehindCases } from './outbox-write-behind.cases.js';

for (const c of outboxWriteBehindCases) test(c.name, (t) => c.fn(t));
