/**
 * NVS partition images: round trip through our writer and parser, byte-exact
 * agreement with ESP-IDF's nvs_partition_gen.py (a recorded SHA-256 of the
 * image that tool produced from the same CSV, and a live comparison when
 * NVS_PARTITION_GEN points at the script), and typed errors for corrupt or
 * truncated images and CSV files.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32, nvsCrc32 } from '../factory/crc32.js';
import { buildNvsImage, NvsImageError, parseNvsImage, NVS_PAGE_SIZE, nvsItemBytes, type NvsItem } from '../factory/nvs-image.js';
import { formatNvsCsv, NvsCsvError, parseNvsCsv } from '../factory/nvs-csv.js';

/** Deterministic pseudo-random bytes (LCG), so the golden image is fixed. */
function lcgBytes(seed: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    b[i] = s >>> 24;
  }
  return b;
}

/** Every type, a string with CSV-special characters, an empty blob, a 5000-byte blob over two pages, 130 u8 entries spilling pages, a 9000-byte blob over three. */
function goldenItems(): NvsItem[] {
  const items: NvsItem[] = [
    { namespace: 'pawpost', key: 'id_ver', type: 'i32', value: 1 },
    { namespace: 'pawpost', key: 'flag', type: 'u8', value: 1 },
    { namespace: 'pawpost', key: 'neg', type: 'i32', value: -5 },
    { namespace: 'pawpost', key: 'u16max', type: 'u16', value: 65535 },
    { namespace: 'pawpost', key: 'i8min', type: 'i8', value: -128 },
    { namespace: 'pawpost', key: 'i16', type: 'i16', value: -1234 },
    { namespace: 'pawpost', key: 'u32big', type: 'u32', value: 4000000000 },
    { namespace: 'pawpost', key: 'str', type: 'string', value: 'hello, "world"' },
    { namespace: 'pawpost', key: 'empty', type: 'string', value: '' },
    { namespace: 'pawpost', key: 'b0', type: 'blob', value: new Uint8Array(0) },
    { namespace: 'pawpost', key: 'b32', type: 'blob', value: lcgBytes(1, 32) },
    { namespace: 'pawpost', key: 'fifteen_chars_k', type: 'blob', value: lcgBytes(2, 33) },
    { namespace: 'other', key: 'big', type: 'blob', value: lcgBytes(3, 5000) },
    { namespace: 'other', key: 'long', type: 'string', value: 'x'.repeat(3000) },
  ];
  for (let i = 0; i < 130; i++) items.push({ namespace: 'other', key: `k${i}`, type: 'u8', value: i });
  items.push({ namespace: 'other', key: 'big2', type: 'blob', value: lcgBytes(4, 9000) });
  return items;
}
const GOLDEN_SIZE = 0x8000;
/**
 * SHA-256 of the image ESP-IDF's nvs_partition_gen.py (esp-idf-nvs-partition-gen 0.2.0,
 * `generate golden.csv golden.bin 0x8000`) wrote from formatNvsCsv(goldenItems()).
 */
