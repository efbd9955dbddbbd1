/**
 * The outbox: sealed chunks waiting to be published, kept so that a message
 * recorded while offline (or across a power cut) is sent when the network
 * returns. The MQTT session (src/mqtt-session.ts) publishes records in order with
 * QoS 1 and removes each one only after the broker's PUBACK.
 *
 * Write-behind (when `clock` and `online` are given, as src/app.ts wires it):
 * - While online, add() keeps the chunk in RAM and the session publishes it from
 *   there (no flash write, no read-back). A chunk the broker acknowledges within
 *   `persistAfterMs` never touches the flash.
 * - A chunk not acknowledged `persistAfterMs` after add() is written to flash then
 *   (and its RAM copy dropped); so is the oldest RAM chunk when more than
 *   `maxRamRecords` are held.
 * - While offline (or without clock/online), add() writes the chunk at once.
 * DURABILITY POINT: a chunk is durable at its broker PUBACK or `persistAfterMs`
 * after add(), whichever comes first (at add() while offline). A power cut before
 * that loses the chunk; after it, the chunk is delivered. The recorder adds a
 * message's last chunk at the paw's release (src/toy-recorder.ts seals it in the
 * release handler), so with the default 1,500 ms a whole message is durable at most
 * 2 s after the paw is released (docs/AUDIO.md, tests/outbox-write-behind.test.ts).
 * One timer at most waits for the oldest RAM chunk's deadline (not one per chunk).
 * A flash write that fails keeps the chunk in RAM (counted `outbox.persist_failed`)
 * and is tried again at the next deadline.
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
import { PortError, STORAGE_MAX_VALUE_BYTES, type ClockPort, type PortStatus, type StoragePort, type TimerHandle } from '../hal/ports.js';
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
  /** Write-behind (both needed): the clock for the persist deadline, and whether the session is online now. */
  clock?: ClockPort;
  online?: () => boolean;
  /** Milliseconds a chunk may wait in RAM for its PUBACK before it is written (write-behind). Default 1500. */
  persistAfterMs?: number;
  /** Most chunks held in RAM only (write-behind); the oldest is written beyond. Default 4. */
  maxRamRecords?: number;
}

/** Default write-behind deadline (ms): see the durability point above. */
export const OUTBOX_PERSIST_AFTER_MS = 1500;

/** One queued chunk. `value` is its record bytes while it is held in RAM only; undefined once on flash. */
interface Entry {
  key: string;
  value: Uint8Array | undefined;
  topicLength: number;
  /** The topic while the record is in RAM ('' once on flash: read back from the record). */
  topic: string;
  addedAt: number;
}

const SEQ_DIGITS = 12;
const HEADER = 3;
const enc = new TextEncoder();
const dec = new TextDecoder();

const ZEROS = '000000000000';

