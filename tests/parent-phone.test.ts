/**
 * phone/parent-phone.ts and phone/message-history.ts against a whole toy on fakes
 * (tests/app-rig.ts: the firmware's src/app.ts, the simulated radio, an in-process
 * broker): pairing, sending real Opus packets, receiving the toy's recording, the
 * sealed history on disk (no plaintext), states that only move forward, a message
 * whose chunks span two runs, and damaged history files that cost only themselves.
 */
import test from 'ava';
import { AppRig } from './app-rig.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { MemoryFiles } from './fakes/memory-files.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { SimCentral } from '../sim/ble-sim.js';
import { OpusCodecHost } from '../sim/opus-codec-host.js';
import { ParentPhone, ParentError, type ParentLink } from '../phone/parent-phone.js';
import { HistoryError } from '../phone/message-history.js';
import { readOggOpus } from '../phone/ogg-opus.js';
import { encodePcm } from '../phone/audio-import.js';
import { encodeStatus, familyTopics } from '../src/family-note.js';

function speechLike(seconds: number): Int16Array {
  const s = new Int16Array(16000 * seconds);
  for (let i = 0; i < s.length; i++) s[i] = Math.round(8000 * Math.sin((2 * Math.PI * 180 * i) / 16000) * (0.6 + 0.4 * Math.sin(i / 900)));
  return s;
}

function opusPackets(seconds: number): Uint8Array[] {
  const c = new OpusCodecHost();
  const p = encodePcm(speechLike(seconds), c);
  c.close();
  return p;
}

class RigLink implements ParentLink {
  published = 0;
  fail = false;
  constructor(private readonly rig: AppRig) {}
  async publish(topic: string, payload: Uint8Array): Promise<void> {
    if (this.fail) throw new Error('broker unreachable');
    if (topic !== this.rig.topics.in) throw new Error(`unexpected topic ${topic}`);
    this.published++;
    this.rig.deliver([payload]);
  }
}

async function setup() {
  const rig = new AppRig();
  rig.holdPaw(3000);
  const storage = new MemoryStorage();
  const files = new MemoryFiles();
  const make = () => new ParentPhone({ storage, files, crypto: naclCrypto, random: rig.random, clock: rig.clock });
  const phone = make();
  const central = new SimCentral(rig.radio);
  await phone.pair(
    async () => {
      t0(central.connect() === 'OK');
      return central;
    },
    { setupCode: rig.setupCode, name: 'Mum', toyName: 'Teddy', brokerUrl: 'mqtt://relay.test:8883', network: { ssid: 'Home', passphrase: 'correct horse battery', brokerHost: 'relay.test', brokerPort: 8883 } },
  );
  central.disconnect();
  rig.clock.advance(2000);
  return { rig, storage, files, phone, make };
}
function t0(ok: boolean): void {
  if (!ok) throw new Error('radio connect failed');
}

test('pair, send real Opus to the toy, receive its recording: history sealed on disk, with names, times, states', async (t) => {
  const { rig, files, phone } = await setup();
  t.is(rig.app.roster!.size, 1);
  t.regex(phone.paired!.brokerUser, /^ph-[0-9a-f]{32}$/);
  t.is(phone.paired!.toyName, 'Teddy');

  // send
  const packets = opusPackets(2);
  const link = new RigLink(rig);
  const sent = await phone.send(packets, link);
  t.is(sent.state, 'queued');
  t.is(sent.direction, 'sent');
  t.is(sent.name, 'Mum');
  t.is(sent.durationMs, 2000);
  t.is(link.published, sent.chunks.length);
  rig.clock.advance(500);
  t.is(rig.app.player!.waiting(), 1, 'the toy admitted the message: the heart glows');

  // the sent message opens again from disk, packet for packet
  const opened = phone.history.open(sent.id.slice(0, 6));
  t.deepEqual(opened.packets, packets);
  // and no packet's bytes lie in clear in the stored file
  const file = files.data.get(`m-${sent.id}.pm`)!;
  const hay = Buffer.from(file);
  let clear = 0;
  for (const p of packets) if (p.length >= 12 && hay.indexOf(Buffer.from(p.subarray(0, 12))) >= 0) clear++;
  t.is(clear, 0, 'packets are stored sealed');

  // receive the child's recording
  const before = rig.published().length;
  rig.holdPaw(1500);
  rig.clock.advance(1000);
  const chunks = rig.published().slice(before);
  t.true(chunks.length >= 2);
  const results = chunks.map((c) => phone.receive(c));
  t.deepEqual(results.slice(0, -1).map((r) => r.outcome), chunks.slice(0, -1).map(() => 'partial'));
  const last = results[results.length - 1]!;
  t.is(last.outcome, 'stored');
  t.is(last.record!.name, 'Teddy');
  t.is(last.record!.state, 'delivered');
  t.true(last.record!.durationMs >= 1400 && last.record!.durationMs <= 1600, `${last.record!.durationMs} ms`);
  t.is(phone.arriving, 0);
  t.false(files.list().some((f) => f.startsWith('p-')), 'no partial file left');
  // a redelivered chunk (QoS 1 duplicate) is counted and dropped, not stored twice
  t.is(phone.receive(chunks[0]!).outcome, 'dropped');
  const list = phone.history.list();
  t.is(list.records.length, 2);
  t.deepEqual(list.corrupt, []);
  t.deepEqual(list.records.map((r) => r.direction).sort(), ['received', 'sent']);
});

