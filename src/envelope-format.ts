/**
 * The sealed voice-message envelope, version 2: constants, the typed error,
 * nonce construction, the clear chunk header and the packet framing.
 * Byte-exact specification: docs/PROTOCOL.md, section "Envelope (sealed voice messages)".
 *
 * A message is a sequence of chunks (one MQTT publish each). Every chunk starts
 * with a 53-byte clear header (version, flags, recipient count n, message id,
 * chunk index, sender public key); chunk 0 (the head) also carries one 56-byte
 * key wrap per recipient; every chunk then holds a crypto_secretbox of its
 * plaintext under the message's content key, and ends with n 16-byte recipient
 * tags (Poly1305 of everything before them, each under a key only the sender
 * and that recipient can derive). Plaintext = length-prefixed Opus packets,
 * optionally followed by zero padding.
 *
 * Portable (XS and Node): no allocation except where a function says it returns a new buffer.
 */
import type { CryptoPort } from '../hal/ports.js';
import { concatBytes } from './bytes.js';

/** The only envelope version this code writes and reads (version 1 is refused with VERSION). */
export const ENVELOPE_VERSION = 2;
/** Clear header present on every chunk: version(1) flags(1) recipients(1) messageId(16) index(2) sender(32). */
export const HEADER_BYTES = 53;
/** Header offsets. */
export const OFF_FLAGS = 1;
export const OFF_RECIPIENTS = 2;
export const OFF_ID = 3;
export const OFF_INDEX = 19;
export const OFF_SENDER = 21;
export const MESSAGE_ID_BYTES = 16;
export const KEY_BYTES = 32;
export const NONCE_BYTES = 24;
/** crypto_secretbox authenticator (Poly1305 tag), and one recipient tag (crypto_onetimeauth). */
export const TAG_BYTES = 16;
/** Key-wrap plaintext: content key(32) counter u32(4) createdSeconds u32(4). */
export const WRAP_PLAIN_BYTES = 40;
/** One sealed key wrap: TAG_BYTES + WRAP_PLAIN_BYTES. */
export const WRAP_BYTES = 56;
/** Recipients per message: 1..MAX_RECIPIENTS (the roster holds at most 8). */
export const MAX_RECIPIENTS = 8;
/** Largest chunk plaintext in bytes (framed packets and padding). */
export const MAX_CHUNK_PLAINTEXT = 2048;
/** Opus packet size limits in bytes (RFC 6716). */
export const MIN_PACKET_BYTES = 1;
export const MAX_PACKET_BYTES = 1275;
/** Each packet is one 20 ms frame; a message holds at most 60 s = 3000 packets. */
export const PACKET_MS = 20;
export const MAX_MESSAGE_MS = 60_000;
export const MAX_PACKETS = MAX_MESSAGE_MS / PACKET_MS;
/** Chunk indices are 0..MAX_CHUNKS-1 (every chunk carries at least one packet). */
export const MAX_CHUNKS = MAX_PACKETS;
/** Largest head chunk: header + 8 wraps + sealed max plaintext + 8 recipient tags = 2693 bytes. */
export const MAX_HEAD_BYTES = HEADER_BYTES + MAX_RECIPIENTS * WRAP_BYTES + TAG_BYTES + MAX_CHUNK_PLAINTEXT + MAX_RECIPIENTS * TAG_BYTES;
/** Largest chunk of any kind (under the 4000-byte storage value limit). */
export const MAX_CHUNK_BYTES = MAX_HEAD_BYTES;
/** Smallest well-formed chunk: a later chunk to one recipient whose box holds one 1-byte packet. */
export const MIN_CHUNK_BYTES = HEADER_BYTES + TAG_BYTES + 2 + MIN_PACKET_BYTES + TAG_BYTES;
/** Header flag bit: this is the last chunk of the message. Other bits must be 0. */
export const FLAG_FINAL = 0x01;
/** Nonce kind bytes (offset 18 of the nonce). */
export const NONCE_KIND_CHUNK = 0x01;
export const NONCE_KIND_FINAL = 0x02;
export const NONCE_KIND_WRAP = 0x03;
export const NONCE_KIND_TAG = 0x04;
/** Default message lifetime: 7 days. */
export const DEFAULT_TTL_MS = 7 * 24 * 3600 * 1000;
/** Default tolerated clock skew for a creation time in the future: 10 minutes. */
export const DEFAULT_MAX_FUTURE_MS = 10 * 60 * 1000;
/** Wall clocks before 2025-01-01T00:00:00Z (1735689600000 ms) are treated as unset (no SNTP yet): time checks are skipped and counted. */
export const MIN_PLAUSIBLE_WALL_MS = Date.UTC(2025, 0, 1);
/** Domain labels (ASCII) of the SHA-512 derivations (docs/PROTOCOL.md "Keys"). */
export const LABEL_PAIR_KEY = 'PawPost envelope v2 pair key';
export const LABEL_SEAL_KEY = 'PawPost envelope v2 seal key';
export const LABEL_MESSAGE = 'PawPost envelope v2 message';

