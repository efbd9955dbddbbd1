// The family features (issue 15, issue 11) in XS and in Node: sealed notes
// (src/family-note.ts), the toy's side (src/family-service.ts wired in src/app.ts)
// and the phone's side (phone/phone-family.ts): receipts delivered → heard, the
// toy's online status and last will, family settings (quiet hours, volume limit)
// enforced and kept across a restart, member notices to every other member.
import { test } from './xs/harness.js';
import { AppRig, Phone, pairedRig } from './app-rig.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { toHex } from '../src/envelope-format.js';
import {
  DEFAULT_SETTINGS,
  FamilyNoteError,
  NOTE_BYTES,
  decodeSettings,
  encodeNoteBody,
  familyTopics,
  noteKey,
  openNote,
  sealNote,
  type FamilySettings,
} from '../src/family-note.js';
import { SETTINGS_KEY } from '../src/family-service.js';
import { pairWithToy } from '../phone/phone-pairing.js';
import { SimCentral } from '../sim/ble-sim.js';
import { DeliveryTracker, PhoneFamily, parseToyStatus } from '../phone/phone-family.js';

/** Pairs one more phone: paw + heart held 3 s, released (the family already has a phone). */
async function pairAnother(rig: AppRig, n: number, name: string, remove?: string[]): Promise<Phone> {
  rig.paw.press();
  rig.heart.press();
  rig.clock.advance(3500);
  rig.heart.release();
  rig.paw.release();
  const phone = new Phone(rig, n);
  if (remove) {
    // a member removing another one connects again (its REGISTER is idempotent) and sends REMOVE
    const central = new SimCentral(rig.radio);
    if (central.connect() !== 'OK') throw new Error('connect');
    await pairWithToy(central, {
      crypto: naclCrypto,
      random: rig.random,
      setupCode: rig.setupCode,
      member: naclCrypto.boxKeyPairFromSecret(phone.secretKey),
      memberId: `phone${n}`,
      name,
      remove,
    });
    central.disconnect();
  } else await phone.pair(name);
  rig.clock.advance(2000);
  return phone;
}

function familyOf(rig: AppRig, phone: Phone): PhoneFamily {
  return new PhoneFamily({ crypto: naclCrypto, random: rig.random, clock: rig.clock, secretKey: phone.secretKey, toyPublicKey: phone.pairing.toyPublicKey, sharedKey: phone.pairing.sharedKey });
}

const famNotes = (rig: AppRig) => rig.broker.published.filter((p) => p.topic === familyTopics(rig.toyId).fam).map((p) => p.payload);

/** Opens every note on the fam topic that is for this phone; the others fail with AUTH. */
function notesFor(fam: PhoneFamily, notes: Uint8Array[]): ReturnType<PhoneFamily['openToyNote']>[] {
  const out: ReturnType<PhoneFamily['openToyNote']>[] = [];
  for (const n of notes) {
    try {
      out.push(fam.openToyNote(n));
    } catch (e) {
      if (!(e instanceof FamilyNoteError) || (e.code !== 'AUTH' && e.code !== 'STALE')) throw e;
    }
  }
  return out;
}

const QUIET: FamilySettings = { quietEnabled: true, quietStartMin: 19 * 60, quietEndMin: 7 * 60, utcOffsetMin: 60, volumePercent: 40 };

// ---------------------------------------------------------------- the note format

