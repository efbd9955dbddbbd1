/**
 * NVS encryption in ESP-IDF's format: byte-exact agreement with Espressif's
 * nvs_partition_gen.py `encrypt` / `decrypt` / `generate-key` (recorded
 * SHA-256 digests of what the tool wrote, and live runs when NVS_PARTITION_GEN
 * points at the script), the plain and encrypted images carrying the same
 * entries, the keys partition's checks, and the device's view of bad input
 * (factory/nvs-mount.ts).
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nvsCrc32 } from '../factory/crc32.js';
import { formatNvsCsv } from '../factory/nvs-csv.js';
import { buildNvsImage, NVS_PAGE_SIZE, NvsImageError, parseNvsImage, PAGE_STATE, type NvsItem } from '../factory/nvs-image.js';
import {
  decryptNvsImage, encryptNvsImage, formatNvsKeysPartition, generateNvsKeys, NVS_KEYS_PARTITION_BYTES, NvsKeysError, parseNvsKeysPartition,
} from '../factory/nvs-encryption.js';
import { mountNvsPartition } from '../factory/nvs-mount.js';

/** Deterministic pseudo-random bytes (LCG), so the golden images are fixed. */
function lcg(seed: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    b[i] = s >>> 24;
  }
  return b;
}

/** Identity-like items, a CSV-special string, a 5000-byte blob over two pages, a 3000-byte string, 130 u8 spilling pages. */
function goldenItems(): NvsItem[] {
  const items: NvsItem[] = [
    { namespace: 'pawpost', key: 'id_ver', type: 'i32', value: 1 },
    { namespace: 'pawpost', key: 'toy_id', type: 'string', value: '00112233445566778899aabbccddeeff' },
    { namespace: 'pawpost', key: 'box_sk', type: 'blob', value: lcg(1, 32) },
    { namespace: 'pawpost', key: 'str', type: 'string', value: 'hello, "world"' },
    { namespace: 'other', key: 'big', type: 'blob', value: lcg(3, 5000) },
    { namespace: 'other', key: 'long', type: 'string', value: 'x'.repeat(3000) },
  ];
  for (let i = 0; i < 130; i++) items.push({ namespace: 'other', key: `k${i}`, type: 'u8', value: i });
  return items;
}
const SIZE = 0x8000;
const KEYS = lcg(99, 64);
/**
 * SHA-256 of what esp-idf-nvs-partition-gen 0.2.0 (espressif/esp-idf-nvs-partition-gen 67113ed) wrote:
 * `encrypt golden.csv enc.bin 0x8000 --inputkey keys.bin` with keys.bin = formatNvsKeysPartition(KEYS),
 * and `generate golden.csv plain.bin 0x8000`; `decrypt enc.bin keys.bin dec.bin` gave plain.bin again.
 */
const GOLDEN_ENCRYPTED_SHA256 = 'f645c2152eae37d19ef0cbbf8bf7dde76fe714b030b323bbf27a4995442870d5';
const GOLDEN_PLAIN_SHA256 = '18d1729eb594edbb33ba28a3e2692a6cab0c25b5673f050c9303d546a2f4b573';
const GOLDEN_KEYS_SHA256 = '5f51ec8648fd64bd6374183975b4e1908e223cc8ca43d70aab3abf9ae241b5b1';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('byte for byte what nvs_partition_gen.py encrypt writes, and its keys file (recorded digests)', (t) => {
  const plain = buildNvsImage(goldenItems(), SIZE);
  t.is(sha256(plain), GOLDEN_PLAIN_SHA256);
  t.is(sha256(formatNvsKeysPartition(KEYS)), GOLDEN_KEYS_SHA256);
  t.is(sha256(encryptNvsImage(plain, KEYS)), GOLDEN_ENCRYPTED_SHA256);
});

