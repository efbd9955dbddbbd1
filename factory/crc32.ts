/**
 * CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) with zlib's calling
 * convention: `crc32(data, seed)` equals Python's `zlib.crc32(data, seed)`.
 * ESP-IDF's NVS uses seed 0xFFFFFFFF (esp_rom_crc32_le(0xffffffff, ...)).
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of data[start..end) continuing from `seed` (zlib semantics). Returns an unsigned 32-bit number. */
export function crc32(data: Uint8Array, seed = 0, start = 0, end = data.length): number {
  let c = (seed ^ 0xffffffff) >>> 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The NVS flavour: seed 0xFFFFFFFF. */
export function nvsCrc32(data: Uint8Array, start = 0, end = data.length): number {
  return crc32(data, 0xffffffff, start, end);
}