test('a note opens only for its recipient, in its direction, untampered; every note is 137 bytes whatever it says', (t) => {
  const c = naclCrypto;
  const toy = c.boxKeyPairFromSecret(new Uint8Array(32).fill(1));
  const mum = c.boxKeyPairFromSecret(new Uint8Array(32).fill(2));
  const dad = c.boxKeyPairFromSecret(new Uint8Array(32).fill(3));
  const kMum = c.boxBefore(mum.publicKey, toy.secretKey);
  const kDad = c.boxBefore(dad.publicKey, toy.secretKey);
  const nonce = new Uint8Array(24).fill(7);
  const receipt = sealNote(c, noteKey(c, kMum, toy.publicKey, mum.publicKey), toy.publicKey, nonce, encodeNoteBody(5, Date.UTC(2026, 0, 1), { kind: 'receipt', messageId: new Uint8Array(16).fill(9), state: 'heard' }));
  const notice = sealNote(c, noteKey(c, kMum, toy.publicKey, mum.publicKey), toy.publicKey, nonce, encodeNoteBody(6, 0, { kind: 'member', change: 'added', id: 'dad', name: 'Dad' }));
  t.is(receipt.length, NOTE_BYTES);
  t.is(notice.length, NOTE_BYTES);
  const asMum = (s: Uint8Array) => (toHex(s) === toHex(toy.publicKey) ? noteKey(c, kMum, toy.publicKey, mum.publicKey) : undefined);
  const r = openNote(c, receipt, asMum);
  t.deepEqual(r.content, { kind: 'receipt', messageId: new Uint8Array(16).fill(9), state: 'heard' });
  t.is(r.seq, 5);
  t.is(r.timeMs, Date.UTC(2026, 0, 1));
  t.deepEqual(openNote(c, notice, asMum).content, { kind: 'member', change: 'added', id: 'dad', name: 'Dad' });
  const code = (f: () => unknown) => {
    try {
      f();
      return 'none';
    } catch (e) {
      return e instanceof FamilyNoteError ? e.code : 'other';
    }
  };
  // Dad cannot open Mum's note; the reverse direction's key does not open it either
  t.is(code(() => openNote(c, receipt, () => noteKey(c, kDad, toy.publicKey, dad.publicKey))), 'AUTH');
  t.is(code(() => openNote(c, receipt, () => noteKey(c, kMum, mum.publicKey, toy.publicKey))), 'AUTH');
  for (const at of [0, 1, 40, 60, 100, 136]) {
    const bad = receipt.slice();
    bad[at]! ^= 1;
    t.true(['AUTH', 'VERSION', 'UNKNOWN_SENDER'].includes(code(() => openNote(c, bad, asMum))), `byte ${at} flipped`);
  }
  t.is(code(() => openNote(c, receipt.subarray(0, 136), asMum)), 'SIZE');
  t.is(code(() => openNote(c, receipt, () => undefined)), 'UNKNOWN_SENDER');
  // non-zero padding and an unknown kind, correctly sealed, are refused
  const k = noteKey(c, kMum, toy.publicKey, mum.publicKey);
  const body = encodeNoteBody(7, 0, { kind: 'receipt', messageId: new Uint8Array(16), state: 'delivered' });
  body[63] = 1;
  t.is(code(() => openNote(c, sealNote(c, k, toy.publicKey, nonce, body), asMum)), 'MALFORMED');
  body[63] = 0;
  body[0] = 9;
  t.is(code(() => openNote(c, sealNote(c, k, toy.publicKey, nonce, body), asMum)), 'KIND');
});

test('settings out of bounds are BAD_SETTINGS, field by field', (t) => {
  const bad: Partial<FamilySettings>[] = [
    { volumePercent: 0 }, { volumePercent: 101 }, { volumePercent: 50.5 }, { quietStartMin: 1440 }, { quietEndMin: -1 },
    { utcOffsetMin: 841 }, { utcOffsetMin: -721 }, { quietStartMin: 600, quietEndMin: 600 },
  ];
  for (const b of bad) {
    const s = { ...QUIET, ...b };
    let code = 'none';
    try {
      encodeNoteBody(1, 0, { kind: 'settings', settings: s });
    } catch (e) {
      code = e instanceof FamilyNoteError ? e.code : 'other';
    }
    t.is(code, 'BAD_SETTINGS', JSON.stringify(b));
  }
  const body = encodeNoteBody(1, 0, { kind: 'settings', settings: QUIET });
  t.deepEqual(decodeSettings(body, 9), QUIET);
  body[16] = 0; // volume 0 on the wire
  let code = 'none';
  try {
    decodeSettings(body, 9);
  } catch (e) {
    code = e instanceof FamilyNoteError ? e.code : 'other';
  }
  t.is(code, 'BAD_SETTINGS');
});

test('the delivery tracker moves only forward: sending → queued → delivered → heard', (t) => {
  const d = new DeliveryTracker(2);
  const id = 'ab'.repeat(16);
  d.sent(id);
  t.is(d.state(id), 'sending');
  d.queued(id);
  t.is(d.receipt({ messageId: id, state: 'heard', timeMs: 5000 }), 'heard');
  t.is(d.receipt({ messageId: id, state: 'delivered', timeMs: 4000 }), 'heard', 'a late delivered receipt does not move it back');
  d.queued(id);
  t.is(d.state(id), 'heard');
  t.is(d.at(id), 5000);
  d.sent('01'.repeat(16));
  d.sent('02'.repeat(16));
  t.is(d.state(id), undefined, 'bounded: the oldest is forgotten');
});

