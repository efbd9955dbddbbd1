/**
 * A SpeakerPort fake for tests, benches and tools. Portable (runs in XS).
 *
 * It models the DAC queue of `queueFrames` frames: one queued frame plays every
 * FRAME_MS after start(), computed from clock.now() (no timers). write() hands the
 * lent frame to `sink` at once (the sink copies what it wants) and queues it;
 * reserve() lends one frame of its own and commit() hands it to `sink` the same way.
 * `starved` counts frame times where the queue was empty after playing began.
 * Failure switches: `busy` (start answers BUSY), `throwOnWrites` (the next N writes throw).
 */
import { FRAME_MS, FRAME_SAMPLES, PortError, type ClockPort, type PortStatus, type SpeakerPort } from '../../hal/ports.js';

export class FakeSpeaker implements SpeakerPort {
  /** Frames accepted by write(). */
  written = 0;
  /** Frame times with nothing to play (after the first write). */
  starved = 0;
  starts = 0;
  stops = 0;
  volume = 1;
  busy = false;
  throwOnWrites = 0;
  /** reserve() calls that lent the slot, and commit() calls. */
  reserves = 0;
  commits = 0;
  /** The one slot reserve() lends (overwritten by the next frame: the sink copies what it keeps). */
  readonly slot = new Int16Array(FRAME_SAMPLES);
  private reserved = false;
  private started = false;
  private queued = 0;
  private t0 = 0;
  private consumedTicks = 0;
  private primed = false;

  constructor(
    private readonly clock: ClockPort,
    private readonly sink: (frame: Int16Array) => void = () => undefined,
    readonly queueFrames = 4,
  ) {}

  start(): PortStatus {
    if (this.busy) return 'BUSY';
    this.starts++;
    this.started = true;
    this.queued = 0;
    this.primed = false;
    this.t0 = this.clock.now();
    this.consumedTicks = 0;
    return 'OK';
  }
  stop(): void {
    this.stops++;
    this.started = false;
  }
  /** Frames still queued in the modelled DAC. */
  get pending(): number {
    this.update();
    return this.queued;
  }
  space(): number {
    if (!this.started) return 0;
    this.update();
    return this.queueFrames - this.queued;
  }
  write(frame: Int16Array): PortStatus {
    if (frame.length !== FRAME_SAMPLES) throw new PortError('SIZE', `speaker frame of ${frame.length} samples`);
    if (!this.started) return 'OFF';
    if (this.throwOnWrites > 0) {
      this.throwOnWrites--;
      throw new PortError('IO', 'fake speaker write failure');
    }
    this.update();
    if (this.queued >= this.queueFrames) return 'FULL';
    this.sink(frame);
    this.queued++;
    this.written++;
    this.primed = true;
    return 'OK';
  }
  reserve(): Int16Array | null {
    this.reserved = this.started && this.space() > 0;
    if (!this.reserved) return null;
    this.reserves++;
    return this.slot;
  }
  commit(): PortStatus {
    if (!this.started) return 'OFF';
    if (!this.reserved) return 'FULL';
    this.reserved = false;
    this.commits++;
    return this.write(this.slot);
  }
  setVolume(v: number): void {
    this.volume = Math.max(0, Math.min(1, v));
  }
  close(): void {
    this.started = false;
  }
  private update(): void {
    const due = Math.floor((this.clock.now() - this.t0) / FRAME_MS);
    const k = due - this.consumedTicks;
    if (k <= 0) return;
    this.consumedTicks = due;
    const take = k < this.queued ? k : this.queued;
    this.queued -= take;
    if (this.primed) this.starved += k - take;
  }
}
