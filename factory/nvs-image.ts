/**
 * ESP-IDF NVS partition images, written and read in TypeScript.
 *
 * Format (ESP-IDF nvs_flash, "Non-Volatile Storage Library" docs, and the
 * layout produced by nvs_partition_gen.py generate, version 2):
 * - the partition is a whole number of 4096-byte pages; a page is
 *   a 32-byte header, a 32-byte entry-state bitmap, then 126 entries of 32 bytes;
 * - page header: u32 state (0xFFFFFFFF uninitialised, 0xFFFFFFFE active,
 *   0xFFFFFFFC full, 0xFFFFFFF8 freeing, 0xFFFFFFF0 corrupt), u32 sequence
 *   number, u8 version (0xFE = v2 multi-page blobs, 0xFF = v1), 19 bytes 0xFF,
 *   u32 CRC32 over bytes 4..27;
 * - bitmap: 2 bits per entry, entry i at bits 2i..2i+1 of the little-endian
 *   bit stream: 0b11 empty, 0b10 written, 0b00 erased;
 * - entry: u8 namespace index, u8 type, u8 span (entries used, header
 *   included), u8 chunk index (0xFF = any), u32 CRC32 over bytes 0..3 and
 *   8..31, 16-byte NUL-padded key (<= 15 characters), 8 data bytes:
 *   primitives little-endian in the low bytes, rest 0xFF; strings and blob
 *   chunks: u16 size, u16 0xFFFF, u32 CRC32 of the data, the data following in
 *   the next span-1 entries (tail 0xFF); blob index: u32 total size, u8 chunk
 *   count, u8 first chunk index, 0xFFFF;
 * - namespaces are u8 entries in namespace 0 whose value is the index (1..254);
 * - CRC32 is zlib's with seed 0xFFFFFFFF.
 * Page filling follows nvs_partition_gen.py byte for byte (same split of blobs
 * across pages, same page states, unused pages left erased 0xFF, the last page
 * kept free for the NVS library's garbage collection).
 *
 * Errors are NvsImageError with a stable `code`; messages name keys and
 * offsets, never values.
 */
import { nvsCrc32 } from './crc32.js';

export const NVS_PAGE_SIZE = 4096;
export const NVS_ENTRY_SIZE = 32;
export const NVS_ENTRIES_PER_PAGE = 126;
const FIRST_ENTRY_OFFSET = 64;
const BITMAP_OFFSET = 32;
/** Largest string (with its NUL) nvs_partition_gen.py accepts in v2. */
export const NVS_MAX_STRING_BYTES = 4000;
/** nvs_partition_gen.py's smallest read/write partition. */
export const NVS_MIN_PARTITION_BYTES = 0x3000;

export const PAGE_STATE = { UNINIT: 0xffffffff, ACTIVE: 0xfffffffe, FULL: 0xfffffffc, FREEING: 0xfffffff8, CORRUPT: 0xfffffff0 } as const;
export const PAGE_VERSION_V1 = 0xff;
export const PAGE_VERSION_V2 = 0xfe;

/** NVS item type codes. */
export const NVS_TYPE = {
  u8: 0x01, i8: 0x11, u16: 0x02, i16: 0x12, u32: 0x04, i32: 0x14, u64: 0x08, i64: 0x18,
  string: 0x21, blobV1: 0x41, blobData: 0x42, blobIndex: 0x48,
} as const;

export type NvsIntType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32';
export type NvsValueType = NvsIntType | 'string' | 'blob';

/** One item to store (or one item read back). */
export type NvsItem =
  | { namespace: string; key: string; type: NvsIntType; value: number }
  | { namespace: string; key: string; type: 'string'; value: string }
  | { namespace: string; key: string; type: 'blob'; value: Uint8Array };

