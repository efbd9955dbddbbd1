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

/** Throws CodecError('SIZE') unless `out` can hold the largest packet. */
export function checkPacketOut(out: Uint8Array): void {
  if (out.length < MAX_PACKET_BYTES) throw new CodecError('SIZE', `packet buffer ${out.length} bytes, need ${MAX_PACKET_BYTES}`);
}

/** Error code of any thrown value, for counters: CodecError/PortError code, else 'UNKNOWN'. */
export function errorCode(e: unknown): string {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : 'UNKNOWN';
}
