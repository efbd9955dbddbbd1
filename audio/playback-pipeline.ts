/**
 * PlaybackPipeline: PacketRing → decoder → PCM FrameRing → speaker, driven by
 * the ClockPort every FRAME_MS (20 ms). Portable; allocates nothing per frame.
 *
 * The producer (the envelope opener) feeds packets with `pushPacket(bytes, length)`,
 * which copies them and answers 'FULL' when the packet ring has no room
 * (back-pressure: keep the packet and retry after a tick), and calls
 * `endOfMessage()` after the last one. Packets may be pushed before start().
 *
 * Each tick: (1) while the PCM ring has a free slot and a packet is queued, the
 * packet is decoded straight into the slot (no copy) — up to `maxDecodesPerTick`;
 * (2) once `prebufferFrames` frames are decoded (or the message has ended),
 * frames go to the speaker while it has space. When the speaker has room, the
 * message has not ended and no frame is ready, that is an underrun (counted once
 * per tick; playback then prebuffers again).
 *
 * Life: start() → 'playing'; after endOfMessage() and the last frame handed to the
 * speaker → 'finished' (onFinished called once). The speaker is left running so its
 * own queue plays out; the caller stops it (stop() or close() do).
 *
 * Errors never escape a tick: a decoder that throws or returns a wrong sample count
 * is counted (`decodeErrors`, audio.play.decodeError) and routed to onError; the
 * frame is replaced by silence so the message keeps its length, and the rest of the
 * queue plays. pushPacket with a length outside 1..1275 throws CodecError('SIZE')
 * and is counted (`badPackets`); the queue is unchanged.
 */
import type { ClockPort, CodecPort, PortStatus, SpeakerPort, TimerHandle } from '../hal/ports.js';
import { FRAME_MS, FRAME_SAMPLES } from '../hal/ports.js';
import type { Counters } from '../src/counters.js';
import { CodecError, errorCode, isPacketLength } from './codec-port.js';
import { FrameRing, type RingStatus } from './frame-ring.js';
import { PacketRing } from './packet-ring.js';

export interface PlaybackPipelineOptions {
  clock: ClockPort;
  speaker: SpeakerPort;
  codec: CodecPort;
  /** PCM ring slots (default 8 = 160 ms, 5,120 bytes). */
  frameRingFrames?: number;
  /** Packet ring bytes (default 4096: about 2 s at 16 kbps). */
  packetRingBytes?: number;
  /** Frames decoded before output starts, and again after an underrun (default 2 = 40 ms). */
  prebufferFrames?: number;
  /** Packets decoded per tick at most (default 4). */
  maxDecodesPerTick?: number;
  /** Event counters (audio.play.*), optional. */
  counters?: Counters;
  /** Every error a tick caught. Must not throw (a throw is swallowed). */
  onError?: (e: unknown) => void;
  /** Called once when the whole message has been handed to the speaker. Must not throw. */
  onFinished?: () => void;
}

export type PlaybackState = 'idle' | 'playing' | 'finished' | 'closed';

export class PlaybackPipeline {
  /** The packet ring pushPacket fills. */
  readonly packets: PacketRing;
  /** The PCM ring between decoder and speaker. */
  readonly pcm: FrameRing;
  /** Packets accepted by pushPacket; refused as too short/long. */
  packetsIn = 0;
  badPackets = 0;
  /** Packets decoded into frames; packets replaced by silence after a decoder error. */
  framesDecoded = 0;
  decodeErrors = 0;
  /** Frames handed to the speaker. */
  framesPlayed = 0;
  /** Ticks where the speaker had room, the message had not ended and no frame was ready. */
  underruns = 0;
  /** Speaker adapter calls that threw. */
  speakerErrors = 0;
  ticks = 0;

  private readonly clock: ClockPort;
  private readonly speaker: SpeakerPort;
  private readonly codec: CodecPort;
  private readonly prebuffer: number;
  private readonly maxDecodes: number;
  private readonly counters: Counters | undefined;
  private readonly onError: ((e: unknown) => void) | undefined;
  private readonly onFinished: (() => void) | undefined;
  private readonly onTick: () => void;
  private timer: TimerHandle | undefined;
  private st: PlaybackState = 'idle';
  private ended = false;
  private flowing = false;

  constructor(opts: PlaybackPipelineOptions) {
    this.clock = opts.clock;
    this.speaker = opts.speaker;
    this.codec = opts.codec;
    this.packets = new PacketRing(opts.packetRingBytes ?? 4096, { writeScratch: false }); // filled by push() only
    this.pcm = new FrameRing(opts.frameRingFrames ?? 8);
    this.prebuffer = Math.max(1, Math.min(opts.prebufferFrames ?? 2, this.pcm.capacity));
    this.maxDecodes = opts.maxDecodesPerTick ?? 4;
    this.counters = opts.counters;
    this.onError = opts.onError;
    this.onFinished = opts.onFinished;
    this.onTick = () => this.tick();
  }

  get state(): PlaybackState {
    return this.st;
  }

  /** Bytes of audio buffers this pipeline holds (fixed at construction). */
  get ramBytes(): number {
    return this.pcm.bytes + this.packets.bytes;
  }

