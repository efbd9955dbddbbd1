/**
 * The record-and-play loop for tests, benches and tools: FakeMic → RecordPipeline
 * → packets → PlaybackPipeline → FakeSpeaker, on any ClockPort and CodecPorts.
 * Packets move from the record packet ring to the playback one in a 20 ms step
 * between the two pipelines' ticks (a stand-in for seal → relay → open), through
 * a callback made once. Portable (runs in XS).
 */
import { MAX_PACKET_BYTES } from '../audio/codec-port.js';
import { PlaybackPipeline } from '../audio/playback-pipeline.js';
import { RecordPipeline } from '../audio/record-pipeline.js';
import { FRAME_MS, type ClockPort, type CodecPort, type TimerHandle } from '../hal/ports.js';
import type { Counters } from '../src/counters.js';
import { FakeMic, type FrameSource } from './fakes/fake-mic.js';
import { FakeSpeaker } from './fakes/fake-speaker.js';

export interface AudioLoopOptions {
  clock: ClockPort;
  source: FrameSource;
  recordCodec: CodecPort;
  playCodec: CodecPort;
  /** Gets each frame the speaker accepts (lent). */
  sink?: (frame: Int16Array) => void;
  counters?: Counters;
  onError?: (e: unknown) => void;
}

export class AudioLoop {
  readonly mic: FakeMic;
  readonly speaker: FakeSpeaker;
  readonly rec: RecordPipeline;
  readonly play: PlaybackPipeline;
  /** Packets moved from record to playback, and their bytes. */
  moved = 0;
  movedBytes = 0;
  private timer: TimerHandle | undefined;
  private readonly push: (p: Uint8Array, n: number) => void;
  private readonly step: () => void;

  constructor(private readonly opts: AudioLoopOptions) {
    this.mic = new FakeMic(opts.clock, opts.source);
    this.speaker = new FakeSpeaker(opts.clock, opts.sink);
    this.rec = new RecordPipeline({ clock: opts.clock, mic: this.mic, codec: opts.recordCodec, counters: opts.counters, onError: opts.onError });
    this.play = new PlaybackPipeline({ clock: opts.clock, speaker: this.speaker, codec: opts.playCodec, packetRingBytes: 4096, counters: opts.counters, onError: opts.onError });
    this.push = (p, n) => {
      this.play.pushPacket(p, n);
      this.moved++;
      this.movedBytes += n;
    };
    this.step = () => this.transfer();
  }

  /** Starts recording, the transfer step and playback, in that tick order. */
  start(): void {
    this.rec.start();
    this.timer = this.opts.clock.every(FRAME_MS, this.step);
    this.play.start();
  }

  /** Moves every packet the playback ring has room for; ends the message when the recording is done. */
  transfer(): void {
    if (this.mic.ended && this.rec.state === 'recording') this.rec.stop();
    while (this.rec.packets.count > 0 && this.play.canAccept(MAX_PACKET_BYTES)) this.rec.drainPackets(this.push, 1);
    if (this.rec.isDrained() && this.play.state === 'playing') this.play.endOfMessage();
    if (this.play.state === 'finished') {
      this.timer?.cancel();
      this.timer = undefined;
    }
  }

  /** True once the whole message has been handed to the speaker. */
  get finished(): boolean {
    return this.play.state === 'finished';
  }

  close(): void {
    this.timer?.cancel();
    this.rec.close();
    this.play.close();
  }
}
