/**
 * The toy's MQTT codec inside the real XS engine: byte vectors produced by
 * mqtt-packet on Node (the ava tier cross-tests the two with fast-check), streaming
 * splits, and malformed input as typed errors.
 */
import { test } from './xs/harness.js';
import { MqttError, MqttParser, decode, encode, type MqttPacket } from '../src/mqtt-codec.js';

const TOY = '0123456789abcdef0123456789abcdef';
const vectors: [MqttPacket, number[]][] = [
  [{ cmd: 'connect', clientId: TOY, clean: false, keepalive: 60, username: TOY, password: new TextEncoder().encode('pw') },
    [16, 82, 0, 4, 77, 81, 84, 84, 4, 192, 0, 60, 0, 32, ...new TextEncoder().encode(TOY), 0, 32, ...new TextEncoder().encode(TOY), 0, 2, 112, 119]],
  [{ cmd: 'publish', topic: 'pp/t/ab/out', payload: new Uint8Array([1, 2, 3]), qos: 1, dup: true, retain: false, messageId: 258 },
    [58, 18, 0, 11, 112, 112, 47, 116, 47, 97, 98, 47, 111, 117, 116, 1, 2, 1, 2, 3]],
  [{ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'pp/t/ab/in', qos: 1 }] }, [130, 15, 0, 7, 0, 10, 112, 112, 47, 116, 47, 97, 98, 47, 105, 110, 1]],
  [{ cmd: 'suback', messageId: 7, granted: [1, 128] }, [144, 4, 0, 7, 1, 128]],
  [{ cmd: 'connack', sessionPresent: true, returnCode: 0 }, [32, 2, 1, 0]],
  [{ cmd: 'pingreq' }, [0xc0, 0]],
];

test('encodes the same bytes as mqtt-packet and decodes them back', (t) => {
  for (const [p, bytes] of vectors) {
    t.deepEqual(Array.from(encode(p)), bytes, p.cmd);
    const back = decode(new Uint8Array(bytes)) as unknown as Record<string, unknown>;
    t.is(back.cmd, p.cmd);
    if (p.cmd === 'publish') {
      t.deepEqual(Array.from(back.payload as Uint8Array), [1, 2, 3]);
      t.is(back.messageId, 258);
      t.is(back.dup, true);
    }
    if (p.cmd === 'connect') t.is(back.username, TOY);
    if (p.cmd === 'suback') t.deepEqual(back.granted, [1, 128]);
  }
});

test('the streaming parser reassembles packets split one byte at a time', (t) => {
  const stream: number[] = [];
  for (const [, b] of vectors.slice(1)) stream.push(...b);
  const got: string[] = [];
  const parser = new MqttParser({ maxPacketBytes: 256, onPacket: (p) => got.push(p.cmd) });
  for (const b of stream) parser.push(new Uint8Array([b]));
  t.deepEqual(got, ['publish', 'subscribe', 'suback', 'connack', 'pingreq']);
});

test('a 3000-byte publish round-trips', (t) => {
  const payload = new Uint8Array(3000);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 13) & 255;
  const bytes = encode({ cmd: 'publish', topic: `pp/t/${TOY}/out`, payload, qos: 1, dup: false, retain: false, messageId: 1 });
  let n = 0;
  const parser = new MqttParser({ maxPacketBytes: 4200, onPacket: (p) => {
    if (p.cmd === 'publish') {
      n = p.payload.length;
      t.is(p.payload[2999], (2999 * 13) & 255);
    }
  } });
  parser.push(bytes.subarray(0, 1000));
  parser.push(bytes.subarray(1000));
  t.is(n, 3000);
});

test('malformed bytes are MqttError MALFORMED inside XS', (t) => {
  const bad = [[0x20, 0x02, 0x00, 0x09], [0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01], [0x30, 0xff, 0xff, 0xff, 0xff, 0x01], [0x30, 0x04, 0x00, 0x02, 0xed, 0xa0]];
  for (const b of bad) {
    const parser = new MqttParser({ maxPacketBytes: 64, onPacket: () => undefined });
    t.throws(() => parser.push(new Uint8Array(b)), (e) => e instanceof MqttError && e.code === 'MALFORMED');
  }
});

