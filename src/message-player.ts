/**
 * Messages from the family to the child, on the toy: admission of received
 * chunks, the list of messages waiting to be heard (the heart glows while it is
 * not empty), and playback through the PlaybackPipeline.
 *
 * Durable state and the exactly-once argument (a power cut may hit anywhere):
 * - Chunks live in the Inbox (src/inbox.ts) until confirmed; RAM keeps only ids.
 *   The chunk records are the only thing written while a message arrives (issue 13:
 *   no admission record, no replay write per message on arrival).
 * - A message's head is ADMITTED (in RAM) when it verifies (sender in the roster, its
 *   recipient tag checked without decrypting: EnvelopeOpener mode 'admit'; not
 *   expired) and its counter is new in the sender's replay record (ReplayGuard.check:
 *   a read). Nothing is written: while the message waits, a copy of any of its chunks
 *   is a DUPLICATE in the Inbox (same dedupe key), and after a restart the Inbox
 *   hands every stored chunk over again, so the head is admitted again the same way.
 * - When a message has played to the end (or expired), the replay counter is
 *   committed FIRST (one write of `rp.rx`: the commit point, from then on its head
 *   is refused as a REPLAY), then its chunk records are removed (Inbox.releaseMany:
 *   removes only, no seen-record write). A cut between the two: at the next start
 *   the head is refused as a replay and the rest are orphans, all dropped, so a played
 *   message never plays again; one cut short before the commit plays again from the
 *   start. So a message costs one small-record write beyond its chunk records.
 * - 'delivered' receipts go out for heads that arrived in this boot (not for those
 *   the Inbox hands over again after a restart: InboxMessage.restored).
 * - Chunks that fail (forged, unknown sender, expired, malformed, orphaned) are
 *   confirmed (dropped) and counted `msg.drop_<CODE>`; they never reach the decoder.
 *
 * Upgrade: the `adm` record of earlier versions ([u8 version=1][u8 count][count ×
 * 16-byte message id]; their replay counters were committed on arrival) is read
 * once: those heads are re-opened without the replay check, and the record is
 * removed when the last of them is retired. Portable.
 */
import type { ClockPort, CryptoPort, LogPort, StoragePort, TimerHandle } from '../hal/ports.js';
import { FRAME_MS } from '../hal/ports.js';
import type { PlaybackPipeline } from '../audio/playback-pipeline.js';
import type { Counters } from './counters.js';
import { EnvelopeError, EnvelopeOpener, newChunkInfo, readChunkHeaderInto, type ReplayGuard, type SenderKeys } from './envelope.js';
import type { Inbox, InboxMessage } from './inbox.js';
import type { PlayerControl } from './toy.js';

export const ADMITTED_KEY = 'adm';
/** Most messages admitted and not yet played; further heads wait in the Inbox unconfirmed. */
export const MAX_ADMITTED = 32;
/** After the last frame, the speaker is released this long later (its queue plays out). */
export const SPEAKER_TAIL_MS = 400;

/**
 * Packets queued in the pipeline at or below which the next chunk is opened (200 ms of
 * audio: a chunk of 25 packets opened in one tick refills it well before it runs dry).
 */
export const LOW_WATER_PACKETS = 10;

interface Playing {
  msg: Msg;
  next: number;
  done: (played: boolean) => void;
  timer: TimerHandle;
  ended?: boolean;
}

const NO_TIMER: TimerHandle = { cancel: () => undefined };

interface Msg {
  key: string;
  chunks: string[];
  complete: boolean;
  createdMs: number;
  /** The message counter, committed to the replay record when the message is retired. */
  counter: number;
  /** Family receipts (issue 15): the sender, and whether this boot admitted it (a re-admission after a restart sends no second 'delivered'). */
  sender: Uint8Array;
  fresh: boolean;
}

export interface MessagePlayerOptions {
  clock: ClockPort;
  crypto: CryptoPort;
  inbox: Inbox;
  /** Sender keys from the roster (ToyEnvelope.keys). */
  keys: SenderKeys;
  /** The toy's replay records (ToyEnvelope.replay). */
  replay: ReplayGuard;
  /** Opener for playback (no replay check): ToyEnvelope.playback. */
  playbackOpener: EnvelopeOpener;
  pipeline: PlaybackPipeline;
  storage: StoragePort;
  counters: Counters;
  log?: LogPort;
  ttlMs?: number;
  /** The set of complete messages changed (one arrived, one was played). Must not throw. */
  onChange?: () => void;
  /** Family receipts (src/family-service.ts): a message was stored complete ('delivered') or played to the end ('heard'). Must not throw. */
  onReceipt?: (sender: Uint8Array, messageKey: string, state: 'delivered' | 'heard') => void;
}