export type NvsErrorCode =
  | 'SIZE' // image or partition size is not a positive multiple of 4096, or too small
  | 'NOSPACE' // the items do not fit into the partition
  | 'KEY' // a key or namespace name is empty, too long or not ASCII
  | 'VALUE' // a value is out of its type's range or too long
  | 'PAGE_STATE' // a page has an unknown or unexpected state
  | 'PAGE_CRC' // a page header CRC does not match
  | 'PAGE_VERSION' // unknown page format version
  | 'PAGE_SEQ' // two pages share a sequence number
  | 'BITMAP' // an entry state is illegal, or a span's entries are not all written
  | 'ENTRY_CRC' // an entry header CRC does not match
  | 'ENTRY_TYPE' // unknown item type
  | 'SPAN' // a span does not fit the page or disagrees with the size
  | 'DATA_CRC' // a string or blob chunk's data CRC does not match
  | 'NAMESPACE' // an item names an undefined namespace, or a namespace is defined twice
  | 'DUPLICATE' // the same key (or blob chunk) appears twice
  | 'BLOB'; // a blob index and its chunks disagree (missing chunk, wrong size, orphan chunk)

export class NvsImageError extends Error {
  override readonly name = 'NvsImageError';
  readonly code: NvsErrorCode;
  constructor(code: NvsErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

const INT_RANGE: Record<NvsIntType, [number, number, number]> = {
  // [min, max, byte width]
  u8: [0, 0xff, 1], i8: [-0x80, 0x7f, 1], u16: [0, 0xffff, 2], i16: [-0x8000, 0x7fff, 2],
  u32: [0, 0xffffffff, 4], i32: [-0x80000000, 0x7fffffff, 4],
};

const enc = new TextEncoder();

function checkName(name: string, what: string): Uint8Array {
  const b = enc.encode(name);
  if (b.length < 1 || b.length > 15 || b.length !== name.length || /[\x00-\x1f\x7f]/.test(name)) {
    throw new NvsImageError('KEY', `${what} "${name.slice(0, 20)}" must be 1..15 printable ASCII characters`);
  }
  return b;
}

// ------------------------------------------------------------------ writer

/** Builds an NVS partition image, filling pages as nvs_partition_gen.py (v2, unencrypted) does. */
class ImageWriter {
  readonly image: Uint8Array;
  private readonly dv: DataView;
  private pageNum = -1;
  private entryNum = 0;
  /** Bytes of pages still allowed (the partition minus the reserved last page). */
  private sizeLeft: number;
  private nsCount = 0;
  private readonly nsIndex = new Map<string, number>();

  constructor(partitionBytes: number) {
    if (!Number.isInteger(partitionBytes) || partitionBytes % NVS_PAGE_SIZE !== 0 || partitionBytes < NVS_MIN_PARTITION_BYTES) {
      throw new NvsImageError('SIZE', `partition size ${partitionBytes} must be a multiple of 4096 and >= ${NVS_MIN_PARTITION_BYTES}`);
    }
    this.image = new Uint8Array(partitionBytes).fill(0xff);
    this.dv = new DataView(this.image.buffer);
    this.sizeLeft = partitionBytes - NVS_PAGE_SIZE;
    this.newPage();
  }

  private get pageBase(): number {
    return this.pageNum * NVS_PAGE_SIZE;
  }

  private newPage(): void {
    if (this.pageNum >= 0) {
      if (this.dv.getUint32(this.pageBase, true) === PAGE_STATE.ACTIVE) this.dv.setUint32(this.pageBase, PAGE_STATE.FULL, true);
    }
    if (this.sizeLeft === 0) throw new NvsImageError('NOSPACE', 'the items do not fit into the partition; give a larger size');
    this.sizeLeft -= NVS_PAGE_SIZE;
    this.pageNum++;
    this.entryNum = 0;
    const b = this.pageBase;
    this.dv.setUint32(b, PAGE_STATE.ACTIVE, true);
    this.dv.setUint32(b + 4, this.pageNum, true);
    this.image[b + 8] = PAGE_VERSION_V2;
    this.dv.setUint32(b + 28, nvsCrc32(this.image, b + 4, b + 28), true);
  }

  /** Writes `count` entries' worth of bytes at the current entry and marks them written. */
  private put(bytes: Uint8Array, count: number): void {
    const off = this.pageBase + FIRST_ENTRY_OFFSET + this.entryNum * NVS_ENTRY_SIZE;
    this.image.set(bytes, off);
    for (let i = 0; i < count; i++) {
      const bit = this.entryNum * 2;
      this.image[this.pageBase + BITMAP_OFFSET + (bit >> 3)]! &= ~(1 << (bit & 7));
      this.entryNum++;
    }
  }

  private header(ns: number, type: number, span: number, chunk: number, key: Uint8Array): Uint8Array {
    const e = new Uint8Array(32).fill(0xff);
    e[0] = ns;
    e[1] = type;
    e[2] = span;
    e[3] = chunk;
    e.fill(0, 8, 24);
    e.set(key, 8);
    return e;
  }

  private sealHeader(e: Uint8Array): void {
    const tmp = new Uint8Array(28);
    tmp.set(e.subarray(0, 4), 0);
    tmp.set(e.subarray(8, 32), 4);
    new DataView(e.buffer, e.byteOffset).setUint32(4, nvsCrc32(tmp), true);
  }

  namespace(name: string): number {
    const known = this.nsIndex.get(name);
    if (known !== undefined) return known;
    const key = checkName(name, 'namespace');
    if (this.nsCount >= 254) throw new NvsImageError('NAMESPACE', 'too many namespaces');
    const idx = ++this.nsCount;
    this.primitive(0, key, 'u8', idx);
    this.nsIndex.set(name, idx);
    return idx;
  }

  primitive(ns: number, key: Uint8Array, type: NvsIntType, value: number): void {
    if (this.entryNum >= NVS_ENTRIES_PER_PAGE) this.newPage();
    const e = this.header(ns, NVS_TYPE[type], 1, 0xff, key);
    const dv = new DataView(e.buffer);
    switch (type) {
      case 'u8': dv.setUint8(24, value); break;
      case 'i8': dv.setInt8(24, value); break;
      case 'u16': dv.setUint16(24, value, true); break;
      case 'i16': dv.setInt16(24, value, true); break;
      case 'u32': dv.setUint32(24, value, true); break;
      case 'i32': dv.setInt32(24, value, true); break;
    }
    this.sealHeader(e);
    this.put(e, 1);
  }

  string(ns: number, key: Uint8Array, value: string): void {
    const body = enc.encode(value + '\0');
    if (body.length > NVS_MAX_STRING_BYTES) throw new NvsImageError('VALUE', `string too long (${body.length} > ${NVS_MAX_STRING_BYTES} bytes with NUL)`);
    const dataEntries = (body.length + 31) >> 5;
    if (this.entryNum >= NVS_ENTRIES_PER_PAGE || this.entryNum + dataEntries + 1 >= NVS_ENTRIES_PER_PAGE) this.newPage();
    if (dataEntries + 1 >= NVS_ENTRIES_PER_PAGE) throw new NvsImageError('VALUE', 'string does not fit in one page');
    const e = this.header(ns, NVS_TYPE.string, dataEntries + 1, 0xff, key);
    const dv = new DataView(e.buffer);
    dv.setUint16(24, body.length, true);
    dv.setUint32(28, nvsCrc32(body), true);
    this.sealHeader(e);
    this.put(e, 1);
    this.put(body, dataEntries);
  }

  blob(ns: number, key: Uint8Array, data: Uint8Array): void {
    if (this.entryNum >= NVS_ENTRIES_PER_PAGE) this.newPage();
    if (data.length > 0xffffffff) throw new NvsImageError('VALUE', 'blob too large');
    let remaining = data.length;
    let offset = 0;
    let chunkCount = 0;
    const chunkStart = 0;
    for (;;) {
      const tailroom = (NVS_ENTRIES_PER_PAGE - this.entryNum - 1) * NVS_ENTRY_SIZE;
      const chunkSize = Math.min(tailroom, remaining);
      remaining -= chunkSize;
      const dataEntries = (chunkSize + 31) >> 5;
      if (chunkStart + chunkCount > 0xfe) throw new NvsImageError('VALUE', 'blob needs too many chunks');
      const e = this.header(ns, NVS_TYPE.blobData, dataEntries + 1, chunkStart + chunkCount, key);
      const chunk = data.subarray(offset, offset + chunkSize);
      const dv = new DataView(e.buffer);
      dv.setUint16(24, chunkSize, true);
      dv.setUint32(28, nvsCrc32(chunk), true);
      this.sealHeader(e);
      this.put(e, 1);
      this.put(chunk, dataEntries);
      chunkCount++;
      if (remaining > 0 || tailroom - chunkSize < NVS_ENTRY_SIZE) this.newPage();
      offset += chunkSize;
      if (remaining === 0) {
        const idx = this.header(ns, NVS_TYPE.blobIndex, 1, 0xff, key);
        const dvi = new DataView(idx.buffer);
        dvi.setUint32(24, data.length, true);
        idx[28] = chunkCount;
        idx[29] = chunkStart;
        this.sealHeader(idx);
        this.put(idx, 1);
        return;
      }
    }
  }
}

/**
 * Builds an NVS partition image of `partitionBytes` (a multiple of 4096,
 * >= 0x3000) holding `items` in order; each item's namespace entry is written
 * when the namespace is first used. Throws NvsImageError (KEY, VALUE, NOSPACE, SIZE).
 */
export function buildNvsImage(items: readonly NvsItem[], partitionBytes: number): Uint8Array {
  const w = new ImageWriter(partitionBytes);
  for (const item of items) {
    const ns = w.namespace(item.namespace);
    const key = checkName(item.key, 'key');
    switch (item.type) {
      case 'string':
        if (typeof item.value !== 'string' || item.value.includes('\0')) throw new NvsImageError('VALUE', `${item.key}: string value expected (no NUL)`);
        w.string(ns, key, item.value);
        break;
      case 'blob':
        if (!(item.value instanceof Uint8Array)) throw new NvsImageError('VALUE', `${item.key}: bytes expected`);
        w.blob(ns, key, item.value);
        break;
      default: {
        const r = INT_RANGE[item.type];
        if (!r) throw new NvsImageError('VALUE', `${item.key}: unknown type`);
        if (!Number.isInteger(item.value) || item.value < r[0] || item.value > r[1]) {
          throw new NvsImageError('VALUE', `${item.key}: ${item.type} value out of range`);
        }
        w.primitive(ns, key, item.type, item.value);
      }
    }
  }
  return w.image;
}

// ------------------------------------------------------------------ reader

export interface NvsParseResult {
  /** Namespace name -> index. */
  namespaces: Map<string, number>;
  /** Items in the order their (last) entry appears; blobs reassembled. */
  items: NvsItem[];
  /** Pages in use (active or full). */
  usedPages: number;
}

interface RawBlobChunk { data: Uint8Array; where: string }

const TYPE_NAME = new Map<number, NvsIntType>([
  [NVS_TYPE.u8, 'u8'], [NVS_TYPE.i8, 'i8'], [NVS_TYPE.u16, 'u16'], [NVS_TYPE.i16, 'i16'], [NVS_TYPE.u32, 'u32'], [NVS_TYPE.i32, 'i32'],
]);

function readKey(page: Uint8Array, off: number, where: string): string {
  let s = '';
  for (let i = 0; i < 16; i++) {
    const c = page[off + i]!;
    if (c === 0) {
      if (s.length === 0) throw new NvsImageError('KEY', `${where}: empty key`);
      return s;
    }
    if (c < 0x20 || c > 0x7e) throw new NvsImageError('KEY', `${where}: key has a non-printable byte`);
    s += String.fromCharCode(c);
  }
  throw new NvsImageError('KEY', `${where}: key is not NUL-terminated within 16 bytes`);
}

/**
 * Parses an unencrypted NVS partition image and checks everything it can:
 * size, page states, header and entry CRCs, data CRCs, bitmap consistency,
 * spans, namespaces, duplicates and blob chunk completeness. Entries marked
 * erased are ignored (as the NVS library does). Throws NvsImageError.
 */
export function parseNvsImage(image: Uint8Array): NvsParseResult {
  if (!(image instanceof Uint8Array) || image.length === 0 || image.length % NVS_PAGE_SIZE !== 0) {
    throw new NvsImageError('SIZE', `image length ${image?.length ?? 0} is not a positive multiple of ${NVS_PAGE_SIZE} (truncated?)`);
  }
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const pages: { base: number; seq: number }[] = [];
  const seqs = new Set<number>();
  for (let base = 0; base < image.length; base += NVS_PAGE_SIZE) {
    const p = base / NVS_PAGE_SIZE;
    const state = dv.getUint32(base, true);
    if (state === PAGE_STATE.UNINIT) {
      for (let i = base; i < base + NVS_PAGE_SIZE; i++) {
        if (image[i] !== 0xff) throw new NvsImageError('PAGE_STATE', `page ${p}: uninitialised page holds data at offset ${i - base}`);
      }
      continue;
    }
    if (state !== PAGE_STATE.ACTIVE && state !== PAGE_STATE.FULL) {
      throw new NvsImageError('PAGE_STATE', `page ${p}: state 0x${state.toString(16)} is not active or full`);
    }
    if (dv.getUint32(base + 28, true) !== nvsCrc32(image, base + 4, base + 28)) throw new NvsImageError('PAGE_CRC', `page ${p}: header CRC mismatch`);
    const version = image[base + 8]!;
    if (version !== PAGE_VERSION_V2 && version !== PAGE_VERSION_V1) throw new NvsImageError('PAGE_VERSION', `page ${p}: unknown version 0x${version.toString(16)}`);
    const seq = dv.getUint32(base + 4, true);
    if (seqs.has(seq)) throw new NvsImageError('PAGE_SEQ', `page ${p}: sequence number ${seq} used twice`);
    seqs.add(seq);
    pages.push({ base, seq });
  }
  pages.sort((a, b) => a.seq - b.seq);

  const nsByIndex = new Map<number, string>();
  const namespaces = new Map<string, number>();
  type Pending = { ns: number; key: string; item: Omit<NvsItem, 'namespace'> | null; where: string };
  const pending: Pending[] = [];
  const seen = new Set<string>();
  const chunks = new Map<string, RawBlobChunk>();
  const indexes: { ns: number; key: string; size: number; count: number; start: number; where: string }[] = [];

  for (const { base } of pages) {
    const p = base / NVS_PAGE_SIZE;
    const entryState = (i: number) => (image[base + BITMAP_OFFSET + (i >> 2)]! >> ((i & 3) * 2)) & 3;
    let i = 0;
    while (i < NVS_ENTRIES_PER_PAGE) {
      const st = entryState(i);
      if (st === 3 || st === 0) {
        i++;
        continue;
      }
      const where = `page ${p} entry ${i}`;
      if (st !== 2) throw new NvsImageError('BITMAP', `${where}: illegal entry state ${st}`);
      const off = base + FIRST_ENTRY_OFFSET + i * NVS_ENTRY_SIZE;
      const hdr = new Uint8Array(28);
      hdr.set(image.subarray(off, off + 4), 0);
      hdr.set(image.subarray(off + 8, off + 32), 4);
      if (dv.getUint32(off + 4, true) !== nvsCrc32(hdr)) throw new NvsImageError('ENTRY_CRC', `${where}: entry CRC mismatch`);
      const ns = image[off]!;
      const type = image[off + 1]!;
      const span = image[off + 2]!;
      const chunk = image[off + 3]!;
      const key = readKey(image, off + 8, where);
      if (span < 1 || i + span > NVS_ENTRIES_PER_PAGE) throw new NvsImageError('SPAN', `${where} (${key}): span ${span} does not fit the page`);
      for (let j = 1; j < span; j++) {
        if (entryState(i + j) !== 2) throw new NvsImageError('BITMAP', `${where} (${key}): data entry ${i + j} not marked written`);
      }
      const intType = TYPE_NAME.get(type);
      if (intType) {
        if (span !== 1) throw new NvsImageError('SPAN', `${where} (${key}): primitive with span ${span}`);
        let value: number;
        switch (intType) {
          case 'u8': value = dv.getUint8(off + 24); break;
          case 'i8': value = dv.getInt8(off + 24); break;
          case 'u16': value = dv.getUint16(off + 24, true); break;
          case 'i16': value = dv.getInt16(off + 24, true); break;
          case 'u32': value = dv.getUint32(off + 24, true); break;
          default: value = dv.getInt32(off + 24, true);
        }
        if (ns === 0) {
          if (intType !== 'u8' || value < 1 || value > 254) throw new NvsImageError('NAMESPACE', `${where} (${key}): bad namespace entry`);
          if (namespaces.has(key) || nsByIndex.has(value)) throw new NvsImageError('NAMESPACE', `${where} (${key}): namespace defined twice`);
          namespaces.set(key, value);
          nsByIndex.set(value, key);
        } else {
          pending.push({ ns, key, item: { key, type: intType, value }, where });
        }
      } else if (type === NVS_TYPE.string || type === NVS_TYPE.blobData || type === NVS_TYPE.blobV1) {
        const size = dv.getUint16(off + 24, true);
        if (span !== 1 + ((size + 31) >> 5)) throw new NvsImageError('SPAN', `${where} (${key}): span ${span} disagrees with size ${size}`);
        const data = image.slice(off + 32, off + 32 + size);
        if (dv.getUint32(off + 28, true) !== nvsCrc32(data)) throw new NvsImageError('DATA_CRC', `${where} (${key}): data CRC mismatch`);
        if (type === NVS_TYPE.string) {
          if (size < 1 || data[size - 1] !== 0) throw new NvsImageError('VALUE', `${where} (${key}): string is not NUL-terminated`);
          let text: string;
          try {
            text = new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(0, size - 1));
          } catch {
            throw new NvsImageError('VALUE', `${where} (${key}): string is not UTF-8`);
          }
          pending.push({ ns, key, item: { key, type: 'string', value: text }, where });
        } else if (type === NVS_TYPE.blobV1) {
          pending.push({ ns, key, item: { key, type: 'blob', value: data }, where });
        } else {
          const id = `${ns}\0${key}\0${chunk}`;
          if (chunks.has(id)) throw new NvsImageError('DUPLICATE', `${where} (${key}): blob chunk ${chunk} appears twice`);
          chunks.set(id, { data, where });
        }
      } else if (type === NVS_TYPE.blobIndex) {
        if (span !== 1) throw new NvsImageError('SPAN', `${where} (${key}): blob index with span ${span}`);
        indexes.push({ ns, key, size: dv.getUint32(off + 24, true), count: image[off + 28]!, start: image[off + 29]!, where });
        pending.push({ ns, key, item: null, where });
      } else {
        throw new NvsImageError('ENTRY_TYPE', `${where} (${key}): unknown type 0x${type.toString(16)}`);
      }
      i += span;
    }
  }

  // Reassemble multi-page blobs.
  const blobs = new Map<string, Uint8Array>();
  for (const ix of indexes) {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let c = ix.start; c < ix.start + ix.count; c++) {
      const id = `${ix.ns}\0${ix.key}\0${c}`;
      const part = chunks.get(id);
      if (!part) throw new NvsImageError('BLOB', `${ix.where} (${ix.key}): blob chunk ${c} is missing`);
      chunks.delete(id);
      parts.push(part.data);
      total += part.data.length;
    }
    if (total !== ix.size) throw new NvsImageError('BLOB', `${ix.where} (${ix.key}): chunks hold ${total} bytes, index says ${ix.size}`);
    const whole = new Uint8Array(total);
    let o = 0;
    for (const part of parts) {
      whole.set(part, o);
      o += part.length;
    }
    blobs.set(`${ix.ns}\0${ix.key}`, whole);
  }
  for (const orphan of chunks.values()) throw new NvsImageError('BLOB', `${orphan.where}: blob chunk without an index`);

