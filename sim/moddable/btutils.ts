/**
 * Node implementation of the Moddable SDK's `btutils` (modules/network/ble/btutils.js,
 * SDK 8.2): the subset the firmware and sim/moddable/bleserver.ts use.
 *
 * - `Bytes`: an ArrayBuffer subclass. Built from a hex string or an ArrayBuffer;
 *   `littleEndian === true` reverses the bytes (the SDK's xs_bytes_set), so
 *   uuid`7A3F0001-...` holds the UUID in BLE wire order (least significant byte first),
 *   exactly as on the device. `toString()` prints it back in the usual big-endian form.
 * - `uuid` / `address` template tags.
 * - `typedValueToBuffer` / `typedBufferToValue`: the GATT JSON `type` conversions
 *   (a `Uint8Array` value is sent as `value.buffer`: its WHOLE buffer, as on the device).
 * - `serializeAdvertisement`: the AD structures the SDK's `Advertisement.serialize`
 *   builds, for the fields PawPost uses plus the common ones (others throw RangeError).
 *
 * No state; throws only on programming errors (unsupported field or type), like the SDK.
 */

const enc = new TextEncoder();
const dec = new TextDecoder();

function hexToBytes(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error('unsupported type');
  const out = new Uint8Array(s.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const HEX = '0123456789ABCDEF';
function toHexReversed(b: Uint8Array, delimiter = ''): string {
  const parts: string[] = [];
  for (let i = b.length - 1; i >= 0; i--) parts.push(HEX[b[i]! >> 4]! + HEX[b[i]! & 15]!);
  return parts.join(delimiter);
}

/** A byte string (UUID, address) stored as an ArrayBuffer; see the file comment for byte order. */
export class Bytes extends ArrayBuffer {
  /** `slice()` of a Bytes answers a plain ArrayBuffer (the constructor takes no length). */
  static override get [Symbol.species](): ArrayBufferConstructor {
    return ArrayBuffer;
  }
  constructor(bytes: string | ArrayBuffer, littleEndian?: boolean) {
    let length: number;
    if (typeof bytes === 'string') length = bytes.length >> 1;
    else if (bytes instanceof ArrayBuffer) length = bytes.byteLength;
    else throw new Error('unsupported type');
    super(length);
    this.set(bytes, littleEndian === true);
  }
  /** Replaces the contents (same length). */
  set(bytes: string | ArrayBuffer, littleEndian?: boolean): void {
    const src = typeof bytes === 'string' ? hexToBytes(bytes) : new Uint8Array(bytes).slice();
    if (src.length !== this.byteLength) throw new Error('size mismatch');
    if (littleEndian) src.reverse();
    new Uint8Array(this).set(src);
  }
  /** Same length and same bytes. */
  equals(other: ArrayBuffer): boolean {
    if (!(other instanceof ArrayBuffer) || other.byteLength !== this.byteLength) return false;
    const a = new Uint8Array(this);
    const b = new Uint8Array(other);
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  override toString(): string {
    const b = new Uint8Array(this);
    if (b.length === 6) return toHexReversed(b, ':');
    if (b.length === 16)
      return [toHexReversed(b.subarray(12, 16)), toHexReversed(b.subarray(10, 12)), toHexReversed(b.subarray(8, 10)), toHexReversed(b.subarray(6, 8)), toHexReversed(b.subarray(0, 6))].join('-');
    return toHexReversed(b);
  }
}

/** uuid`7A3F0001-5061-...`: a 16-bit, 32-bit or 128-bit UUID in wire (little-endian) order. */
export function uuid(strings: TemplateStringsArray): Bytes {
  return new Bytes(strings[0]!.replaceAll('-', ''), true);
}

/** address`66:55:44:33:22:11`. */
export function address(strings: TemplateStringsArray): Bytes {
  return new Bytes(strings[0]!.replaceAll(':', ''), true);
}

/** A UUID string from the GATT JSON ("7A3F0002-...") as Bytes in wire order. */
export function uuidFromString(s: string): Bytes {
  return new Bytes(s.replaceAll('-', ''), true);
}

/** GATT JSON `type` → the ArrayBuffer the stack sends (btutils.js toArrayBuffer). */
export function typedValueToBuffer(type: string | undefined, value: unknown): ArrayBuffer | unknown {
  switch (type) {
    case 'Uint8Array':
    case 'Int8Array':
    case 'Int16Array':
    case 'Uint16Array':
      return (value as ArrayBufferView).buffer;
    case 'Array':
      return new Uint8Array(value as number[]).buffer;
    case 'String':
      return enc.encode(value as string).buffer;
    case 'Uint8':
      return Uint8Array.of((value as number) & 0xff).buffer;
    case 'Int16':
    case 'Uint16':
      return Uint8Array.of((value as number) & 0xff, ((value as number) >> 8) & 0xff).buffer;
    case 'Uint32': {
      const v = value as number;
      return Uint8Array.of(v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff).buffer;
    }
    default:
      return value;
  }
}

/** Received ArrayBuffer → the GATT JSON `type` (btutils.js fromArrayBuffer). */
export function typedBufferToValue(type: string | undefined, buffer: ArrayBuffer): unknown {
  switch (type) {
    case 'Uint8Array':
    case 'Array':
      return new Uint8Array(buffer);
    case 'Int8Array':
      return new Int8Array(buffer);
    case 'Int16Array':
      return new Int16Array(buffer);
    case 'Uint16Array':
      return new Uint16Array(buffer);
    case 'String':
      return dec.decode(buffer);
    case 'Uint8':
      return new Uint8Array(buffer)[0]! & 0xff;
    case 'Int16':
      return new DataView(buffer).getInt16(0, true);
    case 'Uint16':
      return new DataView(buffer).getUint16(0, true);
    case 'Uint32':
      return new DataView(buffer).getUint32(0, true);
    default:
      return buffer;
  }
}

/** GAP AD types (gap.js GAP.ADType). */
export const ADType = {
  FLAGS: 0x01,
  INCOMPLETE_UUID16_LIST: 0x02,
  COMPLETE_UUID16_LIST: 0x03,
  INCOMPLETE_UUID128_LIST: 0x06,
  COMPLETE_UUID128_LIST: 0x07,
  SHORTENED_LOCAL_NAME: 0x08,
  COMPLETE_LOCAL_NAME: 0x09,
  TX_POWER_LEVEL: 0x0a,
  APPEARANCE: 0x19,
  MANUFACTURER_SPECIFIC_DATA: 0xff,
} as const;

function concatUuids(list: unknown): Uint8Array {
  const arr = list as ArrayBuffer[];
  const parts = arr.map((u) => new Uint8Array(u));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Advertisement.serialize: `{flags, completeName, completeUUID128List, ...}` → AD bytes
 * (length, type, data)*. Throws RangeError for a field this simulation does not know.
 */
export function serializeAdvertisement(data: Record<string, unknown>): ArrayBuffer {
  const structs: { type: number; data: Uint8Array }[] = [];
  for (const [key, v] of Object.entries(data)) {
    if (v === undefined) continue;
    switch (key) {
      case 'flags':
        structs.push({ type: ADType.FLAGS, data: Uint8Array.of((v as number) & 0xff) });
        break;
      case 'incompleteUUID16List':
        structs.push({ type: ADType.INCOMPLETE_UUID16_LIST, data: concatUuids(v) });
        break;
      case 'completeUUID16List':
        structs.push({ type: ADType.COMPLETE_UUID16_LIST, data: concatUuids(v) });
        break;
      case 'incompleteUUID128List':
        structs.push({ type: ADType.INCOMPLETE_UUID128_LIST, data: concatUuids(v) });
        break;
      case 'completeUUID128List':
        structs.push({ type: ADType.COMPLETE_UUID128_LIST, data: concatUuids(v) });
        break;
      case 'shortName':
        structs.push({ type: ADType.SHORTENED_LOCAL_NAME, data: enc.encode(v as string) });
        break;
      case 'completeName':
        structs.push({ type: ADType.COMPLETE_LOCAL_NAME, data: enc.encode(v as string) });
        break;
      case 'txPowerLevel':
        structs.push({ type: ADType.TX_POWER_LEVEL, data: Uint8Array.of((v as number) & 0xff) });
        break;
      case 'appearance':
        structs.push({ type: ADType.APPEARANCE, data: Uint8Array.of((v as number) & 0xff, ((v as number) >> 8) & 0xff) });
        break;
      case 'manufacturerSpecific': {
        const { identifier, data: d } = v as { identifier: number; data?: number[] };
        structs.push({ type: ADType.MANUFACTURER_SPECIFIC_DATA, data: Uint8Array.of(identifier & 0xff, (identifier >> 8) & 0xff, ...(d ?? [])) });
        break;
      }
      default:
        throw new RangeError(`advertisement field not simulated: ${key}`);
    }
  }
  const out = new Uint8Array(structs.reduce((n, s) => n + 2 + s.data.length, 0));
  let o = 0;
  for (const s of structs) {
    out[o++] = s.data.length + 1;
    out[o++] = s.type;
    out.set(s.data, o);
    o += s.data.length;
  }
  return out.buffer;
}

/** Parsed AD structures (what a scanning phone sees). */
export interface ParsedAdvertisement {
  flags?: number;
  completeName?: string;
  shortName?: string;
  /** 128-bit service UUIDs, lowercase "xxxxxxxx-xxxx-..." strings. */
  uuid128: string[];
}

/** Parses AD bytes as a scanner does; malformed trailing bytes are ignored. */
export function parseAdvertisement(buf: ArrayBuffer | undefined): ParsedAdvertisement {
  const out: ParsedAdvertisement = { uuid128: [] };
  if (!buf) return out;
  const b = new Uint8Array(buf);
  let i = 0;
  while (i + 1 < b.length) {
    const len = b[i]!;
    if (len === 0 || i + 1 + len > b.length) break;
    const type = b[i + 1]!;
    const d = b.subarray(i + 2, i + 1 + len);
    if (type === ADType.FLAGS && d.length >= 1) out.flags = d[0];
    else if (type === ADType.COMPLETE_LOCAL_NAME) out.completeName = dec.decode(d);
    else if (type === ADType.SHORTENED_LOCAL_NAME) out.shortName = dec.decode(d);
    else if (type === ADType.COMPLETE_UUID128_LIST || type === ADType.INCOMPLETE_UUID128_LIST)
      for (let j = 0; j + 16 <= d.length; j += 16) out.uuid128.push(new Bytes(d.slice(j, j + 16).buffer).toString().toLowerCase());
    i += 1 + len;
  }
  return out;
}
