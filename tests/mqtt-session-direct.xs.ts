/**
 * MqttSession.subscribe / unsubscribe / onDirectMessage (issue 14, firmware update
 * topics) on the in-process FakeBroker, in XS and Node: direct messages bypass the
 * inbox, are acknowledged, stop after unsubscribe, come back after a reconnect;
 * a refused direct subscription costs no connection; bad topics are refused.
 */
import { test } from './xs/harness.js';
import { IN, TOY, ToyRig, testChunk } from './mqtt-rig.js';

const FW = 'pp/fw/esp32/m5atom_echo/manifest';

function rig() {
  const got: [string, number][] = [];
  const r = new ToyRig({ onDirectMessage: (topic, payload) => void got.push([topic, payload.length]) });
  return { r, got };
}

test('a direct topic: delivered to the callback, not the inbox, acknowledged', (t) => {
  const { r, got } = rig();
  r.run(200);
  t.is(r.cur.session.state, 'online');
  const subs = r.broker.rx.subscribe ?? 0;
  t.is(r.cur.session.subscribe(FW), 'OK');
  r.run(50);
  t.is(r.broker.rx.subscribe, subs + 1);
  r.broker.deliver(TOY, FW, testChunk(1, 156));
  r.run(50);
  t.deepEqual(got, [[FW, 156]]);
  t.is(r.cur.inbox.count(), 0, 'not stored');
  t.is(r.broker.pendingFor(TOY), 0, 'acknowledged');
  // an inbox message still goes to the inbox
  r.broker.deliver(TOY, IN, testChunk(2));
  r.run(200);
  t.is(got.length, 1);
});

test('after unsubscribe the topic is foreign; after a reconnect direct topics are subscribed again', (t) => {
  const { r, got } = rig();
  r.run(200);
  r.cur.session.subscribe(FW);
  r.cur.session.subscribe('pp/fw/esp32/m5atom_echo/img/0011223344556677/0');
  r.run(50);
  const subs = r.broker.rx.subscribe ?? 0;
  r.broker.cut();
  r.run(5000, 50);
  t.is(r.cur.session.state, 'online');
  t.is(r.broker.rx.subscribe, subs + 2, 'the fixed list and the direct topics');
  r.cur.session.unsubscribe(FW);
  r.run(50);
  t.is(r.broker.rx.unsubscribe, 1);
  r.broker.deliver(TOY, FW, testChunk(3, 10));
  r.run(50);
  t.is(got.length, 0);
  t.is(r.counters.get('mqtt.rx_foreign_topic'), 1);
});

test('a refused direct subscription is counted and the session stays up; bad topics are INVAL', (t) => {
  const { r } = rig();
  r.run(200);
  r.broker.denySubscribe = true;
  t.is(r.cur.session.subscribe(FW), 'OK');
  r.run(100);
  t.is(r.counters.get('mqtt.direct_sub_refused'), 1);
  t.is(r.cur.session.state, 'online');
  t.is(r.cur.session.subscribe('pp/fw/#'), 'INVAL');
  t.is(r.cur.session.subscribe('pp/+/x'), 'INVAL');
  t.is(r.cur.session.subscribe(''), 'INVAL');
  for (let i = 0; i < 15; i++) r.cur.session.subscribe(`pp/fw/x/${i}`);
  t.is(r.cur.session.subscribe('pp/fw/x/99'), 'INVAL', 'at most 16');
  r.cur.session.close();
  t.is(r.cur.session.subscribe('pp/fw/y'), 'OFF');
});
