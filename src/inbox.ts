/**
 * The inbox: sealed chunks received from the broker, kept on the StoragePort until
 * the consumer (the envelope and playback) confirms it is done with them, with
 * duplicate suppression that survives power cuts.
 *
 * Exactly-once hand-over, step by step (a power cut may hit between any two):
 * 1. PUBLISH arrives. Its dedupe key (the `dedupeKey` option, e.g. the envelope's
 *    `chunkKey`; by default a 64-bit FNV-1a digest of the payload, which is unique
 *    because every sealed chunk carries a random nonce) is hashed to 8 bytes.
 *    Seen (confirmed) or already stored: dropped, counted `inbox.duplicate`, acknowledged.
 * 2. New: the record is written (`ib.` + 12 digits; value [1 version = 1][8 key hash]
 *    [2 topic length][topic][payload]). Only after that write does the session send
 *    PUBACK, so a cut before it makes the broker deliver again.
 * 3. The consumer gets the message (now, or after a restart: every stored record
 *    whose key is not confirmed is handed over again, in arrival order).
 * 4. confirm(id), or confirmMany(ids) for a whole message: the key hashes are added
 *    to the seen ring (`ix.seen`, the last `seenCapacity` keys) — this one write is
 *    the commit point, once per message — then the records are removed. A cut between the two: at start-up a record whose key is in the ring
 *    is removed without being handed over. So a confirmed message is never handed
 *    over again, and an unconfirmed one is never lost.
 *    Or releaseMany(ids), when the consumer's own durable commit already refuses
 *    those chunks if they come again (a played message: its replay counter): the
 *    records are removed with no write (issue 13).
 *
 * Duplicates older than `seenCapacity` confirmed chunks are not caught here; the
 * envelope's own replay protection catches those (docs/PROTOCOL.md).
 * Portable.
 */
import { PortError, STORAGE_MAX_VALUE_BYTES, type StoragePort } from '../hal/ports.js';
import type { Counters } from './counters.js';
import { MqttError } from './mqtt-codec.js';
import { keySeq, seqKey } from './outbox.js';

/** Digits of a record key's sequence number (as src/outbox.ts seqKey; checked at construction). */
const SEQ_DIGITS = 12;

/**
 * A chunk handed to the consumer. `payload` is a copy owned by the consumer. The object
 * itself is the consumer's too, unless the Inbox was built with `lendMessages` (then it is
 * lent for the call only and reused for the next chunk).
 */
export interface InboxMessage {
  /** Storage key of the record; pass it to confirm(). */
  id: string;
  topic: string;
  payload: Uint8Array;
  /** The dedupe key hash, 16 hex digits (for logs and tests). */
  key: string;
  /** True when the record was stored before this start-up (handed over again by setConsumer), false when it arrived now. */
  restored: boolean;
}

/** What accept() did with a received chunk. The session acknowledges all but FULL and FAILED. */
export type InboxAcceptResult =
  | 'STORED' // new, durable, handed to the consumer
  | 'DUPLICATE' // seen before: dropped
  | 'DROPPED' // can never be stored (too large for a record): dropped and counted
  | 'FULL' // no room now (record limit or NOSPACE): not acknowledged, the broker keeps it
  | 'FAILED'; // the storage failed: not acknowledged

export interface InboxOptions {
  storage: StoragePort;
  counters?: Counters;
  /** The dedupe key of a payload (lent), or undefined to use the payload digest. Must not throw. */
  dedupeKey?: (payload: Uint8Array) => string | undefined;
  /**
   * The dedupe key's character codes (ASCII) written into `codes` (reused, lent; set its
   * length), or false to use the payload digest: `dedupeKey` without a string per chunk
   * (issue 13: envelope-format's chunkKeyCodes). Gives the same key hash as `dedupeKey`
   * returning that string; when both are set this one is used. Must not throw.
   */
  dedupeKeyCodes?: (payload: Uint8Array, codes: number[]) => boolean;
  /**
   * True: the InboxMessage object given to the consumer is lent for the call and reused
   * for the next chunk (its fields are overwritten; `payload` is still a new view owned
   * by the consumer). Saves an object per chunk (issue 13: XS heap slots). Default false.
   */
  lendMessages?: boolean;
  /** Most stored records; more are answered FULL. Default 200 (a 60 s message is about 40 chunks). */
  maxRecords?: number;
  /** Confirmed keys remembered, 1..400. Default 128 (1 KiB record). */
  seenCapacity?: number;
  /** Record key prefix, 1..3 characters. Default `ib.`. */
  prefix?: string;
  /** Key of the seen ring. Default `ix.seen`. */
  seenKey?: string;
}

