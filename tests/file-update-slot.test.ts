/**
 * The simulator's file-backed OTA slots (sim/file-update-slot.ts) under the
 * same UpdateClient: install, confirm, a failing health check, a process
 * killed mid-write and before confirmation.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bootFileSlots, FileUpdateSlot } from '../sim/file-update-slot.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { jsSha256 } from '../src/sha256.js';
import { UpdateClient } from '../src/update-client.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { BOARD, imageVersion, makeImage, releaseKey, signManifest, V010, V020 } from './update-rig.js';

const OLD = makeImage(V010, 7000);
const NEW = makeImage(V020, 20_000);
const MANIFEST = signManifest(NEW, { version: V020, securityVersion: 3 });

class SimToy {
  readonly nvs = new MemoryStorage();
  client!: UpdateClient;
  image!: Uint8Array;
  constructor(readonly dir: string) {
    this.power();
  }
  power(): void {
    this.image = bootFileSlots(this.dir, OLD).image;
    this.client = new UpdateClient({
      board: BOARD, runningVersion: imageVersion(this.image), releaseKeys: [releaseKey.publicKey],
      crypto: naclCrypto, sha256: jsSha256, slot: new FileUpdateSlot(this.dir), storage: this.nvs,
    });
  }
  async boot(healthy: boolean): Promise<string> {
    this.power();
    return this.client.bootCheck(() => healthy);
  }
  download(upTo = NEW.length): void {
    if (this.client.offer(MANIFEST) !== 'OK' || this.client.begin() !== 'OK') throw new Error('offer');
    for (let o = 0; o < upTo; o += 4096) if (this.client.write(o, NEW.subarray(o, Math.min(upTo, o + 4096))) !== 'OK') throw new Error('write');
  }
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-ota-'));

test('install, pending boot, confirm; the security version follows confirmation', async (t) => {
  const toy = new SimToy(tmp());
  toy.download();
  t.is(toy.client.finish(), 'OK');
  t.is(await toy.boot(true), 'confirmed');
  t.true(same(toy.image, NEW));
  t.is(toy.client.storedSecurityVersion(), 3);
  t.is(await toy.boot(true), 'normal');
  t.true(same(toy.image, NEW));
});

test('a failing health check and a crash before confirmation both boot the old image', async (t) => {
  const a = new SimToy(tmp());
  a.download();
  t.is(a.client.finish(), 'OK');
  t.is(await a.boot(false), 'rolled-back');
  t.is(await a.boot(true), 'normal');
  t.true(same(a.image, OLD));
  t.is(a.client.storedSecurityVersion(), 0);

  const b = new SimToy(tmp());
  b.download();
  t.is(b.client.finish(), 'OK');
  b.power(); // boots the new image pending, then the process dies
  t.true(same(b.image, NEW));
  t.is(await b.boot(true), 'normal');
  t.true(same(b.image, OLD));
});

test('a process killed mid-write leaves no bootable half image; the next attempt installs', async (t) => {
  const dir = tmp();
  const toy = new SimToy(dir);
  toy.download(12_288);
  t.true(fs.existsSync(path.join(dir, 'slot-1.part')));
  t.false(fs.existsSync(path.join(dir, 'slot-1.bin')));
  t.is(await toy.boot(true), 'normal'); // killed: the object is dropped without abort()
  t.true(same(toy.image, OLD));
  toy.download();
  t.is(toy.client.finish(), 'OK');
  t.is(await toy.boot(true), 'confirmed');
  t.true(same(toy.image, NEW));
});