export type EnvelopeErrorCode =
  | 'SHORT' // shorter than its header (or than the wraps it declares)
  | 'TOO_LARGE' // longer than MAX_CHUNK_BYTES, or a plaintext/packet over its limit when sealing
  | 'BAD_KEY' // a peer public key of small order (or not 32 bytes)
  | 'VERSION' // unknown version byte
  | 'MALFORMED' // a clear field out of range (flags, index, recipient count) or bad framing
  | 'UNKNOWN_SENDER' // the sender key is not a paired peer: rejected before any decryption
  | 'NOT_RECIPIENT' // no key wrap opens with the sender's shared key (forged, or not for us)
  | 'AUTH' // a chunk body fails authentication (tampered, reordered, spliced, wrong final flag)
  | 'REPLAY' // the sender's counter is not above the last one accepted
  | 'EXPIRED' // older than the time to live
  | 'FUTURE' // created further in the future than the tolerated skew
  | 'ORDER' // a later chunk of a message whose head was not accepted, or out of order
  | 'DUPLICATE' // a chunk already accepted (benign: redelivery)
  | 'TRUNCATED' // the message ended without its final chunk
  | 'TOO_LONG' // more than 60 s of audio
  | 'EMPTY' // a message with no packet
  | 'BUSY' // too many messages open at once
  | 'STATE' // used in the wrong state (after finish/close)
  | 'STORAGE' // the replay or send counter could not be read or written
  | 'EXHAUSTED'; // the send counter reached 2^32-1

