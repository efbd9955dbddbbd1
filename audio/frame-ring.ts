/**
 * FrameRing: a preallocated single-producer / single-consumer ring of PCM frames
 * (FRAME_SAMPLES Int16 samples each, 20 ms at 16 kHz mono). Portable.
 *
 * Memory: one Int16Array of `capacity * frameSamples` samples, allocated in the
 * constructor, plus one precomputed subarray view per slot. The ring never grows
 * and never allocates after construction.
 *
 * Two ways in and out:
 * - zero-copy (the pipelines' path): `reserve()` lends the next free slot to the
 *   producer (e.g. `mic.read(slot)`), `commit()` publishes it; `peek()` lends the
 *   oldest frame to the consumer (e.g. `codec.encode(frame, ...)`), `release()` frees it.
 *   A lent slot belongs to the borrower until commit()/release().
 * - copying: `push(frame)` / `pop(into)` (a copy per frame; for callers that own buffers).
 *
 * Full and empty are answered with status codes, Tock style: push → 'FULL',
 * pop → 'EMPTY', reserve/peek → null. Each refusal is counted in `overruns`
 * (producer found it full) or `underruns` (consumer found it empty).
 * Wrong-length frames throw PortError('SIZE') and are counted in `rejected`;
 * the ring is unchanged by a refused or rejected call.
 */
import { FRAME_SAMPLES, PortError } from '../hal/ports.js';

/** Status answered by ring operations (a subset of PortStatus). */
export type RingStatus = 'OK' | 'FULL' | 'EMPTY';

export class FrameRing {
  /** Number of frame slots. */
  readonly capacity: number;
  /** Samples per frame. */
  readonly frameSamples: number;
  /** The backing store (capacity * frameSamples samples). Exposed for RAM accounting and tests. */
  readonly storage: Int16Array;
  /** Producer found the ring full (push 'FULL' or reserve null). */
  overruns = 0;
  /** Consumer found the ring empty (pop 'EMPTY' or peek null). */
  underruns = 0;
  /** Frames refused for a wrong length. */
  rejected = 0;
  /** Frames published since construction. */
  pushed = 0;

  private readonly slots: Int16Array[];
  private readIndex = 0;
  private writeIndex = 0;
  private used = 0;
  private reserved = false;
  private peeked = false;

  /** capacity: 1..1024 frames; frameSamples: samples per frame (default FRAME_SAMPLES). */
  constructor(capacity: number, frameSamples = FRAME_SAMPLES) {
    if ((capacity | 0) !== capacity || capacity < 1 || capacity > 1024) throw new PortError('INVAL', `FrameRing capacity ${capacity} outside 1..1024`);
    if ((frameSamples | 0) !== frameSamples || frameSamples < 1) throw new PortError('INVAL', `FrameRing frameSamples ${frameSamples}`);
    this.capacity = capacity;
    this.frameSamples = frameSamples;
    this.storage = new Int16Array(capacity * frameSamples);
    this.slots = [];
    for (let i = 0; i < capacity; i++) this.slots.push(this.storage.subarray(i * frameSamples, (i + 1) * frameSamples));
  }

  /** Frames queued (committed, not yet released or popped). */
  get count(): number {
    return this.used;
  }
  /** Free slots. */
  get space(): number {
    return this.capacity - this.used;
  }
  /** Bytes of sample storage this ring holds. */
  get bytes(): number {
    return this.storage.byteLength;
  }

  /**
   * Lends the next free slot to the producer, or null when full (counted as an
   * overrun). Calling reserve() again before commit() lends the same slot.
   */
  reserve(): Int16Array | null {
    if (this.used === this.capacity) {
      this.overruns++;
      return null;
    }
    this.reserved = true;
    return this.slots[this.writeIndex]!;
  }

  /** Publishes the slot lent by reserve(). Throws PortError('INVAL') when nothing is reserved. */
  commit(): void {
    if (!this.reserved) throw new PortError('INVAL', 'FrameRing.commit without reserve');
    this.reserved = false;
    this.publish();
  }

  /** Gives back a reserved slot unpublished (e.g. the mic had no frame after all). */
  unreserve(): void {
    this.reserved = false;
  }

  /** Copies `frame` (lent, frameSamples long) into the ring. 'OK' or 'FULL'. Throws PortError('SIZE') on a wrong length. */
  push(frame: Int16Array): RingStatus {
    if (frame.length !== this.frameSamples) {
      this.rejected++;
      throw new PortError('SIZE', `frame of ${frame.length} samples, expected ${this.frameSamples}`);
    }
    if (this.used === this.capacity) {
      this.overruns++;
      return 'FULL';
    }
    if (this.reserved) throw new PortError('INVAL', 'FrameRing.push while a slot is reserved');
    this.slots[this.writeIndex]!.set(frame);
    this.publish();
    return 'OK';
  }

  /** Lends the oldest frame to the consumer until release(), or null when empty (counted as an underrun). */
  peek(): Int16Array | null {
    if (this.used === 0) {
      this.underruns++;
      return null;
    }
    this.peeked = true;
    return this.slots[this.readIndex]!;
  }

  /** Frees the frame lent by peek(). Throws PortError('INVAL') when nothing is lent. */
  release(): void {
    if (!this.peeked) throw new PortError('INVAL', 'FrameRing.release without peek');
    this.peeked = false;
    this.consume();
  }

  /** Copies the oldest frame into `into` (frameSamples long) and removes it. 'OK' or 'EMPTY'. */
  pop(into: Int16Array): RingStatus {
    if (into.length !== this.frameSamples) throw new PortError('SIZE', `pop into ${into.length} samples, expected ${this.frameSamples}`);
    if (this.used === 0) {
      this.underruns++;
      return 'EMPTY';
    }
    if (this.peeked) throw new PortError('INVAL', 'FrameRing.pop while a frame is lent');
    into.set(this.slots[this.readIndex]!);
    this.consume();
    return 'OK';
  }

  /** Drops every queued frame and any lending (between messages). Counters are kept. */
  clear(): void {
    this.readIndex = 0;
    this.writeIndex = 0;
    this.used = 0;
    this.reserved = false;
    this.peeked = false;
  }

  private publish(): void {
    this.writeIndex = this.writeIndex + 1 === this.capacity ? 0 : this.writeIndex + 1;
    this.used++;
    this.pushed++;
  }

  private consume(): void {
    this.readIndex = this.readIndex + 1 === this.capacity ? 0 : this.readIndex + 1;
    this.used--;
  }
}
