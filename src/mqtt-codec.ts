/**
 * A small MQTT 3.1.1 codec for the toy (OASIS MQTT 3.1.1, protocol level 4).
 *
 * Why not mqtt-packet on the toy: measured in XS (bench/mqtt.bench.ts, docs/BROKER.md)
 * it needs a Buffer polyfill (about 79 KB minified with shims), takes about twice the
 * toy's whole slot budget just to load, and its first publish builds a 65,536-entry
 * number cache. This codec is cross-tested packet for packet against mqtt-packet
 * (tests/mqtt-codec.test.ts, generate and parse both ways, with fast-check).
 *
 * Packets use mqtt-packet's field names (`cmd`, `messageId`, `topic`, ...) so the
 * two are directly comparable. Portable: Uint8Array only, no Node, no Moddable.
 *
 * Decoding is strict: every length, flag and string is bounds-checked; a violation
 * throws MqttError('MALFORMED') (a broken stream cannot be resynchronised, so the
 * session ends). A well-formed packet larger than the parser's limit is
 * MqttError('TOO_LARGE'), except a PUBLISH, which the streaming parser skips and
 * reports through `onOversize` so the session can acknowledge and drop it.
 */

/** Stable error codes of MqttError. */
export type MqttErrorCode =
  | 'MALFORMED' // bytes from the peer break the MQTT 3.1.1 grammar
  | 'TOO_LARGE' // a packet exceeds the configured maximum
  | 'INVAL' // a packet given to the encoder has an out-of-range field
  | 'SIZE' // the output buffer is too small
  | 'PROTOCOL' // a well-formed packet that is wrong at this point (CONNACK twice, a server-only packet ...)
  | 'REFUSED' // CONNACK refused the connection (see `detail`)
  | 'SUB_REFUSED' // SUBACK refused a subscription (the broker's ACL)
  | 'TIMEOUT' // CONNACK, PINGRESP or PUBACK did not come in time
  | 'SOCKET' // the socket closed with an error
  | 'STORAGE' // the outbox or inbox could not write (the message stays where it was)
  | 'FULL' // the outbox is full
  | 'CLOSED'; // used after close()

/** A typed MQTT error. `message` never contains a password or payload. */
export class MqttError extends Error {
  override readonly name = 'MqttError';
  readonly code: MqttErrorCode;
  /** A small number that refines the code (CONNACK return code, packet type, ...), or -1. */
  readonly detail: number;
  constructor(code: MqttErrorCode, message: string, detail = -1) {
    super(message);
    this.code = code;
    this.detail = detail;
  }
}

export type QoS = 0 | 1 | 2;

export interface ConnectPacket {
  cmd: 'connect';
  protocolId?: 'MQTT';
  protocolVersion?: 4;
  clientId: string;
  /** Clean session flag; the toy uses false so the broker keeps its queue while it is offline. */
  clean: boolean;
  /** Seconds, 0..65535. */
  keepalive: number;
  username?: string;
  password?: Uint8Array;
  will?: { topic: string; payload: Uint8Array; qos: QoS; retain: boolean };
}
export interface ConnackPacket {
  cmd: 'connack';
  sessionPresent: boolean;
  /** 0 accepted, 1 bad protocol, 2 client id rejected, 3 unavailable, 4 bad credentials, 5 not authorised. */
  returnCode: number;
}
export interface PublishPacket {
  cmd: 'publish';
  topic: string;
  /** Lent when decoded by MqttParser: valid only during the onPacket callback. */
  payload: Uint8Array;
  qos: QoS;
  dup: boolean;
  retain: boolean;
  /** 1..65535 when qos > 0; absent for qos 0. */
  messageId?: number;
}
export interface IdPacket {
  cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'unsuback';
  messageId: number;
}
export interface SubscribePacket {
  cmd: 'subscribe';
  messageId: number;
  subscriptions: { topic: string; qos: QoS }[];
}
export interface SubackPacket {
  cmd: 'suback';
  messageId: number;
  /** Per subscription: granted QoS 0..2, or 128 (0x80) for failure. */
  granted: number[];
}
export interface UnsubscribePacket {
  cmd: 'unsubscribe';
  messageId: number;
  unsubscriptions: string[];
}
export interface EmptyPacket {
  cmd: 'pingreq' | 'pingresp' | 'disconnect';
}
export type MqttPacket =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | IdPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | EmptyPacket;

