/**
 * UpdateService (src/update-service.ts), the piece app.ts wires: the boot health
 * check (broker reached in time, or roll back), downloads that wait while the toy
 * is busy, and a restart into the new image only when the toy is idle.
 */
import { test } from './xs/harness.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { jsSha256 } from '../src/sha256.js';
import { chunkTopic, encodeChunk, manifestTopic, UPDATE_CHUNK_BYTES } from '../src/update-delivery.js';
import { UpdateService } from '../src/update-service.js';
import { sha256 } from '../src/sha256.js';
import { ManualClock } from './fakes/manual-clock.js';
import { BOARD, imageVersion, makeImage, releaseKey, signManifest, UpdateToy, V010, V020 } from './update-rig.js';

const OLD = makeImage(V010, 3000);
const NEW = makeImage(V020, 3 * UPDATE_CHUNK_BYTES + 10);
const MANIFEST = signManifest(NEW, { version: V020, securityVersion: 4 });

const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

/** Retained topics; deliveries queued until pump(). */
class Retained {
  readonly map = new Map<string, Uint8Array>();
  queue: [string, Uint8Array][] = [];
  subscribe(t: string) {
    const m = this.map.get(t);
    if (m) this.queue.push([t, m]);
    return 'OK';
  }
  unsubscribe() {}
}

function world() {
  const toy = new UpdateToy(OLD, 0x100000);
  const clock = new ManualClock();
  const broker = new Retained();
  broker.map.set(manifestTopic(BOARD), MANIFEST);
  const sha = sha256(NEW);
  for (let o = 0, i = 0; o < NEW.length; o += UPDATE_CHUNK_BYTES, i++) broker.map.set(chunkTopic(BOARD, sha, i), encodeChunk(o, NEW.subarray(o, o + UPDATE_CHUNK_BYTES)));
  const w = {
    toy, clock, broker, state: 'idle', restarts: 0,
    svc: undefined as unknown as UpdateService,
    build() {
      w.svc = new UpdateService({
        board: BOARD, runningVersion: imageVersion(toy.flash.runningImage()), releaseKeys: [releaseKey.publicKey],
        crypto: naclCrypto, sha256: jsSha256, slot: toy.flash.port(), storage: toy.flash.storage(toy.nvs), clock,
        toyState: () => w.state, restart: () => void w.restarts++, healthTimeoutMs: 60_000,
      });
    },
    pump() {
      while (broker.queue.length) {
        const [t, p] = broker.queue.shift()!;
        w.svc.onDirectMessage(t, p);
      }
    },
  };
  w.build();
  return w;
}

test('download, restart when idle, pending boot confirmed once the broker is reached', async (t) => {
  const w = world();
  w.svc.start(true);
  await settle();
  t.is(w.svc.bootOutcome, 'normal');
  w.svc.onSessionState('online', w.broker);
  w.pump();
  t.is(w.svc.client.phase, 'switched');
  w.clock.advance(1);
  t.is(w.restarts, 1);
  // power on into the new image
  w.toy.flash.boot();
  w.build();
  w.svc.start(true);
  t.is(w.svc.bootOutcome, 'waiting');
  t.is(w.svc.client.storedSecurityVersion(), 0);
  w.svc.onSessionState('online', w.broker);
  await settle();
  t.is(w.svc.bootOutcome, 'confirmed');
  t.is(w.svc.client.storedSecurityVersion(), 4);
  t.true(imageVersion(w.toy.flash.runningImage()).minor === 2);
});

test('a pending image that never reaches the broker, or whose storage fails, rolls back', async (t) => {
  const w = world();
  t.is(w.toy.install(MANIFEST, NEW), 'OK');
  w.toy.flash.boot();
  w.build();
  w.svc.start(true);
  w.svc.onSessionState('waiting', undefined);
  w.clock.advance(60_001);
  await settle();
  t.is(w.svc.bootOutcome, 'rolled-back');
  t.is(w.toy.flash.rollbacks, 1);
  t.is(w.restarts, 1);
  w.toy.flash.boot();
  t.is(imageVersion(w.toy.flash.runningImage()).minor, 1, 'old image');

  const v = world();
  t.is(v.toy.install(MANIFEST, NEW), 'OK');
  v.toy.flash.boot();
  v.build();
  v.svc.start(false);
  await settle();
  t.is(v.svc.bootOutcome, 'rolled-back');
});

test('a busy toy: no chunk is asked for, and the restart waits for idle', (t) => {
  const w = world();
  const pump = (n: number) => {
    for (let i = 0; i < n && w.broker.queue.length; i++) {
      const [tp, p] = w.broker.queue.shift()!;
      w.svc.onDirectMessage(tp, p);
    }
  };
  w.svc.start(true);
  w.state = 'recording';
  w.svc.onSessionState('online', w.broker);
  pump(1);
  t.is(w.svc.client.phase, 'offered', 'checked, not begun');
  t.is(w.toy.flash.begins, 0);
  w.state = 'idle';
  w.svc.toyChanged();
  pump(1);
  t.is(w.svc.client.bytesWritten, UPDATE_CHUNK_BYTES);
  w.state = 'playing';
  pump(1); // chunk 1 arrives while playing: not written
  t.is(w.svc.client.bytesWritten, UPDATE_CHUNK_BYTES);
  w.svc.downloader.poll();
  w.svc.toyChanged();
  t.is(w.broker.queue.length, 0, 'nothing asked for while playing');
  w.state = 'idle';
  w.svc.toyChanged();
  pump(3);
  t.is(w.svc.client.phase, 'switched');
  w.state = 'recording'; // the paw is pressed before the restart
  w.clock.advance(1);
  t.is(w.restarts, 0, 'no restart while recording');
  w.state = 'idle';
  w.svc.toyChanged();
  w.clock.advance(1);
  t.is(w.restarts, 1);
});
