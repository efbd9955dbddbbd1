/**
 * Integration against a real Mosquitto (Debian package) started with the shipped
 * broker/mosquitto.conf and broker/acl on a free loopback port: delivery both ways
 * with store-and-forward, per-toy isolation enforced by the broker, a broker restart
 * in the middle of a send, and (with a tiny fake TCP broker) a malformed packet that
 * ends the session with a typed error before the toy reconnects.
 */
import test from 'ava';
import * as net from 'node:net';
import { encode } from '../src/mqtt-codec.js';
import { toyTopics } from '../sim/embedded-broker.js';
import { Device, Mosquitto, hasMosquitto, makeAccounts, sleep, waitFor, freePort } from './mqtt-node-helpers.js';

const chunk = (i: number, n = 2500) => new Uint8Array(n).map((_, j) => (i * 131 + j * 17 + (j >> 8)) & 255);
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
const mq = hasMosquitto() ? test.serial : test.skip;

mq('delivery both ways, with store-and-forward while the phone is offline', async (t) => {
  const acc = makeAccounts();
  const broker = await Mosquitto.start(acc.registry);
  const A = toyTopics(acc.a.id);
  const toy = new Device({ user: acc.a.id, password: acc.a.pw, port: broker.port, subscriptions: [A.in] });
  const phone = new Device({ user: acc.phone.id, password: acc.phone.pw, port: broker.port, subscriptions: [A.out] });
  try {
    toy.session.start();
    phone.session.start();
    await waitFor(() => toy.session.state === 'online' && phone.session.state === 'online', 10000, 'online');
    // phone → toy
    phone.session.send(A.in, chunk(1));
    await waitFor(() => toy.received.length === 1, 10000, 'toy receives');
    t.deepEqual(toy.received[0], chunk(1));
    // toy → phone
    toy.session.send(A.out, chunk(2));
    await waitFor(() => phone.received.length === 1, 10000, 'phone receives');
    t.deepEqual(phone.received[0], chunk(2));
    // the phone goes offline; the toy records two chunks; the broker keeps them
    phone.session.close();
    await sleep(100);
    toy.session.send(A.out, chunk(3));
    toy.session.send(A.out, chunk(4));
    await waitFor(() => toy.outbox.count() === 0, 10000, 'toy outbox drained');
    const phone2 = new Device({ user: acc.phone.id, password: acc.phone.pw, port: broker.port, subscriptions: [A.out] });
    phone2.session.start();
    await waitFor(() => phone2.received.length === 2, 10000, 'queued chunks after reconnect');
    t.deepEqual(phone2.received.map(hexOf), [hexOf(chunk(3)), hexOf(chunk(4))]);
    phone2.session.close();
    t.deepEqual([...toy.errors, ...phone.errors].map((e) => e.code), []);
  } finally {
    toy.session.close();
    phone.session.close();
    await broker.dispose();
  }
});

mq("one toy's credentials cannot reach another toy's topics; the broker refuses", async (t) => {
  const acc = makeAccounts();
  const broker = await Mosquitto.start(acc.registry);
  const A = toyTopics(acc.a.id);
  const B = toyTopics(acc.b.id);
  const toyA = new Device({ user: acc.a.id, password: acc.a.pw, port: broker.port, subscriptions: [A.in] });
  const phone = new Device({ user: acc.phone.id, password: acc.phone.pw, port: broker.port, subscriptions: [A.out] });
  const devices = [toyA, phone];
  try {
    toyA.session.start();
    phone.session.start();
    await waitFor(() => toyA.session.state === 'online' && phone.session.state === 'online', 10000, 'online');

    // toy B subscribes to toy A's incoming topic and to a wildcard, and publishes as if it
    // were toy A (A/out) and as a phone (A/in). Mosquitto's acl_file answers the SUBSCRIBE
    // with a grant but checks read access per message (measured: 2.0.11 grants QoS 1), and
    // acknowledges the forbidden PUBLISHes and drops them. What matters is what arrives.
    const evilB = new Device({ user: acc.b.id, password: acc.b.pw, port: broker.port, subscriptions: [A.in, 'pp/t/+/in', A.out, B.in] });
    devices.push(evilB);
    evilB.session.start();
    await waitFor(() => evilB.session.state === 'online', 10000, 'B online');
    await sleep(100);
    evilB.session.send(A.out, chunk(66));
    evilB.session.send(A.in, chunk(67));
    await waitFor(() => evilB.outbox.count() === 0, 10000, 'B outbox drained');
    // legitimate traffic after them: it arrives where it should, the forged chunks never do
    toyA.session.send(A.out, chunk(5));
    phone.session.send(A.in, chunk(6));
    await waitFor(() => phone.received.length >= 1 && toyA.received.length >= 1, 10000, 'legitimate messages');
    await sleep(300);
    t.deepEqual(phone.received.map(hexOf), [hexOf(chunk(5))], 'the phone got only toy A\'s own chunk');
    t.deepEqual(toyA.received.map(hexOf), [hexOf(chunk(6))], 'toy A got only the phone\'s chunk');
    t.deepEqual(evilB.received, [], 'toy B read nothing of toy A\'s (nor its own forgeries)');
    t.is(evilB.counters.get('mqtt.received'), 0);

    // the phone may not read a toy it is not paired with: toy B's chunk never reaches it
    const phoneSpy = new Device({ user: acc.phone.id, password: acc.phone.pw, port: broker.port, subscriptions: [B.out] });
    const toyB = new Device({ user: acc.b.id, password: acc.b.pw, port: broker.port, subscriptions: [B.in] });
    devices.push(phoneSpy, toyB);
    phone.session.close();
    evilB.session.close();
    phoneSpy.session.start();
    toyB.session.start();
    await waitFor(() => phoneSpy.session.state === 'online' && toyB.session.state === 'online', 10000, 'spy online');
    toyB.session.send(B.out, chunk(77));
    await waitFor(() => toyB.outbox.count() === 0, 10000, 'B sent');
    await sleep(300);
    t.deepEqual(phoneSpy.received, []);

    // a wrong password is refused at CONNECT
    const liar = new Device({ user: acc.a.id, password: 'not-the-password', port: broker.port, subscriptions: [A.in] });
    devices.push(liar);
    liar.session.start();
    await waitFor(() => liar.errors.some((e) => e.code === 'REFUSED'), 10000, 'REFUSED');
    t.true([4, 5].includes(liar.errors.find((e) => e.code === 'REFUSED')!.detail));
  } finally {
    for (const d of devices) d.session.close();
    await broker.dispose();
  }
});

