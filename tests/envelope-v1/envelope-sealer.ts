/**
 * FROZEN COPY of the envelope v1 (src/envelope*.ts as of commit 88d1572, before v2), kept only for
 * tests/envelope-attacks.cases.ts (each attack succeeds here) and the v1-beside-v2 bench. Never used by the firmware.
 */
/**
 * Sealing side of the envelope (docs/PROTOCOL.md, "Envelope"): a message is
 * sealed chunk by chunk while it is recorded, once for all recipients.
 *
 *   const sealer = new EnvelopeSealer({ crypto, random, storage, clock, senderPublicKey });
 *   const msg = sealer.begin(recipientSharedKeys);      // reserves the send counter (persisted)
 *   for each Opus packet: const c = msg.addPacket(p); if (c) publish(c);
 *   publish(msg.finish());                                // the final chunk
 *
 * Per message: one random message id (16 bytes, drawn first from the RandomPort)
 * and one random content key (32 bytes, drawn second); per recipient one 56-byte
 * key wrap (crypto_secretbox under the cached X25519 shared key); per chunk one
 * crypto_secretbox under the content key. No X25519 happens here.
 *
 * Ownership: packets passed to addPacket are lent (copied before return); each
 * returned chunk is a new buffer owned by the caller. The plaintext buffer is
 * allocated once per message and zeroed after each chunk and at finish/abort.
 * Errors: EnvelopeError TOO_LARGE (packet size), TOO_LONG (over 60 s), EMPTY,
 * STATE (after finish/abort), STORAGE/EXHAUSTED (send counter), MALFORMED (recipients).
 * Portable.
 */
import type { ClockPort, CryptoPort, RandomPort, StoragePort } from '../../hal/ports.js';
import { Counters } from '../../src/counters.js';
import {
  ENVELOPE_VERSION,
  EnvelopeError,
  FLAG_FINAL,
  HEADER_BYTES,
  KEY_BYTES,
  MAX_CHUNK_PLAINTEXT,
  MAX_PACKETS,
  MAX_PACKET_BYTES,
  MAX_RECIPIENTS,
  MESSAGE_ID_BYTES,
  MIN_PACKET_BYTES,
  NONCE_BYTES,
  NONCE_KIND_CHUNK,
  NONCE_KIND_FINAL,
  NONCE_KIND_WRAP,
  PACKET_MS,
  WRAP_BYTES,
  WRAP_PLAIN_BYTES,
  writeNonce,
  writeU32,
} from './envelope-format.js';
import { SendCounter } from './replay-guard.js';

/** Default packets per chunk: 15 × 20 ms = 300 ms of audio. */
export const DEFAULT_PACKETS_PER_CHUNK = 15;

export interface EnvelopeSealerOptions {
  crypto: CryptoPort;
  random: RandomPort;
  /** Holds the persistent send counter (`rp.tx`). */
  storage: StoragePort;
  /** wallNow() gives the creation time written into the message. */
  clock: Pick<ClockPort, 'wallNow'>;
  /** The sender's X25519 public key (32 bytes), written in every chunk header. */
  senderPublicKey: Uint8Array;
  /** Packets per chunk, 1..100 (default 15 = 300 ms). A chunk is also cut before its plaintext would exceed 2048 bytes. */
  packetsPerChunk?: number;
  counters?: Counters;
}

/** Seals messages for one sender identity. */
export class EnvelopeSealer {
  readonly counters: Counters;
  private readonly sendCounter: SendCounter;
  private readonly packetsPerChunk: number;
  constructor(private readonly opts: EnvelopeSealerOptions) {
    if (!(opts.senderPublicKey instanceof Uint8Array) || opts.senderPublicKey.length !== KEY_BYTES)
      throw new EnvelopeError('MALFORMED', 'sender public key must be 32 bytes');
    this.counters = opts.counters ?? new Counters();
    this.sendCounter = new SendCounter(opts.storage, this.counters);
    const ppc = opts.packetsPerChunk ?? DEFAULT_PACKETS_PER_CHUNK;
    if (!Number.isInteger(ppc) || ppc < 1 || ppc > 100) throw new EnvelopeError('MALFORMED', 'packetsPerChunk must be 1..100');
    this.packetsPerChunk = ppc;
  }

  /**
   * Starts a message to the holders of `recipientSharedKeys` (1..8 cached
   * crypto_box_beforenm keys, 32 bytes each; wraps are written in this order).
   * Persists the next send counter before returning.
   */
  begin(recipientSharedKeys: readonly Uint8Array[]): OutgoingMessage {
    const n = recipientSharedKeys.length;
    if (n < 1 || n > MAX_RECIPIENTS) throw new EnvelopeError('MALFORMED', 'a message needs 1..8 recipients');
    for (const k of recipientSharedKeys)
      if (!(k instanceof Uint8Array) || k.length !== KEY_BYTES) throw new EnvelopeError('MALFORMED', 'shared keys must be 32 bytes');
    const counter = this.sendCounter.next();
    const messageId = new Uint8Array(MESSAGE_ID_BYTES);
    this.opts.random.fill(messageId);
    const contentKey = new Uint8Array(KEY_BYTES);
    this.opts.random.fill(contentKey);
    const createdS = Math.floor(this.opts.clock.wallNow() / 1000);
    if (!(createdS >= 0 && createdS <= 0xffffffff)) throw new EnvelopeError('MALFORMED', 'wall clock out of range');
    this.counters.inc('envelope.sealed_messages');
    return new OutgoingMessage(this.opts.crypto, this.opts.senderPublicKey, recipientSharedKeys, messageId, contentKey, counter, createdS, this.packetsPerChunk, this.counters);
  }
}

