/**
 * The host CodecPort: Opus through @evan/opus (native libopus binding for
 * linux/macos/windows x64/arm64; the package falls back to its own wasm build by
 * itself when the native one cannot load, or when OPUS_FORCE_WASM is set).
 * Format: 16 kHz mono, VOIP application, 16 kbps (VBR), 20 ms frames.
 *
 * Host only (Node). The device binds libopus natively behind the same port.
 * The library returns a new buffer per call; this adapter copies it into the
 * caller's lent buffer, so callers see the port's no-allocation contract (the
 * allocation stays inside the host library).
 * Errors: CodecError SIZE (bad buffer sizes or packet length), ENCODE/DECODE
 * (libopus refused the input, e.g. a corrupt packet), CONFIG, CLOSED. Codec state
 * stays usable after an error.
 */
import { Decoder, Encoder } from '@evan/opus';
import { FRAME_SAMPLES, SAMPLE_RATE_HZ, type CodecPort } from '../hal/ports.js';
import { checkPacket, checkPacketOut, checkPcmFrame, CodecError, OPUS_BITRATE_BPS } from '../audio/codec-port.js';

export interface OpusCodecHostOptions {
  /** Bits per second (default 16000). */
  bitrate?: number;
  /** Encoder complexity 0..10 (default: the library's, 9). */
  complexity?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
}

export class OpusCodecHost implements CodecPort {
  /** Packets encoded / decoded, and their bytes. */
  encoded = 0;
  encodedBytes = 0;
  decoded = 0;
  private enc: Encoder;
  private dec: Decoder;
  private closed = false;
  private outView: Uint8Array | undefined;
  private outFor: Int16Array | undefined;
  private readonly bitrate: number;
  private readonly complexity: OpusCodecHostOptions['complexity'];

  constructor(opts: OpusCodecHostOptions = {}) {
    this.bitrate = opts.bitrate ?? OPUS_BITRATE_BPS;
    this.complexity = opts.complexity;
    [this.enc, this.dec] = this.make();
  }

  private make(): [Encoder, Decoder] {
    try {
      const enc = new Encoder({ channels: 1, sample_rate: SAMPLE_RATE_HZ, application: 'voip' });
      enc.bitrate = this.bitrate;
      if (this.complexity !== undefined) enc.complexity = this.complexity;
      const dec = new Decoder({ channels: 1, sample_rate: SAMPLE_RATE_HZ });
      return [enc, dec];
    } catch (e) {
      throw new CodecError('CONFIG', `opus codec could not be created: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** See CodecPort.encode. @evan/opus has no packet size cap: a packet over maxBytes throws ENCODE (at 16 kbps, about 40 bytes of 256 or more). */
  encode(pcm: Int16Array, out: Uint8Array, offset = 0, maxBytes?: number): number {
    if (this.closed) throw new CodecError('CLOSED', 'codec closed');
    checkPcmFrame(pcm);
    const room = checkPacketOut(out, offset, maxBytes);
    let packet: Uint8Array;
    try {
      packet = this.enc.encode(pcm);
    } catch (e) {
      throw new CodecError('ENCODE', `opus encode failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (packet.length < 1 || packet.length > room) throw new CodecError('ENCODE', `opus packet of ${packet.length} bytes, room ${room}`);
    out.set(packet, offset);
    this.encoded++;
    this.encodedBytes += packet.length;
    return packet.length;
  }

  decode(packet: Uint8Array, length: number, out: Int16Array, offset = 0): number {
    if (this.closed) throw new CodecError('CLOSED', 'codec closed');
    checkPacket(packet, length, offset);
    checkPcmFrame(out, 'out');
    let bytes: Uint8Array;
    try {
      bytes = this.dec.decode(offset === 0 && length === packet.length ? packet : packet.subarray(offset, offset + length));
    } catch (e) {
      throw new CodecError('DECODE', `opus decode failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (bytes.length !== FRAME_SAMPLES * 2) throw new CodecError('DECODE', `opus decoded ${bytes.length / 2} samples, expected ${FRAME_SAMPLES}`);
    if (this.outFor !== out) {
      this.outFor = out;
      this.outView = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    }
    this.outView!.set(bytes);
    this.decoded++;
    return FRAME_SAMPLES;
  }

  reset(): void {
    if (this.closed) return;
    this.enc.reset();
    this.dec.reset();
  }

  close(): void {
    this.closed = true;
    this.outFor = undefined;
    this.outView = undefined;
  }
}
