/**
 * Where the toy's heap slots go while it plays (a probe for the next allocation work, not a
 * bench section): `npx tsx bench/probe-alloc.ts`. In the native worker (libsodium, as on the
 * device) it records and delivers a 10 s message, presses the heart, then advances the clock
 * 20 ms per call and prints the slots each step allocated above the call's own cost (48 slots
 * per xsnap call, measured here: the steps where nothing happens), then what one 'heard'
 * receipt costs. No GC runs between the reads, so a step's growth is what it allocated.
 */
import { fileURLToPath } from 'node:url';
import { XsSession } from '../tools/xs-worker.js';
import { ensureNativeWorker } from '../tools/xs-native/xs-native-build.js';
const ENTRY = fileURLToPath(new URL('./xs/toy-entry.ts', import.meta.url));
const w = await ensureNativeWorker();
if ('skipped' in w) throw new Error(w.skipped);
const s = await XsSession.start(ENTRY, { nativeBin: w.bin, name: 'probe' });
const h = async () => (await s.call('noop')).heapCount ?? 0;
await s.call('prepare');
await s.call('boot');
await s.call('pair');
await s.call('record', 2);
await s.call('record', 10);
await s.call('seal', 10);
await s.call('collect');
let a = await h();
await s.call('deliver');
let b = await h();
console.log('deliver total', b - a);
await s.call('collect');
a = await h();
await s.call('heart');
b = await h();
console.log('heart press', b - a);
const steps: number[] = [];
let prev = b;
for (let i = 0; i < 560; i++) {
  await s.call('advanceMs', 20);
  const x = await h();
  steps.push(x - prev);
  prev = x;
}
const base = 48;
console.log('per 20ms, not', base, steps.map((v, i) => [i, v - base] as const).filter(([, v]) => v !== 0).map(([i, v]) => `${i}:${v}`).join(' '));
console.log('sum over base', steps.reduce((x, v) => x + v - base, 0));
for (let i = 0; i < 3; i++) {
  await s.call('collect');
  const r0 = await h();
  await s.call('probe.receipt');
  console.log('receipt', (await h()) - r0 - 48);
}
await s.close();
