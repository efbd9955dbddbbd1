/**
 * FakeCodec: a portable CodecPort for tests and benches (no Opus). It costs a
 * handful of operations per frame, so a pipeline run with it measures the JS
 * core alone. Written by hand, with call counters and failure switches.
 *
 * Encoding: the packet carries the frame's first sample (big-endian i16) and an
 * 8-bit sequence number, padded to a length that cycles through 20..60 bytes
 * (about 16 kbps on average, and uneven so the packet ring wraps at odd offsets).
 * Decoding fills the whole frame with the carried sample. So a source whose
 * frames are constant (frame k filled with value k) comes out of
 * encode → decode unchanged, and any lost, duplicated or reordered frame shows.
 */
import type { CodecPort } from '../hal/ports.js';
import { checkPacket, checkPacketOut, checkPcmFrame, CodecError } from './codec-port.js';

export class FakeCodec implements CodecPort {
  /** Calls made (including ones that threw). */
  encodeCalls = 0;
  decodeCalls = 0;
  resets = 0;
  /** The next N encode / decode calls throw CodecError('ENCODE' / 'DECODE'). */
  failNextEncodes = 0;
  failNextDecodes = 0;
  /** When set, decode throws CodecError('DECODE') for packets whose first byte is this value. */
  corruptMarker: number | undefined;
  private seq = 0;
  private closed = false;

  /** Encodes pcm (FRAME_SAMPLES, lent) into out[offset..offset+maxBytes) (lent; see CodecPort.encode). Returns 20..60. */
  encode(pcm: Int16Array, out: Uint8Array, offset = 0, maxBytes?: number): number {
    this.encodeCalls++;
    if (this.closed) throw new CodecError('CLOSED', 'fake codec closed');
    checkPcmFrame(pcm);
    checkPacketOut(out, offset, maxBytes);
    if (this.failNextEncodes > 0) {
      this.failNextEncodes--;
      throw new CodecError('ENCODE', 'fake encode failure');
    }
    const length = 20 + (this.seq % 41);
    const v = pcm[0]! & 0xffff;
    out[offset] = v >> 8;
    out[offset + 1] = v & 0xff;
    out[offset + 2] = this.seq & 0xff;
    out.fill(0xa5, offset + 3, offset + length);
    this.seq++;
    return length;
  }

  /** Decodes packet[offset..offset + length) into out (FRAME_SAMPLES, lent). Returns FRAME_SAMPLES. */
  decode(packet: Uint8Array, length: number, out: Int16Array, offset = 0): number {
    this.decodeCalls++;
    if (this.closed) throw new CodecError('CLOSED', 'fake codec closed');
    checkPacket(packet, length, offset);
    checkPcmFrame(out, 'out');
    if (this.failNextDecodes > 0) {
      this.failNextDecodes--;
      throw new CodecError('DECODE', 'fake decode failure');
    }
    if (length < 3 || packet[offset] === this.corruptMarker) throw new CodecError('DECODE', 'fake decode: corrupt packet');
    const v = (packet[offset]! << 8) | packet[offset + 1]!;
    out.fill(v >= 0x8000 ? v - 0x10000 : v);
    return out.length;
  }

  reset(): void {
    this.resets++;
    this.seq = 0;
  }

  close(): void {
    this.closed = true;
  }
}
