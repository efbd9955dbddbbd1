/**
 * hal/moddable-network.ts (Wi-Fi join with backoff, SNTP) loaded unchanged on
 * Node over the sim's `wifi`, `sntp` and `time` modules (sim/moddable/*), with
 * the board's failure switches. Serial: the board is one process-wide singleton.
 */
import test from 'ava';
import { MemoryLog } from './fakes/memory-log.js';

await import('../sim/moddable-register.js');
const { board } = await import('../sim/moddable/board.js');
const Time = (await import('../sim/moddable/time.js')).default;
const hal = (name: string): Promise<any> => import(new URL(`../hal/${name}.js`, import.meta.url).href);
const { ModdableNetwork } = await hal('moddable-network');
const { ModdableClock } = await hal('moddable-clock');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const random = { fill: (b: Uint8Array) => b.fill(128) };

test.beforeEach(() => board.reset());

test.serial('joins, reports up once, sets the clock by SNTP, and never logs the passphrase', async (t) => {
  const clock = new ModdableClock();
  const log = new MemoryLog();
  const states: boolean[] = [];
  Time.setTo = undefined;
  const net = new ModdableNetwork({ clock, random, log, sntpHost: 'pool.ntp.org' });
  net.onState((up: boolean) => states.push(up));
  t.is(net.join('Home', 'correct horse battery'), 'OK');
  await sleep(100);
  t.true(net.isUp());
  t.deepEqual(states, [true]);
  t.is(board.wifiSsid, 'Home');
  t.is(net.sntpOk, 1);
  t.true(typeof Time.setTo === 'number' && Math.abs(Time.setTo - Date.now() / 1000) < 5, 'the wall clock was set');
  t.false(log.text().includes('correct horse'), 'no passphrase in the log');
  net.close();
  net.close();
  t.false(net.isUp());
  t.is(net.join('Home', 'x'), 'OFF');
  clock.close();
});

test.serial('a failed join is retried with a growing backoff until it succeeds', async (t) => {
  const clock = new ModdableClock();
  const log = new MemoryLog();
  board.wifiFails = 2;
  const net = new ModdableNetwork({ clock, random, log, maxBackoffMs: 4000 });
  net.join('Home', '');
  await sleep(200);
  t.false(net.isUp(), 'first attempt failed');
  await sleep(3500); // backoffs of ~1 s then ~2 s
  t.true(net.isUp(), log.text());
  t.is(net.attempts, 3);
  t.is(board.wifiJoins, 3);
  const waits = log.lines.filter((l) => l.event === 'net.retry').map((l) => Number(l.fields?.inMs));
  t.is(waits.length, 2);
  t.true(waits[1]! > waits[0]!, `backoff grows: ${waits.join(', ')}`);
  net.close();
  clock.close();
});

test.serial('a callback that throws goes to onError; SNTP failure is logged, the link stays up', async (t) => {
  const clock = new ModdableClock();
  const log = new MemoryLog();
  const errors: unknown[] = [];
  board.sntpFails = 1;
  const net = new ModdableNetwork({ clock, random, log, sntpHost: 'pool.ntp.org', onError: (e: unknown) => errors.push(e) });
  net.onState(() => {
    throw new Error('listener bug');
  });
  net.join('Home', 'correct horse battery');
  await sleep(100);
  t.true(net.isUp());
  t.is(errors.length, 1);
  t.is(net.sntpFailed, 1);
  t.true(log.text().includes('net.clock_failed'));
  net.close();
  clock.close();
});