const HEADER = 11;

interface InboxRecord {
  id: string;
  key: string;
  /** The key hash's bytes 0..3 and 4..7, big-endian (no hex parsing when confirmed). */
  hi: number;
  lo: number;
  /** Handed to the consumer in this start-up (each record once). */
  handed: boolean;
}

const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * FNV-1a over bytes with two 32-bit lanes (different offset bases): 8 bytes into out[o..o+8).
 * `b` is bytes, or ASCII character codes (the same hash as their TextEncoder bytes).
 */
function digestInto(b: Uint8Array | readonly number[], out: Uint8Array, o: number): void {
  let h1 = 0x811c9dc5;
  let h2 = 0xcbf29ce4;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h2 >>> 15);
  }
  h1 >>>= 0;
  h2 >>>= 0;
  out[o] = h1 >>> 24; out[o + 1] = (h1 >>> 16) & 255; out[o + 2] = (h1 >>> 8) & 255; out[o + 3] = h1 & 255;
  out[o + 4] = h2 >>> 24; out[o + 5] = (h2 >>> 16) & 255; out[o + 6] = (h2 >>> 8) & 255; out[o + 7] = h2 & 255;
}

const HEX_CODES = [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102];
const hexCodes: number[] = new Array<number>(16).fill(0);

/** 16 lower-case hex digits of b[o..o+8): one string from reused char codes (not one per digit). */
function hex8(b: Uint8Array, o: number): string {
  for (let i = 0; i < 8; i++) {
    hexCodes[i * 2] = HEX_CODES[b[o + i]! >> 4]!;
    hexCodes[i * 2 + 1] = HEX_CODES[b[o + i]! & 15]!;
  }
  return String.fromCharCode.apply(null, hexCodes);
}

export class Inbox {
  private readonly storage: StoragePort;
  private readonly counters: Counters | undefined;
  private readonly dedupeKey: ((payload: Uint8Array) => string | undefined) | undefined;
  private readonly dedupeKeyCodes: ((payload: Uint8Array, codes: number[]) => boolean) | undefined;
  /** The dedupe key's character codes (reused by dedupeKeyCodes). */
  private readonly keyCharCodes: number[] = [];
  private readonly maxRecords: number;
  private readonly seenCapacity: number;
  private readonly prefix: string;
  private readonly seenKey: string;
  /** Stored records in arrival order, with their key hash (hex, and as two 32-bit halves for the seen ring). */
  private readonly records: InboxRecord[] = [];
  /** Seen ring: [1 version][2 count][2 next][count × 8 bytes]; its copy while a commit is written. */
  private readonly ring: Uint8Array;
  private readonly ringBackup: Uint8Array;
  /** Char codes of the next record key (prefix, then 12 digits), and the prefix's length. */
  private readonly keyCodes: number[] = [];
  private readonly prefixLength: number;
  private ringCount = 0;
  private ringNext = 0;
  private readonly seenSet = new Set<string>();
  private nextSeq = 0;
  private consumer: ((m: InboxMessage) => void) | undefined;
  /** The message object lent to the consumer when `lendMessages` (else one per chunk). */
  private readonly lent: InboxMessage | undefined;
  private readonly scratch = new Uint8Array(8);
  /** The last topic accept() encoded, and its bytes (chunks arrive on one topic: encoded once). */
  private lastTopic = '';
  private lastTopicBytes: Uint8Array = new Uint8Array(0);