// ---------------------------------------------------------------- receipts

test('receipts: the sender gets a sealed "delivered" when the toy stores the message and "heard" when the child played it; not again after a restart', async (t) => {
  const { rig, phone } = await pairedRig();
  const fam = familyOf(rig, phone);
  const tracker = new DeliveryTracker();
  const msg = phone.env.begin();
  const pkt = new Uint8Array(40).fill(0xa5);
  const chunks: Uint8Array[] = [];
  for (let k = 0; k < 60; k++) {
    const c = msg.addPacket(pkt, pkt.length);
    if (c) chunks.push(c);
  }
  chunks.push(msg.finish());
  const id = toHex(msg.messageId);
  tracker.sent(id);
  tracker.queued(id); // the relay's PUBACK (here: the fake broker takes it at once)
  rig.deliver(chunks);
  rig.clock.advance(500);
  let notes = notesFor(fam, famNotes(rig));
  t.is(notes.length, 1);
  t.is(notes[0]!.kind, 'receipt');
  if (notes[0]!.kind === 'receipt') {
    t.is(notes[0]!.messageId, id);
    t.is(notes[0]!.state, 'delivered');
    t.true(Math.abs(notes[0]!.timeMs - rig.clock.wallNow()) < 2000, 'the toy\'s time');
    tracker.receipt(notes[0]!);
  }
  t.is(tracker.state(id), 'delivered');
  // the relay sees nothing of it: no message id in clear on the wire
  for (const n of famNotes(rig)) t.false(toHex(n).includes(id), 'message id not in clear');

  // a power cycle re-admits the stored message: no second "delivered"
  rig.boot();
  rig.clock.advance(2000);
  t.is(rig.app.player!.waiting(), 1);
  t.is(notesFor(fam, famNotes(rig)).length, 0, 'no new receipt after the restart');

  rig.heart.press();
  rig.heart.release();
  rig.clock.advance(4000);
  t.is(rig.app.toy.state, 'idle');
  notes = notesFor(fam, famNotes(rig));
  t.is(notes.length, 1);
  if (notes[0]?.kind === 'receipt') {
    t.is(notes[0].state, 'heard');
    t.is(notes[0].messageId, id);
    tracker.receipt(notes[0]);
  }
  t.is(tracker.state(id), 'heard');
  t.is(rig.app.counters.get('family.receipt_delivered'), 0, 'this boot sent no delivered receipt');
  t.is(rig.app.counters.get('family.receipt_heard'), 1);
  // a relay replaying an old receipt: STALE
  let code = 'none';
  try {
    fam.openToyNote(famNotes(rig)[0]!);
  } catch (e) {
    code = e instanceof FamilyNoteError ? e.code : 'other';
  }
  t.is(code, 'STALE');
});

// ---------------------------------------------------------------- status

test('status: CONNECT carries a retained "offline" last will; "online" is retained after CONNACK; a clean close publishes "offline"', async (t) => {
  const { rig } = await pairedRig();
  const topic = familyTopics(rig.toyId).status;
  const c = rig.broker.connects[rig.broker.connects.length - 1]!;
  t.is(c.will?.topic, topic);
  t.is(c.will?.retain, true);
  t.is(c.will?.qos, 1);
  const will = parseToyStatus(c.will!.payload);
  t.is(will.online, false);
  t.true(Math.abs(will.sinceMs - rig.clock.wallNow()) < 5000, 'since = when this session connected');
  const st = rig.broker.published.filter((p) => p.topic === topic);
  t.is(st.length, 1);
  t.is(st[0]!.retain, true);
  t.deepEqual(parseToyStatus(st[0]!.payload), { online: true, sinceMs: will.sinceMs });
  // the status reveals nothing else: 6 bytes, version, state, time
  t.is(st[0]!.payload.length, 6);
  rig.app.close();
  rig.clock.advance(10); // bytes written before the close still reach the broker
  const after = rig.broker.published.filter((p) => p.topic === topic);
  t.is(after.length, 2);
  t.is(parseToyStatus(after[1]!.payload).online, false);
  t.is(parseToyStatus(rig.broker.retained.get(topic)!).online, false, 'the retained record says offline');
});

