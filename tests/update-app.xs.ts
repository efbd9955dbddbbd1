/**
 * The whole toy takes a signed update (issue 14), on fakes, in XS and Node:
 * startPawPost with the update port, the relay's retained manifest and chunks on
 * the in-process broker, a paw press in the middle (the recording wins, the
 * download waits), the restart into the pending image, and its confirmation once
 * the new image reaches the broker. The update modules load lazily (src/update-gate.ts):
 * only for a pending image or a manifest that announces a newer version.
 */
import { test } from './xs/harness.js';
import { AppRig, Phone } from './app-rig.js';
import { jsSha256, sha256 } from '../src/sha256.js';
import { chunkTopic, encodeChunk, manifestTopic, UPDATE_CHUNK_BYTES } from '../src/update-delivery.js';
import { FakeFlash } from './fakes/fake-update-slot.js';
import { BOARD, imageVersion, makeImage, releaseKey, signManifest, V010, V020 } from './update-rig.js';

const OLD = makeImage(V010, 3000);
const NEW = makeImage(V020, 6 * UPDATE_CHUNK_BYTES + 99);

const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

test('a paired toy downloads, waits for a recording, restarts idle, confirms the new image online', async (t) => {
  const flash = new FakeFlash(0x100000, OLD);
  flash.boot();
  let restarts = 0;
  const update = {
    board: BOARD, runningVersion: imageVersion(flash.runningImage()), releaseKeys: [releaseKey.publicKey],
    sha256: jsSha256, slot: flash.port(), restart: () => void restarts++,
  };
  const rig = new AppRig({ boot: false, update });
  const sha = sha256(NEW);
  rig.broker.retained.set(manifestTopic(BOARD), signManifest(NEW, { version: V020, securityVersion: 5 }));
  for (let o = 0, i = 0; o < NEW.length; o += UPDATE_CHUNK_BYTES, i++) rig.broker.retained.set(chunkTopic(BOARD, sha, i), encodeChunk(o, NEW.subarray(o, o + UPDATE_CHUNK_BYTES)));
  rig.boot();
  t.is(rig.app.update!.service, undefined, 'nothing pending, offline: the update modules are not loaded');
  rig.paw.press();
  rig.clock.advance(3000);
  rig.paw.release();
  const phone = new Phone(rig, 1);
  await phone.pair('Mum');
  // online: the manifest arrives, the gate loads the update modules, the download starts; press the paw after the first chunks
  const svc = () => rig.app.update!.service!;
  for (let i = 0; i < 400 && !(svc() && svc().client.bytesWritten >= 2 * UPDATE_CHUNK_BYTES); i++) {
    rig.clock.advance(5);
    await settle();
    await rig.app.update!.whenLoaded(); // a load under way: Node's import() takes more than microtasks
  }
  t.is(rig.app.counters.get('update.gate.loads'), 1, 'loaded once, for the newer manifest');
  t.true(svc().client.bytesWritten >= 2 * UPDATE_CHUNK_BYTES, 'download under way');
  rig.paw.press();
  rig.clock.advance(50);
  t.is(rig.app.toy.state, 'recording');
  const during = svc().client.bytesWritten;
  rig.clock.advance(1500);
  t.is(svc().client.bytesWritten, during, 'the download waits while recording');
  rig.paw.release();
  rig.clock.advance(10_000);
  t.is(rig.app.toy.state, 'idle');
  t.is(svc().client.phase, 'switched');
  t.true(rig.published().length > 0, 'the recording left');
  t.is(restarts, 1, 'restarted once idle');
  // power cycle into the new image
  flash.boot();
  rig.update = { ...update, runningVersion: imageVersion(flash.runningImage()) };
  t.deepEqual(rig.update.runningVersion, V020);
  rig.boot();
  await rig.app.update!.whenLoaded();
  t.is(svc().bootOutcome, 'waiting', 'the pending image loads the update modules at boot');
  rig.clock.advance(3000);
  await settle();
  t.is(svc().bootOutcome, 'confirmed');
  t.is(svc().client.storedSecurityVersion(), 5);
  t.is(flash.confirms, 1);
});

test('the update modules stay unloaded for an announcement that is not newer, or malformed', async (t) => {
  const flash = new FakeFlash(0x100000, NEW);
  flash.boot();
  const update = {
    board: BOARD, runningVersion: imageVersion(flash.runningImage()), releaseKeys: [releaseKey.publicKey],
    sha256: jsSha256, slot: flash.port(), restart: () => undefined,
  };
  const rig = new AppRig({ boot: false, update });
  // the relay keeps the current release (the one this toy runs) retained: the usual case at every connect
  rig.broker.retained.set(manifestTopic(BOARD), signManifest(NEW, { version: V020, securityVersion: 5 }));
  rig.boot();
  rig.paw.press();
  rig.clock.advance(3000);
  rig.paw.release();
  const phone = new Phone(rig, 1);
  await phone.pair('Mum');
  for (let i = 0; i < 100 && rig.app.counters.get('update.gate.ignored') === 0; i++) {
    rig.clock.advance(10);
    await settle();
  }
  t.is(rig.app.counters.get('update.gate.ignored'), 1, 'the same version: ignored without loading');
  rig.app.update!.onDirectMessage(manifestTopic(BOARD), new Uint8Array(155));
  rig.app.update!.onDirectMessage(manifestTopic(BOARD), new Uint8Array(156));
  t.is(rig.app.counters.get('update.refused.FORMAT'), 2, 'wrong length and wrong magic: refused as FORMAT');
  await settle();
  t.is(rig.app.counters.get('update.gate.loads'), 0);
  t.is(rig.app.update!.service, undefined);
});
