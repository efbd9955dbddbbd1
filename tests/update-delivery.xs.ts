/**
 * Delivery of a signed update as retained chunks (src/update-delivery.ts) over a
 * fake broker: the whole image arrives one bounded chunk at a time, pauses while
 * the toy is busy, resumes after a dropped connection, ignores forged and
 * misplaced chunks, and a corrupted chunk never boots.
 */
import { test } from './xs/harness.js';
import { chunkTopic, encodeChunk, manifestTopic, UpdateDownloader, UPDATE_CHUNK_BYTES, type UpdateTransport } from './../src/update-delivery.js';
import { sha256 } from '../src/sha256.js';
import { BOARD, makeImage, signManifest, UpdateToy, V010, V020 } from './update-rig.js';

const OLD = makeImage(V010, 5000);
const NEW = makeImage(V020, 3 * UPDATE_CHUNK_BYTES + 1234);
const MANIFEST = signManifest(NEW, { version: V020, securityVersion: 1 });

/** Retained messages and one subscriber; deliveries are queued, run by pump(). */
class FakeRetainedBroker implements UpdateTransport {
  readonly retained = new Map<string, Uint8Array>();
  readonly subscribed = new Set<string>();
  private queue: [string, Uint8Array][] = [];
  deliver: (topic: string, payload: Uint8Array) => void = () => {};
  online = true;
  subscribes = 0;
  largest = 0;

  subscribe(topic: string): void {
    this.subscribes++;
    this.subscribed.add(topic);
    const m = this.retained.get(topic);
    if (m && this.online) this.queue.push([topic, m]);
  }
  unsubscribe(topic: string): void {
    this.subscribed.delete(topic);
  }
  /** Runs queued deliveries; `limit` of them at most. */
  pump(limit = 1e9): number {
    let n = 0;
    while (this.queue.length && n < limit && this.online) {
      const [t, p] = this.queue.shift()!;
      this.largest = Math.max(this.largest, p.length);
      this.deliver(t, p);
      n++;
    }
    return n;
  }
  drop(): void {
    this.queue = [];
    this.subscribed.clear();
  }
}

function publishRelease(b: FakeRetainedBroker, image: Uint8Array, manifest: Uint8Array): void {
  b.retained.set(manifestTopic(BOARD), manifest);
  const sha = sha256(image);
  for (let off = 0, i = 0; off < image.length; off += UPDATE_CHUNK_BYTES, i++) {
    b.retained.set(chunkTopic(BOARD, sha, i), encodeChunk(off, image.subarray(off, off + UPDATE_CHUNK_BYTES)));
  }
}

