/**
 * Builds the XS tier's native worker: xsnap-worker (the XS engine and worker of
 * @agoric/xsnap, from the sources in node_modules, with xsnap's meter) linked
 * with the device's C (hal/native/pawpost-crypto.c, pawpost-random.c,
 * opus-codec.c) and Debian's libsodium and libopus. tools/xs-native/xs-native-host.c
 * registers those host functions as the global `native(name)`, which is what
 * hal/moddable-crypto.ts and hal/moddable-codec.ts call (see that file).
 *
 * Cache: the binary is kept in ~/.cache/pawpost/xs-native-<hash>/ (or
 * $PAWPOST_CACHE/xs-native-<hash>/), the hash covering every source and header
 * it is built from, the flags and the compiler's version: it is rebuilt only when
 * one of them changes. Built in a temporary directory and renamed into place,
 * so a concurrent or interrupted build never leaves a half-built binary.
 *
 * Warnings: PawPost's C (hal/native/*.c and xs-native-host.c) is compiled with
 * -Wall -Wextra -Werror; the XS engine's own sources with xsnap's flags.
 *
 * Result: { bin } or { skipped: reason } when gcc, sodium.h / libsodium or
 * opus/opus.h / libopus is missing (the caller prints one line saying so).
 * A compile or link error is thrown (never reported as skipped).
 *
 * CLI: `npx tsx tools/xs-native/xs-native-build.ts` builds (if needed) and
 * prints the binary's path, or the skip reason (exit code 0 either way, 1 on
 * a build error).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const XSNAP_PKG = path.dirname(require.resolve('@agoric/xsnap/package.json'));
const MODDABLE = path.join(XSNAP_PKG, 'moddable');
const XS_DIR = path.join(MODDABLE, 'xs');
const XSNAP_SRC = path.join(XSNAP_PKG, 'xsnap-native/xsnap/sources');

/** The XS engine's sources, as xsnap-worker.mk lists them. */
const XS_SOURCES = [
  'xsAll', 'xsAPI', 'xsArguments', 'xsArray', 'xsAtomics', 'xsBigInt', 'xsBoolean', 'xsCode', 'xsCommon',
  'xsDataView', 'xsDate', 'xsDebug', 'xsDefaults', 'xsError', 'xsFunction', 'xsGenerator', 'xsGlobal', 'xsJSON',
  'xsLexical', 'xsLockdown', 'xsMapSet', 'xsMarshall', 'xsMath', 'xsMemory', 'xsModule', 'xsNumber', 'xsObject',
  'xsPlatforms', 'xsProfile', 'xsPromise', 'xsProperty', 'xsProxy', 'xsRegExp', 'xsRun', 'xsScope', 'xsScript',
  'xsSnapshot', 'xsSourceMap', 'xsString', 'xsSymbol', 'xsSyntaxical', 'xsTree', 'xsType', 'xsdtoa', 'xsre', 'xsmc',
].map((n) => path.join(XS_DIR, 'sources', `${n}.c`));
const ENGINE_SOURCES = [
  ...XS_SOURCES,
  path.join(MODDABLE, 'modules/data/text/decoder/textdecoder.c'),
  path.join(MODDABLE, 'modules/data/text/encoder/textencoder.c'),
  path.join(MODDABLE, 'modules/data/base64/modBase64.c'),
  path.join(XSNAP_SRC, 'xsnapPlatform.c'),
];
/** PawPost's C: the device's host functions and the registration of `native`. */
const PAWPOST_SOURCES = [
  path.join(REPO, 'hal/native/pawpost-crypto.c'),
  path.join(REPO, 'hal/native/pawpost-random.c'),
  path.join(REPO, 'hal/native/opus-codec.c'),
  path.join(HERE, 'xs-native-host.c'),
];
const WORKER_SOURCE = path.join(XSNAP_SRC, 'xsnap-worker.c');

/** xsnap-worker.mk's release options (the same engine configuration as the stock worker, so the same step counts). */
const DEFINES = [
  '-fno-common', '-DINCLUDE_XSPLATFORM', '-DXSPLATFORM="xsnapPlatform.h"', '-DXSNAP_VERSION="pawpost-xs-native"',
  '-DXSNAP_TEST_RECORD=0', '-DmxLockdown=1', '-DmxMetering=1', '-DmxDebug=1', '-UmxInstrument', '-DmxNoConsole=1',
  '-DmxBoundsCheck=1', '-DmxParse=1', '-DmxRun=1', '-DmxSloppy=1', '-DmxSnapshot=1', '-DmxRegExpUnicodePropertyEscapes=1',
  '-DmxStringNormalize=1', '-DmxMinusZero=1',
];
const INCLUDES = [path.join(XS_DIR, 'includes'), path.join(XS_DIR, 'platforms'), path.join(XS_DIR, 'sources'), XSNAP_SRC];
const ENGINE_FLAGS = ['-O2', '-Wno-misleading-indentation', '-Wno-implicit-fallthrough'];
const PAWPOST_FLAGS = ['-O2', '-Wall', '-Wextra', '-Werror'];
const LIBRARIES = ['-ldl', '-lm', '-lpthread', '-lsodium', '-lopus'];
const BIN_NAME = 'xsnap-pawpost-worker';

export type NativeWorker = { bin: string; built: boolean } | { skipped: string };

function cacheRoot(): string {
  return process.env.PAWPOST_CACHE ?? path.join(os.homedir(), '.cache/pawpost');
}

function cc(): string {
  return process.env.CC ?? 'gcc';
}