test('the plain and the encrypted image carry the same entries', (t) => {
  const items = goldenItems();
  const plain = buildNvsImage(items, SIZE);
  const enc = encryptNvsImage(plain, KEYS);
  t.is(enc.length, plain.length);
  t.deepEqual(decryptNvsImage(enc, KEYS), plain, 'decrypts to the plain image byte for byte');
  t.deepEqual(parseNvsImage(decryptNvsImage(enc, KEYS)).items, items);
  let written = 0;
  for (let base = 0; base < SIZE; base += NVS_PAGE_SIZE) {
    t.deepEqual(enc.subarray(base, base + 64), plain.subarray(base, base + 64), 'page header and entry bitmap stay plain');
    for (let i = 0; i < 126; i++) {
      const st = (plain[base + 32 + (i >> 2)]! >> ((i & 3) * 2)) & 3;
      const off = base + 64 + i * 32;
      if (st === 3) t.true(enc.subarray(off, off + 32).every((x) => x === 0xff), 'empty entries stay erased');
      else {
        written++;
        t.notDeepEqual(enc.subarray(off, off + 32), plain.subarray(off, off + 32), 'written entries are encrypted');
      }
    }
  }
  t.true(written > 300);
  // no plaintext of the secret-like blob survives anywhere in the encrypted image
  const secret = Buffer.from(lcg(1, 32));
  t.is(Buffer.from(enc).indexOf(secret), -1);
  t.not(Buffer.from(plain).indexOf(secret), -1);
  // the device reads the same items from either image
  t.deepEqual(mountNvsPartition(enc, { keysPartition: formatNvsKeysPartition(KEYS), partitionBytes: SIZE }), { status: 'MOUNTED', items, erasedEntries: 0, corruptPages: 0 });
  t.deepEqual(mountNvsPartition(plain, { partitionBytes: SIZE }).items, items);
});

test('the data unit is the entry offset: a moved entry does not decrypt', (t) => {
  const plain = buildNvsImage(goldenItems().slice(0, 3), 0x3000);
  const enc = encryptNvsImage(plain, KEYS);
  const moved = enc.slice();
  moved.copyWithin(64 + 32 * 10, 64, 96); // the namespace entry copied to slot 10 (marked empty: copy bitmap too)
  moved[32 + 2] = moved[32]!; // entries 8..11 state byte = entries 0..3
  const d = decryptNvsImage(moved, KEYS);
  t.notDeepEqual(d.subarray(64 + 320, 64 + 352), plain.subarray(64, 96));
});

test('keys partition: ESP-IDF layout, and each fault refused with ESP-IDF\'s error', (t) => {
  const part = formatNvsKeysPartition(KEYS);
  t.is(part.length, NVS_KEYS_PARTITION_BYTES);
  t.deepEqual(part.subarray(0, 64), KEYS);
  t.is(new DataView(part.buffer).getUint32(64, true), nvsCrc32(KEYS));
  t.true(part.subarray(68).every((x) => x === 0xff));
  t.deepEqual(parseNvsKeysPartition(part), KEYS);
  const code = (b: Uint8Array, strict = true) => {
    try {
      parseNvsKeysPartition(b, strict);
      return 'none';
    } catch (e) {
      return e instanceof NvsKeysError ? e.code : `untyped ${String(e)}`;
    }
  };
  for (const at of [0, 31, 32, 63, 64, 67]) {
    const bad = part.slice();
    bad[at] ^= 0x01;
    t.is(code(bad), 'CORRUPT_KEY_PART', `bit flip at ${at}`);
  }
  t.is(code(new Uint8Array(4096).fill(0xff)), 'KEYS_NOT_INITIALIZED');
  t.is(code(part.subarray(0, 100)), 'SIZE');
  t.is(code(part.subarray(0, 40), false), 'CORRUPT_KEY_PART', 'a short flash reads the rest as erased');
  t.deepEqual(parseNvsKeysPartition(part.subarray(0, 68), false), KEYS, 'the device reads only bytes 0..67');
  const tail = part.slice();
  tail[200] = 0;
  t.is(code(tail), 'FORMAT');
  const same = new Uint8Array(64).fill(7);
  t.throws(() => formatNvsKeysPartition(same), { instanceOf: NvsKeysError });
  t.throws(() => encryptNvsImage(buildNvsImage([], 0x3000), same), { instanceOf: NvsKeysError });
  t.throws(() => formatNvsKeysPartition(new Uint8Array(32)), { instanceOf: NvsKeysError });
  t.throws(() => encryptNvsImage(new Uint8Array(5000), KEYS), { instanceOf: NvsImageError });
  let calls = 0;
  const k = generateNvsKeys((n) => (++calls === 1 ? new Uint8Array(n).fill(3) : lcg(calls, n)));
  t.is(calls, 2, 'equal halves are drawn again');
  t.notDeepEqual(k.subarray(0, 32), k.subarray(32));
});

