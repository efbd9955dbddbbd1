/**
 * FROZEN COPY of the envelope v1 (src/envelope*.ts as of commit 88d1572, before v2), kept only for
 * tests/envelope-attacks.cases.ts (each attack succeeds here) and the v1-beside-v2 bench. Never used by the firmware.
 */
/**
 * The sealed voice-message envelope, version 1: constants, the typed error,
 * nonce construction, the clear chunk header and the packet framing.
 * Byte-exact specification: docs/PROTOCOL.md, section "Envelope (sealed voice messages)".
 *
 * A message is a sequence of chunks (one MQTT publish each). Every chunk starts
 * with a 52-byte clear header (version, flags, message id, chunk index, sender
 * public key); chunk 0 (the head) also carries one 56-byte key wrap per
 * recipient; every chunk ends with a crypto_secretbox of its plaintext under the
 * message's random content key. Plaintext = length-prefixed Opus packets.
 *
 * Portable (XS and Node): no allocation except where a function says it returns a new buffer.
 */

/** The only envelope version this code writes and reads. */
export const ENVELOPE_VERSION = 1;
/** Clear header present on every chunk: version(1) flags(1) messageId(16) index(2) sender(32). */
export const HEADER_BYTES = 52;
export const MESSAGE_ID_BYTES = 16;
export const KEY_BYTES = 32;
export const NONCE_BYTES = 24;
/** crypto_secretbox authenticator (Poly1305 tag). */
export const TAG_BYTES = 16;
/** Key-wrap plaintext: content key(32) counter u32(4) createdSeconds u32(4). */
export const WRAP_PLAIN_BYTES = 40;
/** One sealed key wrap: TAG_BYTES + WRAP_PLAIN_BYTES. */
export const WRAP_BYTES = 56;
/** Recipients per message: 1..MAX_RECIPIENTS (the roster holds at most 8). */
export const MAX_RECIPIENTS = 8;
/** Largest chunk plaintext in bytes (framed packets). */
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
/** Largest head chunk: header + count + 8 wraps + sealed max plaintext = 2565 bytes. */
export const MAX_HEAD_BYTES = HEADER_BYTES + 1 + MAX_RECIPIENTS * WRAP_BYTES + TAG_BYTES + MAX_CHUNK_PLAINTEXT;
/** Largest chunk of any kind (well under the 4000-byte storage value limit). */
export const MAX_CHUNK_BYTES = MAX_HEAD_BYTES;
/** Smallest well-formed chunk: a later chunk whose box holds one 1-byte packet. */
export const MIN_CHUNK_BYTES = HEADER_BYTES + TAG_BYTES + 2 + MIN_PACKET_BYTES;
/** Header flag bit: this is the last chunk of the message. Other bits must be 0. */
export const FLAG_FINAL = 0x01;
/** Nonce kind bytes (offset 18 of the nonce). */
export const NONCE_KIND_CHUNK = 0x01;
export const NONCE_KIND_FINAL = 0x02;
export const NONCE_KIND_WRAP = 0x03;
/** Default message lifetime: 7 days. */
export const DEFAULT_TTL_MS = 7 * 24 * 3600 * 1000;
/** Default tolerated clock skew for a creation time in the future: 10 minutes. */
export const DEFAULT_MAX_FUTURE_MS = 10 * 60 * 1000;
/** Wall clocks before 2025-01-01 are treated as unset (no SNTP yet): time checks are skipped and counted. */
export const MIN_PLAUSIBLE_WALL_MS = Date.UTC(2025, 0, 1);

export type EnvelopeErrorCode =
  | 'SHORT' // shorter than its header (or than the wraps it declares)
  | 'TOO_LARGE' // longer than MAX_CHUNK_BYTES, or a plaintext/packet over its limit when sealing
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
 * Writes the 24-byte nonce into `into` (lent): messageId(16) | index u16 BE | kind u8 | 5 zero bytes.
 * kind: NONCE_KIND_CHUNK / NONCE_KIND_FINAL (index = chunk index) or NONCE_KIND_WRAP (index = recipient slot).
 */
export function writeNonce(into: Uint8Array, messageId: Uint8Array, index: number, kind: number): Uint8Array {
  for (let i = 0; i < MESSAGE_ID_BYTES; i++) into[i] = messageId[i]!;
  into[16] = (index >>> 8) & 0xff;
  into[17] = index & 0xff;
  into[18] = kind;
  into[19] = 0;
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
  /** Recipient count (head only; 0 on later chunks). */
  recipients: number;
}

const HEX = '0123456789abcdef';
/** Lower-case hex of bytes [from, to). */
export function toHex(b: Uint8Array, from = 0, to = b.length): string {
  let s = '';
  for (let i = from; i < to; i++) s += HEX[b[i]! >> 4]! + HEX[b[i]! & 15]!;
  return s;
}

/**
 * Parses and bounds-checks the clear header of a chunk. Throws EnvelopeError
 * SHORT, TOO_LARGE, VERSION or MALFORMED. Does not authenticate anything.
 */
export function readChunkHeader(chunk: Uint8Array): ChunkInfo {
  if (!(chunk instanceof Uint8Array)) throw new EnvelopeError('MALFORMED', 'chunk must be bytes');
  if (chunk.length < 1) throw new EnvelopeError('SHORT', 'empty chunk');
  if (chunk[0] !== ENVELOPE_VERSION) throw new EnvelopeError('VERSION', `unknown envelope version ${chunk[0]}`);
  if (chunk.length < MIN_CHUNK_BYTES) throw new EnvelopeError('SHORT', 'chunk shorter than its header');
  if (chunk.length > MAX_CHUNK_BYTES) throw new EnvelopeError('TOO_LARGE', 'chunk larger than the maximum');
  const flags = chunk[1]!;
  if ((flags & ~FLAG_FINAL) !== 0) throw new EnvelopeError('MALFORMED', 'unknown flag bits');
  const index = (chunk[18]! << 8) | chunk[19]!;
  if (index >= MAX_CHUNKS) throw new EnvelopeError('MALFORMED', 'chunk index out of range');
  let recipients = 0;
  if (index === 0) {
    recipients = chunk[HEADER_BYTES]!;
    if (recipients < 1 || recipients > MAX_RECIPIENTS) throw new EnvelopeError('MALFORMED', 'recipient count out of range');
    if (chunk.length < HEADER_BYTES + 1 + recipients * WRAP_BYTES + TAG_BYTES + 3) throw new EnvelopeError('SHORT', 'head shorter than its key wraps');
    if (chunk.length > HEADER_BYTES + 1 + recipients * WRAP_BYTES + TAG_BYTES + MAX_CHUNK_PLAINTEXT)
      throw new EnvelopeError('TOO_LARGE', 'head larger than its key wraps and the maximum body');
  } else if (chunk.length > HEADER_BYTES + TAG_BYTES + MAX_CHUNK_PLAINTEXT) {
    throw new EnvelopeError('TOO_LARGE', 'chunk larger than the maximum');
  }
  return {
    messageId: chunk.subarray(2, 18),
    messageKey: toHex(chunk, 2, 18),
    index,
    final: (flags & FLAG_FINAL) !== 0,
    sender: chunk.subarray(20, 52),
    recipients,
  };
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
  return `${h.messageKey}.${toHex(chunk, 18, 20)}`;
}

/**
 * Splits a chunk plaintext into its Opus packets (views into `plain`, lent).
 * Framing: repeated [u16 BE length 1..1275][length bytes], at least one packet,
 * nothing left over. Throws EnvelopeError('MALFORMED').
 */
export function unframePackets(plain: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let o = 0;
  while (o < plain.length) {
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