/** A typed envelope error. `code` is stable; `message` never holds key material or audio. */
export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
  readonly code: EnvelopeErrorCode;
  constructor(code: EnvelopeErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** True when e is an EnvelopeError (optionally with the given code). */
export function isEnvelopeError(e: unknown, code?: EnvelopeErrorCode): e is EnvelopeError {
  return e instanceof EnvelopeError && (code === undefined || e.code === code);
}

/**
 * Writes the 24-byte nonce into `into` (lent):
 * messageId(16) | index u16 BE | kind u8 | slot u8 | 4 zero bytes.
 * kind: NONCE_KIND_CHUNK / NONCE_KIND_FINAL (index = chunk index, slot = 0),
 * NONCE_KIND_WRAP (index = 0, slot = recipient slot), NONCE_KIND_TAG (index = chunk index, slot = recipient slot).
 */
export function writeNonce(into: Uint8Array, messageId: Uint8Array, index: number, kind: number, slot = 0): Uint8Array {
  for (let i = 0; i < MESSAGE_ID_BYTES; i++) into[i] = messageId[i]!;
  into[16] = (index >>> 8) & 0xff;
  into[17] = index & 0xff;
  into[18] = kind;
  into[19] = slot;
  into[20] = 0;
  into[21] = 0;
  into[22] = 0;
  into[23] = 0;
  return into;
}

/** What the clear header of a chunk says, read without opening it. Views are into the chunk (lent). */
export interface ChunkInfo {
  /** 16-byte message id (view into the chunk). */
  messageId: Uint8Array;
  /** Lower-case hex of the message id (32 chars): groups a message's chunks. */
  messageKey: string;
  /** Chunk index, 0 = head. */
  index: number;
  /** True on the last chunk of the message. */
  final: boolean;
  /** Sender's X25519 public key (view into the chunk). */
  sender: Uint8Array;
  /** Recipient count n (every chunk carries it; n recipient tags end the chunk). */
  recipients: number;
  /** Offset of the secretbox body (after the header, and on the head after the n key wraps). */
  bodyAt: number;
  /** Offset of the first recipient tag (= chunk length - 16n). */
  tagsAt: number;
}

/** Lower-case hex of bytes [from, to). */
export function toHex(b: Uint8Array, from = 0, to = b.length): string {
  // One string made from reused char codes, not one string per digit (heap slots per chunk, issue 13).
  // (Indexing a string or calling a method on one costs XS two heap slots each; String.fromCharCode does not.)
  const n = (to - from) * 2;
  if (n === hexCodes64.length) {
    // a 32-byte key (RosterKeys' cache, per head chunk and receipt): one string, as below
    for (let i = from, k = 0; i < to; i++, k += 2) {
      hexCodes64[k] = HEX_CODES[b[i]! >> 4]!;
      hexCodes64[k + 1] = HEX_CODES[b[i]! & 15]!;
    }
    return String.fromCharCode.apply(null, hexCodes64);
  }
  if (n !== hexCodes.length) {
    // any other length: one call per byte (apply() with a long array would overflow the XS stack)
    let s = '';
    for (let i = from; i < to; i++) s += String.fromCharCode(HEX_CODES[b[i]! >> 4]!, HEX_CODES[b[i]! & 15]!);
    return s;
  }
  for (let i = from, k = 0; i < to; i++, k += 2) {
    hexCodes[k] = HEX_CODES[b[i]! >> 4]!;
    hexCodes[k + 1] = HEX_CODES[b[i]! & 15]!;
  }
  return String.fromCharCode.apply(null, hexCodes);
}
/** Char codes of the hex digits; the reused codes of a 16-byte (message id) string. */
const HEX_CODES = [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102];
const hexCodes: number[] = new Array<number>(32).fill(0);
const hexCodes64: number[] = new Array<number>(64).fill(0);

/**
 * Parses and bounds-checks the clear header of a chunk. Checks, in this order:
 * empty (SHORT), version byte (VERSION), shorter than MIN_CHUNK_BYTES (SHORT),
 * longer than MAX_CHUNK_BYTES (TOO_LARGE), flags (MALFORMED), recipient count
 * 1..8 (MALFORMED), index < 3000 (MALFORMED), then the length against the
 * declared wraps/tags: SHORT when no 3-byte box fits, TOO_LARGE when the box
 * would exceed 16 + 2048 bytes. Does not authenticate anything.
 */
export function readChunkHeader(chunk: Uint8Array): ChunkInfo {
  const recipients = checkChunkHeader(chunk);
  const index = (chunk[OFF_INDEX]! << 8) | chunk[OFF_INDEX + 1]!;
  return {
    messageId: chunk.subarray(OFF_ID, OFF_ID + MESSAGE_ID_BYTES),
    messageKey: toHex(chunk, OFF_ID, OFF_ID + MESSAGE_ID_BYTES),
    index,
    final: (chunk[OFF_FLAGS]! & FLAG_FINAL) !== 0,
    sender: chunk.subarray(OFF_SENDER, OFF_SENDER + KEY_BYTES),
    recipients,
    bodyAt: HEADER_BYTES + (index === 0 ? recipients * WRAP_BYTES : 0),
    tagsAt: chunk.length - recipients * TAG_BYTES,
  };
}

/**
 * The checks of readChunkHeader (same errors, same order), allocating nothing when the
 * header is good: answers the recipient count.
 */
export function checkChunkHeader(chunk: Uint8Array): number {
  if (!(chunk instanceof Uint8Array)) throw new EnvelopeError('MALFORMED', 'chunk must be bytes');
  if (chunk.length < 1) throw new EnvelopeError('SHORT', 'empty chunk');
  if (chunk[0] !== ENVELOPE_VERSION) throw new EnvelopeError('VERSION', `unknown envelope version ${chunk[0]}`);
  if (chunk.length < MIN_CHUNK_BYTES) throw new EnvelopeError('SHORT', 'chunk shorter than its header');
  if (chunk.length > MAX_CHUNK_BYTES) throw new EnvelopeError('TOO_LARGE', 'chunk larger than the maximum');
  const flags = chunk[OFF_FLAGS]!;
  if ((flags & ~FLAG_FINAL) !== 0) throw new EnvelopeError('MALFORMED', 'unknown flag bits');
  const recipients = chunk[OFF_RECIPIENTS]!;
  if (recipients < 1 || recipients > MAX_RECIPIENTS) throw new EnvelopeError('MALFORMED', 'recipient count out of range');
  const index = (chunk[OFF_INDEX]! << 8) | chunk[OFF_INDEX + 1]!;
  if (index >= MAX_CHUNKS) throw new EnvelopeError('MALFORMED', 'chunk index out of range');
  const bodyAt = HEADER_BYTES + (index === 0 ? recipients * WRAP_BYTES : 0);
  const tagsAt = chunk.length - recipients * TAG_BYTES;
  if (tagsAt - bodyAt < TAG_BYTES + 2 + MIN_PACKET_BYTES) throw new EnvelopeError('SHORT', 'chunk shorter than its wraps, body and tags');
  if (tagsAt - bodyAt > TAG_BYTES + MAX_CHUNK_PLAINTEXT) throw new EnvelopeError('TOO_LARGE', 'chunk body larger than the maximum');
  return recipients;
}

/** A ChunkInfo to pass to readChunkHeaderInto: its messageId (16) and sender (32) are its own buffers. */
export function newChunkInfo(): ChunkInfo {
  return { messageId: new Uint8Array(MESSAGE_ID_BYTES), messageKey: '', index: 0, final: false, sender: new Uint8Array(KEY_BYTES), recipients: 0, bodyAt: 0, tagsAt: 0 };
}

/**
 * readChunkHeader into a reused ChunkInfo made by newChunkInfo (issue 13: no header object
 * and no views per chunk): the same checks and errors; messageId and sender are copied into
 * `into`'s own buffers, messageKey is the one new string. On a throw `into` is unchanged.
 * Returns `into`.
 */
export function readChunkHeaderInto(chunk: Uint8Array, into: ChunkInfo): ChunkInfo {
  const recipients = checkChunkHeader(chunk);
  const index = (chunk[OFF_INDEX]! << 8) | chunk[OFF_INDEX + 1]!;
  if (into.messageId.length !== MESSAGE_ID_BYTES || into.sender.length !== KEY_BYTES) throw new EnvelopeError('STATE', 'not a ChunkInfo from newChunkInfo');
  for (let i = 0; i < MESSAGE_ID_BYTES; i++) into.messageId[i] = chunk[OFF_ID + i]!;
  for (let i = 0; i < KEY_BYTES; i++) into.sender[i] = chunk[OFF_SENDER + i]!;
  into.messageKey = toHex(chunk, OFF_ID, OFF_ID + MESSAGE_ID_BYTES);
  into.index = index;
  into.final = (chunk[OFF_FLAGS]! & FLAG_FINAL) !== 0;
  into.recipients = recipients;
  into.bodyAt = HEADER_BYTES + (index === 0 ? recipients * WRAP_BYTES : 0);
  into.tagsAt = chunk.length - recipients * TAG_BYTES;
  return into;
}

/** The clear header of a chunk, or undefined when it is malformed. Never throws. */
export function peekChunk(chunk: Uint8Array): ChunkInfo | undefined {
  try {
    return readChunkHeader(chunk);
  } catch {
    return undefined;
  }
}

/**
 * Dedupe key of a chunk for the MQTT outbox/inbox: 32 hex chars of the message
 * id, '.', 4 hex chars of the chunk index (37 chars), or undefined when the
 * clear header is malformed. Never throws; does not authenticate.
 */
export function chunkKey(chunk: Uint8Array): string | undefined {
  const h = peekChunk(chunk);
  if (!h) return undefined;
  return `${h.messageKey}.${toHex(chunk, OFF_INDEX, OFF_INDEX + 2)}`;
}

/**
 * chunkKey(chunk)'s 37 character codes written into `codes` (reused; its length set to 37),
 * allocating nothing: the inbox digests them as it digests the string (issue 13). Returns
 * false (codes unchanged) when the clear header is malformed. Never throws.
 */
export function chunkKeyCodes(chunk: Uint8Array, codes: number[]): boolean {
  try {
    checkChunkHeader(chunk);
  } catch {
    return false;
  }
  codes.length = 37;
  let k = 0;
  for (let i = OFF_ID; i < OFF_ID + MESSAGE_ID_BYTES; i++, k += 2) {
    codes[k] = HEX_CODES[chunk[i]! >> 4]!;
    codes[k + 1] = HEX_CODES[chunk[i]! & 15]!;
  }
  codes[k++] = 46; // '.'
  for (let i = OFF_INDEX; i < OFF_INDEX + 2; i++, k += 2) {
    codes[k] = HEX_CODES[chunk[i]! >> 4]!;
    codes[k + 1] = HEX_CODES[chunk[i]! & 15]!;
  }
  return true;
}

/**
 * Splits a chunk plaintext into its Opus packets (views into `plain`, lent).
 * Framing: repeated [u16 BE length 1..1275][length bytes], at least one packet,
 * then optional padding: when the byte at a packet boundary is 0 and it is the
 * last byte or the next one is 0 too, everything from there to the end must be
 * zero bytes (else MALFORMED). Throws EnvelopeError('MALFORMED').
 */
export function unframePackets(plain: Uint8Array): Uint8Array[] {
  countFramedPackets(plain);
  const out: Uint8Array[] = [];
  let o = 0;
  while (o < plain.length) {
    if (plain[o] === 0 && (o + 1 === plain.length || plain[o + 1] === 0)) {
      for (let i = o; i < plain.length; i++) if (plain[i] !== 0) throw new EnvelopeError('MALFORMED', 'non-zero padding');
      break;
    }
    if (o + 2 > plain.length) throw new EnvelopeError('MALFORMED', 'truncated packet length');
    const n = (plain[o]! << 8) | plain[o + 1]!;
    if (n < MIN_PACKET_BYTES || n > MAX_PACKET_BYTES) throw new EnvelopeError('MALFORMED', 'packet length out of range');
    if (o + 2 + n > plain.length) throw new EnvelopeError('MALFORMED', 'truncated packet');
    out.push(plain.subarray(o + 2, o + 2 + n));
    o += 2 + n;
  }
  if (out.length === 0) throw new EnvelopeError('MALFORMED', 'chunk without packets');
  return out;
}

/**
 * Checks the framing of an opened body exactly as unframePackets does (same
 * MALFORMED errors) and answers the packet count, without making a view per
 * packet: the playback pipeline decodes straight from `plain` (issue 13).
 */
export function countFramedPackets(plain: Uint8Array, from = 0, to = plain.length): number {
  let o = from;
  let n = 0;
  const len = to;
  while (o < len) {
    if (plain[o] === 0 && (o + 1 === len || plain[o + 1] === 0)) {
      for (let i = o; i < len; i++) if (plain[i] !== 0) throw new EnvelopeError('MALFORMED', 'non-zero padding');
      break;
    }
    if (o + 2 > len) throw new EnvelopeError('MALFORMED', 'truncated packet length');
    const k = (plain[o]! << 8) | plain[o + 1]!;
    if (k < MIN_PACKET_BYTES || k > MAX_PACKET_BYTES) throw new EnvelopeError('MALFORMED', 'packet length out of range');
    if (o + 2 + k > len) throw new EnvelopeError('MALFORMED', 'truncated packet');
    o += 2 + k;
    n++;
  }
  if (n === 0) throw new EnvelopeError('MALFORMED', 'chunk without packets');
  return n;
}

/** Big-endian u32 at offset. */
export function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) >>> 0) + (b[o + 1]! << 16) + (b[o + 2]! << 8) + b[o + 3]!;
}
/** Writes v (0..2^32-1) big-endian at offset. */
export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Constant-length comparison of two byte strings (false when lengths differ). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

