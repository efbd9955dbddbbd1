/**
 * What a toy's NVS library makes of the partitions the factory flashed: the
 * device's view, for the simulator and for tests of bad input. Where
 * parseNvsImage (strict, for the factory) throws at the first fault, the
 * ESP-IDF NVS library never does: at start-up it erases every entry whose
 * header CRC or span is wrong, skips pages whose header is corrupt, and
 * erases a string or blob whose data CRC fails when it is read
 * (components/nvs_flash/src/nvs_page.cpp, Page::load / mLoadEntryTable /
 * readItem). Whatever survives is what `preference.get` returns; the rest
 * reads as absent, and src/identity.ts then refuses the identity
 * (NOT_PROVISIONED or MISSING) and the toy shows the error pattern.
 *
 * Keys partition (NVS encryption on): PawPost's boot reads it with
 * nvs_flash_read_security_cfg and, when that fails (blank, bad CRC), leaves
 * NVS unmounted instead of generating new keys (what ESP-IDF's stock
 * nvs_flash_init does, which would make the factory identity unreadable for
 * good; docs/PROVISIONING.md). Unmounted NVS reads as empty.
 *
 * With encryption, a wrong key (valid CRC) decrypts every entry to garbage:
 * every header CRC fails and the whole identity reads as absent (on the
 * device, the NVS library also erases those entries in flash).
 */
import { nvsCrc32 } from './crc32.js';
import { cryptNvsEntry, NvsKeysError, parseNvsKeysPartition, type NvsKeysErrorCode } from './nvs-encryption.js';
import { NVS_ENTRIES_PER_PAGE, NVS_ENTRY_SIZE, NVS_PAGE_SIZE, NVS_TYPE, PAGE_STATE, PAGE_VERSION_V1, PAGE_VERSION_V2, type NvsIntType, type NvsItem } from './nvs-image.js';

/** MOUNTED, or why NVS stayed unmounted (keys partition refused, or a page of a newer format). */
export type NvsMountStatus = 'MOUNTED' | NvsKeysErrorCode | 'NEW_VERSION_FOUND';

export interface NvsMountResult {
  status: NvsMountStatus;
  /** The items the NVS library returns, last write winning. */
  items: NvsItem[];
  /** Entries the library erases at load or on read (bad CRC, bad span, illegal state, unreadable data). */
  erasedEntries: number;
  /** Pages skipped as corrupt (bad state or header CRC). */
  corruptPages: number;
}

export interface NvsMountOptions {
  /** The NVS partition size in the partition table (default: the image length rounded up to a page). */
  partitionBytes?: number;
  /** The nvs_keys partition as flashed; absent: NVS encryption is off. */
  keysPartition?: Uint8Array;
}

const INT_TYPES = new Map<number, NvsIntType>([
  [NVS_TYPE.u8, 'u8'], [NVS_TYPE.i8, 'i8'], [NVS_TYPE.u16, 'u16'], [NVS_TYPE.i16, 'i16'], [NVS_TYPE.u32, 'u32'], [NVS_TYPE.i32, 'i32'],
]);

function readKey(e: Uint8Array): string | undefined {
  let s = '';
  for (let i = 8; i < 24; i++) {
    const c = e[i]!;
    if (c === 0) return s.length ? s : undefined;
    if (c < 0x20 || c > 0x7e) return undefined;
    s += String.fromCharCode(c);
  }
  return undefined;
}

/**
 * Mounts `image` as the device would after flashing it into a partition of
 * `partitionBytes` (bytes past the image's end read as erased 0xFF; bytes
 * past the partition are not part of it). Never throws for bad content.
 */
