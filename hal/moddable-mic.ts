/**
 * MicPort over Moddable's `audioin` (the ATOM Echo's SPM1423 PDM microphone
 * on I2S0; `lin`: a looping WAV resource).
 *
 * `audioin` has no "samples available" query and its read() blocks until the
 * samples are captured, so the adapter paces itself: a ClockPort timer every
 * `pollMs` reads exactly the whole frames that real time says the DMA already
 * holds (elapsed ms x 16 samples, at most `frames` per tick), into a
 * preallocated ring of `frames` frames. This ring is the capture buffer of the
 * record path: peek() lends the oldest slot and the pipeline encodes straight from
 * it (no copy), release() frees it; read() copies instead. When the consumer falls
 * behind, the oldest frame is overwritten (`overruns` counts them), never a lent
 * one (then the poll leaves the frames in the driver until the next poll); after a
 * long stall the adapter skips ahead rather than block the JS thread catching up.
 *
 * Memory: one ArrayBuffer of frames x 640 bytes plus per-slot views, made in
 * the constructor; nothing is allocated per frame. A stall is a poll gap longer
 * than the ring (frames x 20 ms): the counters of each recording are logged at stop().
 *
 * The mic and speaker share I2S pins on the ATOM Echo: start() claims them
 * from the I2sPins arbiter and answers 'BUSY' while the speaker holds them;
 * stop() closes the driver and releases them. A driver error while running
 * stops the mic and goes to onError. close() is stop() + final; safe twice.
 */
import AudioIn from 'audioin';
import { FRAME_MS, FRAME_SAMPLES, PortError, SAMPLE_RATE_HZ, type ClockPort, type LogPort, type MicPort, type PortStatus, type TimerHandle } from './ports.js';
import type { I2sPins } from './moddable-i2s-pins.js';

export interface ModdableMicOptions {
  /** Arbiter of the I2S pins shared with the speaker. */
  pins: I2sPins;
  clock: ClockPort;
  /**
   * Ring depth in frames (default 8 = 160 ms; 2..32): how long the JS thread may be
   * busy elsewhere (sealing, a flash erase of 45..400 ms) before frames are lost.
   */
  frames?: number;
  /** When given, stop() logs `mic.stats` (captured, overruns, stalls of that recording). */
  log?: LogPort;
  /** Poll period in ms (default 10; 1..FRAME_MS). */
  pollMs?: number;
  /** Receives driver errors. Must not throw. */
  onError?: (err: unknown) => void;
}

const FRAME_BYTES = FRAME_SAMPLES * 2;
const SAMPLES_PER_MS = SAMPLE_RATE_HZ / 1000;

export class ModdableMic implements MicPort {
  private readonly pins: I2sPins;
  private readonly clock: ClockPort;
  private readonly onError: (err: unknown) => void;
  private readonly log: LogPort | undefined;
  private readonly depth: number;
  private readonly pollMs: number;
  private readonly ring: ArrayBuffer;
  private readonly slots: Int16Array[] = [];
  private head = 0; // next slot to fill
  private count = 0;
  private lent = false; // the oldest slot is lent by peek()
  private input: AudioIn | undefined;
  private timer: TimerHandle | undefined;
  private startedAt = 0;
  private taken = 0; // samples read from the driver since start
  private closed = false;
  /** Frames captured, frames lost to a slow consumer, and skip-aheads after stalls (since construction). */
  captured = 0;
  overruns = 0;
  stalls = 0;
  private atStart = { captured: 0, overruns: 0, stalls: 0 };

  constructor(options: ModdableMicOptions) {
    this.pins = options.pins;
    this.clock = options.clock;
    this.log = options.log;
    this.depth = options.frames ?? 8;
    this.pollMs = options.pollMs ?? 10;
    if (!Number.isInteger(this.depth) || this.depth < 2 || this.depth > 32) throw new PortError('INVAL', 'frames must be 2..32');
    if (!(this.pollMs >= 1 && this.pollMs <= FRAME_MS)) throw new PortError('INVAL', 'bad pollMs');
    const onError = options.onError ?? (() => {});
    this.onError = (err) => {
      try {
        onError(err);
      } catch {
        // onError must not throw
      }
    };
    this.ring = new ArrayBuffer(this.depth * FRAME_BYTES);
    for (let i = 0; i < this.depth; i++) this.slots.push(new Int16Array(this.ring, i * FRAME_BYTES, FRAME_SAMPLES));
  }

