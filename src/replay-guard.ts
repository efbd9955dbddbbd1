/**
 * Replay protection state on the StoragePort (docs/PROTOCOL.md, "Replay and
 * counter records").
 *
 * - Receiving: ONE record under key `rp.rx` holding, for each sender seen
 *   (at most MAX_REPLAY_SENDERS, most recently admitted last), its full public
 *   key, the highest message counter H accepted from it and a 32-bit window
 *   bitmap (bit k set = counter H-1-k was accepted). A message is admitted when
 *   its counter is above H, or within the 32 below H and not yet accepted
 *   (whole messages that arrive out of order are not lost). Everything else is
 *   REPLAY. The record is written before the message's audio is returned.
 *   Value: u8 version=2 | u8 count | count × (32-byte public key | u32 BE H | u32 BE window).
 * - Sending: the last counter this identity used, under key `rp.tx`.
 *   Value (5 bytes): u8 version=1 | u32 BE counter. The next counter is written
 *   before the head chunk leaves the sealer, so a restart never reuses one.
 *
 * Both records survive a factory reset (src/factory-reset.ts KEPT_KEYS): a phone
 * paired again keeps its key, so without its record every captured message
 * from it would play again. `wipe()` removes the receive record (a full erase,
 * not a factory reset). The record holds public keys and counters only.
 *
 * A corrupt receive record (only a storage fault can make one: writes are
 * atomic) is counted ('replay.corrupt') and read as empty; the TTL still bounds
 * what could replay. A corrupt send counter gives EnvelopeError('STORAGE').
 * Portable.
 */
import type { StoragePort } from '../hal/ports.js';
import { Counters } from './counters.js';
import { EnvelopeError, bytesEqual, readU32, writeU32 } from './envelope-format.js';

export const REPLAY_PREFIX = 'rp.';
/** Receive record (all senders). */
export const RECEIVE_RECORD_KEY = 'rp.rx';
export const SEND_COUNTER_KEY = 'rp.tx';
/** Senders remembered; when full, the one admitted longest ago is dropped (counted 'replay.evicted'). */
export const MAX_REPLAY_SENDERS = 32;
/** Counters below the highest that are still accepted once (out-of-order window). */
export const REPLAY_WINDOW = 32;
const RECORD_VERSION = 2;
const SEND_VERSION = 1;
const ENTRY_BYTES = 40;
const MAX_COUNTER = 0xffffffff;

/** Offset of `sender`'s entry in a well-formed record, or -1. */
function findEntry(raw: Uint8Array, sender: Uint8Array): number {
  if (!(sender instanceof Uint8Array) || sender.length !== 32) return -1;
  const n = raw[1]!;
  for (let k = 0; k < n; k++) {
    const o = 2 + k * ENTRY_BYTES;
    let same = true;
    for (let b = 0; b < 32 && same; b++) same = raw[o + b] === sender[b];
    if (same) return o;
  }
  return -1;
}

interface Entry {
  key: Uint8Array;
  high: number;
  window: number;
}

/** Per-sender "highest accepted counter + window" records, in one storage record. */
export class ReplayGuard {
  constructor(private readonly storage: StoragePort, readonly counters = new Counters()) {}

  /** The record's bytes when well formed, else undefined (a corrupt one counted 'replay.corrupt', as load()). Throws STORAGE. */
  private loadRaw(): Uint8Array | undefined {
    let raw: Uint8Array | undefined;
    try {
      raw = this.storage.read(RECEIVE_RECORD_KEY);
    } catch {
      throw new EnvelopeError('STORAGE', 'replay record unreadable');
    }
    if (!raw) return undefined;
    const n = raw.length >= 2 ? raw[1]! : -1;
    if (raw[0] !== RECORD_VERSION || n < 0 || n > MAX_REPLAY_SENDERS || raw.length !== 2 + n * ENTRY_BYTES) {
      this.counters.inc('replay.corrupt');
      return undefined;
    }
    return raw;
  }

  private load(): Entry[] {
    let raw: Uint8Array | undefined;
    try {
      raw = this.storage.read(RECEIVE_RECORD_KEY);
    } catch {
      throw new EnvelopeError('STORAGE', 'replay record unreadable');
    }
    if (!raw) return [];
    const n = raw.length >= 2 ? raw[1]! : -1;
    if (raw[0] !== RECORD_VERSION || n < 0 || n > MAX_REPLAY_SENDERS || raw.length !== 2 + n * ENTRY_BYTES) {
      this.counters.inc('replay.corrupt');
      return [];
    }
    const out: Entry[] = [];
    for (let i = 0; i < n; i++) {
      const o = 2 + i * ENTRY_BYTES;
      out.push({ key: raw.slice(o, o + 32), high: readU32(raw, o + 32), window: readU32(raw, o + 36) });
    }
    return out;
  }

  private save(entries: Entry[]): void {
    const v = new Uint8Array(2 + entries.length * ENTRY_BYTES);
    v[0] = RECORD_VERSION;
    v[1] = entries.length;
    entries.forEach((e, i) => {
      const o = 2 + i * ENTRY_BYTES;
      v.set(e.key, o);
      writeU32(v, o + 32, e.high);
      writeU32(v, o + 36, e.window);
    });
    try {
      this.storage.write(RECEIVE_RECORD_KEY, v);
    } catch {
      throw new EnvelopeError('STORAGE', 'replay record not written');
    }
  }