/** Packet type numbers (fixed header bits 7..4). */
const TYPE: Record<MqttPacket['cmd'], number> = {
  connect: 1, connack: 2, publish: 3, puback: 4, pubrec: 5, pubrel: 6, pubcomp: 7,
  subscribe: 8, suback: 9, unsubscribe: 10, unsuback: 11, pingreq: 12, pingresp: 13, disconnect: 14,
};
const CMD: (MqttPacket['cmd'] | undefined)[] = [
  undefined, 'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp',
  'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', undefined,
];

/** The largest remaining length MQTT can express (4 length bytes). */
export const MQTT_MAX_REMAINING = 268435455;

const enc = new TextEncoder();
const dec = new TextDecoder();

function malformed(what: string): MqttError {
  return new MqttError('MALFORMED', `malformed MQTT packet: ${what}`);
}
function inval(what: string): MqttError {
  return new MqttError('INVAL', `cannot encode MQTT packet: ${what}`);
}

/**
 * Checks that bytes[start, end) is well-formed UTF-8 as MQTT requires: no overlong
 * forms, no surrogates, nothing above U+10FFFF, no U+0000 [MQTT-1.5.3].
 */
export function isMqttUtf8(b: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const c = b[i]!;
    if (c < 0x80) {
      if (c === 0) return false;
      i++;
      continue;
    }
    let n: number;
    let cp: number;
    let min: number;
    if ((c & 0xe0) === 0xc0) { n = 1; cp = c & 0x1f; min = 0x80; }
    else if ((c & 0xf0) === 0xe0) { n = 2; cp = c & 0x0f; min = 0x800; }
    else if ((c & 0xf8) === 0xf0) { n = 3; cp = c & 0x07; min = 0x10000; }
    else return false;
    if (i + n >= end) return false;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k]!;
      if ((d & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

function utf8Bytes(s: string, what: string): Uint8Array {
  const b = enc.encode(s);
  if (b.length > 65535) throw inval(`${what} longer than 65535 bytes`);
  if (!isMqttUtf8(b, 0, b.length)) throw inval(`${what} is not valid MQTT UTF-8`);
  return b;
}

function hasWildcard(s: string): boolean {
  return s.indexOf('+') >= 0 || s.indexOf('#') >= 0;
}

/** True when `filter` is a valid MQTT topic filter (wildcards only as whole levels, # last). */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l === '#') { if (i !== levels.length - 1) return false; continue; }
    if (l === '+') continue;
    if (hasWildcard(l)) return false;
  }
  return true;
}

/** Bytes the remaining-length field of `n` takes (1..4). */
function varLen(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

/** Writes `n` as an MQTT remaining length (1..4 bytes, 7 bits each, low first) at out[o]; returns the offset after it. */
function writeVarLen(out: Uint8Array, o: number, n: number): number {
  do {
    let d = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) d |= 0x80;
    out[o++] = d;
  } while (n > 0);
  return o;
}

/** Prepared string fields, so length and write agree without encoding twice. */
interface Prepared { body: number; strings: Uint8Array[] }

