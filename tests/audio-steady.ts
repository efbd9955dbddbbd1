/**
 * Steady-state workloads for the no-allocation proofs and the audio bench.
 * Portable: runs in XS (tests/audio-steady.xs.ts, bench/xs/audio-entry.ts) and Node.
 *
 * - SteadyLoop: the full record → playback loop on a StepClock with FakeCodecs that
 *   remember every distinct buffer instance they are lent (in a fixed table, no
 *   allocation), and a speaker sink that checks each frame's value in order.
 * - RecordOnly / PlaybackOnly: one path each, for steps per second of audio
 *   (RecordOnly encodes into PlaintextSink, a stand-in for the sealer's plaintext).
 * - ring workloads: the rings next to a naive queue that allocates a typed array per frame.
 */
import { FakeCodec } from '../audio/fake-codec.js';
import { FrameRing } from '../audio/frame-ring.js';
import { PacketRing } from '../audio/packet-ring.js';
import { PlaybackPipeline } from '../audio/playback-pipeline.js';
import { RecordPipeline, type PacketSink } from '../audio/record-pipeline.js';
import { MAX_PACKET_BYTES, MIN_ENCODE_ROOM } from '../audio/codec-port.js';
import { FRAME_SAMPLES } from '../hal/ports.js';
import { AudioLoop } from './audio-loop.js';
import { countingSource, FakeMic } from './fakes/fake-mic.js';
import { FakeSpeaker } from './fakes/fake-speaker.js';
import { StepClock } from './fakes/step-clock.js';

/** Remembers up to 32 distinct objects without allocating; `overflow` counts the rest. */
export class InstanceTable {
  readonly items: unknown[] = new Array(32).fill(null);
  size = 0;
  overflow = 0;
  note(x: unknown): void {
    for (let i = 0; i < this.size; i++) if (this.items[i] === x) return;
    if (this.size < 32) this.items[this.size++] = x;
    else this.overflow++;
  }
}

/** A FakeCodec that records the buffers it is lent. */
export class TrackingCodec extends FakeCodec {
  readonly pcmIn = new InstanceTable();
  readonly packetOut = new InstanceTable();
  readonly packetIn = new InstanceTable();
  readonly pcmOut = new InstanceTable();
  override encode(pcm: Int16Array, out: Uint8Array, offset?: number, maxBytes?: number): number {
    this.pcmIn.note(pcm);
    this.packetOut.note(out);
    return super.encode(pcm, out, offset, maxBytes);
  }
  override decode(packet: Uint8Array, length: number, out: Int16Array, offset = 0): number {
    this.packetIn.note(packet);
    this.pcmOut.note(out);
    return super.decode(packet, length, out, offset);
  }
}

export interface SteadyReport {
  frames: number;
  played: number;
  mismatches: number;
  errors: number;
  distinct: { pcmIn: number; packetOut: number; packetIn: number; pcmOut: number; speaker: number };
  sameBuffers: boolean;
  ramBytes: number;
  underruns: number;
  dropped: number;
}

export class SteadyLoop {
  readonly clock = new StepClock();
  readonly recCodec = new TrackingCodec();
  readonly playCodec = new TrackingCodec();
  readonly speakerFrames = new InstanceTable();
  readonly loop: AudioLoop;
  frames = 0;
  mismatches = 0;
  errors = 0;
  private expect = 1;
  private readonly ram0: number;

  constructor() {
    this.loop = new AudioLoop({
      clock: this.clock,
      source: countingSource(),
      recordCodec: this.recCodec,
      playCodec: this.playCodec,
      sink: (f) => {
        this.speakerFrames.note(f);
        if (f[0] !== this.expect || f[FRAME_SAMPLES - 1] !== this.expect) this.mismatches++;
        this.expect = this.expect === 30000 ? 1 : this.expect + 1;
      },
      onError: () => {
        this.errors++;
      },
    });
    this.ram0 = this.ramBytes();
    this.loop.start();
  }

  ramBytes(): number {
    return this.loop.rec.ramBytes + this.loop.play.ramBytes;
  }

  /** Runs n frame times (20 ms each). */
  run(n: number): void {
    for (let i = 0; i < n; i++) this.clock.step(20);
    this.frames += n;
  }

