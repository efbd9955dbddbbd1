/**
 * RecordPipeline: mic adapter's slot → encoder → the sink's buffer, driven by the
 * ClockPort every FRAME_MS (20 ms). Portable; allocates nothing per frame and holds
 * no audio buffer of its own (issue 13: the record PCM ring and packet ring are gone).
 *
 * Each tick encodes up to `maxEncodesPerTick` of the frames the mic has ready:
 * the mic adapter lends its oldest slot (`MicPort.peek`, its own ring is the
 * capture buffer and it fills it on its own timer, so capture never waits on this
 * tick), the sink lends room in its buffer (`PacketSink.packetRoom`: the sealer's
 * plaintext tail, src/toy-recorder.ts), the codec encodes straight from the one into
 * the other (`CodecPort.encode(pcm, out, offset, maxBytes)`), the sink publishes
 * the packet (`commitPacket`) and the mic slot is released. No copy of PCM or packet.
 *
 * A sink that answers 0 room does not want this frame (a discarded or failed
 * message): it is released unencoded and counted (`framesSkipped`).
 *
 * Life: start(sink) → 'recording'; stop() encodes every frame the mic still holds
 * (no tick limit), stops the mic → 'finished' (onFinished is called once, before
 * stop() returns).
 *
 * Errors never escape a tick: a codec that throws (CodecError or anything) or
 * returns a bad length, a sink that throws, or a mic adapter that throws are
 * counted (`encodeErrors`, `micErrors`, counters audio.rec.*) and routed to onError;
 * that one frame is dropped, the pipeline keeps running.
 */
import type { ClockPort, CodecPort, MicPort, PortStatus, TimerHandle } from '../hal/ports.js';
import { FRAME_MS, FRAME_SAMPLES, PortError } from '../hal/ports.js';
import type { Counters } from '../src/counters.js';
import { CodecError, errorCode } from './codec-port.js';

/**
 * Where encoded packets go (the sealer's plaintext in the toy). Called by the
 * pipeline within one tick, in this order per frame: packetRoom(), then the encoder
 * writes into packetBuffer at packetOffset, then commitPacket(length).
 */
export interface PacketSink {
  /**
   * Makes room for one packet (the sink may close and hand on what it holds first).
   * Returns the bytes the packet may take (MIN_ENCODE_ROOM..1275), or 0 when the
   * sink does not want this frame (it is skipped). Must not throw (a throw drops the frame).
   */
  packetRoom(): number;
  /** The buffer the packet is encoded into, valid after packetRoom() answered room (lent until commitPacket). */
  readonly packetBuffer: Uint8Array;
  /** Where in packetBuffer, valid after packetRoom(). */
  readonly packetOffset: number;
  /** Publishes the packet of `length` bytes (1..room) just written. */
  commitPacket(length: number): void;
}

export interface RecordPipelineOptions {
  clock: ClockPort;
  mic: MicPort;
  codec: CodecPort;
  /** Where packets go; may also be given to start(). */
  sink?: PacketSink;
  /** Frames encoded per tick at most, to catch up after a stall (default 4). */
  maxEncodesPerTick?: number;
  /** Event counters (audio.rec.*), optional. */
  counters?: Counters;
  /** Every error a tick caught. Must not throw (a throw is swallowed). */
  onError?: (e: unknown) => void;
  /** Called once when a stopped recording has been encoded entirely. Must not throw. */
  onFinished?: () => void;
}

export type RecordState = 'idle' | 'recording' | 'finished' | 'closed';

export class RecordPipeline {
  /** Frames the sink did not want (0 room): released unencoded. */
  framesSkipped = 0;
  /** Frames encoded and committed to the sink; their packet bytes. */
  framesEncoded = 0;
  bytesEncoded = 0;
  /** Frames lost to a codec error, a bad packet length or a sink that threw. */
  encodeErrors = 0;
  /** Mic adapter calls that threw. */
  micErrors = 0;
  /** Wrong-length frames refused by pushFrame. */
  badFrames = 0;
  /** Ticks run. */
  ticks = 0;

  /** Frames taken from the mic or pushFrame (encoded, skipped or lost to an encode error). */
  get framesCaptured(): number {
    return this.framesEncoded + this.framesSkipped + this.encodeErrors;
  }

  private readonly clock: ClockPort;
  private readonly mic: MicPort;
  private readonly codec: CodecPort;
  private readonly maxEncodes: number;
  private readonly counters: Counters | undefined;
  private readonly onError: ((e: unknown) => void) | undefined;
  private readonly onFinished: (() => void) | undefined;
  private readonly onTick: () => void;
  private sink: PacketSink | undefined;
  private timer: TimerHandle | undefined;
  private st: RecordState = 'idle';

