/**
 * Opening side of the envelope v2 (docs/PROTOCOL.md, "Envelope"). Chunks are
 * pushed one at a time, in index order; each accepted chunk is authenticated
 * as coming from its sender to this receiver (the receiver's own recipient
 * tag), so a family member who knows the content key cannot forge or replace
 * any chunk another member receives.
 *
 *   const opener = new EnvelopeOpener({ crypto, keys, clock, replay });
 *   const r = opener.push(chunk);   // { info, index, final, packets } or throws EnvelopeError
 *   ...
 *   opener.finish(r.info.messageKey);   // throws TRUNCATED when the final chunk never came
 *
 * Modes (`mode`):
 * - 'full' (default): recipient tag and content-key secretbox checked, packets returned.
 * - 'admit': recipient tag checked (Poly1305 over the bytes, no decryption):
 *   `packets` is empty. The toy's admission of stored chunks (MessagePlayer).
 * - 'play': the stored message was admitted by 'admit'; the recipient tag is
 *   not checked again, the body is opened once (secretbox_open: its content-key
 *   tag still catches a corrupted store). Expiry is still checked.
 *
 * Order of checks for a head chunk (index 0): clear header bounds (SHORT,
 * VERSION, TOO_LARGE, MALFORMED; see readChunkHeader) → DUPLICATE (head of an
 * open message) → sender lookup (UNKNOWN_SENDER, before any decryption) → key
 * wraps with K(sender→me) (NOT_RECIPIENT) → recipient tag (AUTH) → time
 * (EXPIRED, FUTURE) → replay (REPLAY) → body (AUTH, MALFORMED) → BUSY →
 * replay record written (STORAGE) → packets.
 * Later chunks: header → open message with the same id (ORDER) from the same
 * sender with the same recipient count (AUTH) → index (DUPLICATE for an
 * earlier index, ORDER for a gap or after the final chunk) → recipient tag
 * (AUTH) → body (AUTH, MALFORMED) → 60 s limit (TOO_LONG; not in 'admit').
 *
 * With `replay` set (arrival of new messages), a head is admitted only when its
 * counter is new for the sender (ReplayGuard: above the highest or in the
 * window), and the counter is stored before the audio is returned.
 *
 * Every rejection is an EnvelopeError and counts `envelope.<code>` on counters.
 * Other exceptions (a CryptoPort or StoragePort failing) are converted to
 * EnvelopeError('AUTH'): push() throws nothing else. Returned packets are
 * views into a new plaintext buffer owned by the caller. At most `maxOpen`
 * messages (default 4) are open at once: a new head first evicts a complete
 * message, else the oldest incomplete one open for more than `staleMs`
 * (default 10 min, counted 'envelope.stale_dropped'), else it is BUSY. Portable.
 */
import type { ClockPort, CryptoPort } from '../hal/ports.js';
import { Counters } from './counters.js';
import {
  DEFAULT_MAX_FUTURE_MS,
  DEFAULT_TTL_MS,
  EnvelopeError,
  HEADER_BYTES,
  KEY_BYTES,
  MAX_PACKETS,
  MIN_PLAUSIBLE_WALL_MS,
  NONCE_BYTES,
  NONCE_KIND_CHUNK,
  NONCE_KIND_FINAL,
  NONCE_KIND_TAG,
  NONCE_KIND_WRAP,
  TAG_BYTES,
  WRAP_BYTES,
  bytesEqual,
  readChunkHeader,
  readChunkHeaderInto,
  newChunkInfo,
  readU32,
  countFramedPackets,
  unframePackets,
  writeNonce,
  type ChunkInfo,
} from './envelope-format.js';
import type { ReplayGuard } from './replay-guard.js';
import { tagKey } from './envelope-sealer.js';

/**
 * Resolves a sender public key to the receive key K(sender→me) (envelope-format.ts
 * `pairKey`), or undefined for a stranger or a small-order key.
 */