test('reusePublish (the session\'s receive side, issue 13): one reused packet with decode()\'s fields; the topic decoded only when it changes; the same errors for bad PUBLISH bytes', (t) => {
  const pubs: MqttPacket[] = [
    { cmd: 'publish', topic: 'pp/t/ab/in', payload: new Uint8Array([9, 8, 7, 6]), qos: 1, dup: false, retain: false, messageId: 1 },
    { cmd: 'publish', topic: 'pp/t/ab/in', payload: new Uint8Array([1, 2, 3, 4]), qos: 1, dup: true, retain: false, messageId: 65535 },
    { cmd: 'publish', topic: 'pp/t/ab/in', payload: new Uint8Array([5]), qos: 0, dup: false, retain: true },
    { cmd: 'publish', topic: 'pp/t/ab/up/é', payload: new Uint8Array(300).fill(3), qos: 1, dup: false, retain: false, messageId: 77 },
    { cmd: 'publish', topic: 'pp/t/ab/in', payload: new Uint8Array(0), qos: 1, dup: false, retain: false, messageId: 2 },
  ];
  const seen: Record<string, unknown>[] = [];
  const objects: unknown[] = [];
  const parser = new MqttParser({
    maxPacketBytes: 512,
    reusePublish: true,
    onPacket: (p) => {
      objects.push(p);
      const q = p as unknown as Record<string, unknown>;
      seen.push({ ...q, payload: Array.from(q.payload as Uint8Array) });
    },
  });
  for (const p of pubs) parser.push(encode(p));
  t.is(seen.length, pubs.length);
  for (let i = 0; i < pubs.length; i++) {
    const want = decode(encode(pubs[i]!)) as unknown as Record<string, unknown>;
    for (const k of ['cmd', 'topic', 'qos', 'dup', 'retain', 'messageId']) t.is(seen[i]![k], want[k], `${i} ${k}`);
    t.deepEqual(seen[i]!.payload, Array.from(want.payload as Uint8Array), `${i} payload`);
  }
  t.true(objects.every((o) => o === objects[0]), 'one object');
  // bad PUBLISH bytes: the same MqttError as decode(), and the stream is broken after
  const bad: number[][] = [
    [0x36, 5, 0, 1, 97, 0, 1], // qos 3
    [0x38, 5, 0, 1, 97, 0, 1], // dup with qos 0
    [0x32, 5, 0, 9, 97, 0, 1], // topic runs past the packet
    [0x32, 5, 0, 1, 43, 0, 1], // wildcard topic
    [0x32, 5, 0, 0, 0, 1, 1], // empty topic
    [0x32, 5, 0, 1, 97, 0, 0], // packet identifier 0
    [0x32, 4, 0, 1, 97, 0], // truncated id
    [0x30, 3, 0, 1, 0xff], // not UTF-8
  ];
  for (const b of bad) {
    let want = '';
    try {
      decode(new Uint8Array(b));
    } catch (e) {
      want = `${(e as MqttError).code} ${(e as Error).message}`;
    }
    const p2 = new MqttParser({ maxPacketBytes: 64, reusePublish: true, onPacket: () => undefined });
    p2.push(encode(pubs[0]!)); // a topic cached first
    let got = '';
    try {
      p2.push(new Uint8Array(b));
    } catch (e) {
      got = `${(e as MqttError).code} ${(e as Error).message}`;
    }
    t.true(want.length > 0, `decode refuses ${b.join(',')}`);
    t.is(got, want, `the same error for ${b.join(',')}`);
  }
});

test('reusePublish: PUBACKs as one reused packet with decode()\'s id; the same errors for bad PUBACK bytes', (t) => {
  const ids: number[] = [];
  const objs: unknown[] = [];
  const parser = new MqttParser({ maxPacketBytes: 64, reusePublish: true, onPacket: (p) => { objs.push(p); ids.push((p as { messageId: number }).messageId); t.is(p.cmd, 'puback'); } });
  for (const id of [1, 258, 65535]) parser.push(encode({ cmd: 'puback', messageId: id }));
  t.deepEqual(ids, [1, 258, 65535]);
  t.true(objs[0] === objs[1] && objs[1] === objs[2], 'one object');
  for (const b of [[0x41, 2, 0, 1], [0x40, 1, 0], [0x40, 2, 0, 0], [0x40, 3, 0, 1, 0]]) {
    let want = '';
    try { decode(new Uint8Array(b)); } catch (e) { want = `${(e as MqttError).code} ${(e as Error).message}`; }
    let got = '';
    try { new MqttParser({ maxPacketBytes: 64, reusePublish: true, onPacket: () => undefined }).push(new Uint8Array(b)); } catch (e) { got = `${(e as MqttError).code} ${(e as Error).message}`; }
    t.true(want.length > 0, `decode refuses ${b.join(',')}`);
    t.is(got, want, `the same error for ${b.join(',')}`);
  }
});
