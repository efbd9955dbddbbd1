/**
 * SpeakerPort over Moddable's `pins/audioout` (the ATOM Echo's NS4168 I2S
 * amplifier; on `lin` AudioOut is a silent stub whose queue never drains).
 *
 * AudioOut's RawSamples elements point INTO the buffer given (no copy), and
 * that buffer must not move: a SharedArrayBuffer. The adapter owns one pool
 * of `slots` frames (slots x 640 bytes), made in the constructor. reserve()
 * lends the next free slot (the playback pipeline decodes straight into it) and
 * commit() enqueues `RawSamples(pool, 1, slot x 320, 320)`; write() copies a
 * lent frame into the slot and commits it; AudioOut frees a queue element when
 * it has played it, and the adapter learns which slots are free again by
 * comparing `length(stream)` (free queue elements) with its own FIFO of what
 * it queued. Nothing is allocated per frame.
 *
 * `slots` should equal the driver's queue length (manifest defines
 * audioOut.queueLength and config speakerSlots; SDK default 8): fewer wastes
 * queue, more wastes pool (space() is the smaller of the two).
 *
 * start() claims the shared I2S pins (answers 'BUSY' while the mic holds
 * them), opens AudioOut at 16 kHz mono 16-bit and starts it; stop() stops and
 * closes it (dropping what is queued) and releases the pins. Volume 0..1 maps
 * to AudioOut's 0..256. close() is stop() + final; safe twice.
 */
import AudioOut from 'pins/audioout';
import { FRAME_SAMPLES, PortError, SAMPLE_RATE_HZ, type PortStatus, type SpeakerPort } from './ports.js';
import type { I2sPins } from './moddable-i2s-pins.js';

export interface ModdableSpeakerOptions {
  /** Arbiter of the I2S pins shared with the mic. */
  pins: I2sPins;
  /** Frames of buffering; should equal the driver's queue length (default 8, 2..64). */
  slots?: number;
  /** Initial volume 0..1 (default 1). */
  volume?: number;
  /** Receives driver errors. Must not throw. */
  onError?: (err: unknown) => void;
}

const FRAME_BYTES = FRAME_SAMPLES * 2;
const STREAM = 0;
const VOLUME_ITEM = -1;

export class ModdableSpeaker implements SpeakerPort {
  private readonly pins: I2sPins;
  private readonly onError: (err: unknown) => void;
  private readonly nslots: number;
  private readonly pool: SharedArrayBuffer;
  private readonly views: Int16Array[] = [];
  /** FIFO of queued elements: a slot index, or VOLUME_ITEM. */
  private readonly fifo: Int8Array;
  private fifoHead = 0;
  private fifoCount = 0;
  private nextSlot = 0;
  private out: AudioOut | undefined;
  private volume: number;
  private closed = false;
  /** The driver's queue length (free elements of the empty queue, read at start). */
  private qlen = 0;
  /** A slot is lent by reserve() and not yet committed. */
  private reserved = false;
  /** Frames queued to the driver since construction. */
  frames = 0;

  constructor(options: ModdableSpeakerOptions) {
    this.pins = options.pins;
    this.nslots = options.slots ?? 8;
    if (!Number.isInteger(this.nslots) || this.nslots < 2 || this.nslots > 64) throw new PortError('INVAL', 'slots must be 2..64');
    this.volume = clampVolume(options.volume ?? 1);
    const onError = options.onError ?? (() => {});
    this.onError = (err) => {
      try {
        onError(err);
      } catch {
        // onError must not throw
      }
    };
    this.pool = new SharedArrayBuffer(this.nslots * FRAME_BYTES);
    for (let i = 0; i < this.nslots; i++) this.views.push(new Int16Array(this.pool, i * FRAME_BYTES, FRAME_SAMPLES));
    this.fifo = new Int8Array(this.nslots);
  }

