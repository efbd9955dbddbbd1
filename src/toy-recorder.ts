/**
 * The record path of the toy, wired: mic → RecordPipeline → Opus packets →
 * streaming sealer (one message for the whole family) → sealed chunks → the
 * MQTT outbox (durable, sent when the network is there).
 *
 * Implements the Toy's RecorderControl. Chunks sealed before the recording is
 * MIN_RECORD_MS long are held in RAM (at most one or two) so that an accidental
 * squeeze, which the Toy discards, never leaves the toy; from then on each chunk
 * is handed to the outbox as soon as it is sealed, so sending starts while the
 * child still holds the paw.
 *
 * One 20 ms timer runs only while recording or flushing; it drains the packet
 * ring into the sealer. Errors never escape a timer: they are counted
 * (`rec.*`) and the message is dropped or finished as far as it got.
 */
import type { ClockPort, LogPort, TimerHandle } from '../hal/ports.js';
import { FRAME_MS } from '../hal/ports.js';
import type { RecordPipeline } from '../audio/record-pipeline.js';
import type { Counters } from './counters.js';
import { EnvelopeError, type OutgoingMessage } from './envelope.js';
import { MIN_RECORD_MS, type RecorderControl } from './toy.js';

export interface ToyRecorderOptions {
  clock: ClockPort;
  pipeline: RecordPipeline;
  /** Starts a sealed message to every family member (ToyEnvelope.begin). Throws EnvelopeError. */
  begin: () => OutgoingMessage;
  /** Stores a sealed chunk for sending (MqttSession.send / Outbox.add). 'FULL' when the outbox is full. */
  send: (chunk: Uint8Array) => 'OK' | 'FULL' | 'OFF';
  counters: Counters;
  log?: LogPort;
  /** Called before the mic starts: frees the I2S pins the speaker may still hold (MessagePlayer.releaseSpeaker). */
  beforeStart?: () => void;
  /** Called after each message is completely queued (for the simulator and tests). */
  onMessageQueued?: (info: { chunks: number; ms: number }) => void;
}

export class ToyRecorder implements RecorderControl {
  private msg: OutgoingMessage | undefined;
  private held: Uint8Array[] = [];
  private timer: TimerHandle | undefined;
  private keep = true;
  private stopping = false;
  private chunksSent = 0;
  private failed = false;
  private readonly drainCb: (packet: Uint8Array, length: number) => void;

  constructor(private readonly o: ToyRecorderOptions) {
    this.drainCb = (p, n) => this.addPacket(p, n);
  }

  /** True while a message is being recorded or flushed. */
  get busy(): boolean {
    return this.msg !== undefined;
  }

  start(): 'OK' | 'BUSY' {
    if (this.msg) return 'BUSY';
    let msg: OutgoingMessage;
    try {
      msg = this.o.begin();
    } catch (e) {
      this.o.counters.inc(`rec.begin_${e instanceof EnvelopeError ? e.code : 'error'}`);
      return 'BUSY';
    }
    this.o.beforeStart?.();
    const s = this.o.pipeline.start();
    if (s !== 'OK') {
      msg.abort();
      this.o.counters.inc('rec.mic_busy');
      return 'BUSY';
    }
    this.msg = msg;
    this.held = [];
    this.keep = true;
    this.stopping = false;
    this.failed = false;
    this.chunksSent = 0;
    this.timer = this.o.clock.every(FRAME_MS, () => this.tick());
    return 'OK';
  }

  stop(keep: boolean): void {
    if (!this.msg || this.stopping) return;
    this.keep = keep;
    this.stopping = true;
    this.o.pipeline.stop();
    this.tick();
  }

  private tick(): void {
    const msg = this.msg;
    if (!msg) return;
    try {
      this.o.pipeline.drainPackets(this.drainCb);
    } catch (e) {
      this.o.counters.inc('rec.drain_error');
    }
    if (this.stopping && this.o.pipeline.isDrained()) this.complete();
  }

  private addPacket(packet: Uint8Array, length: number): void {
    const msg = this.msg;
    if (!msg || this.failed || (this.stopping && !this.keep && this.chunksSent === 0)) return;
    let chunk: Uint8Array | undefined;
    try {
      chunk = msg.addPacket(packet, length);
    } catch (e) {
      // TOO_LONG cannot happen (the Toy stops at 60 s); anything else ends this message's audio.
      this.o.counters.inc(`rec.seal_${e instanceof EnvelopeError ? e.code : 'error'}`);
      this.failed = true;
      return;
    }
    if (chunk) this.emit(chunk);
  }

  private emit(chunk: Uint8Array): void {
    const msg = this.msg!;
    if (msg.durationMs < MIN_RECORD_MS && !this.stopping) {
      this.held.push(chunk);
      return;
    }
    for (const h of this.held) this.out(h);
    this.held = [];
    this.out(chunk);
  }

  private out(chunk: Uint8Array): void {
    const r = this.o.send(chunk);
    if (r === 'OK') this.chunksSent++;
    else this.o.counters.inc(r === 'FULL' ? 'rec.outbox_full' : 'rec.outbox_off');
  }

  private complete(): void {
    const msg = this.msg!;
    this.timer?.cancel();
    this.timer = undefined;
    // Chunks that already left cannot be recalled: finish such a message properly
    // rather than leave the family a truncated one.
    if ((this.keep || this.chunksSent > 0) && msg.packets > 0) {
      try {
        const last = msg.finish();
        for (const h of this.held) this.out(h);
        this.out(last);
        this.o.counters.inc('rec.messages');
        this.o.log?.log('info', 'rec.queued', { chunks: this.chunksSent, ms: msg.durationMs });
        this.o.onMessageQueued?.({ chunks: this.chunksSent, ms: msg.durationMs });
      } catch (e) {
        this.o.counters.inc(`rec.finish_${e instanceof EnvelopeError ? e.code : 'error'}`);
      }
    } else {
      // Discarded: nothing of it has left the toy (chunks were held until MIN_RECORD_MS).
      msg.abort();
      this.o.counters.inc('rec.discarded');
    }
    this.held = [];
    this.msg = undefined;
    this.stopping = false;
  }

  /** Aborts any recording and stops the timer. Safe to call twice. */
  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.msg) {
      this.o.pipeline.close();
      this.msg.abort();
      this.msg = undefined;
    }
    this.held = [];
  }
}