test('states move only forward (queued → delivered → heard): the receipts entry point', async (t) => {
  const { rig, phone } = await setup();
  const r = await phone.send(opusPackets(1), new RigLink(rig));
  t.false(phone.setState(r.id, 'queued'), 'already queued');
  t.true(phone.setState(r.id, 'delivered'));
  t.true(phone.setState(r.id, 'heard'));
  t.false(phone.setState(r.id, 'delivered'), 'a late delivered receipt does not undo heard');
  t.is(phone.history.get(r.id).state, 'heard');
  t.is(t.throws(() => phone.setState('0123456789abcdef0123456789abcdef', 'heard'), { instanceOf: HistoryError })!.code, 'NOT_FOUND');
});

test('receipts from the toy move a sent message to delivered; forged, replayed and unknown notes are counted, never thrown', async (t) => {
  const { rig, phone, make } = await setup();
  const r = await phone.send(opusPackets(1), new RigLink(rig));
  rig.clock.advance(500);
  const fam = phone.topics().fam;
  const notes = rig.broker.published.filter((p) => p.topic === fam).map((p) => p.payload);
  t.true(notes.length >= 1, 'the toy sent a receipt');
  const n = phone.receiveNote(notes[0]!);
  t.is(n?.kind, 'receipt');
  t.is(phone.history.get(r.id).state, 'delivered');
  // the same note again (a replay by the relay): refused, counted, the state stays
  t.is(phone.receiveNote(notes[0]!), undefined);
  t.is(phone.counters.get('family.STALE'), 1);
  // a restarted phone keeps the last seq: the replay is still refused
  t.is(make().receiveNote(notes[0]!), undefined);
  // garbage and a flipped byte: typed refusals, counted
  t.is(phone.receiveNote(new Uint8Array(3)), undefined);
  const flipped = notes[0]!.slice();
  flipped[flipped.length - 1]! ^= 1;
  t.is(phone.receiveNote(flipped), undefined);
  t.true(phone.counters.get('family.SIZE') + phone.counters.get('family.AUTH') + phone.counters.get('family.STALE') >= 3);
  t.is(phone.history.get(r.id).state, 'delivered');
  // a malformed status record is counted, not thrown
  t.is(phone.readStatus(new Uint8Array([9, 9])), undefined);
  t.is(phone.counters.get('parent.status_malformed'), 1);
});

test('export: a sent message becomes an Ogg Opus file of the same packets', async (t) => {
  const { rig, phone } = await setup();
  const packets = opusPackets(1);
  const r = await phone.send(packets, new RigLink(rig));
  const { ogg } = phone.exportOgg(r.id);
  const back = readOggOpus(ogg);
  t.deepEqual(back.packets, packets);
  t.true(back.comments.includes('ARTIST=Mum'));
});

test('a message whose chunks arrive over two runs of the app is stored whole', async (t) => {
  const { rig, phone, make } = await setup();
  rig.holdPaw(2500);
  rig.clock.advance(1000);
  const chunks = rig.published();
  t.true(chunks.length >= 3);
  for (const c of chunks.slice(0, 2)) t.is(phone.receive(c).outcome, 'partial');
  // the app is closed; a new run of it, from the same data
  const again = make();
  t.is(again.arriving, 1);
  const outs = chunks.slice(2).map((c) => again.receive(c).outcome);
  t.is(outs[outs.length - 1], 'stored');
  const rec = again.history.list().records[0]!;
  t.is(rec.chunks.length, chunks.length);
  t.is(again.history.open(rec.id).packets.length, Math.round(rec.durationMs / 20));
});

