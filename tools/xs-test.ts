/**
 * The XS test tier: every tests/**\/*.xs.ts file is bundled with esbuild and run
 * inside the real XS engine (@agoric/xsnap), one worker per file. Each case's
 * pass or failure is printed; the last line is `xs: N passed, N failed`.
 * Exit code 1 when any case failed or a file did not load.
 *
 * Usage: tsx tools/xs-test.ts [--native] [file-filter-substring ...]
 *
 * --native: the same files in the native worker (tools/xs-native/): XS with the
 * device's C (hal/native/*.c over libsodium and libopus) linked in, the CryptoPort
 * of src/nacl-crypto.ts replaced by hal/moddable-crypto.ts, plus the native-only
 * tests (tests/*.xs-native.ts). Without filters it runs NATIVE_FILES. A file that
 * made no native call fails (it would not have tested the C). The last line is
 * `xs-native: N passed, N failed`, or `xs-native: skipped (why)` when gcc or the
 * libsodium / libopus -dev packages are missing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { XsSession } from './xs-worker.js';
import { ensureNativeWorker } from './xs-native/xs-native-build.js';

/**
 * The files the native run takes without filters: every portable test that uses the CryptoPort
 * (crypto, envelope and pairing with their vectors, the whole app, enrollment, signed updates)
 * and the native-only tests. The others make no native call (which fails a native run).
 */
const NATIVE_FILES = [
  'nacl-crypto.xs.ts', 'envelope.xs.ts', 'pairing.xs.ts', 'pairing-app.xs.ts', 'identity.xs.ts', 'app.xs.ts',
  'enrollment-grant.xs.ts', 'enrollment-notices.xs.ts', 'update-app.xs.ts', 'update-client.xs.ts',
  'update-delivery.xs.ts', 'update-service.xs.ts', '.xs-native.ts',
];

function findTests(dir: string, native: boolean): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name === 'fixtures' || e.name === 'node_modules') continue;
      out.push(...findTests(p, native));
    } else if (e.name.endsWith('.xs.ts') || (native && e.name.endsWith('.xs-native.ts'))) out.push(p);
  }
  return out.sort();
}

async function runFile(file: string, nativeBin?: string): Promise<{ passed: number; failed: number }> {
  let passed = 0;
  let failed = 0;
  let session: XsSession | undefined;
  const tier = nativeBin ? 'xs-native' : 'xs';
  try {
    session = await XsSession.start(file, { nativeBin });
    await session.evaluate('globalThis.__pawpostRunTests()');
    if (nativeBin) {
      await session.evaluate(
        'issueCommand(new TextEncoder().encode(JSON.stringify({ kind: "native-calls", n: __pawpostNativeCalls() })).buffer)',
      );
    }
    let done = false;
    for (const raw of session.drain()) {
      const m = JSON.parse(raw) as { kind: string; name?: string; ok?: boolean; error?: string; logs?: string[] };
      if (m.kind === 'done') {
        done = true;
        continue;
      }
      if (m.kind === 'native-calls') {
        const n = (m as { n?: number }).n ?? 0;
        if (n > 0) console.log(`    ℹ ${n} native calls`);
        else {
          failed++;
          console.log(`  ✘ [${tier}] ${path.basename(file)}: made no native call (the C was not exercised)`);
        }
        continue;
      }
      if (m.kind !== 'result') continue;
      for (const l of m.logs ?? []) console.log(`    ℹ ${l}`);
      if (m.ok) {
        passed++;
        console.log(`  ✔ [${tier}] ${path.basename(file)} › ${m.name}`);
      } else {
        failed++;
        console.log(`  ✘ [${tier}] ${path.basename(file)} › ${m.name}\n      ${String(m.error).split('\n').join('\n      ')}`);
      }
    }
    if (!done) {
      failed++;
      console.log(`  ✘ [${tier}] ${path.basename(file)}: the run did not finish (a test left a promise pending)`);
    }
  } catch (e) {
    failed++;
    console.log(`  ✘ [${tier}] ${path.basename(file)}: could not run in XS: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await session?.close();
  }
  return { passed, failed };
}

const args = process.argv.slice(2);
const native = args.includes('--native');
const filters = args.filter((a) => a !== '--native');
let nativeBin: string | undefined;
if (native) {
  const w = await ensureNativeWorker().catch((e: unknown) => {
    console.log(`xs-native: the native worker did not build:\n${e instanceof Error ? e.message : String(e)}`);
    console.log('xs-native: 0 passed, 1 failed');
    process.exit(1);
  });
  if ('skipped' in w) {
    console.log(`xs-native: skipped (${w.skipped})`);
    process.exit(0);
  }
  nativeBin = w.bin;
}
const chosen = filters.length > 0 ? filters : native ? NATIVE_FILES : [];
const files = findTests('tests', native).filter((f) => chosen.length === 0 || chosen.some((x) => f.includes(x)));
let passed = 0;
let failed = 0;
for (const f of files) {
  const r = await runFile(f, nativeBin);
  passed += r.passed;
  failed += r.failed;
}
console.log(`${native ? 'xs-native' : 'xs'}: ${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
