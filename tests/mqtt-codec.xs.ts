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