test('a damaged history file is a typed error and a counter; every other message stays readable', async (t) => {
  const { rig, files, phone } = await setup();
  const link = new RigLink(rig);
  const a = await phone.send(opusPackets(1), link);
  const b = await phone.send(opusPackets(1), link);
  const name = `m-${a.id}.pm`;
  const good = files.data.get(name)!;
  let cases = 0;
  const positions = [...Array(60).keys(), ...Array.from({ length: 40 }, (_, i) => Math.floor((good.length * i) / 40))];
  for (const at of positions) {
    const bad = good.slice();
    bad[at]! ^= 0x41;
    files.data.set(name, bad);
    const l = phone.history.list();
    t.deepEqual(l.corrupt, [name], `flip at ${at}`);
    t.deepEqual(l.records.map((r) => r.id), [b.id]);
    t.is(t.throws(() => phone.history.open(a.id), { instanceOf: HistoryError })!.code, 'CORRUPT');
    cases++;
  }
  for (const n of [0, 3, 10, 34, 35, 100, good.length - 1]) {
    files.data.set(name, good.subarray(0, n));
    t.deepEqual(phone.history.list().corrupt, [name], `truncated to ${n}`);
  }
  t.true(phone.counters.get('history.corrupt') >= cases);
  // setState on a damaged record leaves the file as it is
  files.data.set(name, good.subarray(0, 50));
  t.throws(() => phone.setState(a.id, 'heard'), { instanceOf: HistoryError });
  t.is(files.data.get(name)!.length, 50);
  // restored: readable again
  files.data.set(name, good);
  t.is(phone.history.list().records.length, 2);
});

test('sending while the relay is unreachable keeps the message as "sending"; nothing is lost', async (t) => {
  const { rig, phone } = await setup();
  const link = new RigLink(rig);
  link.fail = true;
  await t.throwsAsync(() => phone.send(opusPackets(1), link), { message: /unreachable/ });
  const l = phone.history.list();
  t.is(l.records.length, 1);
  t.is(l.records[0]!.state, 'sending');
});

test('before pairing: NOT_PAIRED; a bad name is refused before the radio is used', async (t) => {
  const storage = new MemoryStorage();
  const phone = new ParentPhone({ storage, files: new MemoryFiles(), crypto: naclCrypto, random: { fill: (b) => b.fill(7) }, clock: { wallNow: () => Date.UTC(2026, 0, 1) } });
  t.is(t.throws(() => phone.history, { instanceOf: ParentError })!.code, 'NOT_PAIRED');
  t.is(phone.receive(new Uint8Array(100)).outcome, 'dropped');
  const rig = new AppRig();
  let radioUsed = 0;
  await t.throwsAsync(
    () => phone.pair(async () => (radioUsed++, new SimCentral(rig.radio)), { setupCode: rig.setupCode, name: 'x'.repeat(40), brokerUrl: 'mqtt://x:1' }),
    { instanceOf: ParentError },
  );
  t.is(radioUsed, 0);
  // a damaged pairing record is a typed error, not a crash
  storage.write('parent.pair', new TextEncoder().encode('{"toyId":'));
  t.is(t.throws(() => new ParentPhone({ storage, files: new MemoryFiles(), crypto: naclCrypto, random: { fill: (b) => b.fill(7) }, clock: { wallNow: () => 0 } }), { instanceOf: ParentError })!.code, 'STORE');
});

test('family settings sealed by two runs of the app within one second are both applied by the toy (the settings seq is kept on the phone)', async (t) => {
  const { rig, phone, make } = await setup();
  const set = familyTopics(rig.toyId).set;
  const deliver = (note: Uint8Array) => {
    rig.broker.deliver(rig.toyId, set, note);
    rig.clock.advance(50);
  };
  const quiet = { quietEnabled: true, quietStartMin: 19 * 60, quietEndMin: 7 * 60, utcOffsetMin: 0, volumePercent: 60 };
  deliver(phone.sealSettings(quiet));
  t.is(rig.app.family!.settings.volumePercent, 60);
  // the app is closed and opened again within the same second of the wall clock
  const again = make();
  deliver(again.sealSettings({ ...quiet, volumePercent: 35 }));
  t.is(rig.app.family!.settings.volumePercent, 35, 'the second run\'s settings are newer, not refused as stale');
  t.is(rig.app.counters.get('family.settings_applied'), 2);
  t.is(rig.app.counters.get('family.settings_refused_STALE'), 0);
});

test('the last will of a toy the relay has never queued for (status state 2) does not count as seen: messages stay on the phone; a plain "offline" does', async (t) => {
  const { phone } = await setup();
  t.false(phone.toySeen);
  t.deepEqual(phone.readStatus(encodeStatus(false, 1_700_000_000_000, true)), { online: false, sinceMs: 1_700_000_000_000, neverSubscribed: true });
  t.false(phone.toySeen, 'a new toy\'s will: the relay would drop what is sent now');
  t.deepEqual(phone.readStatus(encodeStatus(false, 1_700_000_000_000)), { online: false, sinceMs: 1_700_000_000_000 });
  t.true(phone.toySeen, 'a plain offline record: the relay keeps a queue for the toy');
});
