/**
 * PacketRing: a preallocated single-producer / single-consumer byte ring of
 * length-prefixed Opus packets (1..MAX_PACKET_BYTES bytes each). Portable.
 *
 * Memory: one ArrayBuffer of `2 * MAX_PACKET_BYTES + capacityBytes` bytes
 * (`MAX_PACKET_BYTES + capacityBytes` without a write scratch), allocated in the
 * constructor and never grown:
 *   [ read scratch 1275 | write scratch 1275 (optional) | ring capacityBytes ]
 * Each queued packet takes 2 + length bytes in the ring (a big-endian u16
 * length, then the bytes). A packet never wraps: when it does not fit before
 * the end, the rest of the ring is skipped (a 0 length marks the skip).
 * Packets move between the scratches and the ring with `copyWithin` on the one
 * buffer (the fast copy on XS); no call allocates.
 *
 * Producer: `reserve()` lends the write scratch (>= MAX_PACKET_BYTES, what
 * CodecPort.encode wants), `commit(length)` copies it in. Or `push(bytes, length)`
 * copies from a caller's buffer.
 * Consumer: `peek()` copies the oldest packet into the read scratch (lent until the
 * next peek/drop) and answers its length, `drop()` removes it; or `read(cb)` /
 * `drain(cb)` lend each packet to a callback.
 *
 * Full and empty are answered, never thrown: commit/push → 'FULL' (counted in
 * `overruns`; the write scratch keeps its bytes so commit can be retried),
 * read → 'EMPTY' and peek → 0 (counted in `underruns`). A length outside
 * 1..MAX_PACKET_BYTES throws CodecError('SIZE') and is counted in `rejected`;
 * the ring is unchanged by a refused or rejected call.
 */
import { PortError } from '../hal/ports.js';
import { CodecError, isPacketLength, MAX_PACKET_BYTES } from './codec-port.js';
import type { RingStatus } from './frame-ring.js';

/** Bytes of the length prefix of each queued packet. */
export const PACKET_HEADER_BYTES = 2;

export interface PacketRingOptions {
  /**
   * false: no write scratch (a consumer-side ring filled only by push(), as the
   * playback pipeline's): MAX_PACKET_BYTES less RAM; reserve()/commit() then throw.
   */
  writeScratch?: boolean;
}

export class PacketRing {
  /** Ring bytes (excluding the two scratches). */
  readonly capacityBytes: number;
  /** The whole backing store (scratches + ring). Exposed for RAM accounting and tests. */
  readonly storage: Uint8Array;
  /** Producer's scratch, MAX_PACKET_BYTES long: lent by reserve(). Undefined when built without one. */
  readonly writeScratch: Uint8Array | undefined;
  /** Consumer's scratch, MAX_PACKET_BYTES long: holds the packet lent by peek()/read(). */
  readonly readScratch: Uint8Array;
  /** Producer found no room (commit/push 'FULL'). */
  overruns = 0;
  /** Consumer found nothing (read 'EMPTY', peek 0). */
  underruns = 0;
  /** Packets refused for a bad length. */
  rejected = 0;
  /** Packets queued since construction, and their payload bytes. */
  pushed = 0;
  pushedBytes = 0;

  /** Offset of the ring in storage (after the scratches); offset of the write scratch, or -1. */
  private readonly ringAt: number;
  private readonly writeAt: number;
  private head = 0; // read offset within the ring
  private tail = 0; // write offset within the ring
  private used = 0; // ring bytes in use, including skipped tails
  private packets = 0;

  /** capacityBytes: MAX_PACKET_BYTES + 2 .. 65536 (room for at least one largest packet). */
  constructor(capacityBytes: number, opts: PacketRingOptions = {}) {
    if ((capacityBytes | 0) !== capacityBytes || capacityBytes < MAX_PACKET_BYTES + PACKET_HEADER_BYTES || capacityBytes > 65536)
      throw new PortError('INVAL', `PacketRing capacity ${capacityBytes} outside ${MAX_PACKET_BYTES + PACKET_HEADER_BYTES}..65536`);
    this.capacityBytes = capacityBytes;
    const scratches = opts.writeScratch === false ? 1 : 2;
    this.ringAt = scratches * MAX_PACKET_BYTES;
    this.storage = new Uint8Array(this.ringAt + capacityBytes);
    // [read scratch | write scratch? | ring]: the read scratch is always at 0
    this.readScratch = this.storage.subarray(0, MAX_PACKET_BYTES);
    this.writeAt = scratches === 2 ? MAX_PACKET_BYTES : -1;
    this.writeScratch = scratches === 2 ? this.storage.subarray(MAX_PACKET_BYTES, this.ringAt) : undefined;
  }

  /** Packets queued. */
  get count(): number {
    return this.packets;
  }
  /** Ring bytes in use (headers, payloads and skipped tails). */
  get bytesUsed(): number {
    return this.used;
  }
  /** Total bytes of the backing store. */
  get bytes(): number {
    return this.storage.byteLength;
  }

  /** True when a packet of `length` bytes would be accepted now. Counts nothing. */
  fits(length: number): boolean {
    return this.place(length) >= 0;
  }

  /**
   * Lends the write scratch (MAX_PACKET_BYTES bytes) to the producer until commit().
   * Throws PortError('INVAL') on a ring built without one (`writeScratch: false`).
   */
  reserve(): Uint8Array {
    if (!this.writeScratch) throw new PortError('INVAL', 'PacketRing built without a write scratch');
    return this.writeScratch;
  }