export interface SenderKeys {
  receiveKeyFor(senderPublicKey: Uint8Array): Uint8Array | undefined;
}

export type OpenerMode = 'full' | 'admit' | 'play';

/** Default time an incomplete message keeps its place when the opener is full: 10 minutes. */
export const DEFAULT_STALE_MS = 10 * 60 * 1000;

export interface EnvelopeOpenerOptions {
  crypto: CryptoPort;
  keys: SenderKeys;
  clock: Pick<ClockPort, 'wallNow'>;
  /** Replay admission (arrival). Omit when re-opening stored, already admitted messages. */
  replay?: ReplayGuard;
  /** Time to live in ms (default 7 days). */
  ttlMs?: number;
  /** Tolerated future skew of the creation time in ms (default 10 min). */
  maxFutureMs?: number;
  /** What is checked and decrypted (see the file comment). Default 'full'. */
  mode?: OpenerMode;
  /** Messages open at once (default 4). */
  maxOpen?: number;
  /** An incomplete message open longer than this (wall clock, ms; default 10 min) may be dropped to make room for a new head. */
  staleMs?: number;
  /**
   * false: `packets` stays empty and the framed plaintext is handed over whole
   * (`plain`, `packetCount`), so no view is made per packet (the toy's playback,
   * issue 13). Default true.
   */
  packetViews?: boolean;
  /**
   * true: the body is opened in place in the pushed chunk when the CryptoPort has
   * secretboxOpenInPlace (issue 13: no plaintext copy per chunk); `plain` is then the chunk
   * itself and the plaintext is plain[plainAt..plainEnd). The caller must own the chunk
   * and give it up (its body bytes are overwritten). Needs packetViews false. Default false.
   */
  inPlace?: boolean;
  /**
   * true: push() returns the same OpenedChunk object each time, overwritten by the next
   * push (issue 13: no result object per chunk); read it before pushing again. Default false.
   */
  reuseResult?: boolean;
  counters?: Counters;
}

/** What an opened head told about its message. */
export interface MessageInfo {
  messageKey: string;
  /** Sender public key (own copy). */
  sender: Uint8Array;
  counter: number;
  /** Creation time, ms since the Unix epoch (whole seconds). */
  createdMs: number;
}

/** One accepted chunk. */
export interface OpenedChunk {
  info: MessageInfo;
  index: number;
  final: boolean;
  /** The chunk's Opus packets in order (views into one new buffer, owned by the caller); empty in 'admit' mode and with packetViews false. */
  packets: Uint8Array[];
  /**
   * The opened body: framed packets [u16 length][bytes] from plainAt, then zero padding to
   * plainEnd; undefined in 'admit' mode. A new buffer owned by the caller (plainAt 0,
   * plainEnd its length), or with `inPlace` the pushed chunk itself.
   */
  plain: Uint8Array | undefined;
  /** Where the framed packets start in `plain` (0 unless opened in place). */
  plainAt: number;
  /** End of the body in `plain` (plain.length unless opened in place). */
  plainEnd: number;
  /** Packets in `plain` (0 in 'admit' mode). */
  packetCount: number;
}

const NO_VIEWS: Uint8Array[] = [];

interface OpenMessage {
  info: MessageInfo;
  key: Uint8Array;
  /** K(sender→me) and my slot: each later chunk's recipient tag. */
  pairKey: Uint8Array;
  slot: number;
  recipients: number;
  messageId: Uint8Array;
  /** wallNow() when the head was accepted. */
  openedAt: number;
  next: number;
  packets: number;
  complete: boolean;
}

