/**
 * PlaybackPipeline: framed packets → decoder → the speaker adapter's own slots,
 * driven by the ClockPort every FRAME_MS (20 ms). Portable; allocates nothing per
 * frame and holds no PCM ring and (as wired in src/app.ts) no packet ring (issue 13).
 *
 * Two ways in:
 * - segments (the app's path): `pushSegment(buf, start, end, packets)` lends a run
 *   of framed packets — [u16 big-endian length][bytes] repeated, the envelope's
 *   plaintext framing (docs/PROTOCOL.md) — e.g. an opened chunk's plaintext. The
 *   packets are decoded straight from it (CodecPort.decode with an offset): no copy.
 *   The buffer is lent to the pipeline until its last packet is decoded (or stop()):
 *   the caller must not change it before. At most `maxSegments` (default 4) are
 *   queued; more are answered 'FULL'.
 * - loose packets: `pushPacket(bytes, length)` copies one packet into a packet ring,
 *   only when built with `packetRingBytes` > 0 (tools and tests that pipe single
 *   packets); segments are played first when both hold packets.
 * The producer calls `endOfMessage()` after the last packet. Packets may be queued
 * before start().
 *
 * Each tick, once `prebufferFrames` packets are queued (or the message has ended),
 * up to `maxDecodesPerTick` packets are decoded, each straight into a slot the
 * speaker lends (SpeakerPort.reserve/commit), while the speaker has room. When the
 * speaker has room, the message has not ended and no packet is queued, that is an
 * underrun (counted once per tick; playback then prebuffers again).
 *
 * Life: start() → 'playing'; after endOfMessage() and the last frame handed to the
 * speaker → 'finished' (onFinished called once). The speaker is left running so its
 * own queue plays out; the caller stops it (stop() or close() do).
 *
 * Errors never escape a tick: a decoder that throws or returns a wrong sample count
 * is counted (`decodeErrors`, audio.play.decodeError) and routed to onError; the
 * frame is replaced by silence so the message keeps its length, and the rest of the
 * queue plays. A framed length outside 1..1275 or past the segment's end ends that
 * segment: counted in `badPackets` (audio.play.badPacket), one frame of silence.
 * pushPacket with a length outside 1..1275 throws CodecError('SIZE') and is counted
 * (`badPackets`); pushSegment with a range outside its buffer or a packet count
 * below 1 throws CodecError('SIZE') (counted the same); the queue is unchanged.
 */
import type { ClockPort, CodecPort, PortStatus, SpeakerPort, TimerHandle } from '../hal/ports.js';
import { FRAME_MS, FRAME_SAMPLES, PortError } from '../hal/ports.js';
import type { Counters } from '../src/counters.js';
import { CodecError, errorCode, isPacketLength, MAX_PACKET_BYTES } from './codec-port.js';
import type { RingStatus } from './frame-ring.js';
import { PACKET_HEADER_BYTES, PacketRing } from './packet-ring.js';

export interface PlaybackPipelineOptions {
  clock: ClockPort;
  speaker: SpeakerPort;
  codec: CodecPort;
  /** Segments queued at once (default 4, 1..16). */
  maxSegments?: number;
  /** Bytes of a packet ring for pushPacket() (default 0: none, pushPacket throws PortError INVAL). */
  packetRingBytes?: number;
  /** Packets queued before output starts, and again after an underrun (default 2 = 40 ms). */
  prebufferFrames?: number;
  /** Packets decoded (frames handed to the speaker) per tick at most (default 4). */
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
  /** The packet ring pushPacket fills (undefined when built without one). */
  readonly packets: PacketRing | undefined;
  /** Packets accepted by pushPacket and in segments; packets or segments refused as malformed. */
  packetsIn = 0;
  segmentsIn = 0;
  badPackets = 0;
  /** Packets decoded into frames; packets replaced by silence after a decoder error. */
  framesDecoded = 0;
  decodeErrors = 0;
  /** Frames handed to the speaker. */
  framesPlayed = 0;
  /** Ticks where the speaker had room, the message had not ended and no packet was queued. */
  underruns = 0;
  /** Speaker adapter calls that threw or refused a reserved slot. */
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
  /** Segment queue (a ring of maxSegments): lent buffer, read offset, end, packets left. */
  private readonly segBuf: (Uint8Array | undefined)[];
  private readonly segPos: Int32Array;
  private readonly segEnd: Int32Array;
  private readonly segLeft: Int32Array;
  private segHead = 0;
  private segCount = 0;
  /** Packets left in all queued segments. */
  private segPackets = 0;
  /** A decoded frame waits in the speaker's reserved slot (its commit threw): committed before anything else. */
  private pending = false;
  private timer: TimerHandle | undefined;
  private st: PlaybackState = 'idle';
  private ended = false;
  private flowing = false;

