/**
 * ESP-IDF NVS encryption (flash-encryption-based scheme), as Espressif's
 * nvs_partition_gen.py (`generate-key`, `encrypt`, `decrypt`; package
 * esp-idf-nvs-partition-gen 0.2.0) writes and reads it and as ESP-IDF's C
 * reads it (components/nvs_flash/src/nvs_encrypted_partition.cpp,
 * nvs_api.cpp nvs_flash_read_security_cfg):
 *
 * - keys partition (`nvs_keys`, data/nvs_keys, 4096 bytes, flagged
 *   `encrypted` in the partition table so flash encryption protects it):
 *   bytes 0..31 the XTS data key (eky), 32..63 the XTS tweak key (tky),
 *   64..67 CRC32 of bytes 0..63 (zlib, seed 0xFFFFFFFF, little-endian),
 *   the rest 0xFF. All 0xFF (with CRC 0xFFFFFFFF) is "not initialised".
 * - NVS image: page headers (bytes 0..31) and entry-state bitmaps (32..63)
 *   stay plain; every written 32-byte entry is encrypted on its own with
 *   XTS-AES-256 (key eky || tky, 64 bytes), the data unit (tweak) being the
 *   entry's offset from the partition start as a 16-byte little-endian
 *   number. Entries left empty stay 0xFF. CRCs are of the plaintext.
 *
 * Keys here are SECRET: never log them; errors name codes and offsets only.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { nvsCrc32 } from './crc32.js';
import { NVS_ENTRIES_PER_PAGE, NVS_ENTRY_SIZE, NVS_PAGE_SIZE, NvsImageError, PAGE_STATE } from './nvs-image.js';

/** Size of the nvs_keys partition and of the file the factory writes for it. */
export const NVS_KEYS_PARTITION_BYTES = 4096;
/** eky (32) || tky (32). */
export const NVS_KEYS_BYTES = 64;
const FIRST_ENTRY_OFFSET = 64;
const BITMAP_OFFSET = 32;

/**
 * Why a keys partition was refused (the esp_err_t ESP-IDF returns, by name):
 * KEYS_NOT_INITIALIZED: blank (all 0xFF); CORRUPT_KEY_PART: the CRC does not
 * match; SIZE: not a 4096-byte partition image; FORMAT: bytes after the CRC
 * are not 0xFF, or the two keys are equal (XTS needs distinct halves).
 */
export type NvsKeysErrorCode = 'KEYS_NOT_INITIALIZED' | 'CORRUPT_KEY_PART' | 'SIZE' | 'FORMAT';

