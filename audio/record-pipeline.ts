/**
 * RecordPipeline: mic → PCM FrameRing → encoder → PacketRing, driven by the
 * ClockPort every FRAME_MS (20 ms). Portable; allocates nothing per frame.
 *
 * Each tick: (1) every frame the mic has ready is read straight into a slot the
 * PCM ring lends (no copy); when the ring is full the frame is read into a
 * drop buffer and counted (`framesDropped`, counter audio.rec.frameOverrun);
 * (2) up to `maxEncodesPerTick` frames are encoded straight into the packet
 * ring's write scratch and queued. When the packet ring is full (the consumer is
 * late) the encoded packet is kept and retried first on the next tick or
 * drainPackets() (back-pressure reaches the PCM ring, then the mic; nothing
 * queued is lost).
 *
 * The consumer (the envelope sealer) takes packets with `drainPackets(cb)`,
 * which lends each packet (valid only during cb), or reads `packets` itself.
 *
 * Life: start() → 'recording'; stop() reads what the mic still holds, stops
 * the mic → 'flushing'; once every PCM frame is encoded and queued →
 * 'finished' (onFinished is called once; packets may still wait in the packet ring,
 * `isDrained()` tells when the consumer has taken them all).
 *
 * Errors never escape a tick: a codec that throws (CodecError or anything),
 * returns a bad length, or a mic adapter that throws are counted (`encodeErrors`,
 * `micErrors`, counters audio.rec.*) and routed to onError; that one frame is
 * dropped, the pipeline keeps running.
 */
import type { ClockPort, CodecPort, MicPort, PortStatus, TimerHandle } from '../hal/ports.js';
import { FRAME_MS, FRAME_SAMPLES, PortError } from '../hal/ports.js';
import type { Counters } from '../src/counters.js';
import { CodecError, errorCode, isPacketLength } from './codec-port.js';
import { FrameRing, type RingStatus } from './frame-ring.js';
import { PacketRing } from './packet-ring.js';

export interface RecordPipelineOptions {
  clock: ClockPort;
  mic: MicPort;
  codec: CodecPort;
  /** PCM ring slots (default 8 = 160 ms, 5,120 bytes). */
  frameRingFrames?: number;
  /** Packet ring bytes (default 4096: about 2 s at 16 kbps). */
  packetRingBytes?: number;
  /** Frames encoded per tick at most, to catch up after a stall (default 4). */
  maxEncodesPerTick?: number;
  /** Event counters (audio.rec.*), optional. */
  counters?: Counters;
  /** Every error a tick caught. Must not throw (a throw is swallowed). */
  onError?: (e: unknown) => void;
  /** Called once when a stopped recording has been encoded entirely. Must not throw. */
  onFinished?: () => void;
}

export type RecordState = 'idle' | 'recording' | 'flushing' | 'finished' | 'closed';

export class RecordPipeline {
  /** The PCM ring between mic and encoder. */
  readonly pcm: FrameRing;
  /** The packet ring the consumer drains. */
  readonly packets: PacketRing;
  /** Frames read from the mic into the PCM ring (or pushed with pushFrame). */
  framesCaptured = 0;
  /** Frames the mic delivered while the PCM ring was full (lost at the source). */
  framesDropped = 0;
  /** Frames encoded and queued as packets; their packet bytes. */
  framesEncoded = 0;
  bytesEncoded = 0;
  /** Frames lost to a codec error or a bad packet length from the codec. */
  encodeErrors = 0;
  /** Mic adapter calls that threw. */
  micErrors = 0;
  /** Wrong-length frames refused by pushFrame. */
  badFrames = 0;
  /** Ticks run. */
  ticks = 0;

  private readonly clock: ClockPort;
  private readonly mic: MicPort;
  private readonly codec: CodecPort;
  private readonly maxEncodes: number;
  private readonly counters: Counters | undefined;
  private readonly onError: ((e: unknown) => void) | undefined;
  private readonly onFinished: (() => void) | undefined;
  private readonly dropFrame = new Int16Array(FRAME_SAMPLES);
  private readonly onTick: () => void;
  private timer: TimerHandle | undefined;
  private pendingLength = 0;
  private st: RecordState = 'idle';

  constructor(opts: RecordPipelineOptions) {
    this.clock = opts.clock;
    this.mic = opts.mic;
    this.codec = opts.codec;
    this.pcm = new FrameRing(opts.frameRingFrames ?? 8);
    this.packets = new PacketRing(opts.packetRingBytes ?? 4096);
    this.maxEncodes = opts.maxEncodesPerTick ?? 4;
    this.counters = opts.counters;
    this.onError = opts.onError;
    this.onFinished = opts.onFinished;
    this.onTick = () => this.tick();
  }

  get state(): RecordState {
    return this.st;
  }

  /** Bytes of audio buffers this pipeline holds (fixed at construction). */
  get ramBytes(): number {
    return this.pcm.bytes + this.packets.bytes + this.dropFrame.byteLength;
  }

  /**
   * Starts a new recording: clears both rings, resets the codec, starts the mic
   * and the 20 ms tick. 'OK', 'BUSY' (recording, flushing, or the mic is busy)
   * or 'OFF' (closed).
   */
  start(): PortStatus {
    if (this.st === 'closed') return 'OFF';
    if (this.st === 'recording' || this.st === 'flushing') return 'BUSY';
    let s: PortStatus;
    try {
      s = this.mic.start();
    } catch (e) {
      this.fault('micError', e);
      return 'BUSY';
    }
    if (s !== 'OK') return s;
    this.pcm.clear();
    this.packets.clear();
    this.pendingLength = 0;
    try {
      this.codec.reset();
    } catch (e) {
      this.fault('encodeError', e);
    }
    this.st = 'recording';
    this.timer?.cancel();
    this.timer = this.clock.every(FRAME_MS, this.onTick);
    return 'OK';
  }