function prepare(p: MqttPacket): Prepared {
  const strings: Uint8Array[] = [];
  let body = 0;
  const str = (s: string, what: string) => {
    const b = utf8Bytes(s, what);
    strings.push(b);
    body += 2 + b.length;
  };
  const id = (m: number | undefined) => {
    if (m === undefined || !Number.isInteger(m) || m < 1 || m > 65535) throw inval('messageId must be 1..65535');
    body += 2;
  };
  switch (p.cmd) {
    case 'connect': {
      body = 10; // protocol name (6) + level (1) + flags (1) + keepalive (2)
      if (!Number.isInteger(p.keepalive) || p.keepalive < 0 || p.keepalive > 65535) throw inval('keepalive must be 0..65535');
      str(p.clientId, 'clientId');
      if (p.clientId.length === 0 && !p.clean) throw inval('an empty clientId needs a clean session');
      if (p.will) {
        if (hasWildcard(p.will.topic) || p.will.topic.length === 0) throw inval('will topic');
        if (p.will.qos !== 0 && p.will.qos !== 1 && p.will.qos !== 2) throw inval('will qos');
        str(p.will.topic, 'will topic');
        if (p.will.payload.length > 65535) throw inval('will payload longer than 65535 bytes');
        body += 2 + p.will.payload.length;
      }
      if (p.username !== undefined) str(p.username, 'username');
      if (p.password !== undefined) {
        if (p.username === undefined) throw inval('a password needs a username in MQTT 3.1.1');
        if (p.password.length > 65535) throw inval('password longer than 65535 bytes');
        body += 2 + p.password.length;
      }
      break;
    }
    case 'connack':
      if (!Number.isInteger(p.returnCode) || p.returnCode < 0 || p.returnCode > 5) throw inval('returnCode must be 0..5');
      body = 2;
      break;
    case 'publish':
      if (p.topic.length === 0 || hasWildcard(p.topic)) throw inval('publish topic must be non-empty without wildcards');
      if (p.qos !== 0 && p.qos !== 1 && p.qos !== 2) throw inval('qos must be 0..2');
      if (p.qos === 0 && p.dup) throw inval('dup needs qos > 0');
      str(p.topic, 'topic');
      if (p.qos > 0) id(p.messageId);
      body += p.payload.length;
      break;
    case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp': case 'unsuback':
      id(p.messageId);
      break;
    case 'subscribe':
      id(p.messageId);
      if (p.subscriptions.length === 0) throw inval('subscribe needs at least one topic filter');
      for (const s of p.subscriptions) {
        if (!isValidTopicFilter(s.topic)) throw inval('bad topic filter');
        if (s.qos !== 0 && s.qos !== 1 && s.qos !== 2) throw inval('subscription qos must be 0..2');
        str(s.topic, 'topic filter');
        body += 1;
      }
      break;
    case 'suback':
      id(p.messageId);
      if (p.granted.length === 0) throw inval('suback needs at least one return code');
      for (const g of p.granted) if (g !== 0 && g !== 1 && g !== 2 && g !== 0x80) throw inval('suback return code');
      body += p.granted.length;
      break;
    case 'unsubscribe':
      id(p.messageId);
      if (p.unsubscriptions.length === 0) throw inval('unsubscribe needs at least one topic filter');
      for (const s of p.unsubscriptions) {
        if (!isValidTopicFilter(s)) throw inval('bad topic filter');
        str(s, 'topic filter');
      }
      break;
    case 'pingreq': case 'pingresp': case 'disconnect':
      break;
    default:
      throw inval('unknown cmd');
  }
  if (body > MQTT_MAX_REMAINING) throw inval('packet too large for MQTT');
  return { body, strings };
}

/** The encoded size of `p` in bytes. Throws MqttError('INVAL') for a bad packet. */
export function encodedLength(p: MqttPacket): number {
  const { body } = prepare(p);
  return 1 + varLen(body) + body;
}

/**
 * Encodes a QoS 1 PUBLISH straight from stored bytes, allocating nothing but one view
 * (the outbox's record path, src/mqtt-session.ts): `src[topicAt, topicAt+2+L)` holds the
 * topic in MQTT's string encoding (2-byte length L, then UTF-8: the outbox record keeps
 * it so) and `src[topicAt+2+L, end)` the payload. Writes into `out` (lent) at 0 and
 * returns the length. Throws MqttError INVAL (topic empty, over the record, or with a
 * wildcard; messageId outside 1..65535), SIZE (`out` too small).
 */
