/**
 * Sealing side of the envelope v2 (docs/PROTOCOL.md, "Envelope"): a message is
 * sealed chunk by chunk while it is recorded, once for all recipients.
 *
 *   const sealer = new EnvelopeSealer({ crypto, random, storage, clock, senderPublicKey, senderSecretKey });
 *   const msg = sealer.begin(recipientPairKeys);        // reserves the send counter (persisted)
 *   for each Opus packet: const c = msg.addPacket(p); if (c) publish(c);
 *   publish(msg.finish());                                // the final chunk
 *
 * `recipientPairKeys` are the directional keys K(sender→recipient) of
 * envelope-format.ts `pairKey` (cached by the caller: RosterKeys, PhoneEnvelope).
 *
 * Per message: one send counter (persisted first), 32 random bytes (the seed),
 * and from SHA-512(label | seal key | sender public | counter | seed) the
 * message id and the content key: a repeating RNG alone never repeats them
 * (the counter rises), and a predictable RNG alone does not reveal the content
 * key (the seal key is derived from the sender's secret key). Per recipient one
 * 56-byte key wrap (secretbox under its pair key). Per chunk one secretbox
 * under the content key, then one 16-byte Poly1305 tag per recipient over all
 * bytes before the tags, under a one-time key from that recipient's pair key.
 * No X25519 and no SHA-512 per chunk.
 *
 * Padding (`padBlock`, bytes, 0 = none): each chunk's plaintext is padded with
 * zero bytes up to a multiple of padBlock (at most 2048), so chunk sizes no
 * longer follow the Opus packet sizes (traffic analysis, docs/SECURITY.md).
 *
 * Two ways in: addPacket(packet) copies a packet; or, without the copy (the toy's
 * record path, src/toy-recorder.ts), reservePacket() makes room for the next packet
 * and the encoder writes it straight into the lent `plaintext` at `packetAt`
 * (at most `packetRoom` bytes), then commitPacket(length) publishes it.
 *
 * Ownership and memory: packets passed to addPacket are lent (copied before
 * return). The sealer owns one sealing buffer of MAX_CHUNK_BYTES (2,693 B), made
 * once and lent to one message at a time (a second message begun while one is open
 * gets its own): the chunk plaintext is a fixed 2,048-byte window of it, and each
 * chunk is sealed in place around that window (header and wraps written in front,
 * the box sealed in place, the tags after it), so sealing allocates nothing when the
 * CryptoPort has secretboxInPlace/onetimeauthInto (hal/moddable-crypto.ts; otherwise
 * the allocating calls are used, same bytes). addPacket() and finish() return a copy
 * owned by the caller; reservePacket() LENDS the chunk (a view of the sealing buffer,
 * valid until the next call on the message). Padding bytes are zeroed before each
 * seal; the plaintext window holds ciphertext after it, and is zeroed at finish/abort.
 * Errors: EnvelopeError TOO_LARGE (packet size), TOO_LONG (over 60 s), EMPTY,
 * STATE (after finish/abort), STORAGE/EXHAUSTED (send counter), MALFORMED (recipients).
 * Portable.
 */
import type { ClockPort, CryptoPort, RandomPort, StoragePort } from '../hal/ports.js';
import { Counters } from './counters.js';
import {
  ENVELOPE_VERSION,
  EnvelopeError,
  FLAG_FINAL,
  HEADER_BYTES,
  KEY_BYTES,
  LABEL_MESSAGE,
  LABEL_SEAL_KEY,
  MAX_CHUNK_BYTES,
  MAX_CHUNK_PLAINTEXT,
  MAX_PACKETS,
  MAX_PACKET_BYTES,
  MAX_RECIPIENTS,
  MESSAGE_ID_BYTES,
  MIN_PACKET_BYTES,
  NONCE_BYTES,
  NONCE_KIND_CHUNK,
  NONCE_KIND_FINAL,
  NONCE_KIND_TAG,
  NONCE_KIND_WRAP,
  OFF_FLAGS,
  OFF_ID,
  OFF_INDEX,
  OFF_RECIPIENTS,
  OFF_SENDER,
  PACKET_MS,
  TAG_BYTES,
  WRAP_BYTES,
  WRAP_PLAIN_BYTES,
  asciiBytes,
  labelBytes,
  concatBytes,
  writeNonce,
  writeU32,
} from './envelope-format.js';
import { SendCounter } from './replay-guard.js';
import { MIN_ENCODE_ROOM } from '../audio/codec-port.js';