  const items: NvsItem[] = [];
  for (const p of pending) {
    const namespace = nsByIndex.get(p.ns);
    if (namespace === undefined) throw new NvsImageError('NAMESPACE', `${p.where} (${p.key}): namespace index ${p.ns} is not defined`);
    const id = `${p.ns}\0${p.key}`;
    if (seen.has(id)) throw new NvsImageError('DUPLICATE', `${p.where}: key ${p.key} appears twice in namespace ${namespace}`);
    seen.add(id);
    const item = p.item ?? { key: p.key, type: 'blob' as const, value: blobs.get(id)! };
    items.push({ ...item, namespace } as NvsItem);
  }
  return { namespaces, items, usedPages: pages.length };
}

/**
 * An item's value as the bytes a StoragePort over NVS returns (see src/identity.ts):
 * string -> UTF-8 without NUL, blob -> bytes, integers -> little-endian in their width.
 */
export function nvsItemBytes(item: NvsItem): Uint8Array {
  if (item.type === 'string') return enc.encode(item.value);
  if (item.type === 'blob') return item.value.slice();
  const width = INT_RANGE[item.type][2];
  const out = new Uint8Array(width);
  const dv = new DataView(out.buffer);
  if (width === 1) dv.setUint8(0, item.value & 0xff);
  else if (width === 2) dv.setUint16(0, item.value & 0xffff, true);
  else dv.setUint32(0, item.value >>> 0, true);
  return out;
}