const hex = (b: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
};

export class MessagePlayer implements PlayerControl {
  private readonly msgs = new Map<string, Msg>();
  /** Message keys of the legacy `adm` record (admitted, counter already committed). */
  private readonly legacy = new Set<string>();
  private readonly verifier: EnvelopeOpener;
  /** The clear header of the chunk being admitted (reused: no header object per chunk, issue 13). */
  private readonly header = newChunkInfo();
  private playing: Playing | undefined;
  private readonly onFeed = () => this.feed();
  /** purgeExpired's allocation-free scan: its inputs and result. */
  private expiryNow = 0;
  private expiryTtl = 0;
  private anyExpired = false;
  private readonly checkExpiry = (m: Msg): void => {
    if (this.isExpired(m)) this.anyExpired = true;
  };
  /** Chunks opened for playback since construction (bench: opens before the first frame). */
  chunksOpened = 0;
  private tail: TimerHandle | undefined;
  private closed = false;
  private hadLegacyRecord = false;

  constructor(private readonly o: MessagePlayerOptions) {
    this.verifier = new EnvelopeOpener({ crypto: o.crypto, keys: o.keys, clock: o.clock, ttlMs: o.ttlMs, counters: o.counters, maxOpen: 8, mode: 'admit', reuseResult: true });
    this.loadLegacy();
  }

  /** Starts taking chunks from the Inbox (stored ones first). Call once, after construction. */
  attach(): void {
    this.o.inbox.setConsumer((m) => this.onChunk(m));
    // Legacy admission entries whose chunks are gone (played, then cut before cleanup) are dropped.
    for (const k of [...this.legacy]) if (!this.msgs.has(k)) this.legacy.delete(k);
    this.dropLegacyRecord();
  }

  /** Complete messages waiting to be heard. */
  waiting(): number {
    let n = 0;
    for (const m of this.msgs.values()) if (m.complete) n++;
    return n;
  }

  // ------------------------------------------------------------ admission

  private onChunk(m: InboxMessage): void {
    if (this.closed) return;
    try {
      this.admit(m);
    } catch (e) {
      this.o.counters.inc('msg.consumer_error');
      this.o.log?.log('warn', 'msg.consumer_error', { error: e instanceof Error ? e.name : 'thrown' });
    }
  }

  private drop(id: string, why: string): void {
    this.o.counters.inc(`msg.drop_${why}`);
    this.o.log?.log('warn', 'msg.dropped', { why });
    try {
      this.o.inbox.confirm(id);
    } catch {
      this.o.counters.inc('msg.confirm_failed');
    }
  }

  private admit(m: InboxMessage): void {
    let h;
    try {
      h = readChunkHeaderInto(m.payload, this.header); // one reused header (issue 13)
    } catch {
      return this.drop(m.id, 'MALFORMED');
    }
    const key = h.messageKey;
    if (h.index === 0) {
      if (this.msgs.has(key)) return this.drop(m.id, 'DUPLICATE');
      let opened;
      try {
        opened = this.verifier.push(m.payload, h);
      } catch (e) {
        return this.drop(m.id, e instanceof EnvelopeError ? e.code : 'ERROR');
      }
      if (!this.legacy.has(key)) {
        try {
          this.o.replay.check(opened.info.sender, opened.info.counter); // a read; committed when the message is retired
        } catch (e) {
          this.forgetVerifier(key);
          return this.drop(m.id, e instanceof EnvelopeError ? e.code : 'ERROR');
        }
      }
      if (this.msgs.size >= MAX_ADMITTED) {
        // Full: leave the chunk in the Inbox unconfirmed; it is handed over again at the next start.
        this.forgetVerifier(key);
        this.o.counters.inc('msg.admit_full');
        return;
      }
      const fresh = !m.restored && !this.legacy.has(key);
      if (fresh) this.o.counters.inc('msg.admitted');
      const msg: Msg = { key, chunks: [m.id], complete: opened.final, createdMs: opened.info.createdMs, counter: opened.info.counter, sender: opened.info.sender, fresh };
      this.msgs.set(key, msg);
      if (opened.final) this.completed(msg);
      return;
    }
    const msg = this.msgs.get(key);
    if (!msg) return this.drop(m.id, 'ORPHAN');
    let opened;
    try {
      opened = this.verifier.push(m.payload, h);
    } catch (e) {
      return this.drop(m.id, e instanceof EnvelopeError ? e.code : 'ERROR');
    }
    msg.chunks.push(m.id);
    if (opened.final) this.completed(msg);
  }

