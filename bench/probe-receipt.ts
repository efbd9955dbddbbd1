/**
 * What one family receipt costs in XS heap slots (issue 13): `npx tsx bench/probe-receipt.ts`.
 * In the native worker (libsodium, as on the device; it builds itself) the toy pairs with one
 * phone and goes online on a lean broker (it allocates nothing), then sends receipts as the
 * player does (src/family-service.ts receipt → the outbox → the MQTT session). Prints the slots
 * of the first receipt after boot (the envelope's keys of the member already worked out, as after
 * receiving its message) and of the next ones (the note key kept), then what
 * the outbox and MQTT session alone cost for one note-sized record. Each figure is the growth of
 * the live heap over the call, minus the growth over a call that does nothing (the xsnap call's
 * own cost); a collection runs before each call, the clock runs 2 s after each (PUBACK, deadline).
 */
import { fileURLToPath } from 'node:url';
import { XsSession } from '../tools/xs-worker.js';
import { ensureNativeWorker } from '../tools/xs-native/xs-native-build.js';

const ENTRY = fileURLToPath(new URL('./xs/receipt-entry.ts', import.meta.url));
const w = await ensureNativeWorker();
if ('skipped' in w) throw new Error(w.skipped);
const s = await XsSession.start(ENTRY, { nativeBin: w.bin, name: 'probe-receipt' });
const heap = async (name: string, arg: unknown = null) => (await s.call(name, arg)).heapCount ?? 0;
/** Slots one call of `name` allocated above a no-op call's. */
async function slots(name: string, arg: unknown = null): Promise<number> {
  await s.call('collect');
  const a = await heap('noop');
  const b = await heap('noop');
  const c = await heap(name, arg);
  await s.call('advance', 2000);
  return c - b - (b - a);
}
await s.call('setup');
const paired = (await s.call<string>('paired')).result;
if (paired !== 'ok') throw new Error(`not paired: ${paired}`);
await s.call('advance', 2000);
await s.call('warm');
const first = await slots('receipt', 'delivered');
const cached: number[] = [];
for (let i = 0; i < 6; i++) cached.push(await slots('receipt', i % 2 ? 'heard' : 'delivered'));
await s.call('outbox.prepare');
const outbox: number[] = [];
for (let i = 0; i < 3; i++) outbox.push(await slots('outbox.add'));
const counts = (await s.call('counts')).result;
console.log(`receipt, the first after boot (note key worked out, a block of note numbers reserved, note buffer made): ${first} slots`);
console.log(`receipt, the next ones (kept note key): ${cached.join(' ')} slots`);
console.log(`outbox.add + MQTT publish of one 137-byte note: ${outbox.join(' ')} slots`);
console.log('counters', JSON.stringify(counts));
await s.close();