export class EnvelopeOpener {
  readonly counters: Counters;
  private readonly open = new Map<string, OpenMessage>();
  private readonly nonce = new Uint8Array(NONCE_BYTES);
  private readonly ttlMs: number;
  private readonly maxFutureMs: number;
  private readonly maxOpen: number;
  private readonly staleMs: number;
  private readonly mode: OpenerMode;
  private readonly zero32 = new Uint8Array(KEY_BYTES);
  private readonly views: boolean;
  private readonly inPlace: boolean;
  private closed = false;
  /** The last body() result: plaintext, its range and packet count. */
  private plain: Uint8Array | undefined;
  private plainAt = 0;
  private plainEnd = 0;
  private count = 0;
  /** The reused result (reuseResult), and the recipient tag's scratch: [16 tag | 32 one-time key], the key's view, the computed tag's view. */
  private readonly result: OpenedChunk | undefined;
  /** With reuseResult: the reused clear header of the pushed chunk. */
  private readonly hdr: ChunkInfo | undefined;
  private readonly tagScratch = new Uint8Array(TAG_BYTES + KEY_BYTES);
  private readonly otkView = this.tagScratch.subarray(TAG_BYTES);
  private readonly tagOut = new Uint8Array(TAG_BYTES);

  constructor(private readonly opts: EnvelopeOpenerOptions) {
    this.counters = opts.counters ?? new Counters();
    this.ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.maxFutureMs = opts.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS;
    this.maxOpen = opts.maxOpen ?? 4;
    this.staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
    this.mode = opts.mode ?? 'full';
    this.views = opts.packetViews !== false;
    this.inPlace = opts.inPlace === true && !this.views;
    this.hdr = opts.reuseResult === true ? newChunkInfo() : undefined;
    this.result = opts.reuseResult === true ? { info: { messageKey: '', sender: this.zero32, counter: 0, createdMs: 0 }, index: 0, final: false, packets: NO_VIEWS, plain: undefined, plainAt: 0, plainEnd: 0, packetCount: 0 } : undefined;
  }

  /** The result of a push: the reused object (reuseResult) or a new one. */
  private answer(info: MessageInfo, index: number, final: boolean, packets: Uint8Array[]): OpenedChunk {
    const r = this.result;
    if (!r) return { info, index, final, packets, plain: this.plain, plainAt: this.plainAt, plainEnd: this.plainEnd, packetCount: this.count };
    r.info = info;
    r.index = index;
    r.final = final;
    r.packets = packets;
    r.plain = this.plain;
    r.plainAt = this.plainAt;
    r.plainEnd = this.plainEnd;
    r.packetCount = this.count;
    return r;
  }

  /**
   * Opens one chunk. Throws only EnvelopeError (see the file comment for codes).
   * `header`: readChunkHeader(chunk) when the caller already has it (not parsed again).
   */
  push(chunk: Uint8Array, header?: ChunkInfo): OpenedChunk {
    try {
      if (this.closed) throw new EnvelopeError('STATE', 'opener closed');
      const h = header ?? (this.hdr ? readChunkHeaderInto(chunk, this.hdr) : readChunkHeader(chunk));
      return h.index === 0 ? this.head(chunk, h) : this.later(chunk, h);
    } catch (e) {
      const err = e instanceof EnvelopeError ? e : new EnvelopeError('AUTH', 'chunk could not be opened');
      this.counters.inc(`envelope.${err.code}`);
      throw err;
    }
  }

  /**
   * Ends a message: drops its state and key. Throws TRUNCATED when its final
   * chunk was not accepted (the caller must treat the message as incomplete).
   * Unknown keys are ignored.
   */
  finish(messageKey: string): void {
    const m = this.open.get(messageKey);
    if (!m) return;
    this.drop(messageKey, m);
    if (!m.complete) {
      this.counters.inc('envelope.TRUNCATED');
      throw new EnvelopeError('TRUNCATED', 'message ended without its final chunk');
    }
  }

  /** Keys of open messages that have not seen their final chunk. */
  incomplete(): string[] {
    const out: string[] = [];
    for (const [k, m] of this.open) if (!m.complete) out.push(k);
    return out;
  }

  /** Drops every open message. Safe to call twice. */
  close(): void {
    for (const [k, m] of this.open) this.drop(k, m);
    this.closed = true;
  }