  private completed(msg: Msg): void {
    msg.complete = true;
    this.forgetVerifier(msg.key);
    this.o.counters.inc('msg.complete');
    this.o.log?.log('info', 'msg.arrived', { chunks: msg.chunks.length });
    if (msg.fresh) this.receipt(msg, 'delivered');
    this.changed();
  }

  private forgetVerifier(key: string): void {
    try {
      this.verifier.finish(key);
    } catch {
      /* TRUNCATED: the verifier only drops its state */
    }
  }

  private changed(): void {
    try {
      this.o.onChange?.();
    } catch {
      this.o.counters.inc('msg.onchange_threw');
    }
  }

  // ------------------------------------------------------------ admission record

  /** Reads the legacy `adm` record of earlier versions (kept until its messages are retired). */
  private loadLegacy(): void {
    let v: Uint8Array | undefined;
    try {
      v = this.o.storage.read(ADMITTED_KEY);
    } catch {
      this.o.counters.inc('msg.adm_read_failed');
      return;
    }
    if (!v) return;
    this.hadLegacyRecord = true;
    if (v.length < 2 || v[0] !== 1 || v.length !== 2 + v[1]! * 16 || v[1]! > MAX_ADMITTED) {
      this.o.counters.inc('msg.adm_corrupt');
      return;
    }
    for (let i = 0; i < v[1]!; i++) this.legacy.add(hex(v.subarray(2 + i * 16, 18 + i * 16)));
  }

  /** Removes the legacy `adm` record once none of its messages waits (a remove: no erase of its own). */
  private dropLegacyRecord(): void {
    if (!this.hadLegacyRecord || this.legacy.size > 0) return;
    try {
      this.o.storage.remove(ADMITTED_KEY);
      this.hadLegacyRecord = false;
    } catch {
      this.o.counters.inc('msg.adm_write_failed');
    }
  }

  // ------------------------------------------------------------ playback

  playNext(done: (played: boolean) => void): 'OK' | 'EMPTY' | 'BUSY' {
    if (this.closed) return 'BUSY';
    if (this.playing) return 'BUSY';
    this.purgeExpired();
    let msg: Msg | undefined;
    for (const m of this.msgs.values()) {
      if (m.complete) {
        msg = m;
        break;
      }
    }
    if (!msg) return 'EMPTY';
    this.tail?.cancel();
    this.tail = undefined;
    this.o.pipeline.stop();
    const pl: Playing = { msg, next: 0, done, timer: NO_TIMER };
    this.playing = pl;
    // One chunk is opened before playback starts (first frame after one chunk open); the rest one per tick at most.
    this.feed(true);
    const s = this.o.pipeline.start();
    if (s !== 'OK') {
      this.playing = undefined;
      try {
        this.o.playbackOpener.finish(msg.key);
      } catch {
        /* the opener just drops its state */
      }
      this.o.pipeline.stop();
      this.o.counters.inc('msg.speaker_busy');
      return 'BUSY';
    }
    if (this.playing === pl && !pl.ended) pl.timer = this.o.clock.every(FRAME_MS, this.onFeed);
    return 'OK';
  }

  /**
   * Opens the next chunk and lends its plaintext to the pipeline as one segment
   * (decoded in place: no packet copy, no view per packet), only when the pipeline
   * holds at most LOW_WATER_PACKETS packets and has room for a segment, and at most
   * one chunk per call (per 20 ms tick); `first` opens the first chunk before start.
   * After the last chunk, endOfMessage(). Never throws.
   */
  private feed(first = false): void {
    const pl = this.playing;
    if (!pl || pl.ended) return;
    const pipe = this.o.pipeline;
    try {
      if (pl.next >= pl.msg.chunks.length) return this.endFeeding(pl);
      if (!first && pipe.packetsQueued > LOW_WATER_PACKETS) return;
      if (!pipe.segmentRoom()) return;
      const payload = this.o.inbox.read(pl.msg.chunks[pl.next]!);
      pl.next++;
      if (!payload) throw new EnvelopeError('STORAGE', 'chunk unreadable');
      const o = this.o.playbackOpener.push(payload);
      this.chunksOpened++;
      if (o.plain && o.packetCount > 0) pipe.pushSegment(o.plain, o.plainAt, o.plainEnd, o.packetCount);
      if (pl.next >= pl.msg.chunks.length) this.endFeeding(pl);
    } catch (e) {
      // A stored chunk that no longer opens (corrupt storage): play what we have, then end.
      this.o.counters.inc(`msg.play_${e instanceof EnvelopeError ? e.code : 'error'}`);
      pl.next = pl.msg.chunks.length;
      this.endFeeding(pl);
    }
  }