  /** Loads the seen ring and the stored records; finishes confirmations a power cut interrupted. */
  constructor(opts: InboxOptions) {
    this.storage = opts.storage;
    this.counters = opts.counters;
    this.dedupeKey = opts.dedupeKey;
    this.dedupeKeyCodes = opts.dedupeKeyCodes;
    this.lent = opts.lendMessages ? { id: '', topic: '', payload: new Uint8Array(0), key: '', restored: false } : undefined;
    this.maxRecords = opts.maxRecords ?? 200;
    this.seenCapacity = opts.seenCapacity ?? 128;
    this.prefix = opts.prefix ?? 'ib.';
    this.seenKey = opts.seenKey ?? 'ix.seen';
    if (!(this.seenCapacity >= 1 && this.seenCapacity <= 400)) throw new MqttError('INVAL', 'seenCapacity must be 1..400');
    this.ring = new Uint8Array(5 + this.seenCapacity * 8);
    this.ringBackup = new Uint8Array(this.ring.length);
    this.ring[0] = 1;
    for (let i = 0; i < this.prefix.length; i++) this.keyCodes.push(this.prefix.charCodeAt(i));
    this.prefixLength = this.keyCodes.length;
    for (let i = 0; i < SEQ_DIGITS; i++) this.keyCodes.push(48);
    if (this.recordKey(7) !== seqKey(this.prefix, 7)) throw new MqttError('INVAL', 'record key format differs from seqKey');
    this.loadRing();
    for (const k of this.storage.keys(this.prefix)) {
      const seq = keySeq(this.prefix, k);
      if (seq < 0) continue;
      if (seq >= this.nextSeq) this.nextSeq = seq + 1;
      const v = this.safeRead(k);
      if (!v || v.length < HEADER || v[0] !== 1) {
        this.counters?.inc('inbox.corrupt');
        this.safeRemove(k);
        continue;
      }
      const key = hex8(v, 1);
      if (this.seenSet.has(key)) {
        // confirmed, but the power went before the record was removed
        this.counters?.inc('inbox.recovered_confirmed');
        this.safeRemove(k);
        continue;
      }
      this.records.push({ id: k, key, hi: u32(v, 1), lo: u32(v, 5), handed: false });
    }
  }

  private loadRing(): void {
    const v = this.safeRead(this.seenKey);
    if (!v) return;
    if (v.length < 5 || v[0] !== 1) {
      this.counters?.inc('inbox.seen_corrupt');
      return;
    }
    const count = (v[1]! << 8) | v[2]!;
    const next = (v[3]! << 8) | v[4]!;
    if (5 + count * 8 > v.length || count > 400) {
      this.counters?.inc('inbox.seen_corrupt');
      return;
    }
    // Entries are stored in ring order; the oldest is at `next` (full ring) or 0 (not
    // full, then next === count): next % count in both cases. Replay oldest first.
    const oldest = count > 0 ? next % count : 0;
    for (let i = 0; i < count; i++) this.pushSeen(v, 5 + ((oldest + i) % count) * 8);
  }

  private pushSeen(src: Uint8Array, o: number): void {
    const at = 5 + this.ringNext * 8;
    if (this.ringCount === this.seenCapacity) this.seenSet.delete(hex8(this.ring, at));
    for (let i = 0; i < 8; i++) this.ring[at + i] = src[o + i]!;
    this.seenSet.add(hex8(src, o));
    this.ringNext = (this.ringNext + 1) % this.seenCapacity;
    if (this.ringCount < this.seenCapacity) this.ringCount++;
    this.ring[1] = this.ringCount >>> 8;
    this.ring[2] = this.ringCount & 255;
    this.ring[3] = this.ringNext >>> 8;
    this.ring[4] = this.ringNext & 255;
  }

  private safeRead(k: string): Uint8Array | undefined {
    try {
      return this.storage.read(k);
    } catch {
      this.counters?.inc('inbox.read_failed');
      return undefined;
    }
  }

  private safeRemove(k: string): void {
    try {
      this.storage.remove(k);
    } catch {
      this.counters?.inc('inbox.remove_failed');
    }
  }

  /**
   * Sets the consumer (replacing any earlier) and hands it every stored, unconfirmed
   * chunk in arrival order. Later chunks are handed over as they are stored. Each chunk
   * is handed over once per start-up; the consumer must not throw (a throw is counted).
   */
  setConsumer(cb: (m: InboxMessage) => void): void {
    this.consumer = cb;
    for (const r of this.records.slice()) this.handOver(r);
  }

  /** Hands record `r` to the consumer once per start-up (not when an earlier consumer call already removed it). */
  private handOver(r: InboxRecord, written?: Uint8Array, topic?: string): void {
    if (!this.consumer || r.handed || this.records.indexOf(r) < 0) return;
    const id = r.id;
    // a record accept() just wrote is handed over from RAM: no read-back of what is still in RAM
    const v = written ?? this.safeRead(id);
    const tl = v && v.length >= HEADER ? (v[9]! << 8) | v[10]! : -1;
    if (!v || tl < 1 || HEADER + tl > v.length) {
      this.counters?.inc('inbox.corrupt');
      this.records.splice(this.records.indexOf(r), 1);
      this.safeRemove(id);
      return;
    }
    r.handed = true;
    const t = topic ?? dec.decode(v.subarray(HEADER, HEADER + tl));
    const m = this.lent;
    try {
      if (m) {
        m.id = id;
        m.topic = t;
        m.payload = v.subarray(HEADER + tl);
        m.key = r.key;
        m.restored = written === undefined;
        this.consumer(m);
      } else this.consumer({ id, topic: t, payload: v.subarray(HEADER + tl), key: r.key, restored: written === undefined });
    } catch {
      this.counters?.inc('inbox.consumer_threw');
    }
  }

