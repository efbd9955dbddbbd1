/**
 * src/mqtt-codec.ts cross-tested against mqtt-packet, packet for packet:
 * ours → bytes → mqtt-packet.parser, mqtt-packet.generate → bytes → ours, and
 * byte equality of both generators, over fast-check generated packets.
 * Plus strict rejection of malformed input (typed MALFORMED, never another throw).
 */
import test from 'ava';
import fc from 'fast-check';
import mqtt from 'mqtt-packet';
import {
  MqttError, MqttParser, decode, encode, encodePacket, encodedLength, type MqttPacket, type PublishPacket,
} from '../src/mqtt-codec.js';

// ---------------------------------------------------------------- generators

const level = fc.array(fc.constantFrom(...'abcXYZ019_.-é€', '😀'), { minLength: 1, maxLength: 8 }).map((c) => c.join(''));
const topicArb = fc.array(level, { minLength: 1, maxLength: 5 }).map((l) => l.join('/'));
const filterArb = fc.array(fc.oneof(level, fc.constant('+')), { minLength: 1, maxLength: 4 })
  .chain((l) => fc.boolean().map((hash) => (hash ? [...l, '#'] : l).join('/')));
const idArb = fc.integer({ min: 1, max: 65535 });
const bytesArb = (max: number) => fc.uint8Array({ maxLength: max });
const qosArb = fc.constantFrom<0 | 1 | 2>(0, 1, 2);

const publishArb: fc.Arbitrary<PublishPacket> = fc.record({ topic: topicArb, payload: bytesArb(400), qos: qosArb, dup: fc.boolean(), retain: fc.boolean(), messageId: idArb })
  .map((r) => (r.qos === 0 ? { cmd: 'publish' as const, topic: r.topic, payload: r.payload, qos: 0 as const, dup: false, retain: r.retain } : { cmd: 'publish' as const, ...r }));

const packetArb: fc.Arbitrary<MqttPacket> = fc.oneof(
  fc.record({
    clientId: fc.stringMatching(/^[a-f0-9]{1,32}$/), clean: fc.boolean(), keepalive: fc.integer({ min: 0, max: 65535 }),
    username: fc.option(fc.string({ maxLength: 40 }).filter((s) => !s.includes('\u0000')), { nil: undefined }),
    password: fc.option(bytesArb(64), { nil: undefined }),
    will: fc.option(fc.record({ topic: topicArb, payload: bytesArb(40), qos: qosArb, retain: fc.boolean() }), { nil: undefined }),
  }).map((r): MqttPacket => {
    const p: MqttPacket = { cmd: 'connect', clientId: r.clientId, clean: r.clean, keepalive: r.keepalive };
    if (r.will) p.will = r.will;
    if (r.username !== undefined) {
      p.username = r.username;
      if (r.password !== undefined) p.password = r.password;
    }
    return p;
  }),
  fc.record({ sessionPresent: fc.boolean(), returnCode: fc.integer({ min: 0, max: 5 }) }).map((r): MqttPacket => ({ cmd: 'connack', ...r, sessionPresent: r.returnCode === 0 && r.sessionPresent })),
  publishArb,
  fc.record({ cmd: fc.constantFrom('puback', 'pubrec', 'pubrel', 'pubcomp', 'unsuback'), messageId: idArb }) as fc.Arbitrary<MqttPacket>,
  fc.record({ messageId: idArb, subscriptions: fc.array(fc.record({ topic: filterArb, qos: qosArb }), { minLength: 1, maxLength: 4 }) }).map((r): MqttPacket => ({ cmd: 'subscribe', ...r })),
  fc.record({ messageId: idArb, granted: fc.array(fc.constantFrom(0, 1, 2, 128), { minLength: 1, maxLength: 4 }) }).map((r): MqttPacket => ({ cmd: 'suback', ...r })),
  fc.record({ messageId: idArb, unsubscriptions: fc.array(filterArb, { minLength: 1, maxLength: 4 }) }).map((r): MqttPacket => ({ cmd: 'unsubscribe', ...r })),
  fc.constantFrom<MqttPacket>({ cmd: 'pingreq' }, { cmd: 'pingresp' }, { cmd: 'disconnect' }),
);

// ---------------------------------------------------------------- translation to mqtt-packet's shape

function toTheirs(p: MqttPacket): mqtt.Packet {
  const b = (u: Uint8Array) => Buffer.from(u);
  switch (p.cmd) {
    case 'connect': {
      const o: Record<string, unknown> = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: p.clientId, clean: p.clean, keepalive: p.keepalive };
      if (p.username !== undefined) o.username = p.username;
      if (p.password !== undefined) o.password = b(p.password);
      if (p.will) o.will = { topic: p.will.topic, payload: b(p.will.payload), qos: p.will.qos, retain: p.will.retain };
      return o as unknown as mqtt.Packet;
    }
    case 'publish':
      return { cmd: 'publish', topic: p.topic, payload: b(p.payload), qos: p.qos, dup: p.dup, retain: p.retain, ...(p.qos > 0 ? { messageId: p.messageId } : {}) } as mqtt.Packet;
    case 'suback':
      return { cmd: 'suback', messageId: p.messageId, granted: p.granted } as mqtt.Packet;
    default:
      return { ...p } as unknown as mqtt.Packet;
  }
}

