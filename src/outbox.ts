/**
 * The outbox: sealed chunks waiting to be published, kept on the StoragePort so a
 * message recorded while offline (or across a power cut) is sent when the network
 * returns. The MQTT session (src/mqtt-session.ts) publishes records in order with
 * QoS 1 and removes each one only after the broker's PUBACK.
 *
 * Storage layout (docs/BROKER.md, "Storage keys"): one record per chunk under
 * `ob.` + 12 decimal digits (a sequence number, zero-padded so key order is send
 * order). Value: [1 version = 1][2 topic length, big-endian][topic UTF-8][payload].
 * A record is written whole by one StoragePort.write (atomic), so after a power cut
 * it is either there or not.
 *
 * Delivery is at least once: a power cut between PUBACK and remove() sends the chunk
 * again; the receiver drops the duplicate by its dedupe key (src/inbox.ts).
 * Portable.
 */
import { PortError, STORAGE_MAX_VALUE_BYTES, type PortStatus, type StoragePort } from '../hal/ports.js';
import type { Counters } from './counters.js';
import { MqttError } from './mqtt-codec.js';

/** One stored outgoing chunk. `payload` is a copy owned by the caller. */
export interface OutboxRecord {
  id: string;
  topic: string;
  payload: Uint8Array;
}

export interface OutboxOptions {
  storage: StoragePort;
  counters?: Counters;
  /** Most records kept; add() answers 'FULL' beyond. Default 64. */
  maxRecords?: number;
  /** Key prefix, 1..3 characters. Default `ob.`. */
  prefix?: string;
}

const SEQ_DIGITS = 12;
const HEADER = 3;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The key of sequence number `seq` under `prefix`. */
export function seqKey(prefix: string, seq: number): string {
  let s = String(seq);
  while (s.length < SEQ_DIGITS) s = '0' + s;
  return prefix + s;
}

/** The sequence number of `key`, or -1 when it is not a record key under prefix. */
export function keySeq(prefix: string, key: string): number {
  if (key.length !== prefix.length + SEQ_DIGITS || !key.startsWith(prefix)) return -1;
  let n = 0;
  for (let i = prefix.length; i < key.length; i++) {
    const c = key.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** Largest payload one record can hold for a topic of `topicBytes` bytes. */
export function maxOutboxPayload(topicBytes: number): number {
  return STORAGE_MAX_VALUE_BYTES - HEADER - topicBytes;
}

export class Outbox {
  private readonly storage: StoragePort;
  private readonly counters: Counters | undefined;
  private readonly maxRecords: number;
  private readonly prefix: string;
  private readonly list: string[] = [];
  private nextSeq = 0;
  private listener: (() => void) | undefined;

  /** Loads the ids of stored records (keys only; records are read when sent). */
  constructor(opts: OutboxOptions) {
    this.storage = opts.storage;
    this.counters = opts.counters;
    this.maxRecords = opts.maxRecords ?? 64;
    this.prefix = opts.prefix ?? 'ob.';
    if (this.prefix.length < 1 || this.prefix.length > 3) throw new MqttError('INVAL', 'outbox prefix must be 1..3 characters');
    for (const k of this.storage.keys(this.prefix)) {
      const seq = keySeq(this.prefix, k);
      if (seq < 0) continue;
      this.list.push(k);
      if (seq >= this.nextSeq) this.nextSeq = seq + 1;
    }
  }

  /** Called after every successful add() (the session uses it to start sending). Must not throw. */
  onAdd(cb: () => void): void {
    this.listener = cb;
  }

  /**
   * Stores one chunk (payload lent, copied by the storage). Returns 'OK' once it is
   * durable, or 'FULL' (record limit or storage NOSPACE: nothing was stored).
   * Throws MqttError INVAL (empty topic, payload too large for one record) or
   * STORAGE (the storage failed: nothing was stored, or, after a power cut, the whole record).
   */
  add(topic: string, payload: Uint8Array): PortStatus {
    const t = enc.encode(topic);
    if (t.length === 0 || t.length > 255) throw new MqttError('INVAL', 'outbox topic must be 1..255 bytes');
    if (payload.length > maxOutboxPayload(t.length)) throw new MqttError('INVAL', `outbox payload larger than ${maxOutboxPayload(t.length)} bytes`);
    if (this.list.length >= this.maxRecords) {
      this.counters?.inc('outbox.full');
      return 'FULL';
    }
    const v = new Uint8Array(HEADER + t.length + payload.length);
    v[0] = 1;
    v[1] = t.length >>> 8;
    v[2] = t.length & 0xff;
    v.set(t, HEADER);
    v.set(payload, HEADER + t.length);
    const key = seqKey(this.prefix, this.nextSeq);
    try {
      this.storage.write(key, v);
    } catch (e) {
      if (e instanceof PortError && e.code === 'NOSPACE') {
        this.counters?.inc('outbox.full');
        return 'FULL';
      }
      this.counters?.inc('outbox.write_failed');
      throw new MqttError('STORAGE', `outbox write failed (${e instanceof PortError ? e.code : 'unknown'})`);
    }
    this.nextSeq++;
    this.list.push(key);
    this.counters?.inc('outbox.added');
    try {
      this.listener?.();
    } catch {
      this.counters?.inc('outbox.listener_threw');
    }
    return 'OK';
  }

  /** Ids of stored records in send order (a copy). */
  ids(): string[] {
    return this.list.slice();
  }

  /** The id at position i in send order, or undefined. */
  at(i: number): string | undefined {
    return this.list[i];
  }

  count(): number {
    return this.list.length;
  }

  /**
   * Reads record `id`. A record that is missing or does not parse (a corrupted
   * flash page) is removed, counted (`outbox.corrupt`) and answered with undefined.
   */
  read(id: string): OutboxRecord | undefined {
    let v: Uint8Array | undefined;
    try {
      v = this.storage.read(id);
    } catch {
      this.counters?.inc('outbox.read_failed');
      return undefined;
    }
    if (v && v.length >= HEADER && v[0] === 1) {
      const tl = (v[1]! << 8) | v[2]!;
      if (tl > 0 && HEADER + tl <= v.length) {
        return { id, topic: dec.decode(v.subarray(HEADER, HEADER + tl)), payload: v.subarray(HEADER + tl) };
      }
    }
    this.counters?.inc('outbox.corrupt');
    this.drop(id);
    return undefined;
  }

  /**
   * Removes record `id` after the broker acknowledged it. Throws MqttError('STORAGE')
   * when the storage fails (the record stays and will be sent again).
   */
  remove(id: string): void {
    const i = this.list.indexOf(id);
    if (i < 0) return;
    try {
      this.storage.remove(id);
    } catch (e) {
      this.counters?.inc('outbox.remove_failed');
      throw new MqttError('STORAGE', `outbox remove failed (${e instanceof PortError ? e.code : 'unknown'})`);
    }
    this.list.splice(i, 1);
    this.counters?.inc('outbox.sent');
  }

  private drop(id: string): void {
    const i = this.list.indexOf(id);
    if (i >= 0) this.list.splice(i, 1);
    try {
      this.storage.remove(id);
    } catch {
      this.counters?.inc('outbox.remove_failed');
    }
  }
}