mq('a broker restart in the middle of a send loses nothing and the phone gets each chunk once', async (t) => {
  const acc = makeAccounts();
  const broker = await Mosquitto.start(acc.registry);
  const A = toyTopics(acc.a.id);
  const toy = new Device({ user: acc.a.id, password: acc.a.pw, port: broker.port, subscriptions: [A.in] });
  const phone = new Device({ user: acc.phone.id, password: acc.phone.pw, port: broker.port, subscriptions: [A.out] });
  try {
    phone.session.start();
    await waitFor(() => phone.session.state === 'online', 10000, 'phone online');
    const N = 60;
    for (let i = 0; i < N; i++) toy.session.send(A.out, chunk(i));
    let ackedAtKill = -1;
    toy.onCount = (name, v) => {
      // SIGTERM from inside the toy's PUBACK handling: the broker goes down mid-send
      if (name === 'mqtt.acked' && v === 5) {
        ackedAtKill = v;
        broker.proc?.kill('SIGTERM');
      }
    };
    toy.session.start();
    await waitFor(() => ackedAtKill > 0, 10000, 'first acknowledgements');
    const before = phone.received.length;
    await broker.restart();
    t.true(toy.outbox.count() > 0, `restart happened mid-send (${toy.outbox.count()} of ${N} still in the outbox)`);
    await waitFor(() => phone.received.length >= N, 30000, 'all chunks after restart');
    await sleep(300);
    const got = phone.received.map(hexOf);
    t.is(got.length, N, 'no chunk handed over twice');
    t.is(new Set(got).size, N);
    for (let i = 0; i < N; i++) t.true(got.includes(hexOf(chunk(i))), `chunk ${i}`);
    t.is(toy.outbox.count(), 0);
    t.true(toy.errors.some((e) => e.code === 'SOCKET'), 'the toy saw the connection go');
    t.log(`delivered before restart ${before}, duplicates dropped by the phone ${phone.counters.get('inbox.duplicate')}, toy reconnects ${toy.counters.get('mqtt.connect_attempts') - 1}`);
  } finally {
    toy.session.close();
    phone.session.close();
    await broker.dispose();
  }
});

test('a malformed packet from the broker ends the session with a typed error; the toy reconnects', async (t) => {
  const port = await freePort();
  let connections = 0;
  const server = net.createServer((s) => {
    const n = ++connections;
    let got = Buffer.alloc(0);
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
      // answer CONNECT, then on SUBSCRIBE: malformed SUBACK (return code 7) the first time, a good one after
      if (got[0] === 0x10 && !s.readableEnded) {
        const len = got[1]!; // CONNECT < 128 bytes here
        if (got.length < 2 + len) return;
        got = got.subarray(2 + len);
        s.write(Buffer.from(encode({ cmd: 'connack', sessionPresent: false, returnCode: 0 })));
      }
      if (got[0] === 0x82 && got.length >= 2 + got[1]!) {
        const id = (got[2]! << 8) | got[3]!;
        got = got.subarray(2 + got[1]!);
        s.write(n === 1 ? Buffer.from([0x90, 0x03, id >> 8, id & 255, 0x07]) : Buffer.from(encode({ cmd: 'suback', messageId: id, granted: [1] })));
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const toy = new Device({ user: '0123456789abcdef0123456789abcdef', password: 'x', port, subscriptions: ['pp/t/0123456789abcdef0123456789abcdef/in'] });
  try {
    toy.session.start();
    await waitFor(() => connections >= 2 && toy.session.state === 'online', 10000, 'reconnected');
    t.is(toy.errors[0]?.code, 'MALFORMED');
    t.is(toy.errors[0]?.name, 'MqttError');
    t.is(toy.counters.get('mqtt.rx_malformed'), 1);
    t.is(toy.counters.get('mqtt.online'), 2);
  } finally {
    toy.session.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