  start(): PortStatus {
    if (this.closed) return 'OFF';
    if (this.out) return 'OK';
    if (!this.pins.claim('speaker')) return 'BUSY';
    try {
      const out = new AudioOut({ streams: 1, sampleRate: SAMPLE_RATE_HZ, numChannels: 1, bitsPerSample: 16 });
      this.out = out;
      this.fifoHead = this.fifoCount = 0;
      this.nextSlot = 0;
      this.qlen = out.length(STREAM); // the queue is empty: this is its length
      out.enqueue(STREAM, AudioOut.Volume, Math.round(this.volume * 256)); // empty queue: applies at once, takes no element
      out.start();
    } catch {
      this.dropDriver();
      throw new PortError('IO', 'cannot open speaker');
    }
    return 'OK';
  }

  stop(): void {
    this.dropDriver();
  }

  space(): number {
    if (!this.out) return 0;
    const queueFree = this.sync();
    const free = this.nslots - this.slotsInUse();
    return free < queueFree ? free : queueFree;
  }

  write(frame: Int16Array): PortStatus {
    if (!(frame instanceof Int16Array) || frame.length !== FRAME_SAMPLES) throw new PortError('SIZE', 'frame must be FRAME_SAMPLES samples');
    const slot = this.reserve();
    if (!slot) return this.out ? 'FULL' : 'OFF';
    slot.set(frame);
    return this.commit();
  }

  reserve(): Int16Array | null {
    if (!this.out || this.fifoCount === this.nslots || this.space() === 0) {
      this.reserved = false;
      return null;
    }
    this.reserved = true;
    return this.views[this.nextSlot]!;
  }

  commit(): PortStatus {
    const out = this.out;
    if (!out) return 'OFF';
    if (!this.reserved) return 'FULL';
    this.reserved = false;
    const slot = this.nextSlot;
    try {
      out.enqueue(STREAM, AudioOut.RawSamples, this.pool as unknown as HostBuffer, 1, slot * FRAME_SAMPLES, FRAME_SAMPLES);
    } catch (err) {
      this.onError(err);
      return 'FULL';
    }
    this.push(slot);
    this.nextSlot = slot + 1 === this.nslots ? 0 : slot + 1;
    this.frames++;
    return 'OK';
  }

  setVolume(v: number): void {
    this.volume = clampVolume(v);
    const out = this.out;
    if (!out) return; // applied at the next start()
    const queueFree = this.sync();
    if (this.fifoCount === this.nslots || queueFree === 0) return; // no room for the command: applied at the next start()
    try {
      out.enqueue(STREAM, AudioOut.Volume, Math.round(this.volume * 256));
      // on a non-empty queue the command is an element played in order; on an empty one it applies at once
      if (this.fifoCount > 0) this.push(VOLUME_ITEM);
    } catch (err) {
      this.onError(err);
    }
  }

  close(): void {
    this.stop();
    this.closed = true;
  }

  /** Drops the elements the driver has finished with from the FIFO; returns the driver's free queue elements. */
  private sync(): number {
    const out = this.out;
    if (!out) return 0;
    let queueFree: number;
    try {
      queueFree = out.length(STREAM);
    } catch (err) {
      this.onError(err);
      return 0;
    }
    const inDriver = this.qlen - queueFree;
    while (this.fifoCount > inDriver && this.fifoCount > 0) {
      this.fifoHead = this.fifoHead + 1 === this.nslots ? 0 : this.fifoHead + 1;
      this.fifoCount--;
    }
    return queueFree;
  }

  private push(item: number): void {
    let i = this.fifoHead + this.fifoCount;
    if (i >= this.nslots) i -= this.nslots;
    this.fifo[i] = item;
    this.fifoCount++;
  }

  private slotsInUse(): number {
    let n = 0;
    for (let k = 0, i = this.fifoHead; k < this.fifoCount; k++) {
      if (this.fifo[i] !== VOLUME_ITEM) n++;
      i = i + 1 === this.nslots ? 0 : i + 1;
    }
    return n;
  }

  private dropDriver(): void {
    const out = this.out;
    this.out = undefined;
    this.fifoHead = this.fifoCount = 0;
    this.reserved = false;
    if (!out) return;
    try {
      out.stop();
      out.close();
    } catch (err) {
      this.onError(err);
    }
    this.pins.release('speaker');
  }
}

function clampVolume(v: number): number {
  if (!(v > 0)) return 0;
  return v > 1 ? 1 : v;
}