/** Why the native worker cannot be built on this machine, or null when it can. */
export function missingPrerequisite(): string | null {
  const v = spawnSync(cc(), ['--version'], { encoding: 'utf8' });
  if (v.error || v.status !== 0) return `no C compiler (${cc()})`;
  const header = (h: string) => ['/usr/include', '/usr/local/include'].some((d) => fs.existsSync(path.join(d, h)));
  const lib = (l: string) => {
    const r = spawnSync(cc(), [`-print-file-name=${l}`], { encoding: 'utf8' });
    return r.status === 0 && path.isAbsolute(r.stdout.trim());
  };
  if (!header('sodium.h') || !lib('libsodium.so')) return 'no libsodium headers or library (Debian libsodium-dev)';
  if (!header('opus/opus.h') || !lib('libopus.so')) return 'no libopus headers or library (Debian libopus-dev)';
  if (!fs.existsSync(WORKER_SOURCE) || !fs.existsSync(path.join(XS_DIR, 'sources/xsAll.c'))) return 'no XS sources in node_modules/@agoric/xsnap';
  return null;
}

/** The headers the build reads (hashed with the sources). */
function headers(): string[] {
  const out: string[] = [];
  for (const d of [...INCLUDES, path.join(HERE, 'include')]) {
    for (const f of fs.readdirSync(d)) if (f.endsWith('.h')) out.push(path.join(d, f));
  }
  return out.sort();
}

/** Hash of everything the binary is built from; names the cache directory. */
export function buildHash(): string {
  const h = createHash('sha256');
  h.update(spawnSync(cc(), ['--version'], { encoding: 'utf8' }).stdout ?? '');
  h.update(JSON.stringify({ DEFINES, ENGINE_FLAGS, PAWPOST_FLAGS, LIBRARIES, patch: PATCH_VERSION }));
  for (const f of [...ENGINE_SOURCES, ...PAWPOST_SOURCES, WORKER_SOURCE, ...headers(), fileURLToPath(import.meta.url)]) {
    h.update(path.relative(REPO, f));
    h.update(fs.readFileSync(f));
  }
  return h.digest('hex').slice(0, 16);
}

const PATCH_VERSION = 1;

/**
 * xsnap-worker.c with one call added: pawpostBuildAgent(machine) right after its own
 * xsBuildAgent(machine) (the globals print, issueCommand, ...). Throws when the source
 * does not have exactly the expected shape (a new xsnap version), so the patch never
 * applies silently to the wrong place.
 */
function patchedWorker(): string {
  const src = fs.readFileSync(WORKER_SOURCE, 'utf8');
  const call = '\t\txsBuildAgent(machine);\n';
  const include = '#include "xsnap.h"\n';
  if (src.split(call).length !== 2 || src.split(include).length !== 2) {
    throw new Error(`xs-native: ${WORKER_SOURCE} changed shape; update tools/xs-native/xs-native-build.ts`);
  }
  return src
    .replace(include, `${include}extern void pawpostBuildAgent(xsMachine* machine);\n`)
    .replace(call, `${call}\t\tpawpostBuildAgent(machine);\n`);
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (out += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}\n${out}`))));
  });
}

async function build(dir: string, log: (s: string) => void): Promise<string> {
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    const workerC = path.join(tmp, 'xsnap-worker.c');
    fs.writeFileSync(workerC, patchedWorker());
    const inc = INCLUDES.flatMap((d) => ['-I', d]);
    const jobs: { src: string; flags: string[]; extraInc: string[] }[] = [
      ...ENGINE_SOURCES.map((src) => ({ src, flags: ENGINE_FLAGS, extraInc: [] })),
      { src: workerC, flags: ENGINE_FLAGS, extraInc: [] },
      ...PAWPOST_SOURCES.map((src) => ({ src, flags: PAWPOST_FLAGS, extraInc: ['-I', path.join(HERE, 'include'), '-I', '/usr/include/opus'] })),
    ];
    const objects: string[] = [];
    let next = 0;
    const parallel = Math.max(1, Number(process.env.PAWPOST_BUILD_JOBS ?? Math.min(2, os.cpus().length)));
    log(`xs-native: building ${BIN_NAME} (${jobs.length} C files, ${parallel} at a time) into ${dir}`);
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= jobs.length) return;
        const j = jobs[i]!;
        const obj = path.join(tmp, `${i}-${path.basename(j.src, '.c')}.o`);
        objects[i] = obj;
        await run(cc(), ['-c', j.src, '-o', obj, ...DEFINES, ...j.flags, ...j.extraInc, ...inc]);
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    const bin = path.join(tmp, BIN_NAME);
    await run(cc(), ['-rdynamic', ...objects, ...LIBRARIES, '-o', bin]);
    for (const o of objects) fs.rmSync(o);
    fs.rmSync(workerC);
    try {
      fs.renameSync(tmp, dir);
    } catch {
      // another build finished first: keep its binary
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    return path.join(dir, BIN_NAME);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** The native worker's binary, built when its sources changed; or why it is skipped. */
export async function ensureNativeWorker(opts: { log?: (s: string) => void } = {}): Promise<NativeWorker> {
  const missing = missingPrerequisite();
  if (missing) return { skipped: missing };
  const dir = path.join(cacheRoot(), `xs-native-${buildHash()}`);
  const bin = path.join(dir, BIN_NAME);
  if (fs.existsSync(bin)) return { bin, built: false };
  fs.mkdirSync(cacheRoot(), { recursive: true });
  return { bin: await build(dir, opts.log ?? ((s) => console.log(s))), built: true };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const t0 = Date.now();
    const r = await ensureNativeWorker();
    if ('skipped' in r) console.log(`xs-native: skipped (${r.skipped})`);
    else console.log(`${r.bin}${r.built ? ` (built in ${((Date.now() - t0) / 1000).toFixed(0)} s)` : ' (cached)'}`);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exitCode = 1;
  }
}