  constructor(opts: PlaybackPipelineOptions) {
    this.clock = opts.clock;
    this.speaker = opts.speaker;
    this.codec = opts.codec;
    const ringBytes = opts.packetRingBytes ?? 0;
    this.packets = ringBytes > 0 ? new PacketRing(ringBytes, { writeScratch: false }) : undefined; // filled by push() only
    const nseg = opts.maxSegments ?? 4;
    if ((nseg | 0) !== nseg || nseg < 1 || nseg > 16) throw new PortError('INVAL', `maxSegments ${nseg} outside 1..16`);
    this.segBuf = [];
    for (let i = 0; i < nseg; i++) this.segBuf.push(undefined);
    this.segPos = new Int32Array(nseg);
    this.segEnd = new Int32Array(nseg);
    this.segLeft = new Int32Array(nseg);
    this.prebuffer = Math.max(1, opts.prebufferFrames ?? 2);
    this.maxDecodes = opts.maxDecodesPerTick ?? 4;
    this.counters = opts.counters;
    this.onError = opts.onError;
    this.onFinished = opts.onFinished;
    this.onTick = () => this.tick();
  }

  get state(): PlaybackState {
    return this.st;
  }

  /** Bytes of audio buffers this pipeline holds (fixed at construction): the packet ring's, if any. */
  get ramBytes(): number {
    return this.packets ? this.packets.bytes : 0;
  }

  /** Packets queued and not yet decoded (segments and packet ring). */
  get packetsQueued(): number {
    return this.segPackets + (this.packets ? this.packets.count : 0);
  }

  /** Segments queued (their buffers are lent to the pipeline). */
  get segmentsQueued(): number {
    return this.segCount;
  }

  /** True when pushSegment would queue a segment now (not 'FULL' nor 'OFF'). */
  segmentRoom(): boolean {
    return this.segCount < this.segBuf.length && !this.ended && this.st !== 'finished' && this.st !== 'closed';
  }

  /**
   * Queues `packets` framed packets at buf[start..end) (lent until they are decoded:
   * see the file comment). 'OK', 'FULL' (maxSegments queued: retry after a tick) or
   * 'OFF' (after endOfMessage(), when finished, or closed). Throws CodecError('SIZE')
   * when the range is outside buf or packets < 1 (counted in badPackets).
   */
  pushSegment(buf: Uint8Array, start: number, end: number, packets: number): RingStatus | 'OFF' {
    if ((start | 0) !== start || (end | 0) !== end || start < 0 || end > buf.length || end - start < PACKET_HEADER_BYTES + 1 || (packets | 0) !== packets || packets < 1) {
      this.badPackets++;
      this.counters?.inc('audio.play.badPacket');
      throw new CodecError('SIZE', `segment ${start}..${end} of ${packets} packets outside its buffer (${buf.length})`);
    }
    if (this.ended || this.st === 'finished' || this.st === 'closed') return 'OFF';
    const n = this.segBuf.length;
    if (this.segCount === n) return 'FULL';
    let i = this.segHead + this.segCount;
    if (i >= n) i -= n;
    this.segBuf[i] = buf;
    this.segPos[i] = start;
    this.segEnd[i] = end;
    this.segLeft[i] = packets;
    this.segCount++;
    this.segPackets += packets;
    this.segmentsIn++;
    this.packetsIn += packets;
    return 'OK';
  }

  /**
   * Queues one packet, bytes[0..length) (lent; copied before return) into the packet
   * ring. 'OK', 'FULL' (no room now: retry after a tick), or 'OFF' (after
   * endOfMessage(), when finished, or closed). Throws CodecError('SIZE') when length
   * is outside 1..1275 or beyond bytes (counted in badPackets and audio.play.badPacket),
   * PortError('INVAL') when built without a packet ring.
   */
  pushPacket(bytes: Uint8Array, length: number): RingStatus | 'OFF' {
    if (!this.packets) throw new PortError('INVAL', 'PlaybackPipeline built without a packet ring (packetRingBytes)');
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

  /** True when a packet of `length` bytes would be accepted by pushPacket now. */
  canAccept(length: number): boolean {
    return !this.ended && this.st !== 'finished' && this.st !== 'closed' && this.packets !== undefined && this.packets.fits(length);
  }

  /** No more packets for this message: play what is queued, then finish. */
  endOfMessage(): void {
    this.ended = true;
  }

  /**
   * Starts playing: starts the speaker and the 20 ms tick. Packets queued before
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

  /** Stops playing now: stops the speaker and the tick, drops queued audio (lent segments are given back); back to 'idle'. */
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
    this.play();
    if (this.ended && this.packetsQueued === 0 && !this.pending) this.finish();
  }