  constructor(opts: RecordPipelineOptions) {
    this.clock = opts.clock;
    this.mic = opts.mic;
    this.codec = opts.codec;
    this.sink = opts.sink;
    this.maxEncodes = opts.maxEncodesPerTick ?? 4;
    this.counters = opts.counters;
    this.onError = opts.onError;
    this.onFinished = opts.onFinished;
    this.onTick = () => {
      if (this.st !== 'recording') return;
      this.ticks++;
      this.encodeAvailable(this.maxEncodes);
    };
  }

  get state(): RecordState {
    return this.st;
  }

  /** Bytes of audio buffers this pipeline holds: none (the mic adapter's ring and the sink's buffer are theirs). */
  get ramBytes(): number {
    return 0;
  }

  /**
   * Starts a new recording into `sink` (default: the one given at construction):
   * resets the codec, starts the mic and the 20 ms tick. 'OK', 'BUSY' (recording,
   * or the mic is busy) or 'OFF' (closed, or no sink).
   */
  start(sink?: PacketSink): PortStatus {
    if (this.st === 'closed') return 'OFF';
    if (this.st === 'recording') return 'BUSY';
    if (sink) this.sink = sink;
    if (!this.sink) return 'OFF';
    let s: PortStatus;
    try {
      s = this.mic.start();
    } catch (e) {
      this.fault('micError', e);
      return 'BUSY';
    }
    if (s !== 'OK') return s;
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

  /** Ends capture: encodes every frame the mic still holds, stops the mic → 'finished'. */
  stop(): void {
    if (this.st !== 'recording') return;
    this.ticks++;
    this.encodeAvailable(Infinity);
    this.safeMicStop();
    this.finish();
  }

  /**
   * Encodes one frame from a push-style source (instead of the mic) into the sink
   * at once. 'OK' (encoded, skipped or lost to a counted error) or 'OFF' (not
   * recording). A frame that is not FRAME_SAMPLES long throws PortError('SIZE') and
   * is counted (badFrames).
   */
  pushFrame(frame: Int16Array): 'OK' | 'OFF' {
    if (frame.length !== FRAME_SAMPLES) {
      this.badFrames++;
      this.counters?.inc('audio.rec.badFrame');
      throw new PortError('SIZE', `frame of ${frame.length} samples, expected ${FRAME_SAMPLES}`);
    }
    if (this.st !== 'recording') return 'OFF';
    this.encodeFrame(frame);
    return 'OK';
  }

  /** One 20 ms step (the clock calls it; tests may call it directly). Never throws. */
  tick(): void {
    if (this.st !== 'recording') return;
    this.ticks++;
    this.encodeAvailable(this.maxEncodes);
  }

  /** Stops the mic and the tick. Safe to call twice. */
  close(): void {
    if (this.st === 'closed') return;
    if (this.st === 'recording') this.safeMicStop();
    this.timer?.cancel();
    this.timer = undefined;
    this.st = 'closed';
  }

  /**
   * Encodes up to `max` frames from the mic's lent slot into the sink (the hot path:
   * one mic call per frame, one try for the mic calls, one for the encode; encodeFrame
   * is the same for pushFrame).
   */
  private encodeAvailable(max: number): void {
    const mic = this.mic;
    const codec = this.codec;
    const sink = this.sink!;
    try {
      // next() releases the frame encoded before and lends the next: one mic call per frame
      for (let frame = mic.peek(), k = 0; frame !== null; frame = mic.next()) {
        try {
          const room = sink.packetRoom();
          if (room > 0) {
            const length = codec.encode(frame, sink.packetBuffer, sink.packetOffset, room);
            if (!(length >= 1 && length <= room) || (length | 0) !== length) throw new CodecError('SIZE', `encoder returned length ${length}`);
            sink.commitPacket(length);
            this.framesEncoded++;
            this.bytesEncoded += length;
          } else this.framesSkipped++;
        } catch (e) {
          this.encodeErrors++;
          this.fault('encodeError', e);
        }
        if (++k === max) {
          mic.release();
          return;
        }
      }
    } catch (e) {
      this.fault('micError', e);
    }
  }

  /** Encodes one lent frame into the sink. Never throws. */
  private encodeFrame(frame: Int16Array): void {
    const sink = this.sink!;
    try {
      const room = sink.packetRoom();
      if (room <= 0) {
        this.framesSkipped++;
        return;
      }
      const length = this.codec.encode(frame, sink.packetBuffer, sink.packetOffset, room);
      if (!(length >= 1 && length <= room) || (length | 0) !== length) throw new CodecError('SIZE', `encoder returned length ${length}`);
      sink.commitPacket(length);
      this.framesEncoded++;
      this.bytesEncoded += length;
    } catch (e) {
      this.encodeErrors++;
      this.fault('encodeError', e);
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