function rig() {
  const toy = new UpdateToy(OLD);
  const broker = new FakeRetainedBroker();
  let ready = 0;
  const dl = new UpdateDownloader({ board: BOARD, client: toy.client, transport: broker, onReady: () => void ready++ });
  broker.deliver = (t, p) => dl.onMessage(t, p);
  return { toy, broker, dl, ready: () => ready };
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

test('the retained manifest starts a chunked download; the image installs and boots', async (t) => {
  const { toy, broker, dl, ready } = rig();
  publishRelease(broker, NEW, MANIFEST);
  dl.start();
  broker.pump();
  t.is(ready(), 1);
  t.is(toy.client.phase, 'switched');
  t.true(broker.largest <= 4 + UPDATE_CHUNK_BYTES, 'bounded chunk');
  t.is(broker.subscribed.size, 1, 'only the manifest topic stays subscribed');
  t.is(await toy.reboot(true), 'confirmed');
  t.true(same(toy.flash.runningImage(), NEW));
});

test('a busy toy pauses the download; a dropped connection resumes it at the same offset', async (t) => {
  const { toy, broker, dl, ready } = rig();
  publishRelease(broker, NEW, MANIFEST);
  dl.start();
  broker.pump(2); // manifest, first chunk
  t.is(toy.client.bytesWritten, UPDATE_CHUNK_BYTES);
  toy.busy = true; // the paw is pressed: the next chunk arrives but is not written
  broker.pump();
  t.is(toy.client.bytesWritten, UPDATE_CHUNK_BYTES);
  t.is(dl.waitingFor, undefined, 'nothing asked for while busy');
  const asked = broker.subscribes;
  dl.poll();
  broker.pump();
  t.is(toy.client.bytesWritten, UPDATE_CHUNK_BYTES);
  t.is(broker.subscribes, asked, 'poll asks for nothing while busy');
  toy.busy = false;
  dl.poll();
  broker.pump(1);
  t.is(toy.client.bytesWritten, 2 * UPDATE_CHUNK_BYTES);
  // the link drops with a request in flight
  broker.online = false;
  dl.poll();
  broker.drop();
  dl.connectionLost();
  broker.online = true;
  dl.start(); // after CONNACK: the manifest again (same offer, progress kept), then the next chunk
  broker.pump();
  t.is(ready(), 1);
  t.is(toy.flash.begins, 1, 'resumed, not restarted');
  t.is(await toy.reboot(true), 'confirmed');
  t.true(same(toy.flash.runningImage(), NEW));
});

test('forged, misplaced and corrupted chunks: counted, never written out of place, never boot', async (t) => {
  const { toy, broker, dl, ready } = rig();
  publishRelease(broker, NEW, MANIFEST);
  const sha = sha256(NEW);
  // chunk 1 claims offset 0 (a replayed chunk under another index)
  broker.retained.set(chunkTopic(BOARD, sha, 1), encodeChunk(0, NEW.subarray(0, UPDATE_CHUNK_BYTES)));
  const counters = toy.client.counters;
  const dl2 = new UpdateDownloader({ board: BOARD, client: toy.client, transport: broker, counters });
  broker.deliver = (tp, p) => dl2.onMessage(tp, p);
  dl2.start();
  broker.pump();
  t.is(toy.client.bytesWritten, UPDATE_CHUNK_BYTES, 'stopped at the bad chunk');
  t.is(counters.get('update.rx_bad_chunk'), 1);
  dl2.onMessage(chunkTopic(BOARD, sha, 2), encodeChunk(2 * UPDATE_CHUNK_BYTES, new Uint8Array(10)));
  t.is(counters.get('update.rx_unexpected'), 1, 'a chunk nobody asked for');
  dl2.onMessage(`pp/fw/${BOARD}/img/x/1`, new Uint8Array(3));
  t.is(counters.get('update.rx_unexpected'), 2);
  // the relay fixes chunk 1 but chunk 2's bytes are corrupted: the hash catches it at the end
  broker.retained.set(chunkTopic(BOARD, sha, 1), encodeChunk(UPDATE_CHUNK_BYTES, NEW.subarray(UPDATE_CHUNK_BYTES, 2 * UPDATE_CHUNK_BYTES)));
  const bad = NEW.slice(2 * UPDATE_CHUNK_BYTES, 3 * UPDATE_CHUNK_BYTES);
  bad[7]! ^= 0x40;
  broker.retained.set(chunkTopic(BOARD, sha, 2), encodeChunk(2 * UPDATE_CHUNK_BYTES, bad));
  dl2.poll();
  broker.pump();
  t.is(counters.get('update.refused.HASH'), 1);
  t.is(toy.flash.switches, 0);
  t.is(ready(), 0);
  t.is(await toy.reboot(true), 'normal');
  t.true(same(toy.flash.runningImage(), OLD));
  void dl;
});

test('a forged manifest on the topic is refused and nothing is requested', (t) => {
  const { toy, broker, dl } = rig();
  const forged = MANIFEST.slice();
  forged[100]! ^= 1;
  publishRelease(broker, NEW, forged);
  dl.start();
  broker.pump();
  t.is(toy.client.counters.get('update.refused.SIGNATURE'), 1);
  t.is(broker.subscribes, 1, 'only the manifest topic');
  t.is(toy.flash.begins, 0);
});
