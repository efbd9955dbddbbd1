/**
 * The pairing lockout on the device's own clock adapter (hal/moddable-clock.ts,
 * loaded unchanged through the sim loader over sim/moddable/timer.ts and
 * sim/moddable/time.ts). Issue 11: the old adapter made Date.now() monotonic by
 * absorbing any step over 60 s, so on an idle toy (nothing reading the clock) the
 * first read after the lock absorbed the whole wait and the lock never ended.
 * These cases idle the adapter for more than 60 s by moving the tick counter (and
 * Date.now, as real idling does) without reading the clock in between.
 * Serial: the tick offset and Date.now are process-wide.
 */
import test from 'ava';
import { PairingLockout, LOCKOUT_KEY } from '../src/pairing-lockout.js';
import { LOCKOUT_MS, MAX_FAILED_ATTEMPTS } from '../src/pairing-protocol.js';
import { MemoryStorage } from './fakes/memory-storage.js';

await import('../sim/moddable-register.js');
const { board } = await import('../sim/moddable/board.js');
const { simTicks } = await import('../sim/moddable/time.js');
const { ModdableClock } = await import(new URL('../hal/moddable-clock.js', import.meta.url).href);

const realDateNow = Date.now;
/** The device idles `ms`: ticks and the wall clock both move on, nobody reads either. */
function idle(ms: number): void {
  simTicks.offsetMs += ms;
  const shift = (Date.now() - realDateNow()) + ms;
  Date.now = () => realDateNow() + shift;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.afterEach.always(() => {
  simTicks.offsetMs = 0;
  Date.now = realDateNow;
});

test.serial('now() counts an idle gap of 70 s (the old adapter absorbed it as a clock set)', (t) => {
  const clock = new ModdableClock();
  const t0 = clock.now();
  idle(70_000);
  const dt = clock.now() - t0;
  t.true(dt >= 70_000 && dt < 71_000, `advanced ${dt} ms`);
  clock.close();
});

test.serial('now() ignores the wall clock being set (SNTP), either way', (t) => {
  const clock = new ModdableClock();
  const t0 = clock.now();
  Date.now = () => realDateNow() + 5 * 365 * 86_400_000;
  const t1 = clock.now();
  Date.now = () => realDateNow() - 86_400_000;
  const t2 = clock.now();
  t.true(t1 - t0 < 1000 && t2 >= t1 && t2 - t0 < 1000);
  clock.close();
});

test.serial('now() stays monotonic across the 32-bit tick wrap (49.7 days) and holds no timer of its own', (t) => {
  simTicks.offsetMs = 2 ** 32 - 500 - Math.floor(performance.now());
  const before = board.liveTimers;
  const clock = new ModdableClock();
  t.is(board.liveTimers, before, 'no keeper timer');
  const t0 = clock.now();
  idle(1000); // crosses the wrap: the signed tick reads small again
  const dt = clock.now() - t0;
  t.true(dt >= 1000 && dt < 1100, `advanced ${dt} ms across the wrap`);
  clock.close();
  t.is(board.liveTimers, before);
});

test.serial('a lock on the adapter clock ends LOCKOUT_MS after the last failure on an idle toy', (t) => {
  const clock = new ModdableClock();
  const st = new MemoryStorage();
  const l = new PairingLockout(st, clock);
  for (let i = 0; i < MAX_FAILED_ATTEMPTS; i++) l.recordFailure();
  t.true(l.isLocked());
  idle(LOCKOUT_MS - 5000);
  t.true(l.isLocked(), 'still locked before the time');
  idle(5000 + 10);
  t.false(l.isLocked(), 'unlocked 10 minutes after the last failure');
  t.deepEqual(st.read(LOCKOUT_KEY), Uint8Array.of(1, 0));
  l.close();
  clock.close();
});

test.serial('the lock ends by the Moddable timer alone, with no clock read in between', async (t) => {
  const clock = new ModdableClock();
  const st = new MemoryStorage();
  const l = new PairingLockout(st, clock, undefined, 1, 40);
  t.true(l.recordFailure());
  t.deepEqual(st.read(LOCKOUT_KEY), Uint8Array.of(1, 1));
  await sleep(120);
  t.deepEqual(st.read(LOCKOUT_KEY), Uint8Array.of(1, 0), 'the timer cleared the record');
  t.is(l.counters.get('pair.lock_expired'), 1);
  l.close();
  clock.close();
});
