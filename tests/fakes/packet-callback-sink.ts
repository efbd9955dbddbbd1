/**
 * A PacketSink for tests, tools and benches (tests/audio-loop.ts, tools/record-play-file.ts,
 * bench/xs/native-codec-entry.ts); the toy's sink is the sealer (src/toy-recorder.ts).
 * Kept out of audio/ so the firmware does not load it. Portable.
 */
import { MAX_PACKET_BYTES } from '../../audio/codec-port.js';
import type { PacketSink } from '../../audio/record-pipeline.js';

/**
 * Hands each packet to a callback (tests, tools, benches; the toy's
 * sink is the sealer, src/toy-recorder.ts). Its one 1,275-byte buffer is lent to the
 * encoder and then to `onPacket` (valid only during the call). `accept = false`
 * makes it skip frames.
 */
export class PacketCallbackSink implements PacketSink {
  readonly packetBuffer = new Uint8Array(MAX_PACKET_BYTES);
  readonly packetOffset = 0;
  /** Packets handed on, and their bytes. */
  packets = 0;
  bytes = 0;
  accept = true;
  constructor(private readonly onPacket: (packet: Uint8Array, length: number) => void) {}
  packetRoom(): number {
    return this.accept ? MAX_PACKET_BYTES : 0;
  }
  commitPacket(length: number): void {
    this.packets++;
    this.bytes += length;
    this.onPacket(this.packetBuffer, length);
  }
}