  report(): SteadyReport {
    const { rec, play } = this.loop;
    const inRing = (t: InstanceTable, buf: ArrayBufferLike) => {
      for (let i = 0; i < t.size; i++) if ((t.items[i] as ArrayBufferView).buffer !== buf) return false;
      return t.overflow === 0;
    };
    return {
      frames: this.frames,
      played: this.loop.speaker.written,
      mismatches: this.mismatches,
      errors: this.errors,
      distinct: {
        pcmIn: this.recCodec.pcmIn.size,
        packetOut: this.recCodec.packetOut.size,
        packetIn: this.playCodec.packetIn.size,
        pcmOut: this.playCodec.pcmOut.size,
        speaker: this.speakerFrames.size,
      },
      sameBuffers:
        this.recCodec.pcmIn.size === 1 &&
        this.recCodec.pcmIn.items[0] === this.loop.mic.peekSlot &&
        this.recCodec.packetOut.size === 1 &&
        this.recCodec.packetOut.items[0] === this.loop.packetSink.packetBuffer &&
        this.playCodec.packetIn.items[0] === play.packets!.readScratch &&
        this.playCodec.pcmOut.size === 1 &&
        this.playCodec.pcmOut.items[0] === this.loop.speaker.slot && // decoded straight into the speaker's slot
        this.speakerFrames.size === 1 &&
        this.speakerFrames.items[0] === this.loop.speaker.slot &&
        this.ramBytes() === this.ram0,
      ramBytes: this.ramBytes(),
      underruns: play.underruns,
      dropped: rec.framesSkipped + this.loop.refused + this.loop.mic.overruns,
    };
  }
}

/**
 * A stand-in for the sealer's plaintext (src/envelope-sealer.ts reservePacket /
 * commitPacket): a 2,048-byte buffer, a 2-byte length before each packet, a new
 * chunk every 25 packets or when less than 2 + MIN_ENCODE_ROOM bytes are left
 * (the sealing itself, crypto, is the toy bench's).
 */
export class PlaintextSink implements PacketSink {
  readonly packetBuffer = new Uint8Array(2048);
  packetOffset = 0;
  chunks = 0;
  packets = 0;
  private used = 0;
  private inChunk = 0;
  packetRoom(): number {
    if (this.inChunk >= 25 || 2048 - this.used - 2 < MIN_ENCODE_ROOM) {
      this.chunks++;
      this.used = 0;
      this.inChunk = 0;
    }
    const room = 2048 - this.used - 2;
    this.packetOffset = this.used + 2;
    return room < MAX_PACKET_BYTES ? room : MAX_PACKET_BYTES;
  }
  commitPacket(length: number): void {
    const o = this.used;
    this.packetBuffer[o] = length >>> 8;
    this.packetBuffer[o + 1] = length & 0xff;
    this.used = o + 2 + length;
    this.inChunk++;
    this.packets++;
  }
}

/** The record path alone: the mic's lent slot → FakeCodec → a plaintext sink (PlaintextSink). */
export class RecordOnly {
  readonly clock = new StepClock();
  readonly rec: RecordPipeline;
  readonly sink = new PlaintextSink();
  /** start = false: call rec.start() yourself (the bench wraps the clock's timers first). */
  constructor(start = true) {
    this.rec = new RecordPipeline({ clock: this.clock, mic: new FakeMic(this.clock, countingSource()), codec: new FakeCodec(), sink: this.sink });
    if (start) this.rec.start();
  }
  run(n: number): void {
    for (let i = 0; i < n; i++) this.clock.step(20);
  }
}

/**
 * The playback path alone, as the app feeds it: an opened chunk's plaintext of 25
 * framed 40-byte packets is lent as one segment whenever at most 10 packets are
 * queued (src/message-player.ts's low-water mark) → decoder → the speaker's slot.
 */