  /** Ends capture: takes what the mic still holds, stops it; encoding goes on until the PCM ring is empty. */
  stop(): void {
    if (this.st !== 'recording') return;
    this.capture();
    this.safeMicStop();
    this.st = 'flushing';
    this.tick();
  }

  /**
   * Queues one frame from a push-style source (instead of the mic). 'OK', 'FULL'
   * (counted as an overrun) or 'OFF' (not recording). A frame that is not
   * FRAME_SAMPLES long throws PortError('SIZE') and is counted (badFrames).
   */
  pushFrame(frame: Int16Array): RingStatus | 'OFF' {
    if (frame.length !== FRAME_SAMPLES) {
      this.badFrames++;
      this.counters?.inc('audio.rec.badFrame');
      throw new PortError('SIZE', `frame of ${frame.length} samples, expected ${FRAME_SAMPLES}`);
    }
    if (this.st !== 'recording') return 'OFF';
    const s = this.pcm.push(frame);
    if (s === 'OK') this.framesCaptured++;
    else this.count('frameOverrun');
    return s;
  }

  /** One 20 ms step (the clock calls it; tests may call it directly). Never throws. */
  tick(): void {
    if (this.st !== 'recording' && this.st !== 'flushing') return;
    this.ticks++;
    if (this.st === 'recording') this.capture();
    this.encode();
    if (this.st === 'flushing' && this.pcm.count === 0 && this.pendingLength === 0) this.finish();
  }

  /**
   * Lends each queued packet to cb in order (the bytes are valid only during cb),
   * at most `max`. Returns how many were lent. A packet held back by a full ring is
   * queued right after. If cb throws, that packet stays queued and the error
   * propagates to the caller.
   */
  drainPackets(cb: (packet: Uint8Array, length: number) => void, max = Infinity): number {
    const n = this.packets.drain(cb, max);
    if (this.pendingLength > 0 && this.packets.commit(this.pendingLength) === 'OK') this.pendingLength = 0;
    return n;
  }

  /** True when the recording is finished and the consumer has drained every packet. */
  isDrained(): boolean {
    return this.st === 'finished' && this.packets.count === 0;
  }

  /** Stops the mic and the tick. Safe to call twice. */
  close(): void {
    if (this.st === 'closed') return;
    if (this.st === 'recording') this.safeMicStop();
    this.timer?.cancel();
    this.timer = undefined;
    this.st = 'closed';
  }

  private capture(): void {
    let n: number;
    try {
      n = this.mic.available();
    } catch (e) {
      this.fault('micError', e);
      return;
    }
    for (; n > 0; n--) {
      const slot = this.pcm.space > 0 ? this.pcm.reserve() : null;
      let s: PortStatus;
      try {
        s = this.mic.read(slot ?? this.dropFrame);
      } catch (e) {
        if (slot) this.pcm.unreserve();
        this.fault('micError', e);
        return;
      }
      if (s !== 'OK') {
        if (slot) this.pcm.unreserve();
        return;
      }
      if (slot) {
        this.pcm.commit();
        this.framesCaptured++;
      } else {
        this.pcm.overruns++;
        this.framesDropped++;
        this.count('frameOverrun');
      }
    }
  }

  private encode(): void {
    for (let k = 0; k < this.maxEncodes; k++) {
      if (this.pendingLength > 0) {
        if (this.packets.commit(this.pendingLength) === 'FULL') {
          this.count('packetFull');
          return;
        }
        this.pendingLength = 0;
      }
      if (this.pcm.count === 0) return;
      const frame = this.pcm.peek()!;
      const out = this.packets.reserve();
      let length: number;
      try {
        length = this.codec.encode(frame, out);
        if (!isPacketLength(length)) throw new CodecError('SIZE', `encoder returned length ${length}`);
      } catch (e) {
        this.pcm.release();
        this.encodeErrors++;
        this.fault('encodeError', e);
        continue;
      }
      this.pcm.release();
      this.framesEncoded++;
      this.bytesEncoded += length;
      if (this.packets.commit(length) === 'FULL') {
        this.pendingLength = length;
        this.count('packetFull');
        return;
      }
    }
  }

  private finish(): void {
    this.st = 'finished';
    this.timer?.cancel();
    this.timer = undefined;
    if (this.onFinished) {
      try {
        this.onFinished();
      } catch (e) {
        this.fault('callbackError', e);
      }
    }
  }

  private safeMicStop(): void {
    try {
      this.mic.stop();
    } catch (e) {
      this.fault('micError', e);
    }
  }

  private count(what: string): void {
    this.counters?.inc(`audio.rec.${what}`);
  }

  private fault(what: string, e: unknown): void {
    if (what === 'micError') this.micErrors++;
    this.counters?.inc(`audio.rec.${what}`);
    this.counters?.inc(`audio.rec.${what}.${errorCode(e)}`);
    if (this.onError) {
      try {
        this.onError(e);
      } catch {
        // onError must not throw; a throw is swallowed so the tick goes on
      }
    }
  }
}
