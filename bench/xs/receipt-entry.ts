// XS entry for bench/probe-receipt.ts: what one family receipt costs in heap slots
// (issue 13). The whole toy (src/app.ts) on the test rig's fakes, paired with one
// phone and online; the broker goes lean (tests/mqtt-fakes.ts: it scans the toy's
// writes in place and allocates nothing), so the slots counted are the toy's own.
import { onXsCommand } from '../../tests/xs/commands.js';
import { AppRig, Phone } from '../../tests/app-rig.js';
import { familyTopics, NOTE_BYTES } from '../../src/family-note.js';

let rig: AppRig | undefined;
let paired = 'pending';
const KEY = '00112233445566778899aabbccddeeff';

declare const gc: (() => void) | undefined;

type Family = { receipt(s: Uint8Array, k: string, st: 'delivered' | 'heard'): void };

/** A new toy paired with one phone ("Mum"), online; the broker lean from then on. */
onXsCommand('setup', () => {
  const r = (rig = new AppRig());
  r.paw.press();
  r.clock.advance(3000);
  r.paw.release();
  new Phone(r, 1).pair('Mum').then(
    () => {
      r.clock.advance(2000);
      r.broker.startLean();
      r.clock.advance(100);
      paired = r.app.session()?.state === 'online' ? 'ok' : 'offline';
    },
    (e: unknown) => {
      paired = e instanceof Error ? e.message : 'failed';
    },
  );
  return null;
});
onXsCommand('paired', () => paired);

onXsCommand('noop', () => 0);
onXsCommand('collect', () => {
  if (typeof gc === 'function') gc();
  return null;
});
/** The clock runs `ms` (PUBACKs come back, the outbox's deadline timer fires). */
onXsCommand('advance', (ms) => {
  rig!.clock.advance(ms as number);
  return null;
});

const app = () => rig!.app as unknown as { family: Family; roster: { list(): readonly { publicKey: Uint8Array }[] } };

/** One receipt to the first member, as the player sends it (the outbox, the MQTT session, the lean broker). */
onXsCommand('receipt', (state) => {
  const a = app();
  a.family.receipt(a.roster.list()[0]!.publicKey, KEY, state === 'delivered' ? 'delivered' : 'heard');
  return null;
});

/**
 * The envelope's keys of the first member worked out (RosterKeys.sharedKeyFor, as receiving a
 * message from it does before any receipt goes back), so the first receipt's figure is the receipt's own.
 */
onXsCommand('warm', () => {
  const a = app() as unknown as { family: { o: { sharedKeyFor(pk: Uint8Array): unknown } }; roster: { list(): readonly { publicKey: Uint8Array }[] } };
  a.family.o.sharedKeyFor(a.roster.list()[0]!.publicKey);
  return null;
});

/** What the toy queued and published (checks that receipts went out). */
onXsCommand('counts', () => {
  const c = rig!.app.counters;
  return { heard: c.get('family.receipt_heard'), delivered: c.get('family.receipt_delivered'), failed: c.get('family.note_failed'), published: c.get('mqtt.published'), leanPublishes: rig!.broker.leanPublishes, outbox: rig!.app.outbox!.count() };
});

/**
 * The outbox and the MQTT session alone: one note-sized record on the family topic, the
 * way the app queues a note (src/app.ts `send`: Outbox.add, which copies it and lets the
 * session publish it). `outbox.prepare` first (the topic string is made once, as the app's).
 */
const note = new Uint8Array(NOTE_BYTES);
let famTopic = '';
onXsCommand('outbox.prepare', () => {
  famTopic = familyTopics(rig!.toyId).fam;
  return null;
});
onXsCommand('outbox.add', () => {
  rig!.app.outbox!.add(famTopic, note);
  return null;
});