const GOLDEN_SHA256 = 'bb8673d61ccc87a8205c41fed232872d32c7e8da28ee5ab61d36141f215976e6';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('CRC-32 matches zlib (check value and NVS seed)', (t) => {
  t.is(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  t.is(nvsCrc32(new Uint8Array(0)), 0xffffffff, 'zlib.crc32(b"", 0xffffffff)');
});

test('round trip: every item comes back with its namespace, type and value', (t) => {
  const items = goldenItems();
  const image = buildNvsImage(items, GOLDEN_SIZE);
  t.is(image.length, GOLDEN_SIZE);
  const back = parseNvsImage(image);
  t.deepEqual(back.items, items);
  t.deepEqual([...back.namespaces], [['pawpost', 1], ['other', 2]]);
  t.true(back.usedPages >= 5, 'spans several pages');
  t.deepEqual([...image.subarray(GOLDEN_SIZE - NVS_PAGE_SIZE)].every((x) => x === 0xff), true, 'last page left erased');
});

test('the CSV round trip is lossless and rebuilds the same image', (t) => {
  const items = goldenItems();
  const csv = formatNvsCsv(items);
  t.true(csv.startsWith('key,type,encoding,value\npawpost,namespace,,\n'));
  t.true(csv.includes('str,data,string,"hello, ""world"""'));
  t.deepEqual(parseNvsCsv(csv), items);
  t.deepEqual(buildNvsImage(parseNvsCsv(csv), GOLDEN_SIZE), buildNvsImage(items, GOLDEN_SIZE));
});

test('byte for byte what ESP-IDF nvs_partition_gen.py writes (recorded digest)', (t) => {
  t.is(sha256(buildNvsImage(goldenItems(), GOLDEN_SIZE)), GOLDEN_SHA256);
});

const gen = process.env.NVS_PARTITION_GEN;
(gen ? test : test.skip)('byte for byte what nvs_partition_gen.py writes (live, NVS_PARTITION_GEN=<script>)', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvs-gen-'));
  try {
    fs.writeFileSync(path.join(dir, 'in.csv'), formatNvsCsv(goldenItems()));
    execFileSync('python3', [gen!, 'generate', 'in.csv', 'out.bin', `0x${GOLDEN_SIZE.toString(16)}`], { cwd: dir, stdio: 'ignore' });
    const theirs = new Uint8Array(fs.readFileSync(path.join(dir, 'out.bin')));
    t.is(sha256(theirs), sha256(buildNvsImage(goldenItems(), GOLDEN_SIZE)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('item bytes as the StoragePort returns them', (t) => {
  t.deepEqual(nvsItemBytes({ namespace: 'n', key: 'k', type: 'i32', value: -2 }), Uint8Array.of(0xfe, 0xff, 0xff, 0xff));
  t.deepEqual(nvsItemBytes({ namespace: 'n', key: 'k', type: 'u8', value: 1 }), Uint8Array.of(1));
  t.deepEqual(nvsItemBytes({ namespace: 'n', key: 'k', type: 'string', value: 'ab' }), Uint8Array.of(97, 98));
});

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return e instanceof NvsImageError || e instanceof NvsCsvError ? e.code : `untyped:${String(e)}`;
  }
  return 'none';
};

test('writer rejects bad input with typed errors', (t) => {
  const one = (it: Partial<NvsItem>) => [{ namespace: 'ns', key: 'k', type: 'u8', value: 1, ...it } as NvsItem];
  t.is(codeOf(() => buildNvsImage(one({}), 0x2000)), 'SIZE');
  t.is(codeOf(() => buildNvsImage(one({}), 0x3001)), 'SIZE');
  t.is(codeOf(() => buildNvsImage(one({ key: 'sixteen_chars_kk' }), 0x3000)), 'KEY');
  t.is(codeOf(() => buildNvsImage(one({ key: '' }), 0x3000)), 'KEY');
  t.is(codeOf(() => buildNvsImage(one({ namespace: 'namespace_too_long' }), 0x3000)), 'KEY');
  t.is(codeOf(() => buildNvsImage(one({ value: 256 }), 0x3000)), 'VALUE');
  t.is(codeOf(() => buildNvsImage(one({ type: 'i8', value: 1.5 }), 0x3000)), 'VALUE');
  t.is(codeOf(() => buildNvsImage(one({ type: 'string', value: 'y'.repeat(4000) }), 0x3000)), 'VALUE');
  t.is(codeOf(() => buildNvsImage(one({ type: 'blob', value: new Uint8Array(20000) }), 0x3000)), 'NOSPACE');
});

test('truncated and corrupt images give typed, specific errors', (t) => {
  const good = buildNvsImage(goldenItems(), GOLDEN_SIZE);
  t.is(codeOf(() => parseNvsImage(good)), 'none');
  t.is(codeOf(() => parseNvsImage(good.subarray(0, 4000))), 'SIZE', 'truncated mid-page');
  t.is(codeOf(() => parseNvsImage(new Uint8Array(0))), 'SIZE');
  const flip = (at: number, mask = 1) => {
    const b = good.slice();
    b[at]! ^= mask;
    return b;
  };
  t.is(codeOf(() => parseNvsImage(flip(5))), 'PAGE_CRC', 'sequence number changed');
  t.is(codeOf(() => parseNvsImage(flip(0, 0x10))), 'PAGE_STATE', 'unknown page state');
  t.is(codeOf(() => parseNvsImage(flip(64 + 10))), 'ENTRY_CRC', 'namespace key changed');
  // entry 1 is "id_ver" (i32): its value byte
  t.is(codeOf(() => parseNvsImage(flip(64 + 32 + 24))), 'ENTRY_CRC', 'value changed');
  // find the "str" entry and change a data byte
  const strAt = findEntry(good, 'str');
  t.is(codeOf(() => parseNvsImage(flip(strAt + 32 + 1))), 'DATA_CRC', 'string data changed');
  // mark an erased page's byte: data in an uninitialised page
  t.is(codeOf(() => parseNvsImage(flip(GOLDEN_SIZE - 10))), 'PAGE_STATE', 'garbage in an erased page');
  // illegal bitmap state 01 for entry 0
  const bm = good.slice();
  bm[32] = (bm[32]! & ~3) | 1;
  t.is(codeOf(() => parseNvsImage(bm)), 'BITMAP');
  // a data entry of "str" not marked written
  const bm2 = good.slice();
  const strEntry = (strAt - 64) / 32 + 1;
  bm2[32 + (strEntry >> 2)]! |= 3 << ((strEntry & 3) * 2);
  t.is(codeOf(() => parseNvsImage(bm2)), 'BITMAP');
  // erase the blob index of "big" (mark erased in the bitmap): its chunks become orphans
  const idxAt = findEntry(good, 'big', 0x48);
  const page = Math.floor(idxAt / NVS_PAGE_SIZE);
  const e = (idxAt % NVS_PAGE_SIZE - 64) / 32;
  const orphan = good.slice();
  orphan[page * NVS_PAGE_SIZE + 32 + (e >> 2)]! &= ~(3 << ((e & 3) * 2));
  t.is(codeOf(() => parseNvsImage(orphan)), 'BLOB');
  // a whole page of a multi-page blob lost (erased): chunk missing
  const lost = good.slice();
  const chunkPage = Math.floor(findEntry(good, 'big', 0x42, 1) / NVS_PAGE_SIZE);
  lost.fill(0xff, chunkPage * NVS_PAGE_SIZE, (chunkPage + 1) * NVS_PAGE_SIZE);
  t.true(['BLOB', 'NAMESPACE'].includes(codeOf(() => parseNvsImage(lost))), codeOf(() => parseNvsImage(lost)));
  // the same item twice: concatenating two pages with different sequence numbers
  const twice = buildNvsImage([{ namespace: 'a', key: 'k', type: 'u8', value: 1 }], 0x3000);
  twice.copyWithin(NVS_PAGE_SIZE, 0, NVS_PAGE_SIZE);
  twice[NVS_PAGE_SIZE + 4] = 1;
  new DataView(twice.buffer).setUint32(NVS_PAGE_SIZE + 28, nvsCrc32(twice, NVS_PAGE_SIZE + 4, NVS_PAGE_SIZE + 28), true);
  t.is(codeOf(() => parseNvsImage(twice)), 'NAMESPACE', 'namespace defined twice');
});

/** Byte offset of the first entry with this key (and type, and chunk index) in an image. */
function findEntry(image: Uint8Array, key: string, type?: number, chunk?: number): number {
  const k = new TextEncoder().encode(key);
  for (let p = 0; p < image.length; p += NVS_PAGE_SIZE) {
    for (let i = 0; i < 126; i++) {
      const off = p + 64 + i * 32;
      const state = (image[p + 32 + (i >> 2)]! >> ((i & 3) * 2)) & 3;
      if (state !== 2) continue;
      if (type !== undefined && image[off + 1] !== type) continue;
      if (chunk !== undefined && image[off + 3] !== chunk) continue;
      if (k.every((x, j) => image[off + 8 + j] === x) && image[off + 8 + k.length] === 0) return off;
    }
  }
  throw new Error(`no entry ${key}`);
}

test('CSV errors are typed and name the line, never the value', (t) => {
  const head = 'key,type,encoding,value\n';
  const cases: [string, string][] = [
    ['', 'HEADER'],
    ['key,type,value\n', 'HEADER'],
    [head + 'k,data,u8,1\n', 'NAMESPACE'],
    [head + 'ns,namespace,,\nk,data,u8\n', 'SYNTAX'],
    [head + 'ns,namespace,,\nk,data,u8,"1\n', 'SYNTAX'],
    [head + 'ns,namespace,,\nsixteen_chars_kk,data,u8,1\n', 'KEY'],
    [head + 'ns,namespace,,\nk,file,binary,/etc/passwd\n', 'TYPE'],
    [head + 'ns,namespace,,\nk,blob,u8,1\n', 'TYPE'],
    [head + 'ns,namespace,,\nk,data,u64,1\n', 'ENCODING'],
    [head + 'ns,namespace,,\nk,data,u8,256\n', 'VALUE'],
    [head + 'ns,namespace,,\nk,data,i32,12abc\n', 'VALUE'],
    [head + 'ns,namespace,,\nk,data,hex2bin,abc\n', 'VALUE'],
    [head + 'ns,namespace,,\nk,data,hex2bin,zz\n', 'VALUE'],
    [head + 'ns,namespace,,\nk,data,base64,@@@@\n', 'VALUE'],
  ];
  for (const [text, code] of cases) t.is(codeOf(() => parseNvsCsv(text)), code, JSON.stringify(text));
  const err = t.throws(() => parseNvsCsv(head + 'ns,namespace,,\nsecret,data,hex2bin,0123456789abcdefX\n'));
  t.true(err.message.startsWith('line 3:'), err.message);
  t.false(err.message.includes('0123456789abcdef'), 'value not echoed');
  // comments and CRLF are accepted, as nvs_partition_gen.py does
  t.deepEqual(parseNvsCsv('# c\r\n' + head.replace('\n', '\r\n') + 'ns,namespace,,\r\nk,data,base64,AAE=\r\n'), [{ namespace: 'ns', key: 'k', type: 'blob', value: Uint8Array.of(0, 1) }]);
});
