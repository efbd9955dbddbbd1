/**
 * Codec helpers shared by every CodecPort implementation (hal/ports.ts) and by
 * the pipelines: the Opus packet bounds, the typed CodecError, and argument
 * checks. Portable (runs in XS and Node).
 *
 * Format of the whole toy: Opus, 16 kHz mono, VOIP application, 16 kbps,
 * one 20 ms frame (FRAME_SAMPLES = 320 samples) per packet.
 */
import { FRAME_SAMPLES } from '../hal/ports.js';

/** Largest Opus packet (RFC 6716 §3.4, R1..R2): 1275 bytes. */
export const MAX_PACKET_BYTES = 1275;
/** Smallest packet a pipeline accepts: 1 byte (an Opus TOC byte alone is a valid DTX packet). */
export const MIN_PACKET_BYTES = 1;
/**
 * Least room an encoder may be lent for one packet (bytes): a sink whose free room
 * is smaller closes its chunk first (src/envelope-sealer.ts reservePacket). At the
 * toy's 16 kbps VBR a 20 ms packet is about 40 bytes, so this cap never binds in
 * practice; when it would, the encoder spends fewer bits on that one frame.
 */
export const MIN_ENCODE_ROOM = 256;
/** Target bitrate in bits per second. */
export const OPUS_BITRATE_BPS = 16000;

/**
 * Error codes carried by CodecError:
 * - SIZE: a PCM buffer is not FRAME_SAMPLES long, an output buffer is too small,
 *   or a packet length is outside 1..MAX_PACKET_BYTES
 * - ENCODE / DECODE: the codec rejected the input or failed (e.g. a corrupt packet)
 * - CONFIG: the codec could not be created with the toy's format
 * - CLOSED: used after close()
 */
export type CodecErrorCode = 'SIZE' | 'ENCODE' | 'DECODE' | 'CONFIG' | 'CLOSED';

/** A typed codec error. `code` is stable; `message` never holds audio data. */
export class CodecError extends Error {
  override readonly name = 'CodecError';
  readonly code: CodecErrorCode;
  constructor(code: CodecErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** True when `length` is a valid packet length (an integer in 1..MAX_PACKET_BYTES). */
export function isPacketLength(length: number): boolean {
  return (length | 0) === length && length >= MIN_PACKET_BYTES && length <= MAX_PACKET_BYTES;
}

/** Throws CodecError('SIZE') unless `pcm` holds exactly FRAME_SAMPLES samples. */
export function checkPcmFrame(pcm: Int16Array, what = 'pcm'): void {
  if (pcm.length !== FRAME_SAMPLES) throw new CodecError('SIZE', `${what}: ${pcm.length} samples, expected ${FRAME_SAMPLES}`);
}

/** Throws CodecError('SIZE') unless `packet[offset..offset + length)` is a valid packet range (offset an integer >= 0). */
export function checkPacket(packet: Uint8Array, length: number, offset = 0): void {
  if (!isPacketLength(length)) throw new CodecError('SIZE', `packet length ${length} outside ${MIN_PACKET_BYTES}..${MAX_PACKET_BYTES}`);
  if ((offset | 0) !== offset || offset < 0) throw new CodecError('SIZE', `packet offset ${offset}`);
  if (offset + length > packet.length) throw new CodecError('SIZE', `packet length ${length} at ${offset} exceeds its buffer (${packet.length})`);
}

/**
 * The room an encode may use: `maxBytes` at `out[offset..]` (default: what is left
 * of `out`, at most MAX_PACKET_BYTES). Throws CodecError('SIZE') unless offset is an
 * integer >= 0 and the room is MIN_ENCODE_ROOM..MAX_PACKET_BYTES bytes inside `out`.
 */
export function checkPacketOut(out: Uint8Array, offset = 0, maxBytes = Math.min(MAX_PACKET_BYTES, out.length - offset)): number {
  if ((offset | 0) !== offset || offset < 0 || offset > out.length) throw new CodecError('SIZE', `packet offset ${offset} outside its buffer (${out.length})`);
  if ((maxBytes | 0) !== maxBytes || maxBytes < MIN_ENCODE_ROOM || maxBytes > MAX_PACKET_BYTES || offset + maxBytes > out.length)
    throw new CodecError('SIZE', `packet room ${maxBytes} bytes at ${offset} of ${out.length}, need ${MIN_ENCODE_ROOM}..${MAX_PACKET_BYTES} inside it`);
  return maxBytes;
}

/** Error code of any thrown value, for counters: CodecError/PortError code, else 'UNKNOWN'. */
export function errorCode(e: unknown): string {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : 'UNKNOWN';
}