  start(): PortStatus {
    if (this.closed) return 'OFF';
    if (this.input) return 'OK';
    if (!this.pins.claim('mic')) return 'BUSY';
    let input: AudioIn;
    try {
      input = new AudioIn();
    } catch {
      this.pins.release('mic');
      throw new PortError('IO', 'cannot open microphone');
    }
    if (input.sampleRate !== SAMPLE_RATE_HZ || input.bitsPerSample !== 16 || input.numChannels !== 1) {
      input.close();
      this.pins.release('mic');
      throw new PortError('NOSUPPORT', 'audioin must be 16 kHz, 16-bit mono (manifest defines audioIn)');
    }
    this.input = input;
    this.head = 0;
    this.count = 0;
    this.lent = false;
    this.taken = 0;
    this.startedAt = this.clock.now();
    this.atStart = { captured: this.captured, overruns: this.overruns, stalls: this.stalls };
    this.timer = this.clock.every(this.pollMs, () => this.poll());
    return 'OK';
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    const input = this.input;
    this.input = undefined;
    this.count = 0;
    this.lent = false;
    if (input) {
      try {
        input.close();
      } catch (err) {
        this.onError(err);
      }
      this.pins.release('mic');
      try {
        this.log?.log('info', 'mic.stats', { captured: this.captured - this.atStart.captured, overruns: this.overruns - this.atStart.overruns, stalls: this.stalls - this.atStart.stalls });
      } catch {
        // logging must not break stop()
      }
    }
  }

  available(): number {
    return this.count;
  }

  peek(): Int16Array | null {
    if (!this.input || this.count === 0) return null;
    let tail = this.head - this.count;
    if (tail < 0) tail += this.depth;
    this.lent = true;
    return this.slots[tail]!;
  }

  release(): void {
    if (!this.lent) return;
    this.lent = false;
    this.count--;
  }

  next(): Int16Array | null {
    if (this.lent) {
      this.lent = false;
      this.count--;
    }
    return this.peek();
  }

  read(into: Int16Array): PortStatus {
    if (!(into instanceof Int16Array) || into.length !== FRAME_SAMPLES) throw new PortError('SIZE', 'frame must be FRAME_SAMPLES samples');
    if (!this.input) return 'OFF';
    const slot = this.peek();
    if (!slot) return 'EMPTY';
    into.set(slot);
    this.release();
    return 'OK';
  }

  close(): void {
    this.stop();
    this.closed = true;
  }

  /** Reads the whole frames that real time says are captured. */
  private poll(): void {
    const input = this.input;
    if (!input) return;
    try {
      let due = Math.floor((this.clock.now() - this.startedAt) * SAMPLES_PER_MS) - this.taken;
      if (due > this.depth * FRAME_SAMPLES) {
        // a long stall: do not block the JS thread catching up; keep the newest `depth` frames
        this.stalls++;
        this.taken += due - this.depth * FRAME_SAMPLES;
        due = this.depth * FRAME_SAMPLES;
      }
      while (due >= FRAME_SAMPLES) {
        if (this.count === this.depth) {
          if (this.lent) break; // never overwrite a lent slot: these frames wait in the driver
          this.count--; // overwrite the oldest frame
          this.overruns++;
        }
        input.read(FRAME_SAMPLES, this.ring, this.head * FRAME_BYTES);
        this.head = this.head + 1 === this.depth ? 0 : this.head + 1;
        this.count++;
        this.captured++;
        this.taken += FRAME_SAMPLES;
        due -= FRAME_SAMPLES;
      }
    } catch (err) {
      this.stop();
      this.onError(err);
    }
  }
}
