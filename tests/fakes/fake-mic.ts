/**
 * A MicPort fake for tests, benches and tools. Portable (runs in XS).
 *
 * Frames "arrive" with the clock: one every FRAME_MS after start(), computed
 * from clock.now() (no timers), held in a modelled DMA buffer of `dmaFrames`;
 * frames the pipeline did not read in time are lost and counted (`overruns`),
 * like a real I2S DMA ring. read() asks `source(index, into)` to fill the lent
 * frame; peek() fills the fake's own slot (one Int16Array, made once) and lends it
 * until release(); a source returning false has ended (available() is 0 from then on).
 * Failure switches: `busy` (start answers BUSY), `throwOnReads` (the next N reads throw).
 */
import { FRAME_MS, FRAME_SAMPLES, PortError, type ClockPort, type MicPort, type PortStatus } from '../../hal/ports.js';

/** Fills `into` with frame number `index`; returns false when there are no more frames. */
export type FrameSource = (index: number, into: Int16Array) => boolean;

/** Frame k is filled with the value (k % 30000) + 1: constant frames for the FakeCodec. `frames` = length. */
export function countingSource(frames = Infinity): FrameSource {
  return (index, into) => {
    if (index >= frames) return false;
    into.fill((index % 30000) + 1);
    return true;
  };
}

/** Frames cut from a sample buffer (the last one padded with zeros). */
export function samplesSource(samples: Int16Array): FrameSource {
  const frames = Math.ceil(samples.length / FRAME_SAMPLES);
  return (index, into) => {
    if (index >= frames) return false;
    const base = index * FRAME_SAMPLES;
    const n = Math.min(FRAME_SAMPLES, samples.length - base);
    for (let i = 0; i < n; i++) into[i] = samples[base + i]!;
    if (n < FRAME_SAMPLES) into.fill(0, n);
    return true;
  };
}

export class FakeMic implements MicPort {
  /** Frames lost because the DMA buffer overflowed. */
  overruns = 0;
  /** Frames read (read() or peek() + release()). */
  reads = 0;
  /** Frames lent by peek() (counted once per frame). */
  peeks = 0;
  starts = 0;
  stops = 0;
  /** Failure switches. */
  busy = false;
  throwOnReads = 0;
  /** True once the source has no more frames. */
  ended = false;
  private started = false;
  private closed = false;
  private t0 = 0;
  private nextIndex = 0; // index of the next frame to deliver
  /** The one slot peek() lends (made once). */
  readonly peekSlot = new Int16Array(FRAME_SAMPLES);
  private lentIndex = -1; // frame index held in `slot` while lent

  constructor(private readonly clock: ClockPort, private readonly source: FrameSource, readonly dmaFrames = 4) {}

  start(): PortStatus {
    if (this.closed) return 'OFF';
    if (this.busy) return 'BUSY';
    this.starts++;
    this.started = true;
    this.t0 = this.clock.now() - this.nextIndex * FRAME_MS;
    return 'OK';
  }
  stop(): void {
    this.stops++;
    this.started = false;
    this.lentIndex = -1;
  }
  available(): number {
    if (!this.started || this.ended) return 0;
    const arrived = Math.floor((this.clock.now() - this.t0) / FRAME_MS);
    let n = arrived - this.nextIndex;
    if (n > this.dmaFrames) {
      this.overruns += n - this.dmaFrames;
      this.nextIndex += n - this.dmaFrames;
      n = this.dmaFrames;
    }
    return n > 0 ? n : 0;
  }
  read(into: Int16Array): PortStatus {
    if (into.length !== FRAME_SAMPLES) throw new PortError('SIZE', `mic read into ${into.length} samples`);
    if (!this.started) return 'OFF';
    if (this.throwOnReads > 0) {
      this.throwOnReads--;
      throw new PortError('IO', 'fake mic read failure');
    }
    if (this.available() === 0) return 'EMPTY';
    if (!this.source(this.nextIndex, into)) {
      this.ended = true;
      return 'EMPTY';
    }
    this.nextIndex++;
    this.reads++;
    return 'OK';
  }
  peek(): Int16Array | null {
    if (!this.started) return null;
    if (this.lentIndex === this.nextIndex) return this.peekSlot;
    if (this.throwOnReads > 0) {
      this.throwOnReads--;
      throw new PortError('IO', 'fake mic read failure');
    }
    if (this.available() === 0) return null;
    if (!this.source(this.nextIndex, this.peekSlot)) {
      this.ended = true;
      return null;
    }
    this.lentIndex = this.nextIndex;
    this.peeks++;
    return this.peekSlot;
  }
  release(): void {
    if (this.lentIndex < 0) return;
    if (this.lentIndex === this.nextIndex) {
      this.nextIndex++;
      this.reads++;
    }
    this.lentIndex = -1;
  }
  next(): Int16Array | null {
    this.release();
    return this.peek();
  }
  close(): void {
    this.started = false;
    this.closed = true;
  }
}