  /**
   * Queues one packet, bytes[0..length) (lent; copied before return).
   * 'OK', 'FULL' (no room now: retry after a tick), or 'OFF' (after endOfMessage(),
   * when finished, or closed). Throws CodecError('SIZE') when length is outside
   * 1..1275 or beyond bytes (counted in badPackets and audio.play.badPacket).
   */
  pushPacket(bytes: Uint8Array, length: number): RingStatus | 'OFF' {
    if (!isPacketLength(length) || length > bytes.length) {
      this.badPackets++;
      this.counters?.inc('audio.play.badPacket');
      throw new CodecError('SIZE', `packet length ${length} outside 1..1275 or beyond its buffer (${bytes.length})`);
    }
    if (this.ended || this.st === 'finished' || this.st === 'closed') return 'OFF';
    const s = this.packets.push(bytes, length);
    if (s === 'OK') this.packetsIn++;
    return s;
  }

  /** True when a packet of `length` bytes would be accepted now. */
  canAccept(length: number): boolean {
    return !this.ended && this.st !== 'finished' && this.st !== 'closed' && this.packets.fits(length);
  }

  /** No more packets for this message: play what is queued, then finish. */
  endOfMessage(): void {
    this.ended = true;
  }

  /**
   * Starts playing: starts the speaker and the 20 ms tick. Packets pushed before
   * start() are kept. 'OK', 'BUSY' (already playing, or the speaker is busy), or 'OFF' (closed).
   */
  start(): PortStatus {
    if (this.st === 'closed') return 'OFF';
    if (this.st === 'playing') return 'BUSY';
    if (this.st === 'finished') this.resetMessage();
    let s: PortStatus;
    try {
      s = this.speaker.start();
    } catch (e) {
      this.fault('speakerError', e);
      return 'BUSY';
    }
    if (s !== 'OK') return s;
    this.st = 'playing';
    this.flowing = false;
    this.timer?.cancel();
    this.timer = this.clock.every(FRAME_MS, this.onTick);
    return 'OK';
  }

  /** Stops playing now: stops the speaker and the tick, drops queued audio; back to 'idle'. */
  stop(): void {
    if (this.st === 'closed') return;
    this.timer?.cancel();
    this.timer = undefined;
    this.safeSpeakerStop();
    this.resetMessage();
    this.st = 'idle';
  }

  /** One 20 ms step (the clock calls it; tests may call it directly). Never throws. */
  tick(): void {
    if (this.st !== 'playing') return;
    this.ticks++;
    this.decode();
    this.play();
    if (this.ended && this.packets.count === 0 && this.pcm.count === 0) this.finish();
  }

  /** Stops the speaker and the tick. Safe to call twice. */
  close(): void {
    if (this.st === 'closed') return;
    this.timer?.cancel();
    this.timer = undefined;
    if (this.st === 'playing' || this.st === 'finished') this.safeSpeakerStop();
    this.st = 'closed';
  }

  private resetMessage(): void {
    this.packets.clear();
    this.pcm.clear();
    this.ended = false;
    this.flowing = false;
    try {
      this.codec.reset();
    } catch (e) {
      this.fault('decodeError', e);
    }
  }

  private decode(): void {
    for (let k = 0; k < this.maxDecodes && this.pcm.space > 0 && this.packets.count > 0; k++) {
      const length = this.packets.peek();
      const slot = this.pcm.reserve()!;
      try {
        const n = this.codec.decode(this.packets.readScratch, length, slot);
        if (n !== FRAME_SAMPLES) throw new CodecError('DECODE', `decoder returned ${n} samples`);
        this.framesDecoded++;
      } catch (e) {
        slot.fill(0); // conceal with silence: the message keeps its length
        this.decodeErrors++;
        this.fault('decodeError', e);
      }
      this.pcm.commit();
      this.packets.drop();
    }
  }

  private play(): void {
    if (!this.flowing) {
      if (this.pcm.count >= this.prebuffer || (this.ended && this.packets.count === 0)) this.flowing = true;
      else return;
    }
    try {
      let room = this.speaker.space();
      if (room > 0 && this.pcm.count === 0) {
        if (!this.ended) {
          this.underruns++;
          this.counters?.inc('audio.play.underrun');
          this.flowing = false;
        }
        return;
      }
      for (; room > 0 && this.pcm.count > 0; room--) {
        const frame = this.pcm.peek()!;
        if (this.speaker.write(frame) !== 'OK') return;
        this.pcm.release();
        this.framesPlayed++;
      }
    } catch (e) {
      this.fault('speakerError', e);
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

  private safeSpeakerStop(): void {
    try {
      this.speaker.stop();
    } catch (e) {
      this.fault('speakerError', e);
    }
  }

  private fault(what: string, e: unknown): void {
    if (what === 'speakerError') this.speakerErrors++;
    this.counters?.inc(`audio.play.${what}`);
    this.counters?.inc(`audio.play.${what}.${errorCode(e)}`);
    if (this.onError) {
      try {
        this.onError(e);
      } catch {
        // onError must not throw; a throw is swallowed so the tick goes on
      }
    }
  }
}
