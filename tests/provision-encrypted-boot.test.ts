/**
 * Encrypted factory output on the toy: the device path from flash to the
 * identity loader. Each nvs.bin + nvs_keys.bin is mounted as ESP-IDF would
 * (factory/nvs-mount.ts), stored into the simulator's `preference` (as
 * sim/simulator.ts flashes it), read back through the unchanged device
 * adapter hal/moddable-storage.ts NvsIdentityStore, and loaded by
 * src/identity.ts. A batch of 1,000 encrypted toys loads this way; a wrong
 * key, a truncated or corrupted image and a keys partition with a bad CRC
 * are each refused by the loader, and the whole toy (src/app.ts) then shows
 * the error pattern and never turns its radio on.
 * Serial: the simulated board is one process-wide singleton.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { provisionBatch } from '../factory/provision-batch.js';
import { verifyBatch } from '../factory/verify-batch.js';
import { mountNvsPartition, preferenceValue, type NvsMountResult } from '../factory/nvs-mount.js';
import { formatNvsKeysPartition } from '../factory/nvs-encryption.js';
import { parseRegistry } from '../factory/registry.js';
import { IDENTITY_KEY_LIST, tryLoadIdentity, type IdentityErrorCode } from '../src/identity.js';
import { Counters } from '../src/counters.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { AppRig } from './app-rig.js';

await import('../sim/moddable-register.js');
const { board } = await import('../sim/moddable/board.js');
const { default: Preference } = await import('../sim/moddable/preference.js');
// Device code, loaded by computed URL (typed by tsconfig.firmware.json, not the host program).
const { NvsIdentityStore } = (await import(new URL('../hal/moddable-storage.js', import.meta.url).href)) as { NvsIdentityStore: new () => { read(key: string): Uint8Array | undefined } };

const NVS_SIZE = 0x6000;

/** Flashes (mounts) the partitions into the simulated NVS, as sim/simulator.ts does; returns the mount result. */
function flash(image: Uint8Array, keysPartition: Uint8Array | undefined): NvsMountResult {
  board.preferences.clear();
  const r = mountNvsPartition(image, { keysPartition, partitionBytes: NVS_SIZE });
  for (const item of r.items) Preference.set(item.namespace, item.key, preferenceValue(item));
  return r;
}

/** The identity keys as the device's storage port returns them, copied into a MemoryStorage for the app rig. */
function deviceNvs(): MemoryStorage {
  const store = new NvsIdentityStore();
  const m = new MemoryStorage();
  for (const k of IDENTITY_KEY_LIST) {
    const v = store.read(k);
    if (v !== undefined) m.write(k, v);
  }
  return m;
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-encboot-'));
}

function maker() {
  const seed = new Uint8Array(randomBytes(32));
  return { publicKey: nacl.sign.keyPair.fromSeed(seed).publicKey, seed };
}