  private endFeeding(pl: Playing): void {
    pl.ended = true;
    this.o.pipeline.endOfMessage();
    pl.timer.cancel();
  }

  /** The PlaybackPipeline's onFinished: the last frame reached the speaker. */
  pipelineFinished(): void {
    const pl = this.playing;
    if (!pl) return;
    this.tail = this.o.clock.after(SPEAKER_TAIL_MS, () => {
      this.tail = undefined;
      if (!this.playing) this.o.pipeline.stop();
    });
    this.end(true);
  }

  /**
   * Gives the shared I2S pins back now: cuts the speaker's last queued frames
   * after a message (SPEAKER_TAIL_MS) so that a paw press right after playback
   * can record. Does nothing while a message plays.
   */
  releaseSpeaker(): void {
    if (this.playing || !this.tail) return;
    this.tail.cancel();
    this.tail = undefined;
    this.o.pipeline.stop();
  }

  /** Stops playback now; the message stays waiting. */
  stop(): void {
    if (!this.playing) return;
    this.o.pipeline.stop();
    this.end(false);
  }

  private end(played: boolean): void {
    const pl = this.playing!;
    this.playing = undefined;
    pl.timer.cancel();
    try {
      this.o.playbackOpener.finish(pl.msg.key);
    } catch {
      /* stopped early: the opener just drops its state */
    }
    if (played) this.retire(pl.msg, 'played');
    try {
      pl.done(played);
    } catch {
      this.o.counters.inc('msg.done_threw');
    }
    if (played) this.changed();
  }

  /** Removes a message for good: its replay counter first (the commit point), then its chunks. */
  private retire(msg: Msg, why: 'played' | 'expired'): void {
    if (!this.legacy.has(msg.key)) {
      try {
        this.o.replay.commit(msg.sender, msg.counter); // one write of rp.rx
      } catch {
        // not committed: the message stays (it may play again), nothing is confirmed
        this.o.counters.inc('msg.replay_commit_failed');
        return;
      }
    }
    this.legacy.delete(msg.key);
    this.dropLegacyRecord();
    this.msgs.delete(msg.key);
    // the replay record now refuses its head (and its later chunks are orphans): removes only, no seen-record write
    this.o.inbox.releaseMany(msg.chunks);
    this.o.counters.inc(`msg.${why}`);
    if (why === 'played') this.receipt(msg, 'heard');
  }

  private receipt(msg: Msg, state: 'delivered' | 'heard'): void {
    try {
      this.o.onReceipt?.(msg.sender, msg.key, state);
    } catch {
      this.o.counters.inc('msg.receipt_threw');
    }
  }

  /** Older than the time to live at `expiryNow`, and not the one playing. */
  private isExpired(m: Msg): boolean {
    return m.createdMs > 0 && this.expiryNow > m.createdMs + this.expiryTtl && (!this.playing || this.playing.msg !== m);
  }

  /** Drops messages older than the time to live (7 days by default), heard or not. */
  purgeExpired(): void {
    // first a scan that allocates nothing (forEach with a callback made once: no iterator, no
    // array; XS heap slots at every heart press, issue 13); the copy below only when one expired
    this.expiryNow = this.o.clock.wallNow();
    this.expiryTtl = this.o.ttlMs ?? 7 * 24 * 3600 * 1000;
    this.anyExpired = false;
    this.msgs.forEach(this.checkExpiry);
    if (!this.anyExpired) return;
    let any = false;
    for (const m of [...this.msgs.values()]) {
      if (this.isExpired(m)) {
        this.forgetVerifier(m.key);
        this.retire(m, 'expired');
        any = true;
      }
    }
    if (any) this.changed();
  }

  /** Stops playback and timers. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    if (this.playing) this.stop();
    this.tail?.cancel();
    this.verifier.close();
    this.closed = true;
  }
}
