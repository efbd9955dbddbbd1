import test from 'ava';
import { inboxConfirmCases } from './inbox-confirm.cases.js';

for (const c of inboxConfirmCases) test(c.name, (t) => c.fn(t));