export function encodePublishFrom(out: Uint8Array, src: Uint8Array, topicAt: number, end: number, messageId: number, dup: boolean): number {
  if (!(topicAt >= 0 && topicAt + 2 <= end && end <= src.length)) throw inval('record range');
  const tl = (src[topicAt]! << 8) | src[topicAt + 1]!;
  const payloadAt = topicAt + 2 + tl;
  if (tl === 0 || payloadAt > end) throw inval('publish topic must be non-empty and inside the record');
  for (let i = topicAt + 2; i < payloadAt; i++) if (src[i] === 0x23 || src[i] === 0x2b) throw inval('publish topic must be without wildcards');
  if ((messageId | 0) !== messageId || messageId < 1 || messageId > 65535) throw inval('messageId must be 1..65535');
  const body = end - topicAt + 2; // topic string + packet id + payload
  const total = 1 + varLen(body) + body;
  if (total > out.length) throw new MqttError('SIZE', `output buffer too small (${total} bytes needed)`);
  let o = 0;
  out[o++] = (TYPE.publish << 4) | (dup ? 8 : 0) | 2;
  o = writeVarLen(out, o, body);
  for (let i = topicAt; i < payloadAt; i++) out[o++] = src[i]!;
  out[o++] = messageId >>> 8;
  out[o++] = messageId & 0xff;
  out.set(src.subarray(payloadAt, end), o);
  return o + (end - payloadAt);
}

/**
 * Encodes `p` into `out` (lent) at `offset`; returns the number of bytes written.
 * Throws MqttError('INVAL') for a bad packet, MqttError('SIZE') when `out` is too small.
 * Allocates only the UTF-8 bytes of its strings.
 */
export function encodePacket(p: MqttPacket, out: Uint8Array, offset = 0): number {
  const { body, strings } = prepare(p);
  const total = 1 + varLen(body) + body;
  if (offset < 0 || offset + total > out.length) throw new MqttError('SIZE', `output buffer too small (${total} bytes needed)`);
  let o = offset;
  let si = 0;
  const u16 = (v: number) => { out[o++] = v >>> 8; out[o++] = v & 0xff; };
  const bytes = (b: Uint8Array) => { u16(b.length); out.set(b, o); o += b.length; };
  const str = () => bytes(strings[si++]!);
  const raw = (b: Uint8Array) => { out.set(b, o); o += b.length; };

  let flags = 0;
  if (p.cmd === 'publish') flags = (p.dup ? 8 : 0) | (p.qos << 1) | (p.retain ? 1 : 0);
  else if (p.cmd === 'pubrel' || p.cmd === 'subscribe' || p.cmd === 'unsubscribe') flags = 2;
  out[o++] = (TYPE[p.cmd] << 4) | flags;
  o = writeVarLen(out, o, body);

  switch (p.cmd) {
    case 'connect': {
      out[o++] = 0; out[o++] = 4; out[o++] = 0x4d; out[o++] = 0x51; out[o++] = 0x54; out[o++] = 0x54; // "MQTT"
      out[o++] = 4;
      let f = p.clean ? 2 : 0;
      if (p.will) f |= 4 | (p.will.qos << 3) | (p.will.retain ? 0x20 : 0);
      if (p.password !== undefined) f |= 0x40;
      if (p.username !== undefined) f |= 0x80;
      out[o++] = f;
      u16(p.keepalive);
      str(); // clientId
      if (p.will) { str(); bytes(p.will.payload); }
      if (p.username !== undefined) str();
      if (p.password !== undefined) bytes(p.password);
      break;
    }
    case 'connack':
      out[o++] = p.sessionPresent ? 1 : 0;
      out[o++] = p.returnCode;
      break;
    case 'publish':
      str();
      if (p.qos > 0) u16(p.messageId!);
      raw(p.payload);
      break;
    case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp': case 'unsuback':
      u16(p.messageId);
      break;
    case 'subscribe':
      u16(p.messageId);
      for (const s of p.subscriptions) { str(); out[o++] = s.qos; }
      break;
    case 'suback':
      u16(p.messageId);
      for (const g of p.granted) out[o++] = g;
      break;
    case 'unsubscribe':
      u16(p.messageId);
      for (let i = 0; i < p.unsubscriptions.length; i++) str();
      break;
    default:
      break;
  }
  return o - offset;
}