/** The fields both sides define, normalised for comparison. */
function norm(p: Record<string, unknown>): Record<string, unknown> {
  const u = (x: unknown) => (x === undefined || x === null ? undefined : Array.from(x as Uint8Array));
  switch (p.cmd) {
    case 'connect': {
      const w = p.will as Record<string, unknown> | undefined;
      return { cmd: 'connect', clientId: p.clientId, clean: p.clean, keepalive: p.keepalive, username: p.username ?? undefined, password: u(p.password),
        will: w ? { topic: w.topic, payload: u(w.payload), qos: w.qos, retain: w.retain } : undefined };
    }
    case 'connack':
      return { cmd: 'connack', sessionPresent: p.sessionPresent, returnCode: p.returnCode };
    case 'publish':
      return { cmd: 'publish', topic: p.topic, payload: u(p.payload), qos: p.qos, dup: p.dup, retain: p.retain, messageId: p.qos ? p.messageId : undefined };
    case 'subscribe':
      return { cmd: 'subscribe', messageId: p.messageId, subscriptions: (p.subscriptions as { topic: string; qos: number }[]).map((s) => ({ topic: s.topic, qos: s.qos })) };
    case 'suback':
      return { cmd: 'suback', messageId: p.messageId, granted: p.granted };
    case 'unsubscribe':
      return { cmd: 'unsubscribe', messageId: p.messageId, unsubscriptions: p.unsubscriptions };
    case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp': case 'unsuback':
      return { cmd: p.cmd, messageId: p.messageId };
    default:
      return { cmd: p.cmd };
  }
}

function theirParse(bytes: Uint8Array): mqtt.Packet[] {
  const parser = mqtt.parser({ protocolVersion: 4 });
  const out: mqtt.Packet[] = [];
  let err: Error | undefined;
  parser.on('packet', (x) => out.push(x));
  parser.on('error', (e) => { err = e; });
  parser.parse(Buffer.from(bytes));
  if (err) throw err;
  return out;
}

// ---------------------------------------------------------------- cross tests

test('ours and mqtt-packet generate the same bytes, and each parses the other', (t) => {
  let n = 0;
  fc.assert(fc.property(packetArb, (p) => {
    const ours = encode(p);
    const theirs = new Uint8Array(mqtt.generate(toTheirs(p)));
    t.deepEqual(Array.from(ours), Array.from(theirs), `bytes differ for ${p.cmd}`);
    t.is(encodedLength(p), ours.length);
    // ours → theirs
    const parsed = theirParse(ours);
    t.is(parsed.length, 1);
    t.deepEqual(norm(parsed[0] as unknown as Record<string, unknown>), norm(p as unknown as Record<string, unknown>));
    // theirs → ours
    t.deepEqual(norm(decode(theirs) as unknown as Record<string, unknown>), norm(p as unknown as Record<string, unknown>));
    n++;
  }), { numRuns: 400, seed: 20261128 });
  t.true(n >= 400);
});

test('streaming parser: any split of a stream of packets gives the same packets as mqtt-packet', (t) => {
  fc.assert(fc.property(fc.array(packetArb, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }), (packets, cuts) => {
    const stream = Buffer.concat(packets.map((p) => Buffer.from(encode(p))));
    const got: Record<string, unknown>[] = [];
    const parser = new MqttParser({ maxPacketBytes: 8192, onPacket: (p) => got.push(norm(p as unknown as Record<string, unknown>)) });
    let i = 0;
    let c = 0;
    while (i < stream.length) {
      const n = cuts[c++ % cuts.length]!;
      parser.push(new Uint8Array(stream.subarray(i, i + n)));
      i += n;
    }
    t.deepEqual(got, theirParse(stream).map((x) => norm(x as unknown as Record<string, unknown>)));
  }), { numRuns: 150, seed: 7 });
});

test('large remaining lengths (2, 3 bytes) agree with mqtt-packet', (t) => {
  for (const size of [0, 127, 128, 16383, 16384, 70000]) {
    const p: PublishPacket = { cmd: 'publish', topic: 'pp/t/x/out', payload: new Uint8Array(size).fill(size & 255), qos: 1, dup: true, retain: false, messageId: 65535 };
    const ours = encode(p);
    t.deepEqual(Buffer.from(ours), mqtt.generate(toTheirs(p)));
    t.deepEqual(norm(decode(ours) as unknown as Record<string, unknown>), norm(p as unknown as Record<string, unknown>));
  }
});

// ---------------------------------------------------------------- malformed input

const isMalformed = (e: unknown) => e instanceof MqttError && e.code === 'MALFORMED';