  /** Queues writeScratch[0..length). 'OK' or 'FULL' (the scratch is kept for a retry). */
  commit(length: number): RingStatus {
    if (this.writeAt < 0) throw new PortError('INVAL', 'PacketRing built without a write scratch');
    this.checkLength(length);
    const at = this.place(length);
    if (at < 0) {
      this.overruns++;
      return 'FULL';
    }
    this.writeHeader(at, length);
    this.storage.copyWithin(this.ringAt + at + PACKET_HEADER_BYTES, this.writeAt, this.writeAt + length);
    this.advanceTail(at, length);
    return 'OK';
  }

  /**
   * Copies bytes[0..length) (lent) into the ring. 'OK' or 'FULL'.
   * Throws CodecError('SIZE') when length is outside 1..MAX_PACKET_BYTES or beyond bytes.
   */
  push(bytes: Uint8Array, length: number): RingStatus {
    this.checkLength(length);
    if (length > bytes.length) {
      this.rejected++;
      throw new CodecError('SIZE', `packet length ${length} exceeds its buffer (${bytes.length})`);
    }
    const at = this.place(length);
    if (at < 0) {
      this.overruns++;
      return 'FULL';
    }
    this.writeHeader(at, length);
    const s = this.storage;
    const base = this.ringAt + at + PACKET_HEADER_BYTES;
    if (bytes === this.writeScratch) s.copyWithin(base, this.writeAt, this.writeAt + length);
    else if (length === bytes.length) s.set(bytes, base);
    else for (let i = 0; i < length; i++) s[base + i] = bytes[i]!;
    this.advanceTail(at, length);
    return 'OK';
  }

  /**
   * Copies the oldest packet into readScratch and answers its length (1..1275),
   * or 0 when the ring is empty (counted as an underrun). The packet stays queued
   * until drop().
   */
  peek(): number {
    if (this.packets === 0) {
      this.underruns++;
      return 0;
    }
    this.skipTail();
    const s = this.storage;
    const at = this.ringAt + this.head;
    const length = (s[at]! << 8) | s[at + 1]!;
    s.copyWithin(0, at + PACKET_HEADER_BYTES, at + PACKET_HEADER_BYTES + length);
    return length;
  }

  /** Removes the oldest packet. Returns false when the ring was empty. */
  drop(): boolean {
    if (this.packets === 0) return false;
    this.skipTail();
    const s = this.storage;
    const n = PACKET_HEADER_BYTES + ((s[this.ringAt + this.head]! << 8) | s[this.ringAt + this.head + 1]!);
    this.head += n;
    if (this.head === this.capacityBytes) this.head = 0;
    this.used -= n;
    this.packets--;
    if (this.packets === 0) {
      this.head = 0;
      this.tail = 0;
      this.used = 0;
    }
    return true;
  }

  /**
   * Lends the oldest packet to cb (readScratch, valid only during the call) and
   * removes it when cb returns. 'OK' or 'EMPTY'. If cb throws, the packet stays
   * queued and the error propagates.
   */
  read(cb: (packet: Uint8Array, length: number) => void): RingStatus {
    const length = this.peek();
    if (length === 0) return 'EMPTY';
    cb(this.readScratch, length);
    this.drop();
    return 'OK';
  }

  /** Lends up to `max` queued packets to cb in order (see read()). Returns how many were drained. */
  drain(cb: (packet: Uint8Array, length: number) => void, max = Infinity): number {
    let n = 0;
    while (n < max && this.packets > 0) {
      this.read(cb);
      n++;
    }
    return n;
  }

  /** Drops every queued packet (between messages). Counters are kept. */
  clear(): void {
    this.head = 0;
    this.tail = 0;
    this.used = 0;
    this.packets = 0;
  }

  private checkLength(length: number): void {
    if (!isPacketLength(length)) {
      this.rejected++;
      throw new CodecError('SIZE', `packet length ${length} outside 1..${MAX_PACKET_BYTES}`);
    }
  }

  /** Ring offset where a packet of `length` bytes goes, or -1 when it does not fit. */
  private place(length: number): number {
    const n = PACKET_HEADER_BYTES + length;
    const cap = this.capacityBytes;
    if (this.packets === 0) return n <= cap ? 0 : -1;
    if (this.tail > this.head) {
      if (n <= cap - this.tail) return this.tail;
      return n <= this.head ? 0 : -1; // skip the tail end, wrap to 0
    }
    if (this.tail < this.head) return n <= this.head - this.tail ? this.tail : -1;
    return -1; // tail === head with packets queued: full
  }

  private writeHeader(at: number, length: number): void {
    const s = this.storage;
    if (at !== this.tail) {
      // wrapping: mark the skipped tail end (when it has room for a marker) and count it as used
      const skipped = this.capacityBytes - this.tail;
      if (skipped >= PACKET_HEADER_BYTES) {
        s[this.ringAt + this.tail] = 0;
        s[this.ringAt + this.tail + 1] = 0;
      }
      this.used += skipped;
    }
    s[this.ringAt + at] = length >> 8;
    s[this.ringAt + at + 1] = length & 0xff;
  }

  private advanceTail(at: number, length: number): void {
    const n = PACKET_HEADER_BYTES + length;
    this.tail = at + n;
    if (this.tail === this.capacityBytes) this.tail = 0;
    this.used += n;
    this.packets++;
    this.pushed++;
    this.pushedBytes += length;
  }

  /** Moves head past a skipped tail end (a 0 marker, or fewer bytes than a header). */
  private skipTail(): void {
    const rest = this.capacityBytes - this.head;
    if (rest < PACKET_HEADER_BYTES || (this.storage[this.ringAt + this.head] === 0 && this.storage[this.ringAt + this.head + 1] === 0)) {
      this.used -= rest;
      this.head = 0;
    }
  }
}
