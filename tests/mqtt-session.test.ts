/**
 * The MQTT session on a ManualClock against the scriptable FakeBroker: handshake,
 * QoS 1 both ways, keepalive, reconnect with backoff and jitter, typed errors on bad
 * broker input, and power cuts at every storage step (exactly once both ways).
 */
import test from 'ava';
import { encode } from '../src/mqtt-codec.js';
import { IN, OUT, TOY, ToyRig, hex, powerCutRun, testChunk } from './mqtt-rig.js';
import { Inbox } from '../src/inbox.js';
import { MemoryStorage } from './fakes/memory-storage.js';

const msg = testChunk;

test('connects with its own credentials, a persistent session, and subscribes QoS 1', (t) => {
  const rig = new ToyRig();
  rig.run(100);
  t.is(rig.cur.session.state, 'online');
  const c = rig.broker.connects[0]!;
  t.is(c.clientId, TOY);
  t.is(c.username, TOY);
  t.is(new TextDecoder().decode(c.password), 'factory-secret');
  t.false(c.clean);
  t.is(c.keepalive, 60);
  t.deepEqual(rig.broker.subscriptions.get(TOY), [IN]);
  t.deepEqual(rig.errors, []);
});

test('a message recorded offline is sent when the network returns, once, and leaves the outbox', (t) => {
  const rig = new ToyRig();
  rig.broker.up = false;
  rig.run(100);
  t.is(rig.cur.session.send(OUT, msg(1)), 'OK');
  rig.run(20000);
  t.is(rig.broker.published.length, 0);
  t.true(rig.counters.get('mqtt.connect_attempts') >= 3);
  rig.broker.up = true;
  rig.run(200000);
  t.is(rig.cur.session.state, 'online');
  t.is(rig.broker.published.length, 1);
  t.deepEqual(rig.broker.published[0]!.payload, msg(1));
  t.is(rig.broker.published[0]!.topic, OUT);
  t.is(rig.cur.outbox.count(), 0);
  t.deepEqual(rig.storage.keys('ob.'), []);
});

test('received messages are stored before PUBACK, handed over once, duplicates dropped', (t) => {
  const rig = new ToyRig();
  rig.run(100);
  rig.broker.deliver(TOY, IN, msg(5));
  rig.broker.deliver(TOY, IN, msg(5)); // the same chunk again (a phone retried)
  rig.broker.deliver(TOY, IN, msg(6));
  rig.run(1000);
  t.is(rig.played.get(hex(msg(5))), 1);
  t.is(rig.played.get(hex(msg(6))), 1);
  t.is(rig.counters.get('inbox.duplicate'), 1);
  t.is(rig.broker.pendingFor(TOY), 0, 'all three acknowledged');
  t.deepEqual(rig.storage.keys('ib.'), []);
});

test('keepalive: PINGREQ when idle; no PINGRESP is a TIMEOUT and a reconnect', (t) => {
  const rig = new ToyRig({ keepaliveSec: 20, ackTimeoutMs: 5000 });
  rig.run(100);
  rig.run(25000);
  t.true((rig.broker.rx.pingreq ?? 0) >= 1);
  t.is(rig.cur.session.state, 'online');
  rig.broker.answerPings = false;
  rig.run(40000);
  t.true(rig.errors.some((e) => e.code === 'TIMEOUT'));
  t.true(rig.broker.connects.length >= 2);
});

test('reconnect delays grow exponentially with jitter inside [base/2, base], capped', (t) => {
  const rig = new ToyRig({ initialBackoffMs: 1000, maxBackoffMs: 16000 });
  rig.broker.up = false;
  const starts: number[] = [];
  let last = 0;
  for (let i = 0; i < 600; i++) {
    rig.clock.advance(100);
    if (rig.cur.socket.connectCalls !== last) {
      last = rig.cur.socket.connectCalls;
      starts.push(rig.clock.now());
    }
  }
  const gaps = starts.slice(1).map((s, i) => s - starts[i]!);
  t.true(gaps.length >= 5, `gaps ${gaps}`);
  gaps.forEach((g, i) => {
    const base = Math.min(16000, 1000 * 2 ** i);
    // +1 ms latency of the refused connect, +100 ms step granularity
    t.true(g >= base / 2 && g <= base + 201, `gap ${i} = ${g}, base ${base}`);
  });
  t.true(new Set(gaps.slice(0, 4).map((g, i) => g / 2 ** i)).size > 1, 'jitter varies');
});