/** Encodes `p` into a new buffer (owned by the caller). */
export function encode(p: MqttPacket): Uint8Array {
  const out = new Uint8Array(encodedLength(p));
  encodePacket(p, out, 0);
  return out;
}

/** A bounds-checked reader over body bytes [pos, end). */
class Reader {
  constructor(readonly b: Uint8Array, public pos: number, readonly end: number) {}
  left(): number { return this.end - this.pos; }
  u8(): number {
    if (this.pos >= this.end) throw malformed('truncated');
    return this.b[this.pos++]!;
  }
  u16(): number {
    if (this.pos + 2 > this.end) throw malformed('truncated');
    const v = (this.b[this.pos]! << 8) | this.b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  bytes(): Uint8Array {
    const n = this.u16();
    if (this.pos + n > this.end) throw malformed('field runs past the packet');
    const v = this.b.slice(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  str(): string {
    const n = this.u16();
    if (this.pos + n > this.end) throw malformed('string runs past the packet');
    if (!isMqttUtf8(this.b, this.pos, this.pos + n)) throw malformed('string is not valid UTF-8');
    const s = dec.decode(this.b.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  id(): number {
    const v = this.u16();
    if (v === 0) throw malformed('packet identifier 0');
    return v;
  }
  done(): void {
    if (this.pos !== this.end) throw malformed('trailing bytes');
  }
}

/**
 * Decodes the body of one packet: first byte `header`, body bytes b[start, end).
 * A PUBLISH payload is a subarray of `b` (lent). Throws MqttError('MALFORMED').
 */
export function decodeBody(header: number, b: Uint8Array, start: number, end: number): MqttPacket {
  const type = header >>> 4;
  const flags = header & 0x0f;
  const cmd = CMD[type];
  if (cmd === undefined) throw malformed(`reserved packet type ${type}`);
  const wantFlags = cmd === 'pubrel' || cmd === 'subscribe' || cmd === 'unsubscribe' ? 2 : 0;
  if (cmd !== 'publish' && flags !== wantFlags) throw malformed('reserved flags');
  const r = new Reader(b, start, end);
  switch (cmd) {
    case 'connect': {
      const name = r.str();
      const level = r.u8();
      if (name !== 'MQTT' || level !== 4) throw malformed('not MQTT 3.1.1');
      const f = r.u8();
      if (f & 1) throw malformed('connect reserved flag');
      const willFlag = (f & 4) !== 0;
      const willQos = (f >> 3) & 3;
      const willRetain = (f & 0x20) !== 0;
      if (!willFlag && (willQos !== 0 || willRetain)) throw malformed('will flags without will');
      if (willQos === 3) throw malformed('will qos 3');
      if ((f & 0x40) && !(f & 0x80)) throw malformed('password without username');
      const keepalive = r.u16();
      const p: ConnectPacket = { cmd, protocolId: 'MQTT', protocolVersion: 4, clean: (f & 2) !== 0, keepalive, clientId: r.str() };
      if (willFlag) {
        const topic = r.str();
        if (topic.length === 0 || hasWildcard(topic)) throw malformed('will topic');
        p.will = { topic, payload: r.bytes(), qos: willQos as QoS, retain: willRetain };
      }
      if (f & 0x80) p.username = r.str();
      if (f & 0x40) p.password = r.bytes();
      r.done();
      return p;
    }
    case 'connack': {
      const a = r.u8();
      if (a & 0xfe) throw malformed('connack reserved flags');
      const rc = r.u8();
      if (rc > 5) throw malformed('connack return code');
      r.done();
      return { cmd, sessionPresent: a === 1, returnCode: rc };
    }
    case 'publish': {
      const qos = (flags >> 1) & 3;
      if (qos === 3) throw malformed('publish qos 3');
      const dup = (flags & 8) !== 0;
      if (qos === 0 && dup) throw malformed('dup with qos 0');
      const topic = r.str();
      if (topic.length === 0 || hasWildcard(topic)) throw malformed('publish topic');
      const messageId = qos > 0 ? r.id() : undefined;
      const p: PublishPacket = { cmd, topic, payload: b.subarray(r.pos, end), qos: qos as QoS, dup, retain: (flags & 1) !== 0 };
      if (messageId !== undefined) p.messageId = messageId;
      return p;
    }
    case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp': case 'unsuback': {
      const messageId = r.id();
      r.done();
      return { cmd, messageId };
    }
    case 'subscribe': {
      const messageId = r.id();
      const subscriptions: { topic: string; qos: QoS }[] = [];
      while (r.left() > 0) {
        const topic = r.str();
        if (!isValidTopicFilter(topic)) throw malformed('topic filter');
        const q = r.u8();
        if (q > 2) throw malformed('subscription qos');
        subscriptions.push({ topic, qos: q as QoS });
      }
      if (subscriptions.length === 0) throw malformed('subscribe without topic filter');
      return { cmd, messageId, subscriptions };
    }
    case 'suback': {
      const messageId = r.id();
      const granted: number[] = [];
      while (r.left() > 0) {
        const g = r.u8();
        if (g !== 0 && g !== 1 && g !== 2 && g !== 0x80) throw malformed('suback return code');
        granted.push(g);
      }
      if (granted.length === 0) throw malformed('suback without return code');
      return { cmd, messageId, granted };
    }
    case 'unsubscribe': {
      const messageId = r.id();
      const unsubscriptions: string[] = [];
      while (r.left() > 0) {
        const t = r.str();
        if (!isValidTopicFilter(t)) throw malformed('topic filter');
        unsubscriptions.push(t);
      }
      if (unsubscriptions.length === 0) throw malformed('unsubscribe without topic filter');
      return { cmd, messageId, unsubscriptions };
    }
    default:
      r.done();
      return { cmd };
  }
}

/**
 * Decodes exactly one whole packet from `bytes` (no trailing bytes). The payload of a
 * PUBLISH is a subarray of `bytes`. Throws MqttError('MALFORMED').
 */
export function decode(bytes: Uint8Array): MqttPacket {
  if (bytes.length < 2) throw malformed('truncated');
  let n = 0;
  let mul = 1;
  let i = 1;
  for (;;) {
    if (i >= bytes.length) throw malformed('truncated length');
    if (i > 4) throw malformed('remaining length longer than 4 bytes');
    const d = bytes[i++]!;
    n += (d & 0x7f) * mul;
    mul *= 128;
    if ((d & 0x80) === 0) break;
  }
  if (i + n !== bytes.length) throw malformed('length does not match');
  return decodeBody(bytes[0]!, bytes, i, bytes.length);
}

/** Options of MqttParser. */
export interface MqttParserOptions {
  /** Largest whole packet accepted, in bytes (fixed header included); >= 16. The parser owns one buffer this big. */
  maxPacketBytes: number;
  /** Called for every packet, in order. PUBLISH payloads are lent (valid during the call). */
  onPacket: (p: MqttPacket) => void;
  /**
   * Called for a well-formed PUBLISH larger than maxPacketBytes, after its bytes were
   * skipped (never buffered whole). Without it, such a PUBLISH is MqttError('TOO_LARGE').
   */
  onOversize?: (topic: string, qos: QoS, messageId: number | undefined, bytes: number) => void;
  /**
   * true: every PUBLISH is handed over as ONE reused PublishPacket, every PUBACK as one
   * reused IdPacket (issue 13: no packet object, topic string or payload view per chunk):
   * valid only during the onPacket call, like the payload. The topic string is decoded again only when its bytes
   * differ from the last PUBLISH's; payload views are kept for the last 4 ranges. Same
   * checks and MqttError('MALFORMED') as decodeBody. Default false.
   */
  reusePublish?: boolean;
}

const ST_HEADER = 0;
const ST_LEN = 1;
const ST_BODY = 2;
const ST_SKIP = 3;
/** Bytes of an oversize PUBLISH kept to read its topic and id. */
const OVERSIZE_KEEP = 512;

/**
 * A streaming MQTT decoder with one fixed buffer. push() takes bytes as they arrive
 * (any split) and calls onPacket per packet. After it has thrown (MALFORMED, TOO_LARGE)
 * the stream is unusable until reset(). push() never keeps a reference to `data`.
 */
export class MqttParser {
  private readonly buf: Uint8Array;
  private readonly opts: MqttParserOptions;
  private state = ST_HEADER;
  private header = 0;
  private len = 0;
  private mul = 1;
  private lenBytes = 0;
  private have = 0;
  private skipLeft = 0;
  private keep = 0;
  private broken = false;
  /** reusePublish: the packet handed over, the last topic and its bytes, and payload views by range. */
  private readonly pub: PublishPacket = { cmd: 'publish', topic: '', payload: new Uint8Array(0), qos: 0, dup: false, retain: false, messageId: undefined };
  private lastTopic = '';
  private lastTopicBytes = new Uint8Array(0);
  private readonly ack: IdPacket = { cmd: 'puback', messageId: 1 };
  private readonly views: Uint8Array[] = [];
  private viewNext = 0;

  constructor(opts: MqttParserOptions) {
    if (!(opts.maxPacketBytes >= 16)) throw new MqttError('INVAL', 'maxPacketBytes must be >= 16');
    this.opts = opts;
    this.buf = new Uint8Array(opts.maxPacketBytes);
  }

  /** Forgets any partial packet (a new connection). */
  reset(): void {
    this.state = ST_HEADER;
    this.have = 0;
    this.broken = false;
  }

  /** Feeds bytes (lent). Throws MqttError (MALFORMED, TOO_LARGE) or whatever onPacket throws. */
  push(data: Uint8Array): void {
    if (this.broken) throw malformed('stream already broken');
    try {
      this.feed(data);
    } catch (e) {
      this.broken = true;
      throw e;
    }
  }

  private feed(data: Uint8Array): void {
    let i = 0;
    const n = data.length;
    while (i < n) {
      switch (this.state) {
        case ST_HEADER:
          this.header = data[i++]!;
          if (CMD[this.header >>> 4] === undefined) throw malformed(`reserved packet type ${this.header >>> 4}`);
          this.len = 0;
          this.mul = 1;
          this.lenBytes = 0;
          this.state = ST_LEN;
          break;
        case ST_LEN: {
          const d = data[i++]!;
          this.lenBytes++;
          this.len += (d & 0x7f) * this.mul;
          this.mul *= 128;
          if (d & 0x80) {
            if (this.lenBytes === 4) throw malformed('remaining length longer than 4 bytes');
            break;
          }
          const total = 1 + this.lenBytes + this.len;
          this.have = 0;
          if (total > this.buf.length) {
            if ((this.header >>> 4) !== 3 || !this.opts.onOversize) {
              throw new MqttError('TOO_LARGE', `packet of ${total} bytes exceeds ${this.buf.length}`, this.header >>> 4);
            }
            this.keep = Math.min(this.len, OVERSIZE_KEEP, this.buf.length);
            this.skipLeft = this.len;
            this.state = ST_SKIP;
          } else if (this.len === 0) {
            this.state = ST_HEADER;
            this.emit();
          } else {
            this.state = ST_BODY;
          }
          break;
        }
        case ST_BODY: {
          const take = Math.min(this.len - this.have, n - i);
          // the whole event at once needs no view (one allocation less per received packet)
          if (i === 0 && take === n) this.buf.set(data, this.have);
          else this.buf.set(data.subarray(i, i + take), this.have);
          this.have += take;
          i += take;
          if (this.have === this.len) {
            this.state = ST_HEADER;
            this.emit();
          }
          break;
        }
        case ST_SKIP: {
          const take = Math.min(this.skipLeft, n - i);
          if (this.have < this.keep) {
            const k = Math.min(take, this.keep - this.have);
            this.buf.set(data.subarray(i, i + k), this.have);
            this.have += k;
          }
          this.skipLeft -= take;
          i += take;
          if (this.skipLeft === 0) {
            this.state = ST_HEADER;
            this.emitOversize();
          }
          break;
        }
      }
    }
  }

  private emit(): void {
    if (this.opts.reusePublish && this.header >>> 4 === 3) {
      this.opts.onPacket(this.publish());
      return;
    }
    if (this.opts.reusePublish && this.header >>> 4 === 4) {
      // PUBACK (one per published chunk): decodeBody's checks, into one reused packet
      if ((this.header & 0x0f) !== 0) throw malformed('reserved flags');
      if (this.len < 2) throw malformed('truncated');
      const id = (this.buf[0]! << 8) | this.buf[1]!;
      if (id === 0) throw malformed('packet identifier 0');
      if (this.len !== 2) throw malformed('trailing bytes');
      this.ack.messageId = id;
      this.opts.onPacket(this.ack);
      return;
    }
    this.opts.onPacket(decodeBody(this.header, this.buf, 0, this.len));
  }

  /** decodeBody's PUBLISH case into the reused packet (reusePublish): the same checks, in the same order. */
  private publish(): PublishPacket {
    const flags = this.header & 0x0f;
    const qos = (flags >> 1) & 3;
    if (qos === 3) throw malformed('publish qos 3');
    const dup = (flags & 8) !== 0;
    if (qos === 0 && dup) throw malformed('dup with qos 0');
    const b = this.buf;
    const end = this.len;
    if (2 > end) throw malformed('truncated');
    const n = (b[0]! << 8) | b[1]!;
    let pos = 2;
    if (pos + n > end) throw malformed('string runs past the packet');
    const last = this.lastTopicBytes;
    let same = n === last.length && n > 0;
    for (let i = 0; i < n && same; i++) same = b[pos + i] === last[i];
    if (!same) {
      if (!isMqttUtf8(b, pos, pos + n)) throw malformed('string is not valid UTF-8');
      const topic = dec.decode(b.subarray(pos, pos + n));
      if (topic.length === 0 || hasWildcard(topic)) throw malformed('publish topic');
      this.lastTopic = topic;
      this.lastTopicBytes = b.slice(pos, pos + n);
    }
    pos += n;
    let messageId: number | undefined;
    if (qos > 0) {
      if (pos + 2 > end) throw malformed('truncated');
      messageId = (b[pos]! << 8) | b[pos + 1]!;
      if (messageId === 0) throw malformed('packet identifier 0');
      pos += 2;
    }
    const p = this.pub;
    p.topic = this.lastTopic;
    p.payload = this.view(pos, end);
    p.qos = qos as QoS;
    p.dup = dup;
    p.retain = (flags & 1) !== 0;
    p.messageId = messageId;
    return p;
  }

  /** A view of buf[start, end): one of the last 4 made, or a new one kept in their place. */
  private view(start: number, end: number): Uint8Array {
    const v = this.views;
    for (let i = 0; i < v.length; i++) if (v[i]!.byteOffset === start && v[i]!.length === end - start) return v[i]!;
    const made = this.buf.subarray(start, end);
    if (v.length < 4) v.push(made);
    else v[this.viewNext] = made;
    this.viewNext = (this.viewNext + 1) % 4;
    return made;
  }

  private emitOversize(): void {
    const flags = this.header & 0x0f;
    const qos = (flags >> 1) & 3;
    if (qos === 3) throw malformed('publish qos 3');
    if (qos === 0 && flags & 8) throw malformed('dup with qos 0');
    const r = new Reader(this.buf, 0, this.have);
    const topic = r.str();
    if (topic.length === 0 || hasWildcard(topic)) throw malformed('publish topic');
    const id = qos > 0 ? r.id() : undefined;
    this.opts.onOversize!(topic, qos as QoS, id, 1 + this.lenBytes + this.len);
  }
}
