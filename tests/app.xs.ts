// The whole toy, end to end on fakes, in XS and in Node: pairing over the simulated
// radio, a recording sealed and published, a parent's message admitted, glowing,
// played once, and what survives a power cycle.
import { test } from './xs/harness.js';
import { AppRig, Phone, pairedRig } from './app-rig.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { PhoneEnvelope } from '../phone/phone-envelope.js';
import { naclCrypto } from '../src/nacl-crypto.js';

test('a new toy pairs with a phone after a 3 s paw hold and goes online', async (t) => {
  const { rig } = await pairedRig();
  t.is(rig.app.roster!.size, 1);
  t.is(rig.app.toy.state, 'idle');
  t.is(rig.app.session()?.state, 'online');
  t.is(rig.broker.connects.length, 1);
  t.is(rig.broker.connects[0]!.username, rig.toyId);
  t.deepEqual(rig.broker.subscriptions.get(rig.toyId), [rig.topics.in, `pp/t/${rig.toyId}/set`], 'messages, and family settings (issue 15)');
});

test('the toy connects only to the broker in its factory data: the host a phone sent is refused and counted', async (t) => {
  const { rig } = await pairedRig();
  // the phone sent relay.test:8883 (tests/app-rig.ts); the factory data names mqtt.pawpost.example:8883
  t.true(rig.broker.targets.length >= 1);
  t.true(rig.broker.targets.every((x) => x === `${rig.app.identity!.mqttHost}:${rig.app.identity!.mqttPort}`), rig.broker.targets.join(','));
  t.false(rig.broker.targets.some((x) => x.startsWith('relay.test')));
  t.is(rig.app.counters.get('app.broker_override_refused'), 1);
});

test('a recording leaves sealed, reaches the parent whole, and the LED is red throughout', async (t) => {
  const { rig, phone } = await pairedRig();
  rig.paw.press();
  let red = 0;
  for (let i = 0; i < 20; i++) {
    rig.clock.advance(100);
    if (rig.led.r === 255 && rig.led.g === 0 && rig.led.b === 0) red++;
  }
  t.is(red, 20, 'red for the whole 2 s');
  t.true(rig.published().length >= 2, 'chunks left while the paw was still held');
  rig.paw.release();
  rig.clock.advance(1000);
  const chunks = rig.published();
  const got = phone.open(chunks);
  t.is(got.messages, 1);
  t.true(got.packets >= 99 && got.packets <= 101, `about 100 packets of 20 ms, got ${got.packets}`);
  t.is(rig.app.outbox!.count(), 0, 'the outbox is empty once acknowledged');
  // the relay never sees audio in clear: the fake codec marks every packet with 0xa5 runs
  for (const c of chunks) {
    let run = 0;
    let maxRun = 0;
    for (const b of c) {
      run = b === 0xa5 ? run + 1 : 0;
      maxRun = Math.max(maxRun, run);
    }
    t.true(maxRun < 8, 'no plaintext packet bytes on the wire');
  }
});

test('a parent message glows until the heart is pressed, plays once, and a redelivery is dropped', async (t) => {
  const { rig, phone } = await pairedRig();
  const chunks = phone.sealMessage(150, 2000);
  rig.deliver(chunks);
  rig.clock.advance(500);
  t.is(rig.app.player!.waiting(), 1);
  t.is(rig.app.led.current, 'message');
  rig.heart.press();
  rig.heart.release();
  t.is(rig.app.toy.state, 'playing');
  rig.clock.advance(5000);
  t.is(rig.app.toy.state, 'idle');
  t.is(rig.app.player!.waiting(), 0);
  t.is(rig.app.led.current, 'off');
  const heard = rig.played.filter((v) => v >= 2000 && v < 2150);
  t.is(heard.length, 150, 'every frame played once');
  t.is(heard[0], 2000);
  t.is(heard[149], 2149);
  // the broker delivers the same message again (a replay): nothing plays
  rig.deliver(chunks);
  rig.clock.advance(500);
  t.is(rig.app.player!.waiting(), 0);
  t.is(rig.app.led.current, 'off');
});

test('a message older than 7 days is dropped unheard at the next heart press: nothing plays, its records go, a redelivery is refused', async (t) => {
  const { rig, phone } = await pairedRig();
  const fresh = phone.sealMessage(50, 3000);
  const old = phone.sealMessage(50, 4000);
  rig.deliver(old);
  rig.clock.advance(500);
  rig.deliver(fresh);
  rig.clock.advance(500);
  t.is(rig.app.player!.waiting(), 2);
  const records = rig.data.keys('ib.').length;
  t.true(records > 0);
  // 7 days and a minute later: both expired; the heart press plays nothing and the glow goes out
  rig.clock.setWall(rig.clock.wallNow() + 7 * 24 * 3600 * 1000 + 60_000);
  rig.heart.press();
  rig.heart.release();
  rig.clock.advance(3000);
  t.is(rig.played.filter((v) => v >= 3000 && v < 4050).length, 0, 'nothing played');
  t.is(rig.app.player!.waiting(), 0);
  t.is(rig.app.led.current, 'off');
  t.is(rig.app.counters.get('msg.expired'), 2);
  t.is(rig.data.keys('ib.').length, 0, 'the chunk records are removed');
  // the same message again: its counter was committed when it expired
  rig.deliver(old);
  rig.clock.advance(500);
  t.is(rig.app.player!.waiting(), 0);
});