test('status: "online" only after the broker granted the subscriptions (before the SUBACK a first-ever session has no queue)', async (t) => {
  const denied = new AppRig();
  denied.broker.denySubscribe = true;
  const { rig } = await pairedRig(denied);
  const topic = familyTopics(rig.toyId).status;
  const status = () => rig.broker.published.filter((p) => p.topic === topic && parseToyStatus(p.payload).online);
  t.true(rig.broker.connects.length >= 1, 'the toy connected');
  t.true((rig.app.counters.get('mqtt.sub_refused') ?? 0) >= 1, 'its SUBSCRIBE was refused');
  t.is(status().length, 0, 'no "online" record while the broker keeps no queue for the toy');
  // each CONNECT's last will says "offline and new" (state 2): a phone keeps what it sends
  const wills = () => rig.broker.connects.map((c) => parseToyStatus(c.will!.payload));
  t.true(wills().every((w) => !w.online && w.neverSubscribed === true), 'every will before a SUBACK says "new"');
  // the broker grants the subscriptions on a later connection: "online" follows
  rig.broker.denySubscribe = false;
  for (let i = 0; i < 900 && status().length === 0; i++) rig.clock.advance(1000);
  t.is(status().length, 1);
  t.true((rig.broker.subscriptions.get(rig.toyId) ?? []).includes(rig.topics.in), 'subscribed before it said online');
  // from now on the relay keeps a queue for the toy: the next connection's will is a plain "offline"
  const before = rig.broker.connects.length;
  rig.broker.cut();
  for (let i = 0; i < 900 && rig.broker.connects.length === before; i++) rig.clock.advance(1000);
  const last = wills()[wills().length - 1]!;
  t.true(rig.broker.connects.length > before, 'the toy reconnected');
  t.false(last.online);
  t.is(last.neverSubscribed, undefined, 'a plain "offline" will once the subscriptions were granted');
  t.deepEqual([...rig.data.read('mq.subscribed') ?? []], [1], 'kept across restarts (one write, ever)');
});

// ---------------------------------------------------------------- settings

test('settings: a member\'s sealed volume limit and quiet hours are applied, stored, and kept across a restart; bad, stale or foreign settings are refused and the old ones kept', async (t) => {
  const { rig, phone } = await pairedRig();
  const topics = familyTopics(rig.toyId);
  const fam = familyOf(rig, phone);
  t.is(rig.speaker.volume, 1);
  rig.broker.deliver(rig.toyId, topics.set, fam.sealSettings(QUIET));
  rig.clock.advance(100);
  t.is(rig.app.counters.get('family.settings_applied'), 1);
  t.deepEqual(rig.app.family!.settings, QUIET);
  t.is(Math.round(rig.speaker.volume * 100), 40);
  t.true(rig.data.read(SETTINGS_KEY) !== undefined);

  // a restart keeps them
  rig.boot();
  rig.clock.advance(2000);
  t.deepEqual(rig.app.family!.settings, QUIET);
  t.is(Math.round(rig.speaker.volume * 100), 40, 'the new speaker gets the limit at boot');

  // a replayed (older) note: STALE
  const old = fam.sealSettings({ ...QUIET, volumePercent: 90 });
  const newer = fam.sealSettings({ ...QUIET, volumePercent: 70 });
  rig.broker.deliver(rig.toyId, topics.set, newer);
  rig.broker.deliver(rig.toyId, topics.set, old);
  rig.clock.advance(100);
  t.is(rig.app.family!.settings.volumePercent, 70);
  t.is(rig.app.counters.get('family.settings_refused_STALE'), 1);

  // a correctly sealed note with a volume of 0: BAD_SETTINGS, counted, old settings kept
  const me = naclCrypto.boxKeyPairFromSecret(phone.secretKey);
  const k = noteKey(naclCrypto, phone.pairing.sharedKey, me.publicKey, phone.pairing.toyPublicKey);
  const body = encodeNoteBody(4_000_000_000, 0, { kind: 'settings', settings: QUIET });
  body[16] = 0;
  rig.broker.deliver(rig.toyId, topics.set, sealNote(naclCrypto, k, me.publicKey, new Uint8Array(24).fill(3), body));
  // a stranger's note, garbage, and a receipt-kind note
  const stranger = new PhoneFamily({ crypto: naclCrypto, random: rig.random, clock: rig.clock, secretKey: new Uint8Array(32).fill(0x77), toyPublicKey: phone.pairing.toyPublicKey });
  rig.broker.deliver(rig.toyId, topics.set, stranger.sealSettings({ ...QUIET, volumePercent: 100 }));
  rig.broker.deliver(rig.toyId, topics.set, new Uint8Array(50));
  rig.broker.deliver(rig.toyId, topics.set, sealNote(naclCrypto, k, me.publicKey, new Uint8Array(24).fill(4), encodeNoteBody(4_100_000_000, 0, { kind: 'receipt', messageId: new Uint8Array(16), state: 'heard' })));
  rig.clock.advance(100);
  t.is(rig.app.counters.get('family.settings_refused_BAD_SETTINGS'), 1);
  t.is(rig.app.counters.get('family.settings_refused_UNKNOWN_SENDER'), 1);
  t.is(rig.app.counters.get('family.settings_refused_SIZE'), 1);
  t.is(rig.app.counters.get('family.settings_refused_KIND'), 1);
  t.is(rig.app.family!.settings.volumePercent, 70, 'old settings kept');
  t.is(Math.round(rig.speaker.volume * 100), 70);
  t.is(rig.app.session()?.state, 'online', 'bad settings do not cost the connection');
  t.is(rig.broker.pendingFor(rig.toyId), 0, 'every settings note was acknowledged');
});