test('device view: a wrong key, a truncated or corrupted image, a bad keys partition lose entries, never throw', (t) => {
  const items = goldenItems().slice(0, 4);
  const plain = buildNvsImage(items, 0x6000);
  const enc = encryptNvsImage(plain, KEYS);
  const keys = formatNvsKeysPartition(KEYS);
  const mount = (img: Uint8Array, k: Uint8Array | undefined = keys) => mountNvsPartition(img, { keysPartition: k, partitionBytes: 0x6000 });
  t.deepEqual(mount(enc).items, items);
  const wrong = mount(enc, formatNvsKeysPartition(lcg(5, 64)));
  t.is(wrong.status, 'MOUNTED');
  t.deepEqual(wrong.items, []);
  t.true(wrong.erasedEntries > 5);
  const badCrc = keys.slice();
  badCrc[64] ^= 1;
  t.deepEqual(mount(enc, badCrc), { status: 'CORRUPT_KEY_PART', items: [], erasedEntries: 0, corruptPages: 0 });
  t.is(mount(enc, new Uint8Array(4096).fill(0xff)).status, 'KEYS_NOT_INITIALIZED');
  t.is(mount(enc.subarray(0, 20)).corruptPages, 1, 'a page cut inside its header is corrupt');
  const cut = mount(enc.subarray(0, 64 + 32 * 4));
  t.true(cut.items.length < items.length && cut.erasedEntries > 0);
  t.deepEqual(mount(enc.subarray(0, 4096)).items, items, 'cut at a page boundary past the data: nothing lost');
  const flip = enc.slice();
  flip[64 + 32 * 2 + 9] ^= 0x80;
  t.true(mount(flip).items.length < items.length);
  t.deepEqual(mountNvsPartition(enc, { partitionBytes: 0x6000 }).items, [], 'an encrypted image read without encryption: nothing');
  const header = enc.slice();
  header[0] = 0x00; // state byte
  t.is(mount(header).corruptPages, 1);
  const newer = plain.slice();
  newer[8] = 0xfd;
  new DataView(newer.buffer).setUint32(28, nvsCrc32(newer, 4, 28), true);
  t.is(mountNvsPartition(newer).status, 'NEW_VERSION_FOUND');
  t.is(new DataView(plain.buffer).getUint32(0, true), PAGE_STATE.ACTIVE);
});

const gen = process.env.NVS_PARTITION_GEN;
(gen ? test : test.skip)('live: nvs_partition_gen.py encrypt / decrypt / generate-key agree (NVS_PARTITION_GEN=<script>)', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvs-enc-'));
  try {
    const run = (...args: string[]) => execFileSync('python3', [gen!, ...args], { cwd: dir, stdio: 'ignore' });
    const plain = buildNvsImage(goldenItems(), SIZE);
    fs.writeFileSync(path.join(dir, 'in.csv'), formatNvsCsv(goldenItems()));
    fs.writeFileSync(path.join(dir, 'keys.bin'), formatNvsKeysPartition(KEYS));
    run('encrypt', 'in.csv', 'enc.bin', `0x${SIZE.toString(16)}`, '--inputkey', 'keys.bin', '--outdir', '.');
    t.is(sha256(new Uint8Array(fs.readFileSync(path.join(dir, 'enc.bin')))), sha256(encryptNvsImage(plain, KEYS)));
    fs.writeFileSync(path.join(dir, 'ours.bin'), encryptNvsImage(plain, KEYS));
    run('decrypt', 'ours.bin', 'keys.bin', 'dec.bin', '--outdir', '.');
    t.is(sha256(new Uint8Array(fs.readFileSync(path.join(dir, 'dec.bin')))), sha256(plain));
    run('generate-key', '--keyfile', 'theirs.bin', '--outdir', '.');
    const theirs = new Uint8Array(fs.readFileSync(path.join(dir, 'keys', 'theirs.bin')));
    const k = parseNvsKeysPartition(theirs);
    t.deepEqual(formatNvsKeysPartition(k), theirs);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
