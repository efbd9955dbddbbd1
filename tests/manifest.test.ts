/**
 * manifest.json keeps the rules the real runtime taught (the device tier shows
 * them at run time; these catch a regression before a build):
 * - a module a platform lacks is never mapped there (ES modules link every
 *   import before main() runs): lin has no pins/digital and no neopixel;
 * - no module is mapped to a typings (.d.ts) file only: it builds, then fails at run time;
 * - test-only code (audio/fake-codec, tests/) is not in the product image;
 * - creation keys are the ones mcconfig reads (`nativeStack`, not `nativeStackSize`);
 * - socket/TLS, Wi-Fi and SNTP come from their own manifests.
 */
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';

type Modules = Record<string, string | string[]>;
interface Manifest {
  include: string[];
  modules: Modules;
  preload?: string[];
  platforms: Record<string, { modules?: Modules; creation?: Record<string, unknown>; include?: string[] }>;
}
const m = JSON.parse(readFileSync(new URL('../manifest.json', import.meta.url), 'utf8')) as Manifest;
const targets = (mods: Modules | undefined) => Object.values(mods ?? {}).flat();
const keys = (mods: Modules | undefined) => Object.keys(mods ?? {});

test('lin maps no module that needs pins/digital or neopixel; esp32 maps the GPIO and LED adapters', (t) => {
  const lin = [...keys(m.modules), ...keys(m.platforms.lin!.modules)];
  for (const k of ['hal/moddable-button', 'hal/moddable-led', 'hal/board-controls', 'pins/digital/monitor']) t.false(lin.includes(k), `lin maps ${k}`);
  const esp = keys(m.platforms.esp32!.modules);
  for (const k of ['hal/moddable-button', 'hal/moddable-led', 'hal/board-controls', 'hal/main-esp32']) t.true(esp.includes(k), `esp32 maps ${k}`);
  t.is(m.platforms.lin!.creation?.main, 'hal/main-lin');
  t.is(m.platforms.esp32!.creation?.main, 'hal/main-esp32');
});

test('every mapped module of this project is a .ts/.js/.c source, never typings only; no test code in the image', (t) => {
  for (const target of [...targets(m.modules), ...targets(m.platforms.lin!.modules), ...targets(m.platforms.esp32!.modules)]) {
    if (!target.startsWith('./') || target.includes('*')) continue;
    if (target === './hal/native/audioin') continue; // typings for the SDK's own `audioin` (which its manifest registers)
    const base = new URL(`../${target.slice(2)}`, import.meta.url).pathname;
    t.true(['.ts', '.js', '.c'].some((ext) => existsSync(base + ext)), `${target} has a source`);
    t.false(existsSync(base + '.d.ts') && !existsSync(base + '.ts') && !existsSync(base + '.js'), `${target} is typings only`);
  }
  const all = JSON.stringify([m.modules, m.platforms.lin!.modules, m.platforms.esp32!.modules]);
  t.false(all.includes('fake-codec'), 'audio/fake-codec is test code');
  t.false(all.includes('./tests/'), 'tests/ is not in the product image');
});

test('creation uses the keys mcconfig reads; the network manifests are included', (t) => {
  const c = m.platforms.esp32!.creation as { nativeStack?: number; nativeStackSize?: number; heap?: { initial?: number } };
  t.true(typeof c.nativeStack === 'number' && c.nativeStack >= 40 * 1024, 'nativeStack for libopus');
  t.is(c.nativeStackSize, undefined);
  t.true((c.heap?.initial ?? 0) > 4928, 'the measured heap, above the target default that aborts at boot');
  for (const inc of ['modules/crypt/tls.json', 'modules/network/wifi/manifest.json', 'examples/manifest_net.json']) {
    t.true(m.include.some((i) => i.endsWith(inc)), inc);
  }
  // SNTP is hal/moddable-sntp.ts on the UDP socket (manifest_net), not the SDK's sntp module (docs/HARDWARE.md)
  t.false(m.include.some((i) => i.includes('network/sntp')), 'no SDK sntp module');
  for (const p of ['esp32', 'lin'] as const) t.is((m.platforms[p]!.modules as Record<string, unknown>)['hal/moddable-sntp'], './hal/moddable-sntp', p);
});