export class NvsKeysError extends Error {
  override readonly name = 'NvsKeysError';
  readonly code: NvsKeysErrorCode;
  constructor(code: NvsKeysErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

function sameHalves(keys: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (keys[i] !== keys[32 + i]) return false;
  return true;
}

/** 64 fresh key bytes (eky || tky) from `random` (node:crypto randomBytes in the factory). */
export function generateNvsKeys(random: (n: number) => Uint8Array): Uint8Array {
  for (;;) {
    const k = new Uint8Array(random(NVS_KEYS_BYTES));
    if (k.length !== NVS_KEYS_BYTES) throw new NvsKeysError('SIZE', 'random source returned the wrong length');
    if (!sameHalves(k)) return k;
  }
}

/** The 4096-byte nvs_keys partition image holding `keys` (as `generate-key` writes it). */
export function formatNvsKeysPartition(keys: Uint8Array): Uint8Array {
  if (!(keys instanceof Uint8Array) || keys.length !== NVS_KEYS_BYTES) throw new NvsKeysError('SIZE', 'NVS keys must be 64 bytes');
  if (sameHalves(keys)) throw new NvsKeysError('FORMAT', 'the XTS data and tweak keys must differ');
  const out = new Uint8Array(NVS_KEYS_PARTITION_BYTES).fill(0xff);
  out.set(keys, 0);
  new DataView(out.buffer).setUint32(NVS_KEYS_BYTES, nvsCrc32(keys), true);
  return out;
}

/**
 * Reads the keys from an nvs_keys partition image, checking what
 * nvs_flash_read_security_cfg checks (blank, CRC) and, with `strict` (the
 * factory's own files), the size and the 0xFF tail. `strict: false` reads as
 * the device does: only bytes 0..67 matter, and a short image reads as if the
 * rest of the partition were erased (0xFF). Returns the 64 key bytes; throws
 * NvsKeysError.
 */
export function parseNvsKeysPartition(part: Uint8Array, strict = true): Uint8Array {
  if (!(part instanceof Uint8Array)) throw new NvsKeysError('SIZE', 'keys partition must be bytes');
  if (strict && part.length !== NVS_KEYS_PARTITION_BYTES) {
    throw new NvsKeysError('SIZE', `keys partition is ${part.length} bytes, not ${NVS_KEYS_PARTITION_BYTES} (truncated?)`);
  }
  const head = new Uint8Array(NVS_KEYS_BYTES + 4).fill(0xff);
  head.set(part.subarray(0, NVS_KEYS_BYTES + 4));
  const keys = head.slice(0, NVS_KEYS_BYTES);
  const crc = new DataView(head.buffer).getUint32(NVS_KEYS_BYTES, true);
  if (keys.every((b) => b === 0xff) && crc === 0xffffffff) throw new NvsKeysError('KEYS_NOT_INITIALIZED', 'keys partition is blank');
  if (nvsCrc32(keys) !== crc) throw new NvsKeysError('CORRUPT_KEY_PART', 'keys partition CRC mismatch');
  if (strict) {
    for (let i = NVS_KEYS_BYTES + 4; i < part.length; i++) {
      if (part[i] !== 0xff) throw new NvsKeysError('FORMAT', `keys partition byte ${i} is not erased`);
    }
    if (sameHalves(keys)) throw new NvsKeysError('FORMAT', 'the XTS data and tweak keys are equal');
  }
  return keys;
}

/** The XTS data unit of the entry at `offset` bytes from the partition start: offset as 16 bytes little-endian. */
function dataUnit(offset: number): Uint8Array {
  const t = new Uint8Array(16);
  new DataView(t.buffer).setUint32(0, offset, true);
  return t;
}

/** Encrypts (or decrypts) one 32-byte entry at `offset` in place. */
export function cryptNvsEntry(keys: Uint8Array, entry: Uint8Array, offset: number, decrypt: boolean): void {
  const c = decrypt ? createDecipheriv('aes-256-xts', keys, dataUnit(offset)) : createCipheriv('aes-256-xts', keys, dataUnit(offset));
  const out = c.update(entry);
  c.final();
  entry.set(out);
}

function entryState(image: Uint8Array, base: number, i: number): number {
  return (image[base + BITMAP_OFFSET + (i >> 2)]! >> ((i & 3) * 2)) & 3;
}

function checkKeys(keys: Uint8Array): void {
  if (!(keys instanceof Uint8Array) || keys.length !== NVS_KEYS_BYTES) throw new NvsKeysError('SIZE', 'NVS keys must be 64 bytes');
  if (sameHalves(keys)) throw new NvsKeysError('FORMAT', 'the XTS data and tweak keys must differ');
}

function cryptImage(image: Uint8Array, keys: Uint8Array, decrypt: boolean): Uint8Array {
  checkKeys(keys);
  if (!(image instanceof Uint8Array) || image.length === 0 || image.length % NVS_PAGE_SIZE !== 0) {
    throw new NvsImageError('SIZE', `image length ${image?.length ?? 0} is not a positive multiple of ${NVS_PAGE_SIZE} (truncated?)`);
  }
  const out = image.slice();
  const dv = new DataView(out.buffer);
  for (let base = 0; base < out.length; base += NVS_PAGE_SIZE) {
    if (dv.getUint32(base, true) === PAGE_STATE.UNINIT) continue;
    for (let i = 0; i < NVS_ENTRIES_PER_PAGE; i++) {
      if (entryState(out, base, i) === 3) continue; // empty: stays erased
      const off = base + FIRST_ENTRY_OFFSET + i * NVS_ENTRY_SIZE;
      cryptNvsEntry(keys, out.subarray(off, off + NVS_ENTRY_SIZE), off, decrypt);
    }
  }
  return out;
}

/**
 * Encrypts a plain NVS partition image (factory/nvs-image.ts buildNvsImage)
 * with `keys` (64 bytes): byte for byte what `nvs_partition_gen.py encrypt`
 * writes from the same CSV with the same key file. Throws NvsImageError SIZE
 * or NvsKeysError.
 */
export function encryptNvsImage(plain: Uint8Array, keys: Uint8Array): Uint8Array {
  return cryptImage(plain, keys, false);
}

/**
 * Decrypts an encrypted NVS image (every entry the bitmap marks as not
 * empty). With the wrong keys the result is garbage that parseNvsImage
 * refuses (ENTRY_CRC). Throws NvsImageError SIZE or NvsKeysError.
 */
export function decryptNvsImage(encrypted: Uint8Array, keys: Uint8Array): Uint8Array {
  return cryptImage(encrypted, keys, true);
}
