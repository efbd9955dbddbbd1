/**
 * FROZEN COPY of the envelope v1 (src/envelope*.ts as of commit 88d1572, before v2), kept only for
 * tests/envelope-attacks.cases.ts (each attack succeeds here) and the v1-beside-v2 bench. Never used by the firmware.
 */
/**
 * Replay protection state on the StoragePort (docs/PROTOCOL.md, "Envelope").
 *
 * - Receiving: per sender, the highest message counter accepted, under key
 *   `rp.` + 12 lower-case hex chars of the sender public key's first 6 bytes
 *   (15 chars). Value (37 bytes): u8 version=1 | 32-byte sender public key | u32 BE counter.
 *   A message is admitted only when its counter is above the stored one; the
 *   record is written before the message's audio is returned, so a replay is
 *   rejected also after a restart.
 * - Sending: the last counter this identity used, under key `rp.tx`.
 *   Value (5 bytes): u8 version=1 | u32 BE counter. The next counter is written
 *   before the head chunk leaves the sealer, so a restart never reuses one.
 *
 * `wipe()` (factory reset) removes every receive record but keeps `rp.tx`: the
 * identity survives a reset, and its counter must keep rising for the phones.
 * A corrupt record is counted ('replay.corrupt') and read as the most
 * restrictive safe value: receive → reject everything from that sender until
 * the record is rewritten by wipe/forget; send → EnvelopeError('STORAGE').
 * Portable.
 */
import type { StoragePort } from '../../hal/ports.js';
import { Counters } from '../../src/counters.js';
import { EnvelopeError, bytesEqual, readU32, toHex, writeU32 } from './envelope-format.js';

export const REPLAY_PREFIX = 'rp.';
export const SEND_COUNTER_KEY = 'rp.tx';
const RECORD_VERSION = 1;
const MAX_COUNTER = 0xffffffff;

/** Storage key of a sender's receive record. */
export function replayKey(senderPublicKey: Uint8Array): string {
  return REPLAY_PREFIX + toHex(senderPublicKey, 0, 6);
}

/** Per-sender "highest accepted counter" records. */
export class ReplayGuard {
  constructor(private readonly storage: StoragePort, readonly counters = new Counters()) {}

  /** The last accepted counter from sender (0 when none); MAX_COUNTER+1 when the record is corrupt (rejects all). */
  last(sender: Uint8Array): number {
    let raw: Uint8Array | undefined;
    try {
      raw = this.storage.read(replayKey(sender));
    } catch {
      throw new EnvelopeError('STORAGE', 'replay record unreadable');
    }
    if (!raw) return 0;
    if (raw.length !== 37 || raw[0] !== RECORD_VERSION) {
      this.counters.inc('replay.corrupt');
      return MAX_COUNTER + 1;
    }
    // Another sender whose key shares the 6-byte prefix (2^-48 odds among 8 members): no history for this one.
    if (!bytesEqual(raw.subarray(1, 33), sender)) return 0;
    return readU32(raw, 33);
  }

  /** Throws EnvelopeError('REPLAY') unless counter is above the last accepted one. */
  check(sender: Uint8Array, counter: number): void {
    if (!(counter > this.last(sender))) throw new EnvelopeError('REPLAY', 'message counter not above the last accepted');
  }

  /** Records counter as the highest accepted from sender (atomic write). Throws EnvelopeError STORAGE. */
  commit(sender: Uint8Array, counter: number): void {
    const v = new Uint8Array(37);
    v[0] = RECORD_VERSION;
    for (let i = 0; i < 32; i++) v[1 + i] = sender[i]!;
    writeU32(v, 33, counter);
    try {
      this.storage.write(replayKey(sender), v);
    } catch {
      throw new EnvelopeError('STORAGE', 'replay record not written');
    }
  }

  /** Forgets one sender's record. */
  forget(sender: Uint8Array): void {
    this.storage.remove(replayKey(sender));
  }

  /** Removes every receive record (factory reset); keeps the send counter. */
  wipe(): void {
    for (const k of this.storage.keys(REPLAY_PREFIX)) if (k !== SEND_COUNTER_KEY) this.storage.remove(k);
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
    if (raw.length !== 5 || raw[0] !== RECORD_VERSION) {
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
    v[0] = RECORD_VERSION;
    writeU32(v, 1, last + 1);
    try {
      this.storage.write(SEND_COUNTER_KEY, v);
    } catch {
      throw new EnvelopeError('STORAGE', 'send counter not written');
    }
    return last + 1;
  }
}
