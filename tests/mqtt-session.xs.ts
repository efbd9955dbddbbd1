/**
 * The firmware's MQTT path (session + outbox + inbox + codec) inside the real XS
 * engine, on a ManualClock against the in-process FakeBroker: offline recording
 * sent on reconnect, delivery to the toy, a malformed packet, and a power-cut sweep.
 */
import { test } from './xs/harness.js';
import { Inbox } from '../src/inbox.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { IN, OUT, TOY, ToyRig, hex, powerCutRun, testChunk } from './mqtt-rig.js';

const msg = (i: number, n = 300) => testChunk(i, n);

test('offline message goes out once after the broker returns; incoming is played once', (t) => {
  const rig = new ToyRig();
  rig.broker.up = false;
  rig.run(100);
  t.is(rig.cur.session.send(OUT, msg(1)), 'OK');
  rig.run(10000, 50);
  t.is(rig.broker.published.length, 0);
  rig.broker.deliver(TOY, IN, msg(2));
  rig.broker.up = true;
  rig.run(60000, 50);
  t.is(rig.cur.session.state, 'online');
  t.is(rig.broker.published.length, 1);
  t.deepEqual(rig.broker.published[0]!.payload, msg(1));
  t.is(rig.played.get(hex(msg(2))), 1);
  t.is(rig.cur.outbox.count(), 0);
});

test('malformed packet: typed error, reconnect, still delivers', (t) => {
  const rig = new ToyRig();
  rig.run(100);
  rig.broker.inject(new Uint8Array([0x90, 0x03, 0x00, 0x01, 0x07]));
  rig.run(5000, 50);
  t.is(rig.errors[0]!.code, 'MALFORMED');
  t.is(rig.cur.session.state, 'online');
  rig.cur.session.send(OUT, msg(3));
  rig.run(200);
  t.is(rig.broker.published.length, 1);
});

test('power cut at every storage step: exactly once both ways (XS)', (t) => {
  for (let k = 0; k <= 14; k++) {
    const rig = powerCutRun(k, { count: 2, bytes: 300, runMs: 60000, stepMs: 100 });
    const parent = new Inbox({ storage: new MemoryStorage() });
    let handed = 0;
    parent.setConsumer(() => { handed++; });
    for (const p of rig.broker.published) parent.accept(p.topic, p.payload);
    t.is(handed, 2, `cut at ${k}: outgoing`);
    t.is(rig.played.get(hex(msg(100))), 1, `cut at ${k}: incoming 0`);
    t.is(rig.played.get(hex(msg(101))), 1, `cut at ${k}: incoming 1`);
  }
});