  /** Stops the speaker and the tick. Safe to call twice. */
  close(): void {
    if (this.st === 'closed') return;
    this.timer?.cancel();
    this.timer = undefined;
    if (this.st === 'playing' || this.st === 'finished') this.safeSpeakerStop();
    this.clearSegments();
    this.st = 'closed';
  }

  private clearSegments(): void {
    for (let i = 0; i < this.segBuf.length; i++) this.segBuf[i] = undefined;
    this.segHead = this.segCount = this.segPackets = 0;
    this.pending = false;
  }

  private resetMessage(): void {
    this.packets?.clear();
    this.clearSegments();
    this.ended = false;
    this.flowing = false;
    try {
      this.codec.reset();
    } catch (e) {
      this.fault('decodeError', e);
    }
  }

  /** Decodes queued packets into speaker slots while the speaker has room. */
  private play(): void {
    const queued = this.packetsQueued + (this.pending ? 1 : 0);
    if (!this.flowing) {
      if (queued >= this.prebuffer || (this.ended && queued > 0)) this.flowing = true;
      else return;
    }
    const sp = this.speaker;
    try {
      let room = sp.space();
      if (room > 0 && queued === 0) {
        if (!this.ended) {
          this.underruns++;
          this.counters?.inc('audio.play.underrun');
          this.flowing = false;
        }
        return;
      }
      if (room > this.maxDecodes) room = this.maxDecodes;
      for (; room > 0 && (this.pending || this.packetsQueued > 0); room--) {
        const slot = sp.reserve();
        if (!slot) return;
        // a frame whose commit threw is still in the slot (reserve lends the same slot again)
        if (!this.pending) this.decodeInto(slot);
        this.pending = true;
        if (sp.commit() !== 'OK') {
          this.speakerErrors++;
          this.counters?.inc('audio.play.speakerRefused');
          return;
        }
        this.pending = false;
        this.framesPlayed++;
      }
    } catch (e) {
      this.fault('speakerError', e);
    }
  }

  /** Decodes the oldest queued packet into `slot` (silence on any error) and removes it. */
  private decodeInto(slot: Int16Array): void {
    if (this.segCount > 0) {
      const i = this.segHead;
      const buf = this.segBuf[i]!;
      const pos = this.segPos[i]!;
      const end = this.segEnd[i]!;
      const length = pos + PACKET_HEADER_BYTES <= end ? (buf[pos]! << 8) | buf[pos + 1]! : 0;
      const at = pos + PACKET_HEADER_BYTES;
      let last = this.segLeft[i] === 1;
      if (length < 1 || length > MAX_PACKET_BYTES || at + length > end) {
        slot.fill(0); // a framing error: silence, and the rest of this segment is dropped
        this.badPackets++;
        this.counters?.inc('audio.play.badPacket');
        last = true;
      } else {
        this.decodeOne(buf, length, slot, at);
        this.segPos[i] = at + length;
      }
      this.segPackets--;
      this.segLeft[i]!--;
      if (last) {
        this.segPackets -= this.segLeft[i]!;
        this.segBuf[i] = undefined; // the lent buffer goes back
        this.segHead = i + 1 === this.segBuf.length ? 0 : i + 1;
        this.segCount--;
      }
      return;
    }
    const ring = this.packets!;
    const length = ring.peek();
    this.decodeOne(ring.readScratch, length, slot, 0);
    ring.drop();
  }

  private decodeOne(buf: Uint8Array, length: number, slot: Int16Array, offset: number): void {
    try {
      const n = this.codec.decode(buf, length, slot, offset);
      if (n !== FRAME_SAMPLES) throw new CodecError('DECODE', `decoder returned ${n} samples`);
      this.framesDecoded++;
    } catch (e) {
      slot.fill(0); // conceal with silence: the message keeps its length
      this.decodeErrors++;
      this.fault('decodeError', e);
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
