/**
 * SpeakerPort for the SDK's `lin` simulator, whose `pins/audioout` is a silent
 * stub that never frees a queue element (the queue fills after `queueLength`
 * frames and playback stalls). This adapter plays into a paced sink instead: it
 * accepts up to `slots` frames and drains one every 20 ms of the ClockPort while
 * started, as the I2S DMA does on the device, so the playback pipeline runs at
 * real time. It claims the shared I2S pins like hal/moddable-speaker.ts.
 *
 * On stop() it traces one line, `speaker frames=<n> rms=<r> underruns=<u>`: the
 * frames played, the RMS of their samples (so a test can tell decoded speech from
 * silence) and the 20 ms drains that found the queue empty between two frames (a
 * gap the DAC would have filled with silence; the empty drains after the last frame,
 * while the toy lets the queue play out, are not gaps). reserve() lends one frame of its own (the
 * sink keeps no audio: each frame is measured at commit()). Nothing is allocated
 * per frame. close() is stop() + final; safe twice.
 */
import type { I2sPins } from './moddable-i2s-pins.js';
import { FRAME_MS, FRAME_SAMPLES, type ClockPort, type PortStatus, type SpeakerPort, type TimerHandle } from './ports.js';

// XS's global `trace` (the firmware's typings declare it; declared here too so the host's tsc,
// which type-checks this file through tests/lin-speaker.test.ts, knows it).
declare const trace: (line: string) => void;

export interface LinSpeakerOptions {
  pins: I2sPins;
  clock: ClockPort;
  /** Frames of buffering (default 8, as the device's queue). */
  slots?: number;
  /** Where the summary line goes (default trace). */
  sink?: (line: string) => void;
}

export class LinSpeaker implements SpeakerPort {
  private queued = 0;
  private timer: TimerHandle | undefined;
  private started = false;
  private closed = false;
  private sumSquares = 0;
  private samples = 0;
  private readonly slots: number;
  private volume = 1;
  private readonly slot = new Int16Array(FRAME_SAMPLES);
  private reserved = false;
  private primed = false;
  /** Empty drains since the last frame (a gap if another frame follows). */
  private dry = 0;
  /** Frames played since construction. */
  frames = 0;
  /** Drains (20 ms) that found the queue empty between two frames of this start(). */
  underruns = 0;

  constructor(private readonly o: LinSpeakerOptions) {
    this.slots = o.slots ?? 8;
  }

  start(): PortStatus {
    if (this.closed) return 'OFF';
    if (this.started) return 'OK';
    if (!this.o.pins.claim('speaker')) return 'BUSY';
    this.started = true;
    this.queued = 0;
    this.sumSquares = 0;
    this.samples = 0;
    this.primed = false;
    this.underruns = 0;
    this.dry = 0;
    this.timer = this.o.clock.every(FRAME_MS, () => {
      if (this.queued > 0) this.queued--;
      else if (this.primed) this.dry++;
    });
    return 'OK';
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.timer?.cancel();
    this.timer = undefined;
    this.queued = 0;
    this.reserved = false;
    this.o.pins.release('speaker');
    const rms = this.samples ? Math.sqrt(this.sumSquares / this.samples) : 0;
    try {
      (this.o.sink ?? ((l: string) => trace(l)))(`speaker frames=${this.frames} rms=${Math.round(rms)} underruns=${this.underruns}\n`);
    } catch {
      // the summary must not stop the toy
    }
  }

  space(): number {
    return this.started ? this.slots - this.queued : 0;
  }

  reserve(): Int16Array | null {
    this.reserved = this.started && this.queued < this.slots;
    return this.reserved ? this.slot : null;
  }

  commit(): PortStatus {
    if (!this.started) return 'OFF';
    if (!this.reserved) return 'FULL';
    this.reserved = false;
    return this.write(this.slot);
  }

  write(frame: Int16Array): PortStatus {
    if (!this.started) return 'OFF';
    if (this.queued >= this.slots) return 'FULL';
    this.queued++;
    this.frames++;
    this.primed = true;
    this.underruns += this.dry; // the queue ran dry before this frame came
    this.dry = 0;
    const n = Math.min(frame.length, FRAME_SAMPLES);
    let s = 0;
    for (let i = 0; i < n; i++) {
      const v = frame[i]! * this.volume;
      s += v * v;
    }
    this.sumSquares += s;
    this.samples += n;
    return 'OK';
  }

  setVolume(v: number): void {
    this.volume = v >= 0 && v <= 1 ? v : 1;
  }

  close(): void {
    this.stop();
    this.closed = true;
  }
}