test('quiet hours: the heart does not glow and nothing plays; the message waits and glows when quiet hours end', async (t) => {
  const { rig, phone } = await pairedRig();
  const fam = familyOf(rig, phone);
  // 20:30 local (UTC+1) = 19:30 UTC
  rig.clock.setWall(Date.UTC(2026, 10, 28, 19, 30));
  rig.broker.deliver(rig.toyId, familyTopics(rig.toyId).set, fam.sealSettings(QUIET));
  rig.clock.advance(100);
  rig.deliver(phone.sealMessage(40));
  rig.clock.advance(500);
  t.is(rig.app.player!.waiting(), 1, 'stored');
  t.is(rig.app.led.current, 'off', 'no glow during quiet hours');
  rig.heart.press();
  rig.heart.release();
  rig.clock.advance(100);
  t.is(rig.app.toy.state, 'idle', 'nothing plays');
  t.is(rig.app.counters.get('family.quiet_held'), 1);
  // 06:59 local: still quiet; 07:00 local: the check within 30 s lights the heart
  rig.clock.setWall(Date.UTC(2026, 10, 29, 5, 59));
  rig.clock.advance(30_000);
  t.is(rig.app.led.current, 'off');
  rig.clock.setWall(Date.UTC(2026, 10, 29, 6, 0));
  rig.clock.advance(30_000);
  t.is(rig.app.led.current, 'message', 'glows after quiet hours');
  rig.heart.press();
  rig.heart.release();
  t.is(rig.app.toy.state, 'playing');
  rig.clock.advance(3000);
  t.is(rig.app.player!.waiting(), 0);
});

test('quiet hours with no valid wall clock are not applied (counted): the toy still plays what it holds', async (t) => {
  const { rig, phone } = await pairedRig();
  const fam = familyOf(rig, phone);
  rig.clock.setWall(Date.UTC(2026, 10, 28, 19, 30));
  rig.broker.deliver(rig.toyId, familyTopics(rig.toyId).set, fam.sealSettings({ ...QUIET, quietStartMin: 0, quietEndMin: 1439 }));
  rig.clock.advance(100);
  rig.deliver(phone.sealMessage(40));
  rig.clock.advance(500);
  t.is(rig.app.led.current, 'off');
  rig.clock.setWall(1000); // 1970: the clock was never set
  rig.clock.advance(30_000);
  t.is(rig.app.led.current, 'message');
  t.true(rig.app.counters.get('family.quiet_clock_unset') >= 1);
  t.is(DEFAULT_SETTINGS.quietEnabled, false, 'a new toy has no quiet hours');
});

// ---------------------------------------------------------------- member notices (issue 11)

