/**
 * Firmware delivery over the MQTT session (issue 14): the relay keeps the newest
 * signed manifest and the image's chunks as RETAINED messages on topics every toy
 * may read and none may write (broker/acl, docs/BROKER.md "Firmware updates");
 * the toy pulls the image one chunk at a time by subscribing to the next chunk's
 * topic (the broker hands over the retained chunk), writes it through
 * UpdateClient, unsubscribes, and asks for the next. RAM: one chunk
 * (UPDATE_CHUNK_BYTES) at a time; never the image.
 *
 * Topics (board may hold '/'; hash16 = first 8 bytes of the image's SHA-256, hex):
 *   pp/fw/<board>/manifest                  156-byte signed manifest (retained)
 *   pp/fw/<board>/img/<hash16>/<index>      chunk: u32 BE offset || up to 4096 bytes (retained)
 * index = offset / UPDATE_CHUNK_BYTES. The hash in the topic keeps chunks of two
 * releases apart; nothing in a chunk is trusted: the offset must match the index,
 * the bytes are hashed and compared with the signed manifest before the switch.
 *
 * Pauses: while the toy is busy (recording, playing, pairing) UpdateClient answers
 * BUSY and no chunk is requested; poll() resumes at the same offset. A dropped
 * connection: connectionLost() then poll() after reconnecting re-requests the chunk.
 * Portable; transport through UpdateTransport (the MQTT session on the toy).
 */
import type { Counters } from './counters.js';
import { UPDATE_MAX_CHUNK_BYTES, type UpdateClient } from './update-client.js';
import { manifestTopic } from './update-gate.js';

/** Chunk payload size the publisher uses (a chunk message is 4 + this, under the broker's 8 KB packet limit). */
export const UPDATE_CHUNK_BYTES = UPDATE_MAX_CHUNK_BYTES;

export { manifestTopic };

function hex8(sha: Uint8Array): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += (sha[i]! < 16 ? '0' : '') + sha[i]!.toString(16);
  return s;
}

export function chunkTopic(board: string, sha256: Uint8Array, index: number): string {
  return `pp/fw/${board}/img/${hex8(sha256)}/${index}`;
}

/** A chunk message: u32 BE offset || bytes. */
export function encodeChunk(offset: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  out[0] = offset >>> 24; out[1] = offset >>> 16; out[2] = offset >>> 8; out[3] = offset;
  out.set(bytes, 4);
  return out;
}

/** The toy's side of the transport. Both must not throw (the MQTT session queues). */
export interface UpdateTransport {
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
}

export interface UpdateDownloaderOptions {
  board: string;
  client: UpdateClient;
  transport: UpdateTransport;
  counters?: Counters;
  /** Called once the new image is switched: restart the toy when idle. Must not throw. */
  onReady?: () => void;
  /** Called with each refusal of a manifest, a chunk or the finished image (BUSY excepted). Must not throw. */
  onRefused?: (code: string) => void;
}

export class UpdateDownloader {
  private readonly o: UpdateDownloaderOptions;
  private outstanding: string | undefined;
  private started = false;

  constructor(o: UpdateDownloaderOptions) {
    this.o = o;
  }

  /** Subscribes to the manifest topic (call after every CONNACK). */
  start(): void {
    this.started = true;
    this.outstanding = undefined;
    this.safe(() => this.o.transport.subscribe(manifestTopic(this.o.board)));
  }

  /** The link dropped: the chunk in flight is asked for again on the next poll(). */
  connectionLost(): void {
    this.outstanding = undefined;
  }

  /** The chunk topic currently asked for, if any. */
  get waitingFor(): string | undefined {
    return this.outstanding;
  }

  private count(name: string): void {
    this.o.counters?.inc(name);
  }

  private safe(f: () => void): void {
    try {
      f();
    } catch {
      this.count('update.transport_failed');
    }
  }

  /** Moves the download on when it can (after a manifest, a chunk, a reconnect, or the toy becoming idle). */
  poll(): void {
    if (!this.started) return;
    const c = this.o.client;
    if (c.phase === 'offered') {
      if (c.begin() !== 'OK') return; // BUSY or IO: try again on the next poll
    }
    if (c.phase !== 'writing' || this.outstanding || c.busy()) return;
    const m = c.current!;
    if (c.bytesWritten >= m.imageSize) {
      this.complete();
      return;
    }
    const topic = chunkTopic(this.o.board, m.sha256, Math.floor(c.bytesWritten / UPDATE_CHUNK_BYTES));
    this.outstanding = topic;
    this.safe(() => this.o.transport.subscribe(topic));
  }

  private refused(r: string): void {
    if (r === 'OK' || r === 'BUSY') return;
    try {
      this.o.onRefused?.(r);
    } catch {
      this.count('update.callback_threw');
    }
  }

  private complete(): void {
    const r = this.o.client.finish();
    this.refused(r);
    if (r === 'OK') {
      this.count('update.ready');
      try {
        this.o.onReady?.();
      } catch {
        this.count('update.callback_threw');
      }
    }
  }

  /** Every message on an update topic. Never throws. */
  onMessage(topic: string, payload: Uint8Array): void {
    if (topic === manifestTopic(this.o.board)) {
      this.refused(this.o.client.offer(payload)); // refusals are counted by the client
      this.poll();
      return;
    }
    if (topic !== this.outstanding) {
      this.count('update.rx_unexpected');
      return;
    }
    this.outstanding = undefined;
    this.safe(() => this.o.transport.unsubscribe(topic));
    const c = this.o.client;
    if (payload.length < 5 || payload.length > 4 + UPDATE_CHUNK_BYTES) {
      this.count('update.rx_bad_chunk');
      return;
    }
    const offset = ((payload[0]! << 24) >>> 0) + ((payload[1]! << 16) | (payload[2]! << 8) | payload[3]!);
    if (offset !== c.bytesWritten || offset % UPDATE_CHUNK_BYTES !== 0) {
      this.count('update.rx_bad_chunk');
      return;
    }
    const r = c.write(offset, payload.subarray(4));
    this.refused(r);
    if (r === 'BUSY') return; // asked again on the next poll
    if (r !== 'OK') return; // counted by the client; the download was dropped (OVERFLOW, IO)
    this.poll();
  }
}