  private drop(k: string, m: OpenMessage): void {
    m.key.fill(0);
    m.pairKey.fill(0);
    this.open.delete(k);
  }

  /** Checks my recipient tag on a chunk: AUTH when it differs. */
  private checkTag(chunk: Uint8Array, h: ChunkInfo, pairKey: Uint8Array, slot: number): void {
    const c = this.opts.crypto;
    if (c.secretboxInPlace && c.onetimeauthInto) {
      // allocation-free (issue 13): the one-time key is tagKey's, sealed in place in a scratch
      const s = this.tagScratch;
      s.fill(0);
      writeNonce(this.nonce, h.messageId, h.index, NONCE_KIND_TAG, slot);
      c.secretboxInPlace(s, 0, KEY_BYTES, this.nonce, pairKey);
      c.onetimeauthInto(this.tagOut, chunk, 0, h.tagsAt, this.otkView);
      s.fill(0);
      const at = h.tagsAt + slot * TAG_BYTES;
      let d = 0;
      for (let i = 0; i < TAG_BYTES; i++) d |= this.tagOut[i]! ^ chunk[at + i]!;
      if (d !== 0) throw new EnvelopeError('AUTH', 'recipient tag does not verify');
      return;
    }
    const otk = tagKey(this.opts.crypto, pairKey, h.messageId, h.index, slot, this.nonce, this.zero32);
    const t = this.opts.crypto.onetimeauth(chunk.subarray(0, h.tagsAt), otk);
    otk.fill(0);
    const at = h.tagsAt + slot * TAG_BYTES;
    if (!bytesEqual(t, chunk.subarray(at, at + TAG_BYTES))) throw new EnvelopeError('AUTH', 'recipient tag does not verify');
  }

  /** Opens the body unless in 'admit' mode: the packet views (or NO_VIEWS); sets this.plain and this.count. */
  private body(chunk: Uint8Array, h: ChunkInfo, key: Uint8Array, messageId: Uint8Array): Uint8Array[] {
    this.plain = undefined;
    this.plainAt = 0;
    this.plainEnd = 0;
    this.count = 0;
    if (this.mode === 'admit') return NO_VIEWS;
    writeNonce(this.nonce, messageId, h.index, h.final ? NONCE_KIND_FINAL : NONCE_KIND_CHUNK);
    const c = this.opts.crypto;
    if (this.inPlace && c.secretboxOpenInPlace) {
      // in the caller's chunk (issue 13): no plaintext copy, no view
      if (!c.secretboxOpenInPlace(chunk, h.bodyAt, h.tagsAt - h.bodyAt - TAG_BYTES, this.nonce, key)) throw new EnvelopeError('AUTH', 'chunk body failed authentication');
      this.count = countFramedPackets(chunk, h.bodyAt + TAG_BYTES, h.tagsAt);
      this.plain = chunk;
      this.plainAt = h.bodyAt + TAG_BYTES;
      this.plainEnd = h.tagsAt;
      return NO_VIEWS;
    }
    const plain = this.opts.crypto.secretboxOpen(chunk.subarray(h.bodyAt, h.tagsAt), this.nonce, key);
    if (!plain) throw new EnvelopeError('AUTH', 'chunk body failed authentication');
    const views = this.views ? unframePackets(plain) : NO_VIEWS;
    this.count = this.views ? views.length : countFramedPackets(plain);
    this.plain = plain;
    this.plainEnd = plain.length;
    return views;
  }