export class PlaybackOnly {
  static readonly PACKETS = 25;
  readonly clock = new StepClock();
  readonly play: PlaybackPipeline;
  readonly speaker: FakeSpeaker;
  /** Two chunk plaintexts used in turn (a chunk's buffer is lent until played). */
  private readonly plains: Uint8Array[] = [];
  private turn = 0;
  constructor() {
    this.speaker = new FakeSpeaker(this.clock);
    this.play = new PlaybackPipeline({ clock: this.clock, speaker: this.speaker, codec: new FakeCodec() });
    const pkt = new Uint8Array(1275);
    new FakeCodec().encode(new Int16Array(FRAME_SAMPLES).fill(7), pkt);
    for (let k = 0; k < 2; k++) {
      const plain = new Uint8Array(PlaybackOnly.PACKETS * 42 + 16); // + zero padding, as a sealed body
      for (let i = 0; i < PlaybackOnly.PACKETS; i++) {
        plain[i * 42] = 0;
        plain[i * 42 + 1] = 40;
        plain.set(pkt.subarray(0, 40), i * 42 + 2);
      }
      this.plains.push(plain);
    }
    this.play.start();
  }
  /** The producer's step (the message player's feed): one segment when the queue is low. */
  feed(): void {
    if (this.play.packetsQueued > 10 || !this.play.segmentRoom()) return;
    const plain = this.plains[this.turn]!;
    this.turn ^= 1;
    this.play.pushSegment(plain, 0, plain.length, PlaybackOnly.PACKETS);
  }
  run(n: number): void {
    for (let i = 0; i < n; i++) {
      this.feed();
      this.clock.step(20);
    }
  }
}

/** The fakes alone (mic read, fake encode + decode, speaker write) per frame: the share to subtract. */
export class FakesOnly {
  readonly clock = new StepClock();
  readonly mic = new FakeMic(this.clock, countingSource());
  readonly speaker = new FakeSpeaker(this.clock);
  readonly codec = new FakeCodec();
  readonly pcm = new Int16Array(FRAME_SAMPLES);
  readonly packet = new Uint8Array(1275);
  constructor() {
    this.mic.start();
    this.speaker.start();
  }
  run(n: number): void {
    for (let i = 0; i < n; i++) {
      this.clock.step(20);
      if (this.mic.available() > 0) this.mic.read(this.pcm);
      const len = this.codec.encode(this.pcm, this.packet);
      this.codec.decode(this.packet, len, this.pcm);
      if (this.speaker.space() > 0) this.speaker.write(this.pcm);
    }
  }
}

/** Ring workloads: n frames (or packets) in and out. Each returns a checksum so nothing is optimized away. */
export const ringWork = {
  /** FrameRing zero-copy: reserve, fill 1 sample, commit, peek, read 1 sample, release. */
  frameLend(ring: FrameRing, n: number): number {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const s = ring.reserve()!;
      s[0] = i;
      ring.commit();
      sum += ring.peek()![0]!;
      ring.release();
    }
    return sum;
  },
  /** FrameRing copying: push(frame) then pop(into). */
  frameCopy(ring: FrameRing, src: Int16Array, dst: Int16Array, n: number): number {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      src[0] = i;
      ring.push(src);
      ring.pop(dst);
      sum += dst[0]!;
    }
    return sum;
  },
  /** Naive queue: a new Int16Array per frame filled from src, array push/shift. */
  frameNaive(queue: Int16Array[], src: Int16Array, n: number): number {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      src[0] = i;
      const f = new Int16Array(FRAME_SAMPLES);
      f.set(src);
      queue.push(f);
      sum += queue.shift()![0]!;
    }
    return sum;
  },
  /** PacketRing: the encoder writes 40 bytes into the write scratch, commit, peek, drop. */
  packetRing(ring: PacketRing, n: number): number {
    let sum = 0;
    const w = ring.reserve();
    for (let i = 0; i < n; i++) {
      w[0] = i & 0xff;
      ring.commit(40);
      ring.peek();
      sum += ring.readScratch[0]!;
      ring.drop();
    }
    return sum;
  },
  /** Naive packets: slice() a new Uint8Array per packet, array push/shift. */
  packetNaive(queue: Uint8Array[], src: Uint8Array, n: number): number {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      src[0] = i & 0xff;
      queue.push(src.slice(0, 40));
      sum += queue.shift()![0]!;
    }
    return sum;
  },
};
