/**
 * The device crypto adapter (hal/moddable-crypto.ts, libsodium through
 * native("xs_pawpost_*")) loaded UNCHANGED on Node through the sim loader, where
 * the host functions of hal/native/pawpost-crypto.c are implemented on tweetnacl
 * (sim/moddable/native.ts). The same check module runs in the device tier
 * against the real C (tools/device-test.ts, tests/device-crypto-check.ts).
 * Checks: the check module passes against the sim table; the C file, the sim
 * table, the adapter and the manifest name the same functions; lin links
 * libsodium and esp32 pulls it as an IDF component; when gcc and libsodium-dev
 * are present the C file is compile-checked with -Wall -Wextra -Werror.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

await import('../sim/moddable-register.js');
const { hostFunctions } = await import('../sim/moddable/native.js');
// device code, typed by tsconfig.firmware.json: loaded by computed URL, as in moddable-adapters-sim.test.ts
const { runCryptoCheck } = await import(new URL('./device-crypto-check.js', import.meta.url).href);
const { ModdableCrypto, nativeCryptoStats } = await import(new URL('../hal/moddable-crypto.js', import.meta.url).href);

const { pairingVectorDigests } = await import(new URL('./device-vectors.js', import.meta.url).href);
const { makeEnvelopeVectors } = await import('../tools/envelope-vectors.js');
const { makePairingVectors } = await import('./pairing-vectors.cases.js');
const { createHash } = await import('node:crypto');

const file = (rel: string) => fileURLToPath(new URL(`../${rel}`, import.meta.url));

test('the device crypto check passes against the sim host functions (tweetnacl behind the C interface)', (t) => {
  const c = new ModdableCrypto();
  const before = nativeCryptoStats.calls;
  const r = runCryptoCheck(c);
  t.deepEqual(r.failures, []);
  t.is(r.failed, 0);
  t.true(r.passed > 150, `${r.passed} checks`);
  t.true(c.calls > 80);
  t.is(nativeCryptoStats.calls - before, c.calls);
  t.true(c.smallOrderResults >= 4, 'small-order points are counted');
});

test('the committed envelope and pairing vectors are remade byte for byte through the adapter (sim host functions)', (t) => {
  const c = new ModdableCrypto();
  const v1 = JSON.parse(readFileSync(file('tests/vectors/envelope-v1.json'), 'utf8')).messages[1].chunks[0].bytes;
  const committed = (f: string) => JSON.parse(readFileSync(file(`tests/vectors/${f}`), 'utf8'));
  t.true(JSON.stringify(makeEnvelopeVectors(v1, c)) === JSON.stringify(committed('envelope-v2.json')), 'envelope-v2.json');
  t.true(JSON.stringify(makePairingVectors(c)) === JSON.stringify(committed('pairing-v2.json')), 'pairing-v2.json');
  // what the device tier compares: one SHA-512 per pairing vector
  const want = committed('pairing-v2.json').vectors.map((v: unknown) => createHash('sha512').update(JSON.stringify(v)).digest('hex'));
  t.deepEqual(pairingVectorDigests().digests, want);
  t.true(c.calls > 100);
});

test('the check module can fail: a CryptoPort that differs in one byte is caught', (t) => {
  const c = new ModdableCrypto();
  const wrong = Object.create(c) as typeof c;
  wrong.onetimeauth = (m: Uint8Array, k: Uint8Array) => {
    const tag = c.onetimeauth(m, k);
    tag[3] ^= 1;
    return tag;
  };
  const r = runCryptoCheck(wrong);
  t.true(r.failed >= 17);
  t.regex(r.failures[0]!, /^onetimeauth/);
});

test('C file, sim table, adapter and manifest name the same host functions; lin links libsodium, esp32 pulls it', (t) => {
  const c = readFileSync(file('hal/native/pawpost-crypto.c'), 'utf8');
  const inC = [...c.matchAll(/^void (xs_pawpost_\w+)\(xsMachine \*the\)/gm)].map((m) => m[1]).sort();
  const inSim = Object.keys(hostFunctions).filter((k) => inC.includes(k) || /^xs_pawpost_(x25519|box|secretbox|onetimeauth|sha512|sign)/.test(k)).sort();
  const adapter = readFileSync(file('hal/moddable-crypto.ts'), 'utf8');
  const bound = [...adapter.matchAll(/native\('(xs_\w+)'\)/g)].map((m) => m[1]).sort();
  t.is(inC.length, 8);
  t.deepEqual(inSim, inC);
  t.deepEqual(bound, inC);
  const manifest = JSON.parse(readFileSync(file('manifest.json'), 'utf8'));
  for (const p of ['esp32', 'lin']) {
    const natives = [manifest.platforms[p].modules['*']].flat();
    t.true(natives.includes('./hal/native/pawpost-crypto'), `${p} builds hal/native/pawpost-crypto.c`);
    t.is(manifest.platforms[p].modules['hal/moddable-crypto'], './hal/moddable-crypto', `${p} maps hal/moddable-crypto`);
  }
  t.regex(manifest.platforms.lin.build.LIBRARIES, /-lsodium\b/);
  t.true(
    manifest.platforms.esp32.dependency.some((d: { namespace: string; name: string }) => d.namespace === 'espressif' && d.name === 'libsodium'),
    'esp32 pulls espressif/libsodium as an IDF component',
  );
  const main = readFileSync(file('src/main.ts'), 'utf8');
  t.regex(main, /new ModdableCrypto\(\)/, 'the firmware wiring picks the native CryptoPort');
});

const xsIncludes = file('node_modules/@agoric/xsnap/moddable/xs/includes');
const canCompile = (() => {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return existsSync('/usr/include/sodium.h') && existsSync(`${xsIncludes}/xsmc.h`);
  } catch {
    return false;
  }
})();

test('hal/native/pawpost-crypto.c compiles against xsmc.h and libsodium with -Wall -Wextra -Werror', (t) => {
  if (!canCompile) {
    t.log('SKIPPED: needs gcc and libsodium-dev (/usr/include/sodium.h)');
    t.pass();
    return;
  }
  t.notThrows(() =>
    execFileSync('gcc', ['-fsyntax-only', '-Wall', '-Wextra', '-Werror', '-I', xsIncludes, file('hal/native/pawpost-crypto.c')], { stdio: 'pipe' }),
  );
});