test('malformed packets are typed MALFORMED errors', (t) => {
  const cases: [string, number[]][] = [
    ['reserved type 0', [0x00, 0x00]],
    ['reserved type 15', [0xf0, 0x00]],
    ['pingresp with flags', [0xd1, 0x00]],
    ['pingresp with a body', [0xd0, 0x01, 0x00]],
    ['connack rc 6', [0x20, 0x02, 0x00, 0x06]],
    ['connack reserved bits', [0x20, 0x02, 0x02, 0x00]],
    ['connack short', [0x20, 0x01, 0x00]],
    ['publish qos 3', [0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]],
    ['publish dup with qos 0', [0x38, 0x03, 0x00, 0x01, 0x61]],
    ['publish topic runs past end', [0x30, 0x03, 0x00, 0x09, 0x61]],
    ['publish wildcard topic', [0x30, 0x03, 0x00, 0x01, 0x23]],
    ['publish empty topic', [0x30, 0x02, 0x00, 0x00]],
    ['publish bad utf-8', [0x30, 0x04, 0x00, 0x02, 0xc0, 0x80]],
    ['publish NUL in topic', [0x30, 0x03, 0x00, 0x01, 0x00]],
    ['publish id 0', [0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00]],
    ['puback id 0', [0x40, 0x02, 0x00, 0x00]],
    ['puback long', [0x40, 0x03, 0x00, 0x01, 0x00]],
    ['suback bad code', [0x90, 0x03, 0x00, 0x01, 0x03]],
    ['suback no codes', [0x90, 0x02, 0x00, 0x01]],
    ['subscribe without flags', [0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x01]],
    ['remaining length 5 bytes', [0x30, 0xff, 0xff, 0xff, 0xff, 0x01]],
  ];
  for (const [name, bytes] of cases) {
    t.throws(() => decode(new Uint8Array(bytes)), { instanceOf: MqttError, code: 'MALFORMED' } as never, name);
    const parser = new MqttParser({ maxPacketBytes: 64, onPacket: () => undefined });
    const e = t.throws(() => parser.push(new Uint8Array(bytes)), undefined, `${name} (stream)`);
    t.true(e instanceof MqttError && (e.code === 'MALFORMED' || e.code === 'TOO_LARGE'), `${name}: ${String(e)}`);
  }
});

test('random bytes never throw anything but MqttError', (t) => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 80 }), (b) => {
    const parser = new MqttParser({ maxPacketBytes: 64, onPacket: () => undefined, onOversize: () => undefined });
    try {
      parser.push(b);
    } catch (e) {
      t.true(e instanceof MqttError, String(e));
    }
    try {
      decode(b);
    } catch (e) {
      t.true(isMalformed(e), String(e));
    }
  }), { numRuns: 2000, seed: 3 });
});

test('oversize PUBLISH is skipped without buffering and reported; other oversize packets are TOO_LARGE', (t) => {
  const seen: unknown[] = [];
  const got: string[] = [];
  const parser = new MqttParser({ maxPacketBytes: 100, onPacket: (p) => got.push(p.cmd), onOversize: (topic, qos, id, bytes) => seen.push({ topic, qos, id, bytes }) });
  const big = encode({ cmd: 'publish', topic: 'pp/t/a/in', payload: new Uint8Array(5000), qos: 1, dup: false, retain: false, messageId: 9 });
  const stream = new Uint8Array([...big, 0xd0, 0x00]);
  for (let i = 0; i < stream.length; i += 333) parser.push(stream.subarray(i, i + 333));
  t.deepEqual(seen, [{ topic: 'pp/t/a/in', qos: 1, id: 9, bytes: big.length }]);
  t.deepEqual(got, ['pingresp']);
  const p2 = new MqttParser({ maxPacketBytes: 100, onPacket: () => undefined });
  t.throws(() => p2.push(encode({ cmd: 'suback', messageId: 1, granted: new Array(200).fill(1) })), { instanceOf: MqttError, code: 'TOO_LARGE' } as never);
});

test('the encoder refuses bad packets with INVAL and small buffers with SIZE', (t) => {
  const bad: MqttPacket[] = [
    { cmd: 'publish', topic: 'a/#', payload: new Uint8Array(0), qos: 0, dup: false, retain: false },
    { cmd: 'publish', topic: 'a', payload: new Uint8Array(0), qos: 1, dup: false, retain: false },
    { cmd: 'publish', topic: 'a', payload: new Uint8Array(0), qos: 0, dup: true, retain: false },
    { cmd: 'puback', messageId: 0 },
    { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#/b', qos: 1 }] },
    { cmd: 'connect', clientId: 'x', clean: true, keepalive: 70000 },
    { cmd: 'connect', clientId: 'x', clean: true, keepalive: 1, password: new Uint8Array(1) },
  ];
  for (const p of bad) t.throws(() => encode(p), { instanceOf: MqttError, code: 'INVAL' } as never, JSON.stringify(p));
  t.throws(() => encodePacket({ cmd: 'pingreq' }, new Uint8Array(1)), { instanceOf: MqttError, code: 'SIZE' } as never);
  t.is(encodePacket({ cmd: 'pingreq' }, new Uint8Array(4), 2), 2);
});