/** Least room reservePacket() lends (bytes): the encoder's minimum (audio/codec-port.ts MIN_ENCODE_ROOM). */
export const MIN_PACKET_ROOM = MIN_ENCODE_ROOM;

/** Where the plaintext window starts in the sealing buffer: room in front for the header, 8 wraps and the box's tag. */
const PLAIN_AT = HEADER_BYTES + MAX_RECIPIENTS * WRAP_BYTES + TAG_BYTES;

/** Default packets per chunk: 15 × 20 ms = 300 ms of audio. */
export const DEFAULT_PACKETS_PER_CHUNK = 15;
/** Padding block the toy and the phone use (bytes): chunk plaintext sizes are multiples of it (docs/SECURITY.md, traffic analysis). */
export const DEFAULT_PAD_BLOCK = 256;
/** Random bytes drawn per message (the seed of the message id and content key). */
export const SEED_BYTES = 32;

/**
 * The one-time Poly1305 key of recipient tag (chunk `index`, slot `slot`):
 * bytes 16..48 of crypto_secretbox_easy(32 zero bytes, nonce(id, index, 0x04, slot), pairKey)
 * (= XSalsa20 keystream bytes 32..64). Returns a new 32-byte buffer; `nonce` is scratch (lent).
 */
export function tagKey(crypto: CryptoPort, pairKey: Uint8Array, messageId: Uint8Array, index: number, slot: number, nonce: Uint8Array, zero32: Uint8Array): Uint8Array {
  writeNonce(nonce, messageId, index, NONCE_KIND_TAG, slot);
  const b = crypto.secretbox(zero32, nonce, pairKey);
  return b.subarray(TAG_BYTES, TAG_BYTES + KEY_BYTES);
}

export interface EnvelopeSealerOptions {
  crypto: CryptoPort;
  random: RandomPort;
  /** Holds the persistent send counter (`rp.tx`). */
  storage: StoragePort;
  /** wallNow() gives the creation time written into the message. */
  clock: Pick<ClockPort, 'wallNow'>;
  /** The sender's X25519 public key (32 bytes), written in every chunk header. */
  senderPublicKey: Uint8Array;
  /** The sender's X25519 secret key (32 bytes, lent): only its SHA-512 seal key is kept. */
  senderSecretKey: Uint8Array;
  /** Packets per chunk, 1..100 (default 15 = 300 ms). A chunk is also cut before its plaintext would exceed 2048 bytes. */
  packetsPerChunk?: number;
  /** Pad each chunk plaintext to a multiple of this many bytes (0 = no padding, default; 1..2048). */
  padBlock?: number;
  counters?: Counters;
}

/**
 * A message's working buffers (issue 13: made once, not per message): the EnvelopeSealer
 * makes one on its first begin() and lends it to its own open message, with the sealing
 * buffer; a second message open at the same time gets its own. Zeroed by the message at
 * abort()/finish() (keys, tag scratch) or right after use (wrap scratch).
 */
export class MessageScratch {
  readonly tk = new Uint8Array(TAG_BYTES + KEY_BYTES);
  readonly tkKey = this.tk.subarray(TAG_BYTES, TAG_BYTES + KEY_BYTES);
  readonly tag16 = new Uint8Array(TAG_BYTES);
  readonly nonce = new Uint8Array(NONCE_BYTES);
  readonly zero32 = new Uint8Array(KEY_BYTES);
  readonly header = new Uint8Array(HEADER_BYTES);
  /** [16 tag | 40 wrap plaintext]: each key wrap is sealed here in place. */
  readonly wrapBox = new Uint8Array(WRAP_BYTES);
  /** The recipients' pair keys (copies), and the key wraps: remade only when the recipient count changes. */
  keys: Uint8Array[] = [];
  wraps: Uint8Array = new Uint8Array(0);
  /** Sized for `n` recipients. */
  size(n: number): void {
    if (this.keys.length !== n) {
      const keys: Uint8Array[] = [];
      for (let j = 0; j < n; j++) keys.push(j < this.keys.length ? this.keys[j]! : new Uint8Array(KEY_BYTES));
      this.keys = keys;
    }
    if (this.wraps.length !== n * WRAP_BYTES) this.wraps = new Uint8Array(n * WRAP_BYTES);
  }
}