  private head(chunk: Uint8Array, h: ChunkInfo): OpenedChunk {
    const existing = this.open.get(h.messageKey);
    if (existing) throw new EnvelopeError('DUPLICATE', 'head already accepted');
    const pk = this.opts.keys.receiveKeyFor(h.sender);
    if (!pk || pk.length !== KEY_BYTES) throw new EnvelopeError('UNKNOWN_SENDER', 'sender is not paired');
    const c = this.opts.crypto;
    // Key wraps: try each slot with K(sender→me).
    let wrap: Uint8Array | null = null;
    let slot = 0;
    for (let j = 0; j < h.recipients && !wrap; j++) {
      const at = HEADER_BYTES + j * WRAP_BYTES;
      writeNonce(this.nonce, h.messageId, 0, NONCE_KIND_WRAP, j);
      wrap = c.secretboxOpen(chunk.subarray(at, at + WRAP_BYTES), this.nonce, pk);
      slot = j;
    }
    if (!wrap || wrap.length !== 40) throw new EnvelopeError('NOT_RECIPIENT', 'no key wrap opens for this sender');
    const key = wrap.slice(0, KEY_BYTES);
    const counter = readU32(wrap, 32);
    const createdMs = readU32(wrap, 36) * 1000;
    wrap.fill(0);
    const pairKey = pk.slice();
    try {
      if (this.mode !== 'play') this.checkTag(chunk, h, pairKey, slot);
      const now = this.opts.clock.wallNow();
      if (now >= MIN_PLAUSIBLE_WALL_MS) {
        if (now > createdMs + this.ttlMs) throw new EnvelopeError('EXPIRED', 'message expired');
        if (createdMs > now + this.maxFutureMs) throw new EnvelopeError('FUTURE', 'message created in the future');
      } else {
        this.counters.inc('envelope.clock_unset');
      }
      if (this.opts.replay) this.opts.replay.check(h.sender, counter);
      const packets = this.body(chunk, h, key, h.messageId);
      if (this.open.size >= this.maxOpen) this.evict(now);
      if (this.opts.replay) this.opts.replay.commit(h.sender, counter);
      const info: MessageInfo = { messageKey: h.messageKey, sender: h.sender.slice(), counter, createdMs };
      this.open.set(h.messageKey, {
        info,
        key,
        pairKey,
        slot,
        recipients: h.recipients,
        messageId: h.messageId.slice(),
        openedAt: now,
        next: 1,
        packets: this.count,
        complete: h.final,
      });
      return this.answer(info, 0, h.final, packets);
    } catch (e) {
      key.fill(0);
      pairKey.fill(0);
      throw e;
    }
  }

  /** Makes room: drops a complete message, else the oldest incomplete one open longer than staleMs (counted), else BUSY. */
  private evict(now: number): void {
    let oldest: [string, OpenMessage] | undefined;
    for (const e of this.open) {
      if (e[1].complete) {
        this.drop(e[0], e[1]);
        return;
      }
      if (!oldest || e[1].openedAt < oldest[1].openedAt) oldest = e;
    }
    if (oldest && now - oldest[1].openedAt > this.staleMs) {
      this.drop(oldest[0], oldest[1]);
      this.counters.inc('envelope.stale_dropped');
      return;
    }
    throw new EnvelopeError('BUSY', 'too many messages open');
  }

  private later(chunk: Uint8Array, h: ChunkInfo): OpenedChunk {
    const m = this.open.get(h.messageKey);
    if (!m) throw new EnvelopeError('ORDER', 'chunk of a message whose head was not accepted');
    if (!bytesEqual(m.info.sender, h.sender) || m.recipients !== h.recipients) throw new EnvelopeError('AUTH', 'sender or recipient count differs from the head');
    if (h.index < m.next) throw new EnvelopeError('DUPLICATE', 'chunk already accepted');
    if (m.complete) throw new EnvelopeError('ORDER', 'chunk after the final chunk');
    if (h.index > m.next) throw new EnvelopeError('ORDER', 'chunk out of order');
    if (this.mode !== 'play') this.checkTag(chunk, h, m.pairKey, m.slot);
    const packets = this.body(chunk, h, m.key, m.messageId);
    if (m.packets + this.count > MAX_PACKETS) throw new EnvelopeError('TOO_LONG', 'more than 60 s of audio');
    m.packets += this.count;
    m.next++;
    if (h.final) m.complete = true;
    return this.answer(m.info, h.index, h.final, packets);
  }
}