  /** The highest accepted counter from sender (0 when none). */
  last(sender: Uint8Array): number {
    const e = this.load().find((x) => bytesEqual(x.key, sender));
    return e ? e.high : 0;
  }

  /** Throws EnvelopeError('REPLAY') unless counter (1..2^32-1) is new for sender (above H, or in the window and unseen). */
  check(sender: Uint8Array, counter: number): void {
    if (!Number.isInteger(counter) || counter < 1 || counter > MAX_COUNTER) throw new EnvelopeError('REPLAY', 'counter out of range');
    // on the record's bytes: no entry objects per check (XS heap slots per message, issue 13)
    const raw = this.loadRaw();
    const o = raw ? findEntry(raw, sender) : -1;
    if (o < 0) return;
    const high = readU32(raw!, o + 32);
    if (counter > high) return;
    const d = high - counter;
    if (d === 0 || d > REPLAY_WINDOW || (readU32(raw!, o + 36) & (1 << (d - 1))) !== 0) throw new EnvelopeError('REPLAY', 'message counter already accepted or too old');
  }

  /** Records counter as accepted from sender (one atomic write). Call after check(). Throws EnvelopeError STORAGE. */
  commit(sender: Uint8Array, counter: number): void {
    // on the record's bytes (issue 13): the other entries are copied as they are, the
    // sender's entry moves to the end (most recent), the oldest is dropped when full
    if (!(sender instanceof Uint8Array) || sender.length !== 32) throw new EnvelopeError('MALFORMED', 'sender key must be 32 bytes');
    const raw = this.loadRaw();
    const n = raw ? raw[1]! : 0;
    const at = raw ? findEntry(raw, sender) : -1;
    let high = counter;
    let window = 0;
    if (at >= 0) {
      const h = readU32(raw!, at + 32);
      window = readU32(raw!, at + 36);
      high = h;
      if (counter > h) {
        const shift = counter - h;
        window = shift > 32 ? 0 : shift === 32 ? 0x80000000 : ((window << shift) | (1 << (shift - 1))) >>> 0;
        high = counter;
      } else if (counter < h && h - counter <= REPLAY_WINDOW) {
        window = (window | (1 << (h - counter - 1))) >>> 0;
      }
    }
    const evict = at < 0 && n >= MAX_REPLAY_SENDERS ? 1 : 0;
    if (evict) this.counters.inc('replay.evicted');
    const count = n - (at >= 0 ? 1 : 0) - evict + 1;
    const v = new Uint8Array(2 + count * ENTRY_BYTES);
    v[0] = RECORD_VERSION;
    v[1] = count;
    let w = 2;
    for (let k = evict; k < n; k++) {
      const o = 2 + k * ENTRY_BYTES;
      if (o === at) continue;
      for (let b = 0; b < ENTRY_BYTES; b++) v[w + b] = raw![o + b]!;
      w += ENTRY_BYTES;
    }
    v.set(sender, w);
    writeU32(v, w + 32, high);
    writeU32(v, w + 36, window);
    try {
      this.storage.write(RECEIVE_RECORD_KEY, v);
    } catch {
      throw new EnvelopeError('STORAGE', 'replay record not written');
    }
  }

  /** Forgets one sender's record. Throws EnvelopeError STORAGE. */
  forget(sender: Uint8Array): void {
    const entries = this.load();
    const kept = entries.filter((x) => !bytesEqual(x.key, sender));
    if (kept.length !== entries.length) this.save(kept);
  }

  /** Removes the receive record (a full erase; a factory reset keeps it). Keeps the send counter. */
  wipe(): void {
    this.storage.remove(RECEIVE_RECORD_KEY);
  }
}

/** This identity's persistent send counter (`rp.tx`). */
export class SendCounter {
  constructor(private readonly storage: StoragePort, readonly counters = new Counters()) {}

  /** The last counter used (0 when none). Throws EnvelopeError STORAGE on an unreadable or corrupt record. */
  last(): number {
    let raw: Uint8Array | undefined;
    try {
      raw = this.storage.read(SEND_COUNTER_KEY);
    } catch {
      throw new EnvelopeError('STORAGE', 'send counter unreadable');
    }
    if (!raw) return 0;
    if (raw.length !== 5 || raw[0] !== SEND_VERSION) {
      this.counters.inc('replay.corrupt');
      throw new EnvelopeError('STORAGE', 'send counter record corrupt');
    }
    return readU32(raw, 1);
  }

  /** Reserves and persists the next counter (1, 2, ...) before returning it. Throws EnvelopeError STORAGE or EXHAUSTED. */
  next(): number {
    const last = this.last();
    if (last >= MAX_COUNTER) throw new EnvelopeError('EXHAUSTED', 'send counter exhausted');
    const v = new Uint8Array(5);
    v[0] = SEND_VERSION;
    writeU32(v, 1, last + 1);
    try {
      this.storage.write(SEND_COUNTER_KEY, v);
    } catch {
      throw new EnvelopeError('STORAGE', 'send counter not written');
    }
    return last + 1;
  }
}