/** Seals messages for one sender identity. */
export class EnvelopeSealer {
  readonly counters: Counters;
  private readonly sendCounter: SendCounter;
  private readonly packetsPerChunk: number;
  private readonly padBlock: number;
  private readonly sealKey: Uint8Array;
  /** The sealing buffer lent to the open message (RAM fixed at construction). */
  private readonly buf = new Uint8Array(MAX_CHUNK_BYTES);
  private readonly views = new Map<number, Uint8Array>();
  /** The own message's working buffers (made on the first begin()), and begin()'s derivation input [label | seal key | sender | counter | seed] with its seed view. */
  private scratch: MessageScratch | undefined;
  private deriveIn: Uint8Array | undefined;
  private seedView: Uint8Array | undefined;
  /** True while the sealing buffer is lent to a message not finished or aborted (the message itself is not kept). */
  private lent = false;
  constructor(private readonly opts: EnvelopeSealerOptions) {
    if (!(opts.senderPublicKey instanceof Uint8Array) || opts.senderPublicKey.length !== KEY_BYTES)
      throw new EnvelopeError('MALFORMED', 'sender public key must be 32 bytes');
    if (!(opts.senderSecretKey instanceof Uint8Array) || opts.senderSecretKey.length !== KEY_BYTES)
      throw new EnvelopeError('MALFORMED', 'sender secret key must be 32 bytes');
    this.counters = opts.counters ?? new Counters();
    this.sendCounter = new SendCounter(opts.storage, this.counters);
    const ppc = opts.packetsPerChunk ?? DEFAULT_PACKETS_PER_CHUNK;
    if (!Number.isInteger(ppc) || ppc < 1 || ppc > 100) throw new EnvelopeError('MALFORMED', 'packetsPerChunk must be 1..100');
    this.packetsPerChunk = ppc;
    const pad = opts.padBlock ?? 0;
    if (!Number.isInteger(pad) || pad < 0 || pad > MAX_CHUNK_PLAINTEXT) throw new EnvelopeError('MALFORMED', 'padBlock must be 0..2048');
    this.padBlock = pad;
    const d = opts.crypto.sha512(concatBytes([asciiBytes(LABEL_SEAL_KEY), opts.senderSecretKey]));
    this.sealKey = d.slice(0, KEY_BYTES);
    d.fill(0);
  }

  /**
   * Starts a message to the holders of `recipientPairKeys` (1..8 directional
   * pair keys K(sender→recipient), 32 bytes each; wraps and tags are written in
   * this order). Persists the next send counter before returning.
   */
  begin(recipientPairKeys: readonly Uint8Array[]): OutgoingMessage {
    const n = recipientPairKeys.length;
    if (n < 1 || n > MAX_RECIPIENTS) throw new EnvelopeError('MALFORMED', 'a message needs 1..8 recipients');
    for (let j = 0; j < n; j++) {
      const k = recipientPairKeys[j];
      if (!(k instanceof Uint8Array) || k.length !== KEY_BYTES) throw new EnvelopeError('MALFORMED', 'pair keys must be 32 bytes');
    }
    const createdS = Math.floor(this.opts.clock.wallNow() / 1000);
    if (!(createdS >= 0 && createdS <= 0xffffffff)) throw new EnvelopeError('MALFORMED', 'wall clock out of range');
    const counter = this.sendCounter.next();
    // SHA-512(label | seal key | sender | counter | seed), assembled in a buffer made once (issue 13)
    const label = labelBytes(LABEL_MESSAGE);
    const seedAt = label.length + 2 * KEY_BYTES + 4;
    if (!this.deriveIn) {
      this.deriveIn = new Uint8Array(seedAt + SEED_BYTES);
      this.seedView = this.deriveIn.subarray(seedAt);
    }
    const din = this.deriveIn;
    let d: Uint8Array;
    try {
      din.set(label, 0);
      din.set(this.sealKey, label.length);
      din.set(this.opts.senderPublicKey, label.length + KEY_BYTES);
      writeU32(din, label.length + 2 * KEY_BYTES, counter);
      this.opts.random.fill(this.seedView!);
      d = this.opts.crypto.sha512(din);
    } finally {
      din.fill(0);
    }
    const messageId = d.slice(0, MESSAGE_ID_BYTES);
    const contentKey = d.slice(32, 64);
    d.fill(0);
    this.counters.inc('envelope.sealed_messages');
    // The sealer's sealing buffer, unless the message it was lent to is still open.
    const own = !this.lent;
    const buf = own ? this.buf : new Uint8Array(MAX_CHUNK_BYTES);
    if (own && !this.scratch) this.scratch = new MessageScratch();
    const msg = new OutgoingMessage(this.opts.crypto, this.opts.senderPublicKey, recipientPairKeys, messageId, contentKey, counter, createdS, this.packetsPerChunk, this.padBlock, this.counters, buf, own ? this.views : new Map(), own ? this : undefined, own ? this.scratch : undefined);
    if (own) this.lent = true;
    return msg;
  }