export function mountNvsPartition(image: Uint8Array, options: NvsMountOptions = {}): NvsMountResult {
  const empty = (status: NvsMountStatus): NvsMountResult => ({ status, items: [], erasedEntries: 0, corruptPages: 0 });
  let keys: Uint8Array | undefined;
  if (options.keysPartition) {
    try {
      keys = parseNvsKeysPartition(options.keysPartition, false);
    } catch (e) {
      if (e instanceof NvsKeysError) return empty(e.code);
      throw e;
    }
  }
  const size = options.partitionBytes ?? Math.max(NVS_PAGE_SIZE, Math.ceil(image.length / NVS_PAGE_SIZE) * NVS_PAGE_SIZE);
  const flash = new Uint8Array(size).fill(0xff);
  flash.set(image.subarray(0, size));
  const dv = new DataView(flash.buffer);

  let erased = 0;
  let corrupt = 0;
  const pages: { base: number; seq: number }[] = [];
  for (let base = 0; base + NVS_PAGE_SIZE <= size; base += NVS_PAGE_SIZE) {
    const state = dv.getUint32(base, true);
    if (state === PAGE_STATE.UNINIT) continue;
    if (state !== PAGE_STATE.ACTIVE && state !== PAGE_STATE.FULL && state !== PAGE_STATE.FREEING) {
      corrupt++;
      continue;
    }
    if (dv.getUint32(base + 28, true) !== nvsCrc32(flash, base + 4, base + 28)) {
      corrupt++;
      continue;
    }
    const version = flash[base + 8]!;
    if (version !== PAGE_VERSION_V2 && version !== PAGE_VERSION_V1) {
      if (version < PAGE_VERSION_V2) return empty('NEW_VERSION_FOUND');
      corrupt++;
      continue;
    }
    pages.push({ base, seq: dv.getUint32(base + 4, true) });
  }
  pages.sort((a, b) => a.seq - b.seq);

  const entry = (off: number): Uint8Array => {
    const e = flash.slice(off, off + NVS_ENTRY_SIZE);
    if (keys) cryptNvsEntry(keys, e, off, true);
    return e;
  };
  const namespaces = new Map<number, string>();
  const values = new Map<string, { ns: number; key: string; item: Omit<NvsItem, 'namespace'> | 'blob-index'; size?: number; count?: number; start?: number }>();
  const chunks = new Map<string, Uint8Array>();

  for (const { base } of pages) {
    const st = (i: number) => (flash[base + 32 + (i >> 2)]! >> ((i & 3) * 2)) & 3;
    let i = 0;
    while (i < NVS_ENTRIES_PER_PAGE) {
      const s = st(i);
      if (s !== 2) {
        if (s === 1) erased++; // illegal state
        i++;
        continue;
      }
      const off = base + 64 + i * NVS_ENTRY_SIZE;
      const e = entry(off);
      const edv = new DataView(e.buffer);
      const hdr = new Uint8Array(28);
      hdr.set(e.subarray(0, 4), 0);
      hdr.set(e.subarray(8, 32), 4);
      const ns = e[0]!;
      const type = e[1]!;
      const span = e[2]!;
      const key = readKey(e);
      const varLen = type === NVS_TYPE.string || type === NVS_TYPE.blobData || type === NVS_TYPE.blobV1;
      const known = varLen || type === NVS_TYPE.blobIndex || INT_TYPES.has(type);
      if (edv.getUint32(4, true) !== nvsCrc32(hdr) || !known || key === undefined || span < 1 || i + span > NVS_ENTRIES_PER_PAGE || (!varLen && span !== 1)) {
        erased++;
        i++;
        continue;
      }
      let allWritten = true;
      for (let j = 1; j < span; j++) if (st(i + j) !== 2) allWritten = false;
      if (!allWritten) {
        erased += span;
        i += span;
        continue;
      }
      const id = `${ns}\0${key}`;
      if (varLen) {
        const dataSize = edv.getUint16(24, true);
        const data = new Uint8Array((span - 1) * NVS_ENTRY_SIZE);
        for (let j = 1; j < span; j++) data.set(entry(off + j * NVS_ENTRY_SIZE), (j - 1) * NVS_ENTRY_SIZE);
        const body = data.slice(0, dataSize);
        if (dataSize > data.length || nvsCrc32(body) !== edv.getUint32(28, true)) {
          erased += span; // erased when read (Page::readItem)
          values.delete(id);
        } else if (type === NVS_TYPE.string) {
          let text: string | undefined;
          try {
            text = dataSize >= 1 && body[dataSize - 1] === 0 ? new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(0, dataSize - 1)) : undefined;
          } catch {
            text = undefined;
          }
          if (text === undefined) erased += span;
          else values.set(id, { ns, key, item: { key, type: 'string', value: text } });
        } else if (type === NVS_TYPE.blobV1) {
          values.set(id, { ns, key, item: { key, type: 'blob', value: body } });
        } else {
          chunks.set(`${id}\0${e[3]}`, body);
        }
      } else if (type === NVS_TYPE.blobIndex) {
        values.set(id, { ns, key, item: 'blob-index', size: edv.getUint32(24, true), count: e[28]!, start: e[29]! });
      } else {
        const t = INT_TYPES.get(type)!;
        const v = t === 'u8' ? e[24]! : t === 'i8' ? edv.getInt8(24) : t === 'u16' ? edv.getUint16(24, true) : t === 'i16' ? edv.getInt16(24, true) : t === 'u32' ? edv.getUint32(24, true) : edv.getInt32(24, true);
        if (ns === 0) {
          if (t === 'u8') namespaces.set(v, key);
        } else {
          values.set(id, { ns, key, item: { key, type: t, value: v } });
        }
      }
      i += span;
    }
  }

  const items: NvsItem[] = [];
  for (const [id, v] of values) {
    const namespace = namespaces.get(v.ns);
    if (namespace === undefined) continue;
    if (v.item === 'blob-index') {
      const parts: Uint8Array[] = [];
      let total = 0;
      let ok = true;
      for (let c = v.start!; c < v.start! + v.count!; c++) {
        const part = chunks.get(`${id}\0${c}`);
        if (!part) {
          ok = false;
          break;
        }
        parts.push(part);
        total += part.length;
      }
      if (!ok || total !== v.size) continue; // nvs_get_blob: ESP_ERR_NVS_NOT_FOUND
      const whole = new Uint8Array(total);
      let o = 0;
      for (const p of parts) {
        whole.set(p, o);
        o += p.length;
      }
      items.push({ namespace, key: v.key, type: 'blob', value: whole });
    } else {
      items.push({ ...v.item, namespace } as NvsItem);
    }
  }
  return { status: 'MOUNTED', items, erasedEntries: erased, corruptPages: corrupt };
}

/**
 * An NVS item as Moddable's `preference.get` returns it on the ESP32
 * (modules/files/preference/esp32/modPreference.c): u8 -> boolean, other
 * integers -> number, string -> string, blob -> ArrayBuffer (a copy).
 * The simulator stores these into its `preference` module.
 */
export function preferenceValue(item: NvsItem): string | boolean | number | ArrayBuffer {
  if (item.type === 'blob') return item.value.slice().buffer as ArrayBuffer;
  if (item.type === 'string') return item.value;
  if (item.type === 'u8') return item.value !== 0;
  return Number(item.value);
}