test('member notices: when Dad\'s phone is added, Mum\'s phone gets a sealed notice naming it; when it is removed, the others are told', async (t) => {
  const { rig, phone: mum } = await pairedRig();
  const mumFam = familyOf(rig, mum);
  const dad = await pairAnother(rig, 2, 'Dad');
  t.is(rig.app.roster!.size, 2);
  const dadFam = familyOf(rig, dad);
  const forMum = notesFor(mumFam, famNotes(rig));
  t.is(forMum.length, 1);
  t.deepEqual(forMum[0]!.kind === 'member' ? { change: forMum[0]!.change, id: forMum[0]!.id, name: forMum[0]!.name } : undefined, { change: 'added', id: 'phone2', name: 'Dad' });
  t.is(notesFor(dadFam, famNotes(rig)).length, 0, 'the new phone is not told about itself');
  // nothing readable by the relay: the name is not on the wire
  for (const n of famNotes(rig)) t.false(toHex(n).includes(toHex(new TextEncoder().encode('Dad'))));

  // a third phone; then Mum removes Dad: Mum and Grandpa are told
  const gran = await pairAnother(rig, 3, 'Grandpa');
  const granFam = familyOf(rig, gran);
  notesFor(mumFam, famNotes(rig));
  notesFor(dadFam, famNotes(rig));
  notesFor(granFam, famNotes(rig));
  await pairAnother(rig, 1, 'Mum', ['phone2']);
  t.is(rig.app.roster!.size, 2);
  const m = notesFor(mumFam, famNotes(rig));
  const g = notesFor(granFam, famNotes(rig));
  t.deepEqual(m.map((n) => (n.kind === 'member' ? `${n.change} ${n.name}` : n.kind)), ['removed Dad']);
  t.deepEqual(g.map((n) => (n.kind === 'member' ? `${n.change} ${n.name}` : n.kind)), ['removed Dad']);
  t.is(rig.app.counters.get('family.member_added_notices'), 1 + 2);
  t.is(rig.app.counters.get('family.member_removed_notices'), 2);
});

// ---------------------------------------------------------------- kept note keys (issue 13)

test('receipts: notes sealed under the toy\'s kept note key open at the phone; after a member is removed, the phone that takes its place gets receipts under its own key', async (t) => {
  const { rig, phone: mum } = await pairedRig();
  const mumFam = familyOf(rig, mum);
  const dad = await pairAnother(rig, 2, 'Dad');
  const dadFam = familyOf(rig, dad);
  notesFor(mumFam, famNotes(rig)); // the notice about Dad
  /** One short message from `phone`, delivered and played to its end; the receipts `fam` can open. */
  const exchange = (phone: Phone, fam: PhoneFamily) => {
    const before = famNotes(rig).length;
    rig.deliver(phone.sealMessage(30));
    rig.clock.advance(500);
    rig.heart.press();
    rig.heart.release();
    rig.clock.advance(3000);
    return notesFor(fam, famNotes(rig).slice(before)).map((n) => (n.kind === 'receipt' ? n.state : n.kind));
  };
  t.deepEqual(exchange(mum, mumFam), ['delivered', 'heard'], 'Mum: the first receipt works the key out, the second uses the kept one');
  t.deepEqual(exchange(mum, mumFam), ['delivered', 'heard'], 'Mum: kept key');
  t.deepEqual(exchange(dad, dadFam), ['delivered', 'heard'], 'Dad');
  // Mum removes Dad; Grandpa's phone pairs and takes Dad's place in the member list
  await pairAnother(rig, 1, 'Mum', ['phone2']);
  const gran = await pairAnother(rig, 3, 'Grandpa');
  t.is(rig.app.roster!.list()[1]!.id, 'phone3', 'Grandpa has the place Dad had');
  const granFam = familyOf(rig, gran);
  const seen = famNotes(rig).length;
  t.deepEqual(exchange(gran, granFam), ['delivered', 'heard'], 'Grandpa opens his receipts');
  t.deepEqual(notesFor(dadFam, famNotes(rig).slice(seen)), [], 'Dad\'s phone opens none of them');
  t.deepEqual(exchange(mum, mumFam), ['delivered', 'heard'], 'Mum still');
  t.is(rig.app.counters.get('family.note_failed'), 0);
});