  /** Called by the message the sealing buffer was lent to, at finish() or abort() (zeroed by then). */
  returnBuffer(buf: Uint8Array): void {
    if (buf === this.buf) this.lent = false;
  }

  /** Bytes of the sealing buffer the sealer lends (it holds the record path's plaintext, where packets are encoded). */
  get ramBytes(): number {
    return this.buf.byteLength;
  }
}

/** One message being sealed. Not reusable: after finish() or abort() every call throws STATE. */
export class OutgoingMessage {
  /** Sealed chunks returned so far. */
  chunksOut = 0;
  /** Packets accepted so far (each 20 ms). */
  packets = 0;
  /** After reservePacket(): where the packet's bytes go in `plaintext`, and how many at most. */
  packetAt = -1;
  packetRoom = 0;
  private readonly buf: Uint8Array;
  private readonly plain: Uint8Array;
  /** In-place tag key scratch: bytes 16..48 become the one-time key (tkKey views them); tag16 receives a tag. */
  private readonly tk: Uint8Array;
  private readonly tkKey: Uint8Array;
  private readonly tag16: Uint8Array;
  /** Chunk views of the sealing buffer by (start, end): the sealer's, shared by the messages it lends its buffer to. */
  private readonly views: Map<number, Uint8Array>;
  private used = 0;
  private inChunk = 0;
  private done = false;
  private readonly nonce: Uint8Array;
  private readonly zero32: Uint8Array;
  private readonly header: Uint8Array;
  private readonly keys: Uint8Array[];
  private wraps: Uint8Array | undefined;

  constructor(
    private readonly crypto: CryptoPort,
    sender: Uint8Array,
    recipients: readonly Uint8Array[],
    /** The 16-byte message id (owned by this message; do not modify). */
    readonly messageId: Uint8Array,
    private contentKey: Uint8Array,
    /** This message's send counter. */
    readonly counter: number,
    /** Creation time, seconds since the Unix epoch. */
    readonly createdSeconds: number,
    private readonly packetsPerChunk: number,
    private readonly padBlock: number,
    private readonly counters: Counters,
    sealBuffer: Uint8Array = new Uint8Array(MAX_CHUNK_BYTES),
    views: Map<number, Uint8Array> = new Map(),
    private readonly owner?: { returnBuffer(buf: Uint8Array): void },
    /** Working buffers lent by the sealer (its own message), else made here. */
    scratch: MessageScratch = new MessageScratch(),
  ) {
    this.buf = sealBuffer;
    this.views = views;
    this.plain = sealBuffer.subarray(PLAIN_AT, PLAIN_AT + MAX_CHUNK_PLAINTEXT);
    const n = recipients.length;
    scratch.size(n);
    this.tk = scratch.tk;
    this.tkKey = scratch.tkKey;
    this.tag16 = scratch.tag16;
    this.nonce = scratch.nonce;
    this.zero32 = scratch.zero32;
    this.header = scratch.header;
    this.keys = scratch.keys;
    for (let j = 0; j < n; j++) this.keys[j]!.set(recipients[j]!);
    const h = this.header;
    h[0] = ENVELOPE_VERSION;
    h[OFF_RECIPIENTS] = n;
    for (let i = 0; i < MESSAGE_ID_BYTES; i++) h[OFF_ID + i] = messageId[i]!;
    for (let i = 0; i < KEY_BYTES; i++) h[OFF_SENDER + i] = sender[i]!;
    const wraps = scratch.wraps;
    if (crypto.secretboxInPlace) {
      // allocation-free: each wrap sealed in place in the scratch [16 tag | 40 plaintext]
      const box = scratch.wrapBox;
      try {
        for (let j = 0; j < n; j++) {
          for (let i = 0; i < KEY_BYTES; i++) box[TAG_BYTES + i] = contentKey[i]!;
          writeU32(box, TAG_BYTES + 32, counter);
          writeU32(box, TAG_BYTES + 36, createdSeconds);
          writeNonce(this.nonce, messageId, 0, NONCE_KIND_WRAP, j);
          crypto.secretboxInPlace(box, 0, WRAP_PLAIN_BYTES, this.nonce, this.keys[j]!);
          wraps.set(box, j * WRAP_BYTES);
        }
      } finally {
        box.fill(0);
      }
    } else {
      const wrapPlain = new Uint8Array(WRAP_PLAIN_BYTES);
      for (let i = 0; i < KEY_BYTES; i++) wrapPlain[i] = contentKey[i]!;
      writeU32(wrapPlain, 32, counter);
      writeU32(wrapPlain, 36, createdSeconds);
      for (let j = 0; j < n; j++) {
        writeNonce(this.nonce, messageId, 0, NONCE_KIND_WRAP, j);
        const w = crypto.secretbox(wrapPlain, this.nonce, this.keys[j]!);
        for (let i = 0; i < WRAP_BYTES; i++) wraps[j * WRAP_BYTES + i] = w[i]!;
      }
      wrapPlain.fill(0);
    }
    this.wraps = wraps;
  }

