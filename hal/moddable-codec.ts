/**
 * CodecPort on the device: libopus bound natively (hal/native/opus-codec.c,
 * native("xs_opus_*")). Format: 16 kHz mono, OPUS_APPLICATION_VOIP, 16 kbps
 * VBR, 20 ms frames of FRAME_SAMPLES (320) samples, packets 1..1275 bytes.
 * In the simulator the same functions are implemented on @evan/opus
 * (sim/moddable/native.ts), so this file runs unchanged there.
 *
 * Memory: the encoder and decoder state live in one C block (malloc, outside
 * the XS chunk heap; libopus 1.3.1 on x86-64: 43,572 + 18,228 bytes), made
 * once in the constructor, freed by close() (or by the host object's
 * destructor when dropped unclosed). encode/decode allocate nothing: the PCM
 * frame and the packet buffer are lent by the caller and never kept (encode
 * writes at an offset of a lent buffer: the record pipeline lends the sealer's plaintext tail).
 *
 * Errors (CodecError, audio/codec-port.ts): SIZE for a wrong frame length, a
 * packet buffer under 1275 bytes or a packet length outside 1..1275 or beyond
 * its buffer; ENCODE / DECODE when libopus fails (the message carries the
 * libopus error code, e.g. "opus_decode: -4 (corrupted stream)"); CONFIG when
 * the codec cannot be created; CLOSED after close(). The codec stays usable
 * after an ENCODE/DECODE error. close() is idempotent.
 */
import { FRAME_SAMPLES, SAMPLE_RATE_HZ, type CodecPort } from './ports.js';
import { checkPacket, checkPacketOut, checkPcmFrame, CodecError, OPUS_BITRATE_BPS } from '../audio/codec-port.js';

// XS binds a host function by name; `native` is a keyword of the XS parser
// (not a global), so it is declared here for tsc and erased from the output.
declare function native(name: string): (...args: unknown[]) => unknown;

/** Opaque handle of the C codec state (a host object). */
type OpusHandle = object;

const opusCreate = native('xs_opus_create') as (sampleRate: number, bitrate: number, complexity: number) => OpusHandle;
const opusEncode = native('xs_opus_encode') as (
  h: OpusHandle,
  pcm: ArrayBufferLike,
  pcmByteOffset: number,
  samples: number,
  packet: Uint8Array,
  packetOffset: number,
  maxBytes: number,
) => number;
const opusDecode = native('xs_opus_decode') as (
  h: OpusHandle,
  packet: Uint8Array,
  length: number,
  pcm: ArrayBufferLike,
  pcmByteOffset: number,
  samples: number,
  packetOffset: number,
) => number;
const opusReset = native('xs_opus_reset') as (h: OpusHandle) => void;
const opusClose = native('xs_opus_close') as (h: OpusHandle) => void;

export interface ModdableOpusCodecOptions {
  /** Bits per second (default OPUS_BITRATE_BPS, 16000). */
  bitrate?: number;
  /** Encoder complexity 0..10 (default: libopus' own). Lower costs less CPU on the ESP32. */
  complexity?: number;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class ModdableOpusCodec implements CodecPort {
  /** Packets encoded / decoded, and the encoded bytes (for counters and tests). */
  encoded = 0;
  encodedBytes = 0;
  decoded = 0;
  private handle: OpusHandle | undefined;

  constructor(opts: ModdableOpusCodecOptions = {}) {
    const bitrate = opts.bitrate ?? OPUS_BITRATE_BPS;
    const complexity = opts.complexity ?? -1;
    if ((bitrate | 0) !== bitrate || bitrate < 500 || bitrate > 512000) throw new CodecError('CONFIG', `bitrate ${bitrate} outside 500..512000`);
    if ((complexity | 0) !== complexity || complexity < -1 || complexity > 10) throw new CodecError('CONFIG', `complexity ${complexity} outside 0..10`);
    try {
      this.handle = opusCreate(SAMPLE_RATE_HZ, bitrate, complexity);
    } catch (e) {
      throw new CodecError('CONFIG', `opus codec could not be created: ${message(e)}`);
    }
  }

  /** See CodecPort.encode: the packet is written at out[offset..], at most maxBytes (libopus' max_data_bytes). */
  encode(pcm: Int16Array, out: Uint8Array, offset = 0, maxBytes?: number): number {
    const h = this.handle;
    if (h === undefined) throw new CodecError('CLOSED', 'codec closed');
    if (!(pcm instanceof Int16Array)) throw new CodecError('SIZE', 'pcm must be an Int16Array');
    if (!(out instanceof Uint8Array)) throw new CodecError('SIZE', 'out must be a Uint8Array');
    checkPcmFrame(pcm);
    const room = checkPacketOut(out, offset, maxBytes);
    let n: number;
    try {
      n = opusEncode(h, pcm.buffer, pcm.byteOffset, FRAME_SAMPLES, out, offset, room);
    } catch (e) {
      throw new CodecError('ENCODE', `opus encode failed: ${message(e)}`);
    }
    this.encoded++;
    this.encodedBytes += n;
    return n;
  }

  decode(packet: Uint8Array, length: number, out: Int16Array, offset = 0): number {
    const h = this.handle;
    if (h === undefined) throw new CodecError('CLOSED', 'codec closed');
    if (!(packet instanceof Uint8Array)) throw new CodecError('SIZE', 'packet must be a Uint8Array');
    if (!(out instanceof Int16Array)) throw new CodecError('SIZE', 'out must be an Int16Array');
    checkPacket(packet, length, offset);
    checkPcmFrame(out, 'out');
    let n: number;
    try {
      n = opusDecode(h, packet, length, out.buffer, out.byteOffset, FRAME_SAMPLES, offset);
    } catch (e) {
      throw new CodecError('DECODE', `opus decode failed: ${message(e)}`);
    }
    // a valid packet of another duration (e.g. 10 ms) would leave part of the frame stale
    if (n !== FRAME_SAMPLES) throw new CodecError('DECODE', `opus decoded ${n} samples, expected ${FRAME_SAMPLES}`);
    this.decoded++;
    return n;
  }

  /** Resets encoder and decoder state between messages. A no-op after close(). */
  reset(): void {
    const h = this.handle;
    if (h === undefined) return;
    try {
      opusReset(h);
    } catch (e) {
      throw new CodecError('CONFIG', `opus reset failed: ${message(e)}`);
    }
  }

  /** Frees the native state at once. Idempotent. */
  close(): void {
    const h = this.handle;
    if (h === undefined) return;
    this.handle = undefined;
    opusClose(h);
  }
}