test('a malformed packet from the broker ends the session with MALFORMED, then it reconnects and works', (t) => {
  const rig = new ToyRig();
  rig.run(100);
  rig.broker.inject(new Uint8Array([0x20, 0x02, 0x00, 0x09])); // CONNACK again, return code 9
  rig.run(100);
  t.is(rig.errors[0]?.code, 'MALFORMED');
  t.is(rig.counters.get('mqtt.rx_malformed'), 1);
  rig.run(5000);
  t.is(rig.cur.session.state, 'online');
  t.is(rig.broker.connects.length, 2);
  rig.cur.session.send(OUT, msg(2));
  rig.run(100);
  t.is(rig.broker.published.length, 1);
});

test('a server-only packet from the broker is a PROTOCOL error', (t) => {
  const rig = new ToyRig();
  rig.run(100);
  rig.broker.inject(encode({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'x', qos: 0 }] }));
  rig.run(100);
  t.is(rig.errors[0]?.code, 'PROTOCOL');
});

test('CONNACK refusal is REFUSED with the return code; a refused subscription is SUB_REFUSED', (t) => {
  const rig = new ToyRig();
  rig.broker.refuseCode = 5;
  rig.run(100);
  t.is(rig.errors[0]?.code, 'REFUSED');
  t.is(rig.errors[0]?.detail, 5);
  t.not(rig.cur.session.state, 'online');
  rig.broker.refuseCode = 0;
  rig.broker.denySubscribe = true;
  rig.run(200000);
  t.true(rig.errors.some((e) => e.code === 'SUB_REFUSED'));
  t.true(rig.counters.get('mqtt.sub_refused') >= 1);
});

test('no PUBACK: TIMEOUT, reconnect, the record is sent again with DUP and removed only after its PUBACK', (t) => {
  const rig = new ToyRig({ ackTimeoutMs: 5000 });
  rig.run(100);
  rig.broker.ackPublishes = false;
  rig.cur.session.send(OUT, msg(3));
  rig.run(7000);
  t.true(rig.errors.some((e) => e.code === 'TIMEOUT'));
  t.is(rig.cur.outbox.count(), 1);
  rig.broker.ackPublishes = true;
  rig.run(10000);
  t.is(rig.cur.outbox.count(), 0);
  t.true(rig.broker.published.length >= 2);
  t.false(rig.broker.published[0]!.dup);
  t.true(rig.broker.published[rig.broker.published.length - 1]!.dup);
});

test('an oversize PUBLISH is acknowledged and dropped (it cannot block the queue)', (t) => {
  const rig = new ToyRig({ maxPacketBytes: 1000 });
  rig.run(100);
  rig.broker.deliver(TOY, IN, new Uint8Array(5000));
  rig.broker.deliver(TOY, IN, msg(8));
  rig.run(1000);
  t.is(rig.counters.get('mqtt.rx_oversize'), 1);
  t.is(rig.played.get(hex(msg(8))), 1);
  t.is(rig.broker.pendingFor(TOY), 0);
  t.is(rig.cur.session.state, 'online');
});

test('the network drops in the middle of a send: nothing lost, the parent gets each chunk once', (t) => {
  const rig = new ToyRig();
  rig.run(100);
  for (let i = 0; i < 10; i++) rig.cur.session.send(OUT, msg(i));
  rig.clock.advance(3);
  rig.broker.cut();
  rig.run(30000);
  const parent = new Inbox({ storage: new MemoryStorage() });
  const got: string[] = [];
  parent.setConsumer((m) => got.push(hex(m.payload)));
  for (const p of rig.broker.published) parent.accept(p.topic, p.payload);
  t.deepEqual(got, Array.from({ length: 10 }, (_, i) => hex(msg(i))));
  t.is(rig.cur.outbox.count(), 0);
});

test('a power cut at any storage step loses no message and plays none twice (both directions)', (t) => {
  const clean = powerCutRun(-1);
  const ops = clean.storage.writes + clean.storage.removes;
  t.true(ops >= 12, `ops ${ops}`);
  for (let k = 0; k <= ops; k++) {
    const rig = powerCutRun(k);
    // toy → parent: every chunk reached the broker; the parent's dedupe hands each over once
    const parent = new Inbox({ storage: new MemoryStorage() });
    const got = new Map<string, number>();
    parent.setConsumer((m) => got.set(hex(m.payload), (got.get(hex(m.payload)) ?? 0) + 1));
    for (const p of rig.broker.published) parent.accept(p.topic, p.payload);
    for (let i = 0; i < 3; i++) t.is(got.get(hex(msg(i))), 1, `cut at ${k}: outgoing ${i}`);
    t.is(got.size, 3);
    // parent → toy: each chunk played exactly once
    for (let i = 0; i < 3; i++) t.is(rig.played.get(hex(msg(100 + i))), 1, `cut at ${k}: incoming ${i} (boots ${rig.boots})`);
    t.is(rig.played.size, 3);
    t.is(rig.cur.outbox.count(), 0);
    t.is(rig.cur.inbox.count(), 0);
    t.is(rig.broker.pendingFor(TOY), 0);
  }
});
