/**
 * The native XS worker's build (tools/xs-native/xs-native-build.ts): without a C
 * compiler it reports itself skipped in one line and exits 0 (never a silent pass
 * of tests it did not run); with one, the cache key follows the sources.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { buildHash, missingPrerequisite } from '../tools/xs-native/xs-native-build.js';

test('without a C compiler the native XS tier prints one skip line and exits 0', (t) => {
  const r = spawnSync(process.execPath, ['--import=tsx', 'tools/xs-test.ts', '--native'], {
    encoding: 'utf8',
    env: { ...process.env, CC: '/nonexistent/pawpost-cc' },
  });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n'), ['xs-native: skipped (no C compiler (/nonexistent/pawpost-cc))']);
});

test('the prerequisites are reported, and the cache key is stable for unchanged sources', (t) => {
  const saved = process.env.CC;
  try {
    process.env.CC = '/nonexistent/pawpost-cc';
    t.is(missingPrerequisite(), 'no C compiler (/nonexistent/pawpost-cc)');
  } finally {
    if (saved === undefined) delete process.env.CC;
    else process.env.CC = saved;
  }
  if (missingPrerequisite() !== null) {
    t.log(`SKIPPED the hash check: ${missingPrerequisite()}`);
    return;
  }
  const a = buildHash();
  t.regex(a, /^[0-9a-f]{16}$/);
  t.is(buildHash(), a);
});
