/**
 * FROZEN COPY of the envelope v1 (src/envelope*.ts as of commit 88d1572, before v2), kept only for
 * tests/envelope-attacks.cases.ts (each attack succeeds here) and the v1-beside-v2 bench. Never used by the firmware.
 */
/**
 * Opening side of the envelope (docs/PROTOCOL.md, "Envelope"). Chunks are
 * pushed one at a time, in index order; each accepted chunk yields its Opus
 * packets, so playback can start before the message is complete.
 *
 *   const opener = new EnvelopeOpener({ crypto, keys, clock, replay });
 *   const r = opener.push(chunk);   // { info, index, final, packets } or throws EnvelopeError
 *   ...
 *   opener.finish(r.info.messageKey);   // throws TRUNCATED when the final chunk never came
 *
 * Order of checks for a head chunk (index 0): clear header bounds (SHORT,
 * TOO_LARGE, VERSION, MALFORMED) → sender lookup (UNKNOWN_SENDER, before any
 * decryption) → key wraps (NOT_RECIPIENT) → time (EXPIRED, FUTURE) → replay
 * (REPLAY) → body (AUTH, MALFORMED) → replay record written (STORAGE) → packets.
 * Later chunks: header → open message with the same id (ORDER) from the same
 * sender (AUTH) → index (DUPLICATE for an earlier index, ORDER for a gap or
 * after the final chunk) → body (AUTH) → 60 s limit (TOO_LONG).
 *
 * With `replay` set (arrival of new messages), a head is admitted only when its
 * counter is above the sender's last one, and the counter is stored before
 * the audio is returned. Without it (re-opening a stored message that was
 * admitted on arrival, e.g. for playback), no counter is read or written.
 *
 * Every rejection is an EnvelopeError and counts `envelope.<code>` on counters.
 * Other exceptions (a CryptoPort or StoragePort failing) are converted to
 * EnvelopeError('AUTH'/'STORAGE'): push() throws nothing else.
 * Returned packets are views into a new plaintext buffer owned by the caller.
 * At most `maxOpen` messages (default 4) are open at once (else BUSY; a
 * complete message is evicted first). Portable.
 */
import type { ClockPort, CryptoPort } from '../../hal/ports.js';
import { Counters } from '../../src/counters.js';
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
  NONCE_KIND_WRAP,
  WRAP_BYTES,
  bytesEqual,
  readChunkHeader,
  readU32,
  unframePackets,
  writeNonce,
  type ChunkInfo,
} from './envelope-format.js';
import type { ReplayGuard } from './replay-guard.js';

/** Resolves a sender public key to the cached X25519 shared key, or undefined for a stranger. */
export interface SenderKeys {
  sharedKeyFor(senderPublicKey: Uint8Array): Uint8Array | undefined;
}

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
  /** Messages open at once (default 4). */
  maxOpen?: number;
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
  /** The chunk's Opus packets in order (views into one new buffer, owned by the caller). */
  packets: Uint8Array[];
}

interface OpenMessage {
  info: MessageInfo;
  key: Uint8Array;
  messageId: Uint8Array;
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
  private closed = false;

  constructor(private readonly opts: EnvelopeOpenerOptions) {
    this.counters = opts.counters ?? new Counters();
    this.ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.maxFutureMs = opts.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS;
    this.maxOpen = opts.maxOpen ?? 4;
  }

