/**
 * hal/moddable-network.ts (Wi-Fi join with backoff, SNTP through hal/moddable-sntp.ts) loaded
 * unchanged on Node over the sim's `wifi`, `net`, UDP `socket` and `time` modules (sim/moddable/*), with
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
const { SntpClient, sntpAnswerSeconds, NTP_UNIX_OFFSET } = await hal('moddable-sntp');
const { SimUdpSocket } = await import('../sim/moddable/socket.js');

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

test('SNTP answers: only a 48-byte server-mode answer with a stratum and a transmit time gives Unix seconds', (t) => {
  const answer = (f: (b: Uint8Array) => void) => {
    const b = new Uint8Array(48);
    b[0] = 0x24;
    b[1] = 2;
    new DataView(b.buffer).setUint32(40, 1_800_000_000 + NTP_UNIX_OFFSET);
    f(b);
    return b;
  };
  t.is(sntpAnswerSeconds(answer(() => undefined)), 1_800_000_000);
  t.is(sntpAnswerSeconds(answer(() => undefined).subarray(0, 47)), 0, 'short');
  t.is(sntpAnswerSeconds(new Uint8Array(49)), 0, 'long');
  t.is(sntpAnswerSeconds(answer((b) => { b[0] = 0x23; })), 0, 'client mode (a reflected request)');
  t.is(sntpAnswerSeconds(answer((b) => { b[1] = 0; })), 0, "kiss-o'-death");
  t.is(sntpAnswerSeconds(answer((b) => b.fill(0, 40, 44))), 0, 'no transmit time');
});

test.serial('the SNTP client closes its socket only after the answer was read, outside the socket callback (the SDK lin socket frees it at close)', async (t) => {
  const before = SimUdpSocket.requests;
  const events: string[] = [];
  const closes: number[] = [];
  const realClose = SimUdpSocket.prototype.close;
  const realWrite = SimUdpSocket.prototype.write;
  let mine: object | undefined; // this client's socket: the first one that writes from here on (earlier tests' clients close late too)
  SimUdpSocket.prototype.write = function (this: InstanceType<typeof SimUdpSocket>, ...a: Parameters<typeof realWrite>) {
    mine ??= this;
    return realWrite.apply(this, a);
  };
  SimUdpSocket.prototype.close = function (this: InstanceType<typeof SimUdpSocket>) {
    if (this === mine) {
      closes.push(Date.now());
      events.push('close');
    }
    return realClose.call(this);
  };
  try {
    let got = 0;
    const at = { time: 0 };
    const c = new SntpClient({ host: 'pool.ntp.org', onTime: (s: number) => { got = s; at.time = Date.now(); events.push('time'); }, onError: () => events.push('error') });
    await sleep(60);
    t.true(Math.abs(got - Date.now() / 1000) < 5, 'the host clock arrived');
    t.is(SimUdpSocket.requests - before, 1, 'one request');
    t.deepEqual(events, ['time'], 'not closed yet: still inside the delay');
    await sleep(150);
    t.deepEqual(events, ['time', 'close']);
    t.true(closes[0]! - at.time >= 90, 'closed about 100 ms after the answer');
    c.close(); // safe after the end
    t.deepEqual(events, ['time', 'close'], 'no callback after the end, no second close');
  } finally {
    SimUdpSocket.prototype.close = realClose;
    SimUdpSocket.prototype.write = realWrite;
  }
});

test.serial('the SNTP client reports a lookup failure once, and nothing after close()', async (t) => {
  board.sntpFails = 1;
  const events: string[] = [];
  new SntpClient({ host: 'pool.ntp.org', onTime: () => events.push('time'), onError: (why: string) => events.push(`error ${why}`) });
  const quiet = new SntpClient({ host: 'pool.ntp.org', onTime: () => events.push('quiet time'), onError: () => events.push('quiet error') });
  quiet.close();
  quiet.close();
  await sleep(80);
  t.deepEqual(events, ['error cannot resolve the SNTP host']);
});