  /** The chunk plaintext buffer (lent: the encoder writes the reserved packet into it; read nothing else). */
  get plaintext(): Uint8Array {
    return this.plain;
  }

  /** True after finish() or abort(). */
  get isDone(): boolean {
    return this.done;
  }

  /**
   * Makes room for the next packet without copying it: when the current chunk holds
   * packetsPerChunk packets or less than 2 + MIN_PACKET_ROOM bytes are left, it is
   * sealed first and returned LENT (a view of the sealing buffer, valid until the next
   * call on this message: copy it or hand it on before). Then `packetAt` is where the
   * packet's bytes go in `plaintext` and `packetRoom` (MIN_PACKET_ROOM..1275) how
   * many at most; commitPacket(length) publishes it. Reserving again before the
   * commit is allowed (same room). Throws TOO_LONG (the 3001st packet; call finish()),
   * STATE.
   */
  reservePacket(): Uint8Array | undefined {
    if (this.done) throw new EnvelopeError('STATE', 'message already finished');
    if (this.packets >= MAX_PACKETS) {
      this.counters.inc('envelope.too_long');
      throw new EnvelopeError('TOO_LONG', 'a message holds at most 60 s of audio');
    }
    let out: Uint8Array | undefined;
    if (this.inChunk >= this.packetsPerChunk || MAX_CHUNK_PLAINTEXT - this.used - 2 < MIN_PACKET_ROOM) out = this.seal(false);
    const room = MAX_CHUNK_PLAINTEXT - this.used - 2;
    this.packetAt = this.used + 2;
    this.packetRoom = room < MAX_PACKET_BYTES ? room : MAX_PACKET_BYTES;
    return out;
  }

  /**
   * Publishes the packet written at `packetAt` (length 1..packetRoom bytes). Throws
   * TOO_LARGE (length out of range; the reservation stays), STATE (nothing reserved).
   */
  commitPacket(length: number): void {
    if (this.packetAt < 0 || this.done) throw new EnvelopeError('STATE', 'no packet reserved');
    if ((length | 0) !== length || length < MIN_PACKET_BYTES || length > this.packetRoom) throw new EnvelopeError('TOO_LARGE', 'packet must be 1..packetRoom bytes');
    const p = this.plain;
    const o = this.used;
    p[o] = length >>> 8;
    p[o + 1] = length & 0xff;
    this.used = o + 2 + length;
    this.packetAt = -1;
    this.inChunk++;
    this.packets++;
  }

  /** Milliseconds of audio accepted so far. */
  get durationMs(): number {
    return this.packets * PACKET_MS;
  }

