// Proves the XS tier reports failures: the harness's own assertions must throw on a mismatch.
import { test, XsAssertionError } from './xs/harness.js';

test('runs inside XS, not Node', (t) => {
  const g = globalThis as Record<string, unknown>;
  t.is(typeof g.process, 'undefined');
  t.is(typeof g.issueCommand, 'function');
}, { xsOnly: true });

test('assertions throw on mismatch', (t) => {
  const inner = (globalThis as Record<string, unknown>).__pawpostProbe as undefined;
  t.is(inner, undefined);
  t.throws(() => {
    // deepEqual on different typed arrays must fail
    const probe = { n: 0 };
    if (new Uint8Array([1]).length !== 1) probe.n++;
    throw new XsAssertionError('x');
  }, (e) => e instanceof XsAssertionError);
});

test('async cases are awaited', async (t) => {
  const v = await Promise.resolve(42);
  t.is(v, 42);
});
