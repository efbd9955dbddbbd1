/**
 * Firmware update (issue 14): every bad input the issue names is refused, and a
 * power cut at any step of write, switch and confirm leaves a toy that boots a
 * complete, verified image. Runs inside XS and under Node (portable-in-node).
 */
import { test } from './xs/harness.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { jsSha256, sha256 } from '../src/sha256.js';
import { PENDING_KEY, SECURITY_VERSION_KEY, UPDATE_MAX_CHUNK_BYTES } from '../src/update-client.js';
import { MANIFEST_BYTES, parseManifest, verifyManifest } from '../src/update-manifest.js';
import { factoryReset } from '../src/factory-reset.js';
import { imageVersion, makeImage, otherKey, releaseKey, signManifest, UpdateToy, V010, V020, V030 } from './update-rig.js';

const OLD = makeImage(V010, 9000);
const NEW = makeImage(V020, 10_000);
const GOOD = signManifest(NEW, { version: V020, securityVersion: 2 });

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function secver(toy: UpdateToy): number {
  return toy.client.storedSecurityVersion();
}

test('sha256 matches the FIPS 180-4 examples, one-shot and streamed', (t) => {
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  t.is(hex(sha256(new Uint8Array(0))), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  const abc = new Uint8Array([0x61, 0x62, 0x63]);
  t.is(hex(sha256(abc)), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const two = 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq';
  const b = new Uint8Array(two.length);
  for (let i = 0; i < two.length; i++) b[i] = two.charCodeAt(i);
  const s = jsSha256.create();
  for (let i = 0; i < b.length; i += 5) s.update(b.subarray(i, i + 5));
  t.is(hex(s.digest()), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  t.is(hex(sha256(b)), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
});

test('a good update: pending boot, health check, confirm, then the security version is stored', async (t) => {
  const toy = new UpdateToy(OLD);
  t.is(toy.install(GOOD, NEW), 'OK');
  t.is(toy.flash.switches, 1);
  t.is(secver(toy), 0, 'not stored before confirmation');
  t.is(await toy.reboot(true), 'confirmed');
  t.true(same(toy.flash.runningImage(), NEW));
  t.is(secver(toy), 2);
  t.is(toy.nvs.read(PENDING_KEY), undefined, 'record dropped');
  t.is(await toy.reboot(true), 'normal', 'stays on the new image');
  t.true(same(toy.flash.runningImage(), NEW));
});

test('wrong signature, wrong key, unknown key id: refused before a byte is written', (t) => {
  const toy = new UpdateToy(OLD);
  const flipped = GOOD.slice();
  flipped[MANIFEST_BYTES - 1]! ^= 1;
  t.is(toy.client.offer(flipped), 'SIGNATURE');
  const body = GOOD.slice();
  body[60]! ^= 1; // the hash field: the signature no longer covers it
  t.is(toy.client.offer(body), 'SIGNATURE');
  t.is(toy.client.offer(signManifest(NEW, { version: V020, securityVersion: 2, secretKey: otherKey.secretKey })), 'SIGNATURE');
  t.is(toy.client.offer(signManifest(NEW, { version: V020, securityVersion: 2, keyId: 1 })), 'KEY');
  t.is(toy.client.begin(), 'STATE', 'nothing offered');
  t.is(toy.flash.begins, 0);
  t.is(toy.client.counters.get('update.refused.SIGNATURE'), 3);
  t.is(toy.client.counters.get('update.refused.KEY'), 1);
});

test('wrong board, oversized image, malformed manifests: typed refusals, never a throw', (t) => {
  const toy = new UpdateToy(OLD, 16 * 1024);
  t.is(toy.client.offer(signManifest(NEW, { version: V020, securityVersion: 2, board: 'esp32/other_board' })), 'BOARD');
  const big = makeImage(V020, 16 * 1024 + 1);
  t.is(toy.client.offer(signManifest(big, { version: V020, securityVersion: 2 })), 'SIZE');
  t.is(toy.client.offer(new Uint8Array(0)), 'FORMAT');
  t.is(toy.client.offer(GOOD.subarray(0, MANIFEST_BYTES - 1)), 'FORMAT');
  const magic = GOOD.slice();
  magic[0] = 0;
  t.is(toy.client.offer(magic), 'FORMAT');
  const hugeSize = GOOD.slice();
  hugeSize[52] = 0xff; // 4 GB image
  t.is(toy.client.offer(hugeSize), 'FORMAT');
  // single-byte mutations across the whole manifest (every 5th byte, and the last) are refused, and none throws
  let refused = 0;
  let tried = 0;
  for (let i = 0; i < MANIFEST_BYTES; i = i + 5 > MANIFEST_BYTES - 1 && i !== MANIFEST_BYTES - 1 ? MANIFEST_BYTES - 1 : i + 5) {
    tried++;
    const m = GOOD.slice();
    m[i]! ^= 0x10;
    const r = new UpdateToy(OLD).client.offer(m);
    if (r !== 'OK') refused++;
  }
  t.is(refused, tried);
  t.true(tried > 30);
  t.is(toy.flash.begins, 0);
});

test('downgrade (lower security version) and a replayed older release are refused', async (t) => {
  const toy = new UpdateToy(OLD);
  t.is(toy.install(GOOD, NEW), 'OK');
  await toy.reboot(true);
  t.is(secver(toy), 2);
  // a newer firmware version signed with a lower security version
  const v3 = makeImage(V030, 8000);
  t.is(toy.client.offer(signManifest(v3, { version: V030, securityVersion: 1 })), 'DOWNGRADE');
  // the genuine, correctly signed 0.1.0 manifest replayed (same security version 2 would still be older)
  t.is(toy.client.offer(signManifest(OLD, { version: V010, securityVersion: 2 })), 'STALE');
  t.is(toy.client.offer(signManifest(OLD, { version: V010, securityVersion: 0 })), 'DOWNGRADE');
  t.is(toy.client.offer(GOOD), 'STALE', 'the release now running, replayed');
  t.is(toy.flash.begins, 1, 'only the good update opened the slot');
});

test('truncated and corrupted images never switch; the old image keeps booting', async (t) => {
  const toy = new UpdateToy(OLD);
  t.is(toy.client.offer(GOOD), 'OK');
  t.is(toy.client.begin(), 'OK');
  t.is(toy.client.write(0, NEW.subarray(0, 4000)), 'OK');
  t.is(toy.client.finish(), 'TRUNCATED');
  const bad = NEW.slice();
  bad[5000]! ^= 0x01;
  const toy2 = new UpdateToy(OLD);
  t.is(toy2.install(GOOD, bad), 'HASH');
  t.is(toy2.flash.switches, 0);
  t.is(toy2.client.phase, 'idle');
  t.is(await toy2.reboot(true), 'normal');
  t.true(same(toy2.flash.runningImage(), OLD));
  // more bytes than the manifest says
  const toy3 = new UpdateToy(OLD);
  t.is(toy3.client.offer(GOOD), 'OK');
  t.is(toy3.client.begin(), 'OK');
  t.is(toy3.client.write(0, NEW.subarray(0, 4000)), 'OK');
  t.is(toy3.client.write(4000, NEW.subarray(0, 4000)), 'OK');
  t.is(toy3.client.write(8000, new Uint8Array(UPDATE_MAX_CHUNK_BYTES + 1)), 'SIZE', 'a chunk over the bound');
  t.is(toy3.client.write(8000, makeImage(V020, 2001)), 'OVERFLOW');
  t.is(toy3.client.phase, 'idle');
});

test('a dropped connection resumes at bytesWritten or restarts at 0; a wrong offset is refused', async (t) => {
  const toy = new UpdateToy(OLD);
  t.is(toy.client.offer(GOOD), 'OK');
  t.is(toy.client.begin(), 'OK');
  t.is(toy.client.write(0, NEW.subarray(0, 3000)), 'OK');
  // the link drops; the same announcement arrives again: progress is kept
  t.is(toy.client.offer(GOOD), 'OK');
  t.is(toy.client.bytesWritten, 3000);
  t.is(toy.client.write(2000, NEW.subarray(2000, 3000)), 'OFFSET', 'a repeated chunk');
  t.is(toy.client.write(4000, NEW.subarray(4000, 5000)), 'OFFSET', 'a gap');
  t.is(toy.client.write(3000, NEW.subarray(3000, 7000)), 'OK', 'resumed');
  // the server restarts from 0 instead
  t.is(toy.client.write(0, NEW.subarray(0, 4096)), 'OK');
  t.is(toy.flash.begins, 2);
  for (let o = 4096; o < NEW.length; o += 4096) t.is(toy.client.write(o, NEW.subarray(o, o + 4096)), 'OK');
  t.is(toy.client.finish(), 'OK');
  t.is(await toy.reboot(true), 'confirmed');
  t.true(same(toy.flash.runningImage(), NEW));
});

test('a flash write failure aborts the download; the toy still boots the old image', async (t) => {
  const toy = new UpdateToy(OLD);
  t.is(toy.client.offer(GOOD), 'OK');
  t.is(toy.client.begin(), 'OK');
  toy.flash.failNextWrite = true;
  t.is(toy.client.write(0, NEW.subarray(0, 1000)), 'IO');
  t.is(toy.client.phase, 'idle');
  t.is(await toy.reboot(true), 'normal');
  t.true(same(toy.flash.runningImage(), OLD));
  t.is(toy.install(GOOD, NEW), 'OK', 'a later attempt succeeds');
});

test('a new image that fails its health check rolls back; so does a crash before confirmation', async (t) => {
  const toy = new UpdateToy(OLD);
  t.is(toy.install(GOOD, NEW), 'OK');
  t.is(await toy.reboot(false), 'rolled-back');
  t.true(toy.flash.restartRequested);
  t.is(await toy.reboot(true), 'normal');
  t.true(same(toy.flash.runningImage(), OLD));
  t.is(secver(toy), 0, 'security version untouched');
  t.is(toy.nvs.read(PENDING_KEY), undefined, 'stale record dropped by the old image');

  const toy2 = new UpdateToy(OLD);
  t.is(toy2.install(GOOD, NEW), 'OK');
  toy2.flash.boot(); // the new image boots pending and crashes before bootCheck
  t.true(same(toy2.flash.runningImage(), NEW));
  t.is(await toy2.reboot(true), 'normal');
  t.true(same(toy2.flash.runningImage(), OLD), 'bootloader rolled back');
  t.is(secver(toy2), 0);
});

test('never while recording, playing or pairing: begin and chunks wait, nothing is written', (t) => {
  const toy = new UpdateToy(OLD);
  t.is(toy.client.offer(GOOD), 'OK', 'a manifest may be checked');
  toy.busy = true;
  t.is(toy.client.begin(), 'BUSY');
  t.is(toy.flash.begins, 0);
  toy.busy = false;
  t.is(toy.client.begin(), 'OK');
  t.is(toy.client.write(0, NEW.subarray(0, 1000)), 'OK');
  toy.busy = true; // the paw is pressed mid-download
  t.is(toy.client.write(1000, NEW.subarray(1000, 2000)), 'BUSY');
  t.is(toy.flash.writes, 1);
  toy.busy = false;
  t.is(toy.client.write(1000, NEW.subarray(1000, 2000)), 'OK', 'resumes where it stopped');
});

test('a power cut at every step of write, switch and confirm: the toy always boots a complete, verified image', async (t) => {
  UpdateToy.memoVerify = true;
  const verified = (img: Uint8Array) => same(img, OLD) || same(img, NEW);
  // how many steps a clean update and its confirmation take
  const probe = new UpdateToy(OLD);
  const s0 = probe.flash.steps;
  t.is(probe.install(GOOD, NEW, 2500), 'OK');
  await probe.reboot(true);
  const total = probe.flash.steps - s0;
  t.true(total >= 9, `steps ${total}`);
  let sawOld = 0;
  let sawNew = 0;
  for (let cut = 0; cut < total; cut++) {
    const toy = new UpdateToy(OLD);
    toy.flash.cutAfter = cut;
    const r = toy.install(GOOD, NEW, 2500);
    if (r === 'OK') {
      // the cut falls in the boot after the switch: at bootCheck (confirm, security version, record)
      toy.flash.boot();
      toy.build();
      toy.flash.cutAfter = cut - (toy.flash.steps - s0);
      if (toy.flash.cutAfter < 0) toy.flash.cutAfter = 0;
      await toy.client.bootCheck(() => true);
    } else {
      t.is(r, 'IO', `cut ${cut}: ${r}`);
    }
    // power returns, possibly several times
    for (let b = 0; b < 3; b++) {
      await toy.reboot(true);
      t.true(verified(toy.flash.runningImage()), `cut ${cut}, boot ${b}: a verified image`);
    }
    const running = toy.flash.runningImage();
    const sv = secver(toy);
    if (same(running, NEW)) {
      sawNew++;
      t.is(sv, 2, `cut ${cut}: new image confirmed, security version settled`);
    } else {
      sawOld++;
      t.is(sv, 0, `cut ${cut}: old image, security version unchanged`);
      t.is(toy.install(GOOD, NEW, 2500), 'OK', `cut ${cut}: a retry installs`);
      await toy.reboot(true);
      t.true(same(toy.flash.runningImage(), NEW), `cut ${cut}: retry boots new`);
      t.is(secver(toy), 2);
    }
    t.is(toy.nvs.read(PENDING_KEY), undefined, `cut ${cut}: no record left`);
  }
  UpdateToy.memoVerify = false;
  t.true(sawOld > 0 && sawNew > 0, `old ${sawOld} new ${sawNew}`);
});

test('the stored security version only rises and is only written after confirm', async (t) => {
  const toy = new UpdateToy(OLD);
  const v3img = makeImage(V030, 5000);
  t.is(toy.install(GOOD, NEW), 'OK');
  t.is(toy.nvs.read(SECURITY_VERSION_KEY), undefined);
  await toy.reboot(true);
  t.is(secver(toy), 2);
  // 0.3.0 with the same security version 2: allowed, does not change the stored value
  t.is(toy.install(signManifest(v3img, { version: V030, securityVersion: 2 }), v3img), 'OK');
  t.is(await toy.reboot(true), 'confirmed');
  t.deepEqual(imageVersion(toy.flash.runningImage()), V030);
  t.is(secver(toy), 2);
});

test('verifyManifest parses fields and checks with the CryptoPort', (t) => {
  const m = verifyManifest(GOOD, [releaseKey.publicKey], naclCrypto);
  t.true(typeof m === 'object');
  if (typeof m === 'object') {
    t.is(m.imageSize, NEW.length);
    t.is(m.securityVersion, 2);
    t.deepEqual(m.sha256, sha256(NEW));
  }
  t.is(parseManifest(new Uint8Array(MANIFEST_BYTES)), 'FORMAT');
});

test('a factory reset keeps the stored security version: a downgrade is still refused after it', async (t) => {
  const toy = new UpdateToy(OLD);
  t.is(toy.install(GOOD, NEW), 'OK');
  await toy.reboot(true);
  t.is(secver(toy), 2);
  toy.nvs.write('roster', new Uint8Array([1]));
  factoryReset(toy.nvs);
  t.is(toy.nvs.read('roster'), undefined, 'the reset ran');
  t.is(secver(toy), 2);
  const v3 = makeImage(V030, 8000);
  t.is(toy.client.offer(signManifest(v3, { version: V030, securityVersion: 1 })), 'DOWNGRADE');
});