const labelCache = new Map<string, Uint8Array>();
/**
 * ASCII bytes of one of the fixed labels, made once on first use and then shared (read-only:
 * never modify; issue 13: indexing a string costs XS two heap slots per character).
 */
export function labelBytes(label: string): Uint8Array {
  let b = labelCache.get(label);
  if (!b) {
    b = asciiBytes(label);
    if (labelCache.size < 8) labelCache.set(label, b);
  }
  return b;
}

/** String.prototype.charCodeAt through .call: no String wrapper per call in XS (2 heap slots each). */
const charCodeAt = String.prototype.charCodeAt;

/** ASCII bytes of a label. */
export function asciiBytes(s: string): Uint8Array {
  const n = s.length;
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = charCodeAt.call(s, i) & 0x7f;
  return b;
}

export { concatBytes };

/**
 * The directional pair key of sender S and recipient R (docs/PROTOCOL.md "Keys"):
 * SHA-512(LABEL_PAIR_KEY || K || S.public || R.public)[0..32), K = crypto_box_beforenm.
 * K(S→R) ≠ K(R→S): a message sealed in one direction never opens in the other.
 * Returns a new 32-byte buffer (secret: the caller owns it).
 */
export function pairKey(crypto: Pick<CryptoPort, 'sha512'>, shared: Uint8Array, senderPublic: Uint8Array, recipientPublic: Uint8Array): Uint8Array {
  const d = crypto.sha512(concatBytes([labelBytes(LABEL_PAIR_KEY), shared, senderPublic, recipientPublic]));
  const k = d.slice(0, KEY_BYTES);
  d.fill(0);
  return k;
}
