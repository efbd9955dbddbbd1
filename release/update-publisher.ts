/**
 * Publishes a signed release to the relay (issue 14): every image chunk as a
 * retained QoS 1 message, THEN the manifest (retained), so a toy that sees the
 * manifest always finds its chunks. Topics and chunk format: src/update-delivery.ts.
 * Runs on the release host as the broker account `pp-release`, the only account
 * the ACL lets write pp/fw/# (docs/BROKER.md "Firmware updates").
 *
 * Not done: removing the previous release's retained chunks (publish an empty
 * retained payload on each of its topics); they stay until then.
 */
import mqtt from 'mqtt';
import { chunkTopic, encodeChunk, manifestTopic, UPDATE_CHUNK_BYTES } from '../src/update-delivery.js';
import { parseManifest } from '../src/update-manifest.js';

export interface PublishOptions {
  /** mqtt:// or mqtts:// URL of the broker. */
  url: string;
  username: string;
  /** Never logged. */
  password: string;
  /** Extra options for mqtt.connect (TLS CA, etc.). */
  connect?: mqtt.IClientOptions;
}

/** Publishes `image` and its signed `manifest`. Returns the number of chunks. Throws on a malformed manifest or a size mismatch. */
export async function publishRelease(image: Uint8Array, manifest: Uint8Array, o: PublishOptions): Promise<{ chunks: number; board: string }> {
  const m = parseManifest(manifest);
  if (m === 'FORMAT') throw new Error('not an update manifest');
  if (m.imageSize !== image.length) throw new Error('image size differs from the manifest');
  const client = await mqtt.connectAsync(o.url, {
    username: o.username, password: o.password, clientId: o.username, protocolVersion: 4, clean: true, reconnectPeriod: 0, ...o.connect,
  });
  try {
    let chunks = 0;
    for (let off = 0, i = 0; off < image.length; off += UPDATE_CHUNK_BYTES, i++, chunks++) {
      const payload = encodeChunk(off, image.subarray(off, Math.min(image.length, off + UPDATE_CHUNK_BYTES)));
      await client.publishAsync(chunkTopic(m.board, m.sha256, i), Buffer.from(payload), { qos: 1, retain: true });
    }
    await client.publishAsync(manifestTopic(m.board), Buffer.from(manifest), { qos: 1, retain: true });
    return { chunks, board: m.board };
  } finally {
    await client.endAsync();
  }
}
