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
 * The recorder is the record pipeline's PacketSink: the pipeline's 20 ms tick
 * encodes each frame straight from the mic adapter's slot into the sealer's
 * plaintext (OutgoingMessage.reservePacket / commitPacket), so there is no packet
 * ring and no timer of its own; a chunk is sealed when the next packet's room is
 * reserved, and handed on at once. Errors never escape the tick: they are counted
 * (`rec.*`) and the message is dropped or finished as far as it got.
 */
import type { ClockPort, LogPort } from '../hal/ports.js';
import type { PacketSink, RecordPipeline } from '../audio/record-pipeline.js';
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

const NO_BUFFER = new Uint8Array(0);

export class ToyRecorder implements RecorderControl, PacketSink {
  /** PacketSink: the open message's plaintext and where the reserved packet goes (valid after packetRoom()). */
  packetBuffer: Uint8Array = NO_BUFFER;
  packetOffset = 0;
  private msg: OutgoingMessage | undefined;
  private readonly held: Uint8Array[] = [];
  private keep = true;
  private stopping = false;
  private chunksSent = 0;
  private failed = false;

  constructor(private readonly o: ToyRecorderOptions) {}

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
    this.msg = msg;
    this.held.length = 0;
    this.keep = true;
    this.stopping = false;
    this.failed = false;
    this.chunksSent = 0;
    this.packetBuffer = msg.plaintext;
    const s = this.o.pipeline.start(this);
    if (s !== 'OK') {
      this.msg = undefined;
      this.packetBuffer = NO_BUFFER;
      msg.abort();
      this.o.counters.inc('rec.mic_busy');
      return 'BUSY';
    }
    return 'OK';
  }

  stop(keep: boolean): void {
    if (!this.msg || this.stopping) return;
    this.keep = keep;
    this.stopping = true;
    this.o.pipeline.stop(); // encodes what the mic still holds, synchronously
    this.complete();
  }

  /** PacketSink: room for the next packet in the sealer's plaintext (sealing a full chunk first), 0 to skip the frame. Never throws. */
  packetRoom(): number {
    const msg = this.msg;
    if (!msg || this.failed || (this.stopping && !this.keep && this.chunksSent === 0)) return 0;
    let chunk: Uint8Array | undefined;
    try {
      chunk = msg.reservePacket();
    } catch (e) {
      // TOO_LONG cannot happen (the Toy stops at 60 s); anything else ends this message's audio.
      this.o.counters.inc(`rec.seal_${e instanceof EnvelopeError ? e.code : 'error'}`);
      this.failed = true;
      return 0;
    }
    if (chunk) this.emit(chunk);
    this.packetOffset = msg.packetAt;
    return msg.packetRoom;
  }

  /** PacketSink: the encoder wrote `length` bytes at packetOffset. */
  commitPacket(length: number): void {
    this.msg!.commitPacket(length);
  }

  /** `chunk` is lent by the sealer (valid until its next call): held chunks are copied, sent ones are copied by the outbox. */
  private emit(chunk: Uint8Array): void {
    const msg = this.msg!;
    if (msg.durationMs < MIN_RECORD_MS && !this.stopping) {
      this.held.push(chunk.slice());
      return;
    }
    this.sendHeld();
    this.out(chunk);
  }

  private sendHeld(): void {
    const held = this.held;
    for (let i = 0; i < held.length; i++) this.out(held[i]!);
    held.length = 0;
  }

  private out(chunk: Uint8Array): void {
    const r = this.o.send(chunk);
    if (r === 'OK') this.chunksSent++;
    else this.o.counters.inc(r === 'FULL' ? 'rec.outbox_full' : 'rec.outbox_off');
  }

  private complete(): void {
    const msg = this.msg!;
    // Chunks that already left cannot be recalled: finish such a message properly
    // rather than leave the family a truncated one.
    if ((this.keep || this.chunksSent > 0) && msg.packets > 0) {
      try {
        const last = msg.finish();
        this.sendHeld();
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
    this.held.length = 0;
    this.msg = undefined;
    this.packetBuffer = NO_BUFFER;
    this.stopping = false;
  }

  /** Aborts any recording. Safe to call twice. */
  close(): void {
    this.packetBuffer = NO_BUFFER;
    if (this.msg) {
      this.o.pipeline.close();
      this.msg.abort();
      this.msg = undefined;
    }
    this.held.length = 0;
  }
}