  /** Opens one chunk. Throws only EnvelopeError (see the file comment for codes). */
  push(chunk: Uint8Array): OpenedChunk {
    try {
      if (this.closed) throw new EnvelopeError('STATE', 'opener closed');
      const h = readChunkHeader(chunk);
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
    this.open.delete(k);
  }

  private head(chunk: Uint8Array, h: ChunkInfo): OpenedChunk {
    const existing = this.open.get(h.messageKey);
    if (existing) throw new EnvelopeError('DUPLICATE', 'head already accepted');
    const shared = this.opts.keys.sharedKeyFor(h.sender);
    if (!shared || shared.length !== KEY_BYTES) throw new EnvelopeError('UNKNOWN_SENDER', 'sender is not paired');
    const c = this.opts.crypto;
    // Key wraps: try each slot with the sender's shared key.
    let wrap: Uint8Array | null = null;
    for (let j = 0; j < h.recipients && !wrap; j++) {
      const at = HEADER_BYTES + 1 + j * WRAP_BYTES;
      writeNonce(this.nonce, h.messageId, j, NONCE_KIND_WRAP);
      wrap = c.secretboxOpen(chunk.subarray(at, at + WRAP_BYTES), this.nonce, shared);
    }
    if (!wrap || wrap.length !== 40) throw new EnvelopeError('NOT_RECIPIENT', 'no key wrap opens for this sender');
    const key = wrap.slice(0, KEY_BYTES);
    const counter = readU32(wrap, 32);
    const createdMs = readU32(wrap, 36) * 1000;
    wrap.fill(0);
    try {
      const now = this.opts.clock.wallNow();
      if (now >= MIN_PLAUSIBLE_WALL_MS) {
        if (now > createdMs + this.ttlMs) throw new EnvelopeError('EXPIRED', 'message expired');
        if (createdMs > now + this.maxFutureMs) throw new EnvelopeError('FUTURE', 'message created in the future');
      } else {
        this.counters.inc('envelope.clock_unset');
      }
      if (this.opts.replay) this.opts.replay.check(h.sender, counter);
      const bodyAt = HEADER_BYTES + 1 + h.recipients * WRAP_BYTES;
      writeNonce(this.nonce, h.messageId, 0, h.final ? NONCE_KIND_FINAL : NONCE_KIND_CHUNK);
      const plain = c.secretboxOpen(chunk.subarray(bodyAt), this.nonce, key);
      if (!plain) throw new EnvelopeError('AUTH', 'head body failed authentication');
      const packets = unframePackets(plain);
      if (this.open.size >= this.maxOpen) this.evict();
      if (this.opts.replay) this.opts.replay.commit(h.sender, counter);
      const info: MessageInfo = { messageKey: h.messageKey, sender: h.sender.slice(), counter, createdMs };
      this.open.set(h.messageKey, { info, key, messageId: h.messageId.slice(), next: 1, packets: packets.length, complete: h.final });
      return { info, index: 0, final: h.final, packets };
    } catch (e) {
      key.fill(0);
      throw e;
    }
  }

  private evict(): void {
    for (const [k, m] of this.open) {
      if (m.complete) {
        this.drop(k, m);
        return;
      }
    }
    throw new EnvelopeError('BUSY', 'too many messages open');
  }

  private later(chunk: Uint8Array, h: ChunkInfo): OpenedChunk {
    const m = this.open.get(h.messageKey);
    if (!m) throw new EnvelopeError('ORDER', 'chunk of a message whose head was not accepted');
    if (!bytesEqual(m.info.sender, h.sender)) throw new EnvelopeError('AUTH', 'sender differs from the head');
    if (h.index < m.next) throw new EnvelopeError('DUPLICATE', 'chunk already accepted');
    if (m.complete) throw new EnvelopeError('ORDER', 'chunk after the final chunk');
    if (h.index > m.next) throw new EnvelopeError('ORDER', 'chunk out of order');
    writeNonce(this.nonce, m.messageId, h.index, h.final ? NONCE_KIND_FINAL : NONCE_KIND_CHUNK);
    const plain = this.opts.crypto.secretboxOpen(chunk.subarray(HEADER_BYTES), this.nonce, m.key);
    if (!plain) throw new EnvelopeError('AUTH', 'chunk failed authentication');
    const packets = unframePackets(plain);
    if (m.packets + packets.length > MAX_PACKETS) throw new EnvelopeError('TOO_LONG', 'more than 60 s of audio');
    m.packets += packets.length;
    m.next++;
    if (h.final) m.complete = true;
    return { info: m.info, index: h.index, final: h.final, packets };
  }
}
