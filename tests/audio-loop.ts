/**
 * The record-and-play loop for tests, benches and tools: FakeMic → RecordPipeline
 * → packets → PlaybackPipeline → FakeSpeaker, on any ClockPort and CodecPorts.
 * Each packet is encoded into a PacketCallbackSink's buffer and pushed to the
 * playback pipeline at once (a stand-in for seal → relay → open; pushPacket copies);
 * a 20 ms step between the two pipelines' ticks ends the message when the source
 * has ended. A packet the playback ring has no room for is skipped and counted
 * (`refused`). Portable (runs in XS).
 */
import { PlaybackPipeline } from '../audio/playback-pipeline.js';
import { RecordPipeline } from '../audio/record-pipeline.js';
import { PacketCallbackSink } from './fakes/packet-callback-sink.js';
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
  /** Packets moved from record to playback, and their bytes; packets the playback ring refused. */
  moved = 0;
  movedBytes = 0;
  refused = 0;
  /** The record pipeline's sink (its 1,275-byte buffer is the encoder's output). */
  readonly packetSink: PacketCallbackSink;
  private timer: TimerHandle | undefined;
  private readonly step: () => void;

  constructor(private readonly opts: AudioLoopOptions) {
    this.mic = new FakeMic(opts.clock, opts.source);
    this.speaker = new FakeSpeaker(opts.clock, opts.sink);
    this.packetSink = new PacketCallbackSink((p, n) => {
      if (!this.play.canAccept(n)) {
        this.refused++;
        return;
      }
      this.play.pushPacket(p, n);
      this.moved++;
      this.movedBytes += n;
    });
    this.rec = new RecordPipeline({ clock: opts.clock, mic: this.mic, codec: opts.recordCodec, sink: this.packetSink, counters: opts.counters, onError: opts.onError });
    this.play = new PlaybackPipeline({ clock: opts.clock, speaker: this.speaker, codec: opts.playCodec, packetRingBytes: 4096, counters: opts.counters, onError: opts.onError });
    this.step = () => this.transfer();
  }

  /** Starts recording, the transfer step and playback, in that tick order. */
  start(): void {
    this.rec.start();
    this.timer = this.opts.clock.every(FRAME_MS, this.step);
    this.play.start();
  }

  /** Ends the message when the source has ended (the packets moved in the record tick). */
  transfer(): void {
    if (this.mic.ended && this.rec.state === 'recording') this.rec.stop();
    if (this.rec.state === 'finished' && this.play.state === 'playing') this.play.endOfMessage();
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
