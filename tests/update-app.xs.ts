/**
 * The whole toy takes a signed update (issue 14), on fakes, in XS and Node:
 * startPawPost with the update port, the relay's retained manifest and chunks on
 * the in-process broker, a paw press in the middle (the recording wins, the
 * download waits), the restart into the pending image, and its confirmation once
 * the new image reaches the broker.
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
  for (let i = 0; i < 10; i++) await Promise.resolve();
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
  rig.paw.press();
  rig.clock.advance(3000);
  rig.paw.release();
  const phone = new Phone(rig, 1);
  await phone.pair('Mum');
  // online: the manifest arrives and the download starts; press the paw after the first chunks
  for (let i = 0; i < 400 && rig.app.update!.client.bytesWritten < 2 * UPDATE_CHUNK_BYTES; i++) rig.clock.advance(5);
  t.true(rig.app.update!.client.bytesWritten >= 2 * UPDATE_CHUNK_BYTES, 'download under way');
  rig.paw.press();
  rig.clock.advance(50);
  t.is(rig.app.toy.state, 'recording');
  const during = rig.app.update!.client.bytesWritten;
  rig.clock.advance(1500);
  t.is(rig.app.update!.client.bytesWritten, during, 'the download waits while recording');
  rig.paw.release();
  rig.clock.advance(10_000);
  t.is(rig.app.toy.state, 'idle');
  t.is(rig.app.update!.client.phase, 'switched');
  t.true(rig.published().length > 0, 'the recording left');
  t.is(restarts, 1, 'restarted once idle');
  // power cycle into the new image
  flash.boot();
  rig.update = { ...update, runningVersion: imageVersion(flash.runningImage()) };
  t.deepEqual(rig.update.runningVersion, V020);
  rig.boot();
  t.is(rig.app.update!.bootOutcome, 'waiting');
  rig.clock.advance(3000);
  await settle();
  t.is(rig.app.update!.bootOutcome, 'confirmed');
  t.is(rig.app.update!.client.storedSecurityVersion(), 5);
  t.is(flash.confirms, 1);
});