  /**
   * The payload of stored record `id` (a view into the storage's own new copy of the
   * record: owned by the caller, no second copy), or undefined when it is not
   * stored or unreadable (counted `inbox.corrupt` / `inbox.read_failed`). Lets a
   * consumer keep only ids in RAM and read chunks back when it needs them.
   */
  read(id: string): Uint8Array | undefined {
    let known = false;
    for (let i = 0; i < this.records.length && !known; i++) known = this.records[i]!.id === id; // no closure per call
    if (!known) return undefined;
    const v = this.safeRead(id);
    const tl = v && v.length >= HEADER ? (v[9]! << 8) | v[10]! : -1;
    if (!v || tl < 1 || HEADER + tl > v.length) {
      this.counters?.inc('inbox.corrupt');
      return undefined;
    }
    return v.subarray(HEADER + tl);
  }

  /** Ids of stored, unconfirmed records in arrival order (a copy). */
  ids(): string[] {
    return this.records.map((r) => r.id);
  }

  count(): number {
    return this.records.length;
  }

  /** True when the chunk's key was confirmed or is stored now. `payload` is lent. */
  isDuplicate(payload: Uint8Array): boolean {
    const key = this.keyOf(payload);
    return this.seenSet.has(key) || this.records.some((r) => r.key === key);
  }

  private keyOf(payload: Uint8Array): string {
    if (this.dedupeKeyCodes) {
      let ok = false;
      try {
        ok = this.dedupeKeyCodes(payload, this.keyCharCodes);
      } catch {
        this.counters?.inc('inbox.dedupe_key_threw');
      }
      const c = this.keyCharCodes;
      let ascii = ok;
      for (let i = 0; i < c.length && ascii; i++) ascii = c[i]! >= 0 && c[i]! < 128 && (c[i]! | 0) === c[i];
      digestInto(ascii ? c : payload, this.scratch, 0);
      return hex8(this.scratch, 0);
    }
    let k: string | undefined;
    if (this.dedupeKey) {
      try {
        k = this.dedupeKey(payload);
      } catch {
        this.counters?.inc('inbox.dedupe_key_threw');
      }
    }
    if (k === undefined) digestInto(payload, this.scratch, 0);
    else digestInto(enc.encode(k), this.scratch, 0);
    return hex8(this.scratch, 0);
  }

  /**
   * Takes one received chunk (topic and payload lent). See InboxAcceptResult.
   * Never throws.
   */
  accept(topic: string, payload: Uint8Array): InboxAcceptResult {
    const key = this.keyOf(payload);
    const keyBytes = this.scratch; // holds the hash of `key` (keyOf just wrote it)
    let dup = this.seenSet.has(key);
    for (let i = 0; i < this.records.length && !dup; i++) dup = this.records[i]!.key === key;
    if (dup) {
      this.counters?.inc('inbox.duplicate');
      return 'DUPLICATE';
    }
    if (topic !== this.lastTopic) {
      this.lastTopicBytes = enc.encode(topic);
      this.lastTopic = topic;
    }
    const t = this.lastTopicBytes;
    if (t.length < 1 || HEADER + t.length + payload.length > STORAGE_MAX_VALUE_BYTES) {
      this.counters?.inc('inbox.too_large');
      return 'DROPPED';
    }
    if (this.records.length >= this.maxRecords) {
      this.counters?.inc('inbox.full');
      return 'FULL';
    }
    const v = new Uint8Array(HEADER + t.length + payload.length);
    v[0] = 1;
    for (let i = 0; i < 8; i++) v[1 + i] = keyBytes[i]!;
    v[9] = t.length >>> 8;
    v[10] = t.length & 255;
    v.set(t, HEADER);
    v.set(payload, HEADER + t.length);
    const id = this.recordKey(this.nextSeq);
    try {
      this.storage.write(id, v);
    } catch (e) {
      if (e instanceof PortError && e.code === 'NOSPACE') {
        this.counters?.inc('inbox.full');
        return 'FULL';
      }
      this.counters?.inc('inbox.write_failed');
      return 'FAILED';
    }
    this.nextSeq++;
    const r: InboxRecord = { id, key, hi: u32(keyBytes, 0), lo: u32(keyBytes, 4), handed: false };
    this.records.push(r);
    this.counters?.inc('inbox.stored');
    this.handOver(r, v, topic);
    return 'STORED';
  }