test.serial('1,000 encrypted toys: made, verified, and each loaded on the simulated device with the right identity', async (t) => {
  const dir = tmp();
  try {
    const out = path.join(dir, 'b');
    await provisionBatch({ outDir: out, count: 1000, maker: maker(), mqttHost: 'mqtt.example', mqttPort: 8883 });
    const report = verifyBatch(out);
    t.deepEqual(report.problems, []);
    t.is(report.toys, 1000);
    const registry = parseRegistry(fs.readFileSync(path.join(out, 'registry.jsonl'), 'utf8'));
    t.is(registry.length, 1000);
    t.is(new Set(registry.map((e) => e.check)).size, 1000, 'check strings unique');
    for (const e of registry) {
      const dirOf = path.join(out, e.toyId);
      const r = flash(new Uint8Array(fs.readFileSync(path.join(dirOf, 'nvs.bin'))), new Uint8Array(fs.readFileSync(path.join(dirOf, 'nvs_keys.bin'))));
      if (r.status !== 'MOUNTED' || r.erasedEntries !== 0) t.fail(`${e.toyId}: ${r.status}, ${r.erasedEntries} entries erased`);
      const loaded = tryLoadIdentity(new NvsIdentityStore() as never);
      if (!loaded.ok) {
        t.fail(`${e.toyId}: ${loaded.error.code}`);
        continue;
      }
      if (loaded.identity.toyId !== e.toyId || Buffer.from(loaded.identity.publicKey).toString('hex') !== e.publicKey) t.fail(`${e.toyId}: wrong identity`);
    }
    t.pass();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('bad encrypted data is refused by the identity loader, and the toy shows the error pattern', async (t) => {
  const dir = tmp();
  try {
    const out = path.join(dir, 'b');
    await provisionBatch({ outDir: out, count: 2, maker: maker(), mqttHost: 'mqtt.example', mqttPort: 8883 });
    const [a, b] = fs.readdirSync(out).filter((n) => /^[0-9a-f]{32}$/.test(n));
    const read = (toy: string, f: string) => new Uint8Array(fs.readFileSync(path.join(out, toy!, f)));
    const image = read(a!, 'nvs.bin');
    const keys = read(a!, 'nvs_keys.bin');

    let genuine: string | undefined;
    const fingerprint = (nvs: MemoryStorage) => IDENTITY_KEY_LIST.map((k) => Buffer.from(nvs.read(k) ?? []).toString('hex')).join(',');
    const boot = (what: string, img: Uint8Array, k: Uint8Array | undefined, expect: IdentityErrorCode[] | 'ok' | 'refused-or-intact') => {
      const mounted = flash(img, k);
      const nvs = deviceNvs();
      const counters = new Counters();
      const loaded = tryLoadIdentity(nvs, { counters });
      if (expect === 'refused-or-intact' && loaded.ok) {
        // the flip hit XTS blocks holding only padding past the CRC-covered data: every value is intact
        t.is(fingerprint(nvs), genuine ?? 'the genuine image first', `${what}: loads only with every value intact`);
        mounted.status = 'INTACT' as never;
        return mounted;
      }
      const rig = new AppRig({ nvs });
      if (expect === 'ok') {
        t.true(loaded.ok, `${what}: loads`);
        t.is(rig.app.toy.state, 'idle', `${what}: runs`);
        genuine ??= fingerprint(nvs);
        return mounted;
      }
      if (expect === 'refused-or-intact') expect = ['NOT_PROVISIONED', 'MISSING'];
      t.false(loaded.ok, `${what}: refused`);
      if (!loaded.ok) {
        t.true(expect.includes(loaded.error.code), `${what}: ${loaded.error.code} (${loaded.error.key ?? '-'}) is one of ${expect.join(', ')}`);
        t.is(counters.get(`identity.error.${loaded.error.code}`), 1);
      }
      t.is(rig.app.identity, undefined, what);
      t.is(rig.app.toy.state, 'error', `${what}: the toy halts`);
      t.is(rig.app.led.current, 'error', `${what}: the error pattern`);
      rig.paw.press();
      rig.clock.advance(4000);
      t.is(rig.radio.advertising, undefined, `${what}: never advertises`);
      t.is(rig.broker.connects.length, 0, `${what}: never connects`);
      return mounted;
    };

    // control: the genuine pair boots (so every refusal below is caused by the fault)
    boot('genuine', image, keys, 'ok');

    // a wrong key: another toy's (valid) keys partition, and fresh random keys
    t.true(boot('another toy\'s keys', image, read(b!, 'nvs_keys.bin'), ['NOT_PROVISIONED']).erasedEntries > 10, 'every entry fails its CRC');
    boot('random keys', image, formatNvsKeysPartition(new Uint8Array(randomBytes(64))), ['NOT_PROVISIONED']);

    // keys partition with a bad CRC (one bit in the keys, one in the CRC), blank, truncated
    for (const at of [3, 40, 65]) {
      const k = keys.slice();
      k[at] ^= 0x10;
      t.is(boot(`keys bit flip at ${at}`, image, k, ['NOT_PROVISIONED']).status, 'CORRUPT_KEY_PART');
    }
    t.is(boot('blank keys partition', image, new Uint8Array(4096).fill(0xff), ['NOT_PROVISIONED']).status, 'KEYS_NOT_INITIALIZED');
    t.is(boot('keys partition cut to 50 bytes', image, keys.subarray(0, 50), ['NOT_PROVISIONED']).status, 'CORRUPT_KEY_PART');
    t.is(boot('encryption off on the device', image, undefined, ['NOT_PROVISIONED']).items.length, 0);

    // truncated images: cut inside the header, the entries, the data
    for (const len of [16, 100, 300, 500, 700, 900]) boot(`image cut to ${len} bytes`, image.subarray(0, len), keys, ['NOT_PROVISIONED', 'MISSING']);
    boot('image cut at the end of its first page', image.subarray(0, 4096), keys, 'ok');

    // corrupted images: one bit flipped in every 9th byte of the written entries, and in the page header
    const firstEmpty = (() => {
      for (let i = 0; i < 126; i++) if (((image[32 + (i >> 2)]! >> ((i & 3) * 2)) & 3) === 3) return i;
      return 126;
    })();
    let flips = 0;
    let intact = 0;
    for (let off = 64; off < 64 + firstEmpty * 32; off += 9) {
      const bad = image.slice();
      bad[off] ^= 1 << (off % 8);
      if ((boot(`bit flip at ${off}`, bad, keys, 'refused-or-intact').status as string) === 'INTACT') intact++;
      flips++;
    }
    t.true(flips > 30);
    t.true(intact < flips / 4, `${intact} of ${flips} flips landed in padding only`);
    for (const off of [1, 4, 8, 28]) { // state (0xFFFFFDFE: no state), sequence, version, CRC
      const bad = image.slice();
      bad[off] ^= 0x02;
      boot(`page header flip at ${off}`, bad, keys, ['NOT_PROVISIONED']);
    }
    // a flip in an unused entry harms nothing: the device ignores it, as it should
    const spare = image.slice();
    spare[64 + (firstEmpty + 3) * 32 + 5] ^= 1;
    boot('flip in an unused entry', spare, keys, 'ok');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