  /**
   * Adds one Opus packet `packet[0..length)` (lent; length defaults to
   * packet.length, 1..1275). Returns a sealed non-final chunk (a copy, owned by the
   * caller) when the current chunk was full (the packet starts the next chunk), else undefined.
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
    if (this.inChunk >= this.packetsPerChunk || this.used + 2 + length > MAX_CHUNK_PLAINTEXT) out = this.seal(false).slice();
    this.packetAt = -1;
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
    const c = this.seal(true).slice();
    this.abort();
    return c;
  }

  /** Drops the message and zeroes its keys and its sealing buffer. Safe to call twice. */
  abort(): void {
    const first = !this.done;
    this.done = true;
    this.contentKey.fill(0);
    if (!first) return; // zeroed already; the sealing buffer and scratch may be lent to a newer message by now
    for (let j = 0; j < this.keys.length; j++) this.keys[j]!.fill(0);
    this.buf.fill(0);
    this.owner?.returnBuffer(this.buf);
    this.used = 0;
    this.packetAt = -1;
    this.wraps = undefined;
  }

  /** Seals the buffered packets in place; returns a view of the sealing buffer (lent). */
  private seal(final: boolean): Uint8Array {
    const index = this.chunksOut;
    const used = this.used;
    let len = used;
    if (this.padBlock > 0) len = Math.min(MAX_CHUNK_PLAINTEXT, Math.ceil(len / this.padBlock) * this.padBlock);
    if (len > used) this.plain.fill(0, used, len); // padding: zero bytes (the window may hold an older chunk's ciphertext)
    writeNonce(this.nonce, this.messageId, index, final ? NONCE_KIND_FINAL : NONCE_KIND_CHUNK);
    const wraps = index === 0 ? this.wraps! : undefined;
    const n = this.keys.length;
    const buf = this.buf;
    const boxAt = PLAIN_AT - TAG_BYTES;
    const headerAt = boxAt - (wraps ? wraps.length : 0) - HEADER_BYTES;
    const tagsAt = PLAIN_AT + len;
    const h = this.header;
    h[OFF_FLAGS] = final ? FLAG_FINAL : 0;
    h[OFF_INDEX] = index >>> 8;
    h[OFF_INDEX + 1] = index & 0xff;
    buf.set(h, headerAt);
    if (wraps) buf.set(wraps, headerAt + HEADER_BYTES);
    const c = this.crypto;
    if (c.secretboxInPlace && c.onetimeauthInto) {
      // allocation-free: the plaintext window becomes the box, each tag key is made in a scratch
      c.secretboxInPlace(buf, boxAt, len, this.nonce, this.contentKey);
      const tk = this.tk;
      const tag = this.tag16;
      for (let j = 0; j < n; j++) {
        tk.fill(0, TAG_BYTES);
        writeNonce(this.nonce, this.messageId, index, NONCE_KIND_TAG, j);
        c.secretboxInPlace(tk, 0, KEY_BYTES, this.nonce, this.keys[j]!);
        c.onetimeauthInto(tag, buf, headerAt, tagsAt - headerAt, this.tkKey);
        const at = tagsAt + j * TAG_BYTES;
        for (let i = 0; i < TAG_BYTES; i++) buf[at + i] = tag[i]!;
      }
      tk.fill(0);
      tag.fill(0);
    } else {
      buf.set(c.secretbox(this.plain.subarray(0, len), this.nonce, this.contentKey), boxAt);
      const authed = buf.subarray(headerAt, tagsAt);
      for (let j = 0; j < n; j++) {
        const otk = tagKey(c, this.keys[j]!, this.messageId, index, j, this.nonce, this.zero32);
        buf.set(c.onetimeauth(authed, otk), tagsAt + j * TAG_BYTES);
        otk.fill(0);
      }
    }
    this.used = 0;
    this.inChunk = 0;
    this.chunksOut++;
    if (index === 0) this.wraps = undefined;
    this.counters.inc('envelope.sealed_chunks');
    // the padded chunks give few (start, end) pairs: their views are kept (up to 4)
    const end = tagsAt + n * TAG_BYTES;
    const k = headerAt * 4096 + end;
    let view = this.views.get(k);
    if (!view) {
      view = buf.subarray(headerAt, end);
      if (this.views.size < 4) this.views.set(k, view);
    }
    return view;
  }
}