  /**
   * The consumer is done with chunk `id` (played, or judged invalid): commit its key to
   * the seen ring, then remove the record. Unknown ids are ignored (counted).
   * Throws MqttError('STORAGE') when the commit write fails (the chunk stays and is
   * handed over again after a restart).
   */
  confirm(id: string): void {
    this.confirmMany([id]);
  }

  /**
   * The consumer is done with all of `ids` (a whole message): their keys go into the
   * seen ring with ONE write of `ix.seen` (the commit point for all of them), then the
   * records are removed. Unknown ids are ignored (counted `inbox.confirm_unknown`).
   * Throws MqttError('STORAGE') when the commit write fails (nothing is confirmed;
   * the chunks stay and are handed over again after a restart).
   */
  confirmMany(ids: readonly string[]): void {
    // indexed loops, no closures and no string parsing: heap slots per message (issue 13)
    const found: number[] = [];
    for (let j = 0; j < ids.length; j++) {
      const i = this.indexOf(ids[j]!);
      if (i < 0) this.counters?.inc('inbox.confirm_unknown');
      else if (found.indexOf(i) < 0) found.push(i);
    }
    if (found.length === 0) return;
    const count = this.ringCount;
    const next = this.ringNext;
    this.ringBackup.set(this.ring);
    const h = this.scratch;
    for (let j = 0; j < found.length; j++) {
      const r = this.records[found[j]!]!;
      h[0] = r.hi >>> 24; h[1] = (r.hi >>> 16) & 255; h[2] = (r.hi >>> 8) & 255; h[3] = r.hi & 255;
      h[4] = r.lo >>> 24; h[5] = (r.lo >>> 16) & 255; h[6] = (r.lo >>> 8) & 255; h[7] = r.lo & 255;
      this.pushSeen(h, 0);
    }
    try {
      this.storage.write(this.seenKey, this.ring.subarray(0, 5 + this.ringCount * 8));
    } catch (e) {
      // back to the ring as it was; the set is rebuilt from it (rare path)
      this.ring.set(this.ringBackup);
      this.ringCount = count;
      this.ringNext = next;
      this.seenSet.clear();
      for (let i = 0; i < count; i++) this.seenSet.add(hex8(this.ring, 5 + i * 8));
      this.counters?.inc('inbox.commit_failed');
      throw new MqttError('STORAGE', `inbox commit failed (${e instanceof PortError ? e.code : 'unknown'})`);
    }
    const done: string[] = [];
    for (let j = 0; j < found.length; j++) done.push(this.records[found[j]!]!.id);
    for (let j = 0; j < done.length; j++) {
      const id = done[j]!;
      this.records.splice(this.indexOf(id), 1);
      this.safeRemove(id);
      this.counters?.inc('inbox.confirmed');
    }
  }

  /**
   * The consumer is done with all of `ids` and has already made that durable by a
   * commit of its own that refuses them if they come again (the envelope's replay
   * record: src/message-player.ts commits a played message's counter first): the
   * records are removed WITHOUT writing their keys into the seen ring (issue 13:
   * no seen-record erase per message). A cut in between leaves some records, handed
   * over again at the next start, which that commit then refuses. Unknown ids are
   * ignored (counted `inbox.confirm_unknown`). Never throws (a failed remove is
   * counted `inbox.remove_failed`; the record is forgotten in RAM).
   */
  releaseMany(ids: readonly string[]): void {
    for (let j = 0; j < ids.length; j++) {
      const id = ids[j]!;
      const i = this.indexOf(id);
      if (i < 0) {
        this.counters?.inc('inbox.confirm_unknown');
        continue;
      }
      this.records.splice(i, 1);
      this.safeRemove(id);
      this.counters?.inc('inbox.released');
    }
  }

  /** Index of record `id` in `records`, or -1. */
  private indexOf(id: string): number {
    for (let i = 0; i < this.records.length; i++) if (this.records[i]!.id === id) return i;
    return -1;
  }

  /** `prefix` + 12 decimal digits (as seqKey in src/outbox.ts), from reused char codes: no string method calls (each costs XS heap slots). */
  private recordKey(seq: number): string {
    const c = this.keyCodes;
    let v = seq;
    for (let i = c.length - 1; i >= this.prefixLength; i--) {
      c[i] = 48 + (v % 10);
      v = Math.floor(v / 10);
    }
    return String.fromCharCode.apply(null, c);
  }
}