/** One message being sealed. Not reusable: after finish() or abort() every call throws STATE. */
export class OutgoingMessage {
  /** Sealed chunks returned so far. */
  chunksOut = 0;
  /** Packets accepted so far (each 20 ms). */
  packets = 0;
  private readonly plain = new Uint8Array(MAX_CHUNK_PLAINTEXT);
  private used = 0;
  private inChunk = 0;
  private done = false;
  private readonly nonce = new Uint8Array(NONCE_BYTES);
  private headPrefix: Uint8Array | undefined;

  constructor(
    private readonly crypto: CryptoPort,
    private readonly sender: Uint8Array,
    recipients: readonly Uint8Array[],
    /** The 16-byte random message id (owned by this message; do not modify). */
    readonly messageId: Uint8Array,
    private contentKey: Uint8Array,
    /** This message's send counter. */
    readonly counter: number,
    /** Creation time, seconds since the Unix epoch. */
    readonly createdSeconds: number,
    private readonly packetsPerChunk: number,
    private readonly counters: Counters,
  ) {
    // The head's clear part after the 52-byte header: count + wraps.
    const n = recipients.length;
    const pre = new Uint8Array(1 + n * WRAP_BYTES);
    pre[0] = n;
    const wrapPlain = new Uint8Array(WRAP_PLAIN_BYTES);
    for (let i = 0; i < KEY_BYTES; i++) wrapPlain[i] = contentKey[i]!;
    writeU32(wrapPlain, 32, counter);
    writeU32(wrapPlain, 36, createdSeconds);
    for (let j = 0; j < n; j++) {
      writeNonce(this.nonce, messageId, j, NONCE_KIND_WRAP);
      const w = crypto.secretbox(wrapPlain, this.nonce, recipients[j]!);
      for (let i = 0; i < WRAP_BYTES; i++) pre[1 + j * WRAP_BYTES + i] = w[i]!;
    }
    wrapPlain.fill(0);
    this.headPrefix = pre;
  }

  /** Milliseconds of audio accepted so far. */
  get durationMs(): number {
    return this.packets * PACKET_MS;
  }

  /**
   * Adds one Opus packet `packet[0..length)` (lent; length defaults to
   * packet.length, 1..1275). Returns a sealed non-final chunk when the current
   * chunk was full (the packet starts the next chunk), else undefined.
   * Throws TOO_LARGE (packet size), TOO_LONG (the 3001st packet; the message
   * stays usable: call finish()), STATE.
   */
  addPacket(packet: Uint8Array, length = packet.length): Uint8Array | undefined {
    if (this.done) throw new EnvelopeError('STATE', 'message already finished');
    if (!Number.isInteger(length) || length < MIN_PACKET_BYTES || length > MAX_PACKET_BYTES || length > packet.length)
      throw new EnvelopeError('TOO_LARGE', 'packet must be 1..1275 bytes');
    if (this.packets >= MAX_PACKETS) {
      this.counters.inc('envelope.too_long');
      throw new EnvelopeError('TOO_LONG', 'a message holds at most 60 s of audio');
    }
    let out: Uint8Array | undefined;
    if (this.inChunk >= this.packetsPerChunk || this.used + 2 + length > MAX_CHUNK_PLAINTEXT) out = this.seal(false);
    const p = this.plain;
    let o = this.used;
    p[o++] = length >>> 8;
    p[o++] = length & 0xff;
    for (let i = 0; i < length; i++) p[o + i] = packet[i]!;
    this.used = o + length;
    this.inChunk++;
    this.packets++;
    return out;
  }

  /** Seals the buffered packets as the final chunk and ends the message. Throws EMPTY (no packet at all), STATE. */
  finish(): Uint8Array {
    if (this.done) throw new EnvelopeError('STATE', 'message already finished');
    if (this.packets === 0) {
      this.abort();
      throw new EnvelopeError('EMPTY', 'a message needs at least one packet');
    }
    const c = this.seal(true);
    this.abort();
    return c;
  }

  /** Drops the message and zeroes its key and buffer. Safe to call twice. */
  abort(): void {
    this.done = true;
    this.contentKey.fill(0);
    this.plain.fill(0);
    this.used = 0;
    this.headPrefix = undefined;
  }

  private seal(final: boolean): Uint8Array {
    const index = this.chunksOut;
    writeNonce(this.nonce, this.messageId, index, final ? NONCE_KIND_FINAL : NONCE_KIND_CHUNK);
    const box = this.crypto.secretbox(this.plain.subarray(0, this.used), this.nonce, this.contentKey);
    const pre = index === 0 ? this.headPrefix! : undefined;
    const preLen = pre ? pre.length : 0;
    const out = new Uint8Array(HEADER_BYTES + preLen + box.length);
    out[0] = ENVELOPE_VERSION;
    out[1] = final ? FLAG_FINAL : 0;
    for (let i = 0; i < MESSAGE_ID_BYTES; i++) out[2 + i] = this.messageId[i]!;
    out[18] = index >>> 8;
    out[19] = index & 0xff;
    for (let i = 0; i < KEY_BYTES; i++) out[20 + i] = this.sender[i]!;
    if (pre) out.set(pre, HEADER_BYTES);
    out.set(box, HEADER_BYTES + preLen);
    this.plain.fill(0, 0, this.used);
    this.used = 0;
    this.inChunk = 0;
    this.chunksOut++;
    if (index === 0) this.headPrefix = undefined;
    this.counters.inc('envelope.sealed_chunks');
    return out;
  }
}