test('a message within its 7 days plays after the others expired', async (t) => {
  const { rig, phone } = await pairedRig();
  rig.deliver(phone.sealMessage(50, 5000));
  rig.clock.advance(500);
  rig.clock.setWall(rig.clock.wallNow() + 7 * 24 * 3600 * 1000 + 60_000);
  rig.deliver(phone.sealMessage(50, 6000)); // sealed now, by the phone's clock: fresh
  rig.clock.advance(500);
  rig.heart.press();
  rig.heart.release();
  rig.clock.advance(3000);
  t.is(rig.played.filter((v) => v >= 5000 && v < 5050).length, 0, 'the old one never plays');
  t.is(rig.played.filter((v) => v >= 6000 && v < 6050).length, 50, 'the fresh one plays whole');
  t.is(rig.app.counters.get('msg.expired'), 1);
});

test('only a paired member can message the child: a stranger and a forged chunk are dropped before decoding', async (t) => {
  const { rig } = await pairedRig();
  // A stranger who knows the toy's public key but never paired.
  const stranger = new Phone(rig, 7);
  stranger.env = new PhoneEnvelope({
    crypto: naclCrypto, random: rig.random, storage: stranger.storage, clock: rig.clock,
    secretKey: stranger.secretKey, toyPublicKey: rig.app.identity!.publicKey, packetsPerChunk: 25,
  });
  const decodesBefore = rig.codec.decodeCalls;
  rig.deliver(stranger.sealMessage(50));
  rig.clock.advance(500);
  t.is(rig.app.player!.waiting(), 0);
  t.true(rig.app.counters.get('msg.drop_UNKNOWN_SENDER') >= 1);
  t.is(rig.codec.decodeCalls, decodesBefore, 'nothing was decoded');
});

test('a power cut after arrival keeps the message; after it played, a restart does not play it again', async (t) => {
  const { rig, phone } = await pairedRig();
  rig.deliver(phone.sealMessage(60, 3000));
  rig.clock.advance(500);
  t.is(rig.app.player!.waiting(), 1);
  rig.boot(); // power cycle: RAM gone, storage kept
  rig.clock.advance(2000);
  t.is(rig.app.player!.waiting(), 1, 'still waiting after the restart');
  t.is(rig.app.led.current, 'message');
  rig.heart.press();
  rig.heart.release();
  rig.clock.advance(3000);
  t.is(rig.played.filter((v) => v >= 3000 && v < 3060).length, 60);
  rig.boot();
  rig.clock.advance(2000);
  t.is(rig.app.player!.waiting(), 0, 'played messages stay played');
  t.is(rig.app.led.current, 'off');
});

test('a message recorded while offline is sent when the network returns', async (t) => {
  const { rig, phone } = await pairedRig();
  rig.broker.up = false;
  rig.broker.cut();
  rig.clock.advance(1000);
  rig.holdPaw(1500);
  rig.clock.advance(500);
  t.is(rig.published().length, 0);
  t.true(rig.app.outbox!.count() > 0, 'kept in the outbox');
  rig.boot(); // and the power goes off and on while offline
  rig.broker.up = true;
  rig.clock.advance(130000); // backoff up to 2 min
  const got = phone.open(rig.published());
  t.is(got.messages, 1);
  t.is(rig.app.outbox!.count(), 0);
});

test('the toy refuses to run without valid factory data: error pattern, no radio, no network', (t) => {
  const rig = new AppRig({ nvs: new MemoryStorage() });
  t.is(rig.app.identity, undefined);
  t.is(rig.app.toy.state, 'error');
  t.is(rig.app.led.current, 'error');
  rig.paw.press();
  rig.clock.advance(4000);
  t.is(rig.radio.advertising, undefined, 'never advertises');
  t.is(rig.broker.connects.length, 0, 'never connects');
});

test('after a factory reset the same phone pairs again and still accepts the toy\'s messages', async (t) => {
  const { rig, phone } = await pairedRig();
  rig.holdPaw(1500);
  rig.clock.advance(1000);
  t.is(phone.open(rig.published()).messages, 1);
  // paw + heart for 10 s: factory reset; the device restarts
  rig.heart.press();
  rig.paw.press();
  rig.clock.advance(10000);
  rig.paw.release();
  rig.heart.release();
  t.is(rig.resets, 1);
  rig.boot();
  t.is(rig.app.roster!.size, 0, 'the family is gone');
  t.is(rig.data.keys('ob.').length + rig.data.keys('ib.').length, 0, 'no stored message survives');
  t.is(rig.data.read('net'), undefined, 'no network settings survive');
  // pair the same phone again (it kept its replay record for the toy)
  rig.paw.press();
  rig.clock.advance(3000);
  rig.paw.release();
  const before = rig.published().length;
  await phone.pair('Mum');
  rig.clock.advance(2000);
  rig.holdPaw(1500);
  rig.clock.advance(1000);
  const after = rig.published().slice(before);
  t.true(after.length > 0);
  t.is(phone.open(after).messages, 1, 'not refused as a replay: the toy\'s send counter kept rising');
});
