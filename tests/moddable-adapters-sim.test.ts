/**
 * The device adapters (hal/moddable-*.ts) loaded UNCHANGED on Node through the
 * sim loader hook (sim/moddable-register.ts → sim/moddable-loader.ts maps
 * `timer`, `file`, `pins/audioout`, ... to sim/moddable/*), driven from the
 * board side (sim/moddable/board.ts): every port is exercised — clock, random,
 * storage (incl. a power cut between temp write and rename), log, LED, buttons
 * (debounce, the one-ISR-per-GPIO rule), mic, speaker and the shared I2S pins.
 * Also checks that the committed ESM build of tweetnacl is current.
 * Serial: the board is one process-wide singleton, as the hardware is one.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import nacl from 'tweetnacl';
import { PortError } from '../hal/ports.js';

await import('../sim/moddable-register.js');
const { board } = await import('../sim/moddable/board.js');
// The adapters are loaded by computed URL: they are device code (typed by
// tsconfig.firmware.json against the Moddable typings), not part of the host program.
const hal = (name: string): Promise<any> => import(new URL(`../hal/${name}.js`, import.meta.url).href);
const { ModdableClock } = await hal('moddable-clock');
const { ModdableRandom } = await hal('moddable-random');
const { FileStore, NvsIdentityStore } = await hal('moddable-storage');
const { ModdableLog } = await hal('moddable-log');
const { ModdableLed } = await hal('moddable-led');
const { ModdableButton, releaseTargetButtons } = await hal('moddable-button');
const { ModdableMic } = await hal('moddable-mic');
const { ModdableSpeaker } = await hal('moddable-speaker');
const { I2sPins } = await hal('moddable-i2s-pins');
const { installed } = await hal('moddable-globals');
const config = (await import('../sim/moddable/mc-config.js')).default;
const Preference = (await import('../sim/moddable/preference.js')).default;
const { QUEUE_LENGTH } = await import('../sim/moddable/pins-audioout.js');
const { buildTweetnaclEsm, TWEETNACL_ESM_PATH } = await import('../sim/moddable/tweetnacl-esm.js');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const code = (e: unknown) => (e instanceof PortError ? e.code : String(e));

test.beforeEach(() => board.reset());

test.serial('loader: Moddable specifiers resolve to sim/moddable, a missing one names the file to write', async (t) => {
  const { moddableUrl } = await import('../sim/moddable-loader.js');
  t.regex(moddableUrl('pins/audioout')!, /sim\/moddable\/pins-audioout\.ts$/);
  t.is(moddableUrl('tweetnacl'), undefined);
  t.true(installed);
  t.is(config.board.pawPin, 39);
  t.is(config.file.root, '/');
});

test.serial('clock: after/every fire, cancel and close are idempotent, a throwing callback goes to onError', async (t) => {
  const errors: unknown[] = [];
  const clock = new ModdableClock({ onError: (e: unknown) => errors.push(e) });
  let once = 0;
  let many = 0;
  clock.after(5, () => once++);
  const h = clock.every(3, () => many++);
  clock.after(1, () => {
    throw new Error('boom');
  });
  await sleep(40);
  t.is(once, 1);
  t.true(many >= 2);
  h.cancel();
  h.cancel();
  const frozen = many;
  await sleep(15);
  t.is(many, frozen);
  t.is(errors.length, 1);
  const t0 = clock.now();
  t.true(clock.now() >= t0);
  clock.every(1000, () => {});
  t.is(board.liveTimers, 1);
  clock.close();
  clock.close();
  t.is(board.liveTimers, 0);
  t.throws(() => clock.after(-1, () => {}), { instanceOf: PortError });
});

test.serial('random: fills from the hardware RNG; a failing RNG is PortError IO; tweetnacl can draw from it', (t) => {
  const rnd = new ModdableRandom();
  const a = new Uint8Array(64);
  const b = new Uint8Array(64);
  rnd.fill(a);
  rnd.fill(b.subarray(8, 40));
  t.not(Buffer.from(a).toString('hex'), '00'.repeat(64));
  t.is(b.subarray(0, 8).join(), '0,0,0,0,0,0,0,0');
  t.is(board.rngBytes, 96);
  nacl.setPRNG((x, n) => rnd.fill(x.subarray(0, n)));
  t.is(nacl.randomBytes(24).length, 24);
  board.rngBroken = true;
  t.is(code(t.throws(() => rnd.fill(new Uint8Array(4)))), 'IO');
});

test.serial('storage: FileStore writes atomically (temp + rename), survives a power cut, checks keys and sizes', (t) => {
  const dir = config.file.root + 'pawpost/';
  const store = new FileStore({ dir });
  store.write('msg.001', Uint8Array.of(1, 2, 3));
  store.write('msg.002', new Uint8Array(0));
  store.write('state', new Uint8Array(4000).fill(7));
  t.deepEqual([...store.read('msg.001')!], [1, 2, 3]);
  t.is(store.read('msg.002')!.length, 0);
  t.is(store.read('nope'), undefined);
  t.deepEqual(store.keys('msg.'), ['msg.001', 'msg.002']);
  // a view into a larger buffer stores only its bytes
  const big = Uint8Array.of(9, 9, 5, 6, 9);
  store.write('msg.001', big.subarray(2, 4));
  t.deepEqual([...store.read('msg.001')!], [5, 6]);

  // power cut: delete-old-temp, open temp, write data succeed; the rename fails
  board.fs.failAfter = 2;
  t.is(code(t.throws(() => store.write('msg.001', Uint8Array.of(8, 8, 8)))), 'IO');
  board.fs.failAfter = -1;
  t.deepEqual([...store.read('msg.001')!], [5, 6], 'old value whole after the cut');
  t.deepEqual(store.keys(), ['msg.001', 'msg.002', 'state'], 'no temp file visible as a key');
  // the cut left a temp file on "flash" before the adapter could clean up? reopening removes any
  board.fs.failAfter = 1; // the temp write succeeds, the cleanup delete fails with the rename
  t.throws(() => store.write('msg.002', Uint8Array.of(1)));
  board.fs.failAfter = -1;
  const reopened = new FileStore({ dir });
  t.true(reopened.staleTempsRemoved >= 1);
  t.is(reopened.read('msg.002')!.length, 0);

  t.is(code(t.throws(() => store.write('bad/key', Uint8Array.of(1)))), 'INVAL');
  t.is(code(t.throws(() => store.write('x'.repeat(16), Uint8Array.of(1)))), 'INVAL');
  t.is(code(t.throws(() => store.write('big', new Uint8Array(4001)))), 'SIZE');
  board.fs.capacity = board.fsUsed() + 10;
  t.is(code(t.throws(() => store.write('fill', new Uint8Array(100)))), 'NOSPACE');
  board.fs.capacity = 1 << 20;
  store.remove('msg.001');
  store.remove('msg.001');
  t.deepEqual(store.keys('msg.'), ['msg.002']);
});

test.serial('storage: NvsIdentityStore reads the factory namespace as bytes and refuses writes', (t) => {
  Preference.set('pawpost', 'toy_id', 'toy-0042');
  Preference.set('pawpost', 'box_sk', Uint8Array.of(1, 2, 3, 4).buffer);
  Preference.set('pawpost', 'rev', 7);
  Preference.set('other', 'x', 'y');
  const nvs = new NvsIdentityStore();
  t.is(new TextDecoder().decode(nvs.read('toy_id')), 'toy-0042');
  t.deepEqual([...nvs.read('box_sk')!], [1, 2, 3, 4]);
  t.deepEqual([...nvs.read('rev')!], [7, 0, 0, 0], 'an NVS integer reads as 4 bytes little-endian (docs/PROVISIONING.md)');
  t.is(nvs.read('absent'), undefined);
  t.deepEqual(nvs.keys(), ['box_sk', 'rev', 'toy_id']);
  t.deepEqual(nvs.keys('to'), ['toy_id']);
  t.is(code(t.throws(() => nvs.write('toy_id', Uint8Array.of(1)))), 'NOSUPPORT');
  t.is(code(t.throws(() => nvs.remove('toy_id'))), 'NOSUPPORT');
  t.is(code(t.throws(() => nvs.read('no way'))), 'INVAL');
});

test.serial('log: trace lines, level filter, hostile values cannot forge lines', (t) => {
  const log = new ModdableLog({ minLevel: 'info', maxValueChars: 8 });
  log.log('debug', 'hidden');
  log.log('warn', 'ble.name', { name: 'evil\ninfo fake=1 and more', n: 3, ok: true });
  t.is(board.traceLines.length, 1);
  t.is(board.traceLines[0], 'warn ble.name name=evil?inf... n=3 ok=true\n');
});

test.serial('led: set shows on the board pixel (scaled, clamped, deduplicated); close turns it off, twice is safe', (t) => {
  const led = new ModdableLed({ pin: config.board.ledPin, maxLevel: 255 });
  t.deepEqual(board.ledColor(27), { r: 0, g: 0, b: 0 });
  led.set(255, 128, 0);
  t.deepEqual(board.ledColor(27), { r: 255, g: 128, b: 0 });
  led.set(300, -5, Number.NaN);
  t.deepEqual(board.ledColor(27), { r: 255, g: 0, b: 0 });
  const n = led.updates;
  led.set(255, 0, 0);
  t.is(led.updates, n, 'unchanged colour not resent');
  const dim = new ModdableLed({ pin: 26, maxLevel: 51 });
  dim.set(255, 255, 0);
  t.deepEqual(board.ledColor(26), { r: 51, g: 51, b: 0 });
  led.close();
  led.close();
  dim.close();
  t.deepEqual(board.ledColor(27), { r: 0, g: 0, b: 0 });
  led.set(1, 2, 3);
  t.deepEqual(board.ledColor(27), { r: 0, g: 0, b: 0 });
  t.is(board.pixelDrivers, 0);
});

test.serial('button: press/release reported once each after debounce, bounces swallowed, one ISR per GPIO', async (t) => {
  const clock = new ModdableClock();
  const errors: unknown[] = [];
  const paw = new ModdableButton({ id: 'paw', pin: config.board.pawPin, pull: 'none', debounceMs: 10, clock, onError: (e: unknown) => errors.push(e) });
  const seen: boolean[] = [];
  paw.onChange((pressed: boolean, at: number) => {
    t.true(at >= 0);
    seen.push(pressed);
  });
  t.false(paw.read());
  board.press(39);
  board.bounce(39, 4); // ends pressed (even number of toggles)
  await sleep(40);
  t.deepEqual(seen, [true]);
  t.true(paw.read());
  board.release(39);
  await sleep(40);
  t.deepEqual(seen, [true, false]);
  t.true(paw.edges >= 6);

  // a throwing callback reaches onError, never the "hardware"
  paw.onChange(() => {
    throw new Error('toy bug');
  });
  board.press(39);
  await sleep(30);
  t.is(errors.length, 1);

  // the target's M5Button holds GPIO39 on the m5atom_echo: a second monitor would get no edges
  const Monitor = (await import('../sim/moddable/pins-digital-monitor.js')).default;
  paw.close();
  paw.close();
  const targetMonitor = new Monitor({ pin: 39, mode: 0, edge: 3 });
  const starved = new ModdableButton({ id: 'paw', pin: 39, pull: 'none', debounceMs: 0, clock });
  t.is(board.isrConflicts, 1);
  starved.close();
  (globalThis as Record<string, unknown>).button = {
    a: {
      close() {
        targetMonitor.close();
        throw new ReferenceError('undefind is not defined'); // the SDK's M5Button.close() bug
      },
    },
  };
  t.is(releaseTargetButtons(), 1);
  t.is((globalThis as Record<string, unknown>).button, undefined);
  const heart = new ModdableButton({ id: 'heart', pin: 39, pull: 'none', debounceMs: 0, clock });
  const got: boolean[] = [];
  heart.onChange((p: boolean) => got.push(p));
  board.release(39);
  await sleep(5);
  board.press(39);
  await sleep(5);
  t.deepEqual(got, [false, true]);
  heart.close();
  clock.close();
  t.is(board.monitorCount(), 0);
  t.throws(() => new ModdableButton({ id: 'heart', pin: 99, clock }), { instanceOf: PortError });
});

test.serial('mic: frames arrive in order, paced by real time; the shared I2S pins make the speaker BUSY', async (t) => {
  const clock = new ModdableClock();
  const pins = new I2sPins(config.board.i2sShared);
  const mic = new ModdableMic({ pins, clock, frames: 8 });
  const spk = new ModdableSpeaker({ pins, slots: QUEUE_LENGTH });
  const fed = new Int16Array(320 * 6);
  for (let i = 0; i < fed.length; i++) fed[i] = (i % 2000) - 1000;
  board.feedMic(fed);
  const frame = new Int16Array(320);
  t.is(mic.read(frame), 'OFF');
  t.is(mic.start(), 'OK');
  t.is(mic.start(), 'OK');
  t.is(spk.start(), 'BUSY');
  t.is(board.speakerOpen, 0);
  await sleep(110); // >= 5 frames of real time
  t.true(mic.available() >= 4, `available ${mic.available()}`);
  for (let f = 0; f < 2; f++) {
    t.is(mic.read(frame), 'OK');
    t.deepEqual(frame, fed.subarray(f * 320, (f + 1) * 320), `frame ${f}`);
  }
  // the record pipeline's way: the ring's own slot is lent (no copy), next() releases it and lends the following one
  const left = mic.available();
  const s2 = mic.peek()!;
  t.is(mic.peek(), s2, 'peek again before release lends the same frame');
  t.deepEqual(s2, fed.subarray(2 * 320, 3 * 320));
  const s3 = mic.next()!;
  t.not(s3, s2, 'a slot of the ring, not a copy');
  t.deepEqual(s3, fed.subarray(3 * 320, 4 * 320));
  mic.release();
  mic.release();
  t.is(mic.available(), left - 2);
  t.throws(() => mic.read(new Int16Array(100)), { instanceOf: PortError });
  mic.stop();
  t.is(board.micOpen, 0);
  t.is(mic.read(frame), 'OFF');
  t.is(spk.start(), 'OK', 'the speaker gets the pins once the mic stops');
  t.is(mic.start(), 'BUSY');
  spk.close();
  // a consumer that never reads: the ring keeps the newest frames and counts overruns
  const small = new ModdableMic({ pins, clock, frames: 2 });
  t.is(small.start(), 'OK');
  await sleep(120);
  t.is(small.available(), 2);
  t.true(small.overruns >= 1);
  small.close();
  small.close();
  mic.close();
  clock.close();
  t.is(mic.start(), 'OFF');
  t.is(board.micOpen + board.speakerOpen, 0);
});

test.serial('speaker: frames play in order from the SharedArrayBuffer pool, FULL at the queue length, slots reused only when played', (t) => {
  const pins = new I2sPins(true);
  const spk = new ModdableSpeaker({ pins, slots: QUEUE_LENGTH });
  const frame = new Int16Array(320);
  t.is(spk.write(frame), 'OFF');
  t.is(spk.space(), 0);
  t.is(spk.start(), 'OK');
  t.is(spk.space(), QUEUE_LENGTH);
  let accepted = 0;
  for (;;) {
    frame.fill(accepted + 1);
    const s = spk.write(frame);
    if (s !== 'OK') {
      t.is(s, 'FULL');
      break;
    }
    accepted++;
  }
  t.is(accepted, QUEUE_LENGTH);
  // the lent frame may be reused at once: the adapter copied it
  frame.fill(-1);
  const out = board.renderSpeaker(320 * 3);
  t.is(out[0], 1);
  t.is(out[320], 2);
  t.is(out[959], 3);
  t.is(spk.space(), 3);
  frame.fill(100);
  t.is(spk.write(frame), 'OK');
  spk.setVolume(0.5);
  frame.fill(200);
  t.is(spk.write(frame), 'OK');
  const rest = board.renderSpeaker(320 * (QUEUE_LENGTH - 3 + 2));
  t.is(rest[0], 4, 'slot 4 untouched by the writes that reused slots 1..3');
  t.is(rest[(QUEUE_LENGTH - 3) * 320], 100, 'full volume before the volume command');
  t.is(rest[(QUEUE_LENGTH - 2) * 320], 100, 'half volume applies from the next element on');
  t.is(spk.space(), QUEUE_LENGTH);
  t.throws(() => spk.write(new Int16Array(321)), { instanceOf: PortError });
  spk.stop();
  t.is(board.speakerOpen, 0);
  t.is(pins.owner(), undefined);
  spk.close();
  spk.close();
  t.is(spk.start(), 'OFF');
});

test.serial('tweetnacl: the committed ESM build is current and interoperates with the npm package', async (t) => {
  t.is(readFileSync(TWEETNACL_ESM_PATH, 'utf8'), await buildTweetnaclEsm(), 'regenerate: npx tsx sim/moddable/tweetnacl-esm.ts');
  const esm = (await import('../hal/native/tweetnacl-esm.js')).default as typeof nacl;
  const key = new Uint8Array(32).fill(3);
  const nonce = new Uint8Array(24).fill(4);
  const msg = new TextEncoder().encode('paw');
  t.deepEqual(esm.secretbox(msg, nonce, key), nacl.secretbox(msg, nonce, key));
  t.throws(() => esm.randomBytes(1), undefined, 'no PRNG until wireNaclRandom');
});