/** The key of sequence number `seq` under `prefix`. */
export function seqKey(prefix: string, seq: number): string {
  const s = String(seq);
  return s.length >= SEQ_DIGITS ? prefix + s : prefix + ZEROS.slice(s.length) + s;
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
  private readonly clock: ClockPort | undefined;
  private readonly online: (() => boolean) | undefined;
  private readonly persistAfterMs: number;
  private readonly maxRam: number;
  private readonly list: Entry[] = [];
  private ramCount = 0;
  private nextSeq = 0;
  private listener: (() => void) | undefined;
  private timer: TimerHandle | undefined;
  private timerAt = -1;
  private readonly onTimer: () => void;
  private closed = false;
  /** The last topic added and its UTF-8 bytes (a message's chunks share one topic: no encode per chunk). */
  private lastTopic = '';
  private lastTopicBytes: Uint8Array = new Uint8Array(0);
  /** Entries removed after their PUBACK, reused by add() (at most maxRam + 1 kept). */
  private readonly spare: Entry[] = [];

  /** Loads the ids of stored records (keys only; records are read when sent). */
  constructor(opts: OutboxOptions) {
    this.storage = opts.storage;
    this.counters = opts.counters;
    this.maxRecords = opts.maxRecords ?? 64;
    this.prefix = opts.prefix ?? 'ob.';
    this.clock = opts.clock;
    this.online = opts.online;
    this.persistAfterMs = Math.max(0, opts.persistAfterMs ?? OUTBOX_PERSIST_AFTER_MS);
    this.maxRam = Math.max(0, opts.maxRamRecords ?? 4);
    if (this.prefix.length < 1 || this.prefix.length > 3) throw new MqttError('INVAL', 'outbox prefix must be 1..3 characters');
    for (const k of this.storage.keys(this.prefix)) {
      const seq = keySeq(this.prefix, k);
      if (seq < 0) continue;
      this.list.push({ key: k, value: undefined, topicLength: 0, topic: '', addedAt: 0 });
      if (seq >= this.nextSeq) this.nextSeq = seq + 1;
    }
    this.onTimer = () => this.deadline();
  }

  /** Called after every successful add() (the session uses it to start sending). Must not throw. */
  onAdd(cb: () => void): void {
    this.listener = cb;
  }

  /**
   * Queues one chunk (payload lent, copied). Returns 'OK' once it is queued: durable
   * at once when written through (offline, or no write-behind), else at its PUBACK or
   * persistAfterMs later (see the durability point above). 'FULL': record limit or
   * storage NOSPACE, nothing was queued.
   * Throws MqttError INVAL (empty topic, payload too large for one record) or
   * STORAGE (the storage failed: nothing was stored, or, after a power cut, the whole record).
   */
  add(topic: string, payload: Uint8Array): PortStatus {
    if (topic !== this.lastTopic) {
      this.lastTopicBytes = enc.encode(topic);
      this.lastTopic = topic;
    }
    const t = this.lastTopicBytes;
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
    const behind = this.writeBehind();
    if (!behind) {
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
    }
    this.nextSeq++;
    const entry = this.spare.pop() ?? { key, value: undefined, topicLength: 0, topic: '', addedAt: 0 };
    entry.key = key;
    entry.value = behind ? v : undefined;
    entry.topicLength = t.length;
    entry.topic = behind ? topic : '';
    entry.addedAt = behind ? this.clock!.now() : 0;
    this.list.push(entry);
    this.counters?.inc('outbox.added');
    if (behind) {
      this.ramCount++;
      this.counters?.inc('outbox.held_in_ram');
      if (this.ramCount > this.maxRam) this.persistOldest();
      this.schedule();
    }
    try {
      this.listener?.();
    } catch {
      this.counters?.inc('outbox.listener_threw');
    }
    return 'OK';
  }

  /** Ids of queued records in send order (a copy). */
  ids(): string[] {
    return this.list.map((e) => e.key);
  }

  /** The id at position i in send order, or undefined. */
  at(i: number): string | undefined {
    return this.list[i]?.key;
  }

  count(): number {
    return this.list.length;
  }

  /** Chunks held in RAM only (not yet durable unless acknowledged). */
  ramCountNow(): number {
    return this.ramCount;
  }

  /**
   * Record `id`: from RAM while it is held there (no flash read), else read from
   * the storage. A stored record that is missing or does not parse (a corrupted
   * flash page) is removed, counted (`outbox.corrupt`) and answered with undefined.
   * `payload` may be a view of the outbox's own copy: read it, do not keep or change it.
   */
  read(id: string): OutboxRecord | undefined {
    const e = this.find(id);
    if (e?.value) return { id, topic: e.topic, payload: e.value.subarray(HEADER + e.topicLength) };
    const v = this.value(id);
    if (!v) return undefined;
    const tl = (v[1]! << 8) | v[2]!;
    return { id, topic: dec.decode(v.subarray(HEADER, HEADER + tl)), payload: v.subarray(HEADER + tl) };
  }

  /**
   * The whole record of `id` without copying or decoding (the MQTT session's path, no
   * allocation while it is in RAM): [1 version][2 topic length][topic UTF-8][payload],
   * the topic in MQTT's own string encoding. Lent: read it, do not keep or change it.
   * From RAM while held there, else read from the storage; a stored record that is
   * missing or does not parse is removed, counted (`outbox.corrupt`) and answered undefined.
   */
  value(id: string): Uint8Array | undefined {
    const e = this.find(id);
    if (e?.value) return e.value;
    let v: Uint8Array | undefined;
    try {
      v = this.storage.read(id);
    } catch {
      this.counters?.inc('outbox.read_failed');
      return undefined;
    }
    if (v && v.length >= HEADER && v[0] === 1) {
      const tl = (v[1]! << 8) | v[2]!;
      if (tl > 0 && HEADER + tl <= v.length) return v;
    }
    this.counters?.inc('outbox.corrupt');
    this.drop(id);
    return undefined;
  }

  /**
   * Removes record `id` after the broker acknowledged it (a chunk still in RAM is
   * simply forgotten: no flash operation). Throws MqttError('STORAGE') when the
   * storage fails (the record stays and will be sent again).
   */
  remove(id: string): void {
    const i = this.indexOf(id);
    if (i < 0) return;
    const e = this.list[i]!;
    if (e.value) {
      e.value = undefined;
      e.topic = '';
      this.ramCount--;
      this.counters?.inc('outbox.acked_in_ram');
    } else {
      try {
        this.storage.remove(id);
      } catch (err) {
        this.counters?.inc('outbox.remove_failed');
        throw new MqttError('STORAGE', `outbox remove failed (${err instanceof PortError ? err.code : 'unknown'})`);
      }
    }
    this.removeAt(i);
    if (this.spare.length <= this.maxRam) {
      e.key = '';
      this.spare.push(e);
    }
    this.counters?.inc('outbox.sent');
  }

  /**
   * Writes every chunk held in RAM to flash now (e.g. when the link drops). Chunks a
   * failing write could not store stay in RAM and are counted.
   */
  persistAll(): void {
    if (this.closed) return;
    const list = this.list;
    for (let i = 0; i < list.length; i++) if (list[i]!.value) this.persist(list[i]!);
  }

  /**
   * Forgets every queued chunk in RAM and the list (after a factory reset wiped the
   * storage: nothing of the old family may leave the toy). Stored records are not touched.
   */
  discardAll(): void {
    this.list.length = 0;
    this.ramCount = 0;
    this.cancelTimer();
  }

  /** Stops the write-behind timer; RAM-only chunks are dropped as a power cut would. Safe to call twice. */
  close(): void {
    this.closed = true;
    this.cancelTimer();
  }

  private writeBehind(): boolean {
    if (this.closed || !this.clock || !this.online || this.maxRam === 0) return false;
    try {
      return this.online();
    } catch {
      return false;
    }
  }

  /** The write-behind deadline: persists chunks whose time in RAM is up, then waits for the next; never throws. */
  private deadline(): void {
    this.timer = undefined;
    this.timerAt = -1;
    if (this.closed) return;
    const now = this.clock!.now();
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      if (e.value && now - e.addedAt >= this.persistAfterMs) this.persist(e);
    }
    this.schedule();
  }

  /**
   * Arms the one deadline timer for the oldest RAM chunk, unless it is armed already:
   * chunks are added in time order, so an armed timer is never late for a newer chunk;
   * when it fires it re-arms for the oldest chunk left (one timer per 1.5 s at most
   * while recording, not one per chunk). No timer when nothing waits in RAM.
   */
  private schedule(): void {
    if (this.closed || !this.clock || this.timer) return;
    const list = this.list;
    let oldest = -1;
    for (let i = 0; i < list.length; i++) {
      if (list[i]!.value) {
        oldest = list[i]!.addedAt;
        break;
      }
    }
    if (oldest < 0) return;
    const at = oldest + this.persistAfterMs;
    this.timerAt = at;
    this.timer = this.clock.after(Math.max(0, at - this.clock.now()), this.onTimer);
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = -1;
  }

  private persistOldest(): void {
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      if (list[i]!.value) {
        this.persist(list[i]!);
        return;
      }
    }
  }

  /** Removes list[i] in place (splice would allocate the array of removed items). */
  private removeAt(i: number): void {
    const list = this.list;
    for (let k = i + 1; k < list.length; k++) list[k - 1] = list[k]!;
    list.length--;
  }

  private persist(e: Entry): void {
    try {
      this.storage.write(e.key, e.value!);
    } catch {
      this.counters?.inc('outbox.persist_failed');
      return;
    }
    e.value = undefined;
    e.topic = '';
    this.ramCount--;
    this.counters?.inc('outbox.persisted');
  }

  private indexOf(id: string): number {
    for (let i = 0; i < this.list.length; i++) if (this.list[i]!.key === id) return i;
    return -1;
  }

  private find(id: string): Entry | undefined {
    const i = this.indexOf(id);
    return i < 0 ? undefined : this.list[i];
  }

  private drop(id: string): void {
    const i = this.indexOf(id);
    if (i >= 0) {
      if (this.list[i]!.value) this.ramCount--;
      this.removeAt(i);
    }
    try {
      this.storage.remove(id);
    } catch {
      this.counters?.inc('outbox.remove_failed');
    }
  }
}
