/**
 * The toy's network settings (Wi-Fi and MQTT broker), received from a paired
 * phone over the authenticated pairing session and kept on the data StoragePort
 * under NETWORK_SETTINGS_KEY. Portable.
 *
 * Record (also the wire form inside the sealed OP_NETWORK request, see
 * docs/PROTOCOL.md "## Pairing"):
 *   u8 version=1, u8 ssidLen, ssid (UTF-8, 1..32 bytes),
 *   u8 passLen, passphrase (0 = open network, or 8..63 printable ASCII, or 64 hex digits),
 *   u8 hostLen, brokerHost (1..64 bytes of [A-Za-z0-9.-], or an IPv4 literal),
 *   u16 BE brokerPort (1..65535)
 * At most 1+1+32+1+64+1+64+2 = 166 bytes.
 *
 * Errors: NetworkSettingsError with code INVALID (a field out of bounds) or
 * CORRUPT (a stored record that does not parse). The passphrase is secret: it
 * never appears in an error message.
 */
import type { StoragePort } from '../hal/ports.js';

export const NETWORK_SETTINGS_KEY = 'net';
export const MAX_SSID_BYTES = 32;
export const MAX_PASSPHRASE_BYTES = 64;
export const MAX_HOST_BYTES = 64;
export const MAX_NETWORK_RECORD_BYTES = 166;

export interface NetworkSettings {
  /** Wi-Fi SSID, 1..32 bytes of UTF-8. */
  ssid: string;
  /** WPA2/WPA3 passphrase: '' (open), 8..63 printable ASCII, or 64 hex digits. Secret. */
  passphrase: string;
  /** MQTT broker host name or IPv4 address, 1..64 chars of [A-Za-z0-9.-]. */
  brokerHost: string;
  /** MQTT broker TCP port, 1..65535. */
  brokerPort: number;
}

export type NetworkSettingsErrorCode = 'INVALID' | 'CORRUPT';

export class NetworkSettingsError extends Error {
  override readonly name = 'NetworkSettingsError';
  readonly code: NetworkSettingsErrorCode;
  constructor(code: NetworkSettingsErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

const HOST_RE = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const PRINTABLE_RE = /^[\x20-\x7e]*$/;
const HEX64_RE = /^[0-9A-Fa-f]{64}$/;

/** Checks every field; throws NetworkSettingsError('INVALID'). */
export function checkNetworkSettings(s: NetworkSettings): void {
  const bad = (why: string): never => {
    throw new NetworkSettingsError('INVALID', `network settings: ${why}`);
  };
  if (!s || typeof s !== 'object') bad('not an object');
  if (typeof s.ssid !== 'string') bad('ssid must be a string');
  const ssid = new TextEncoder().encode(s.ssid);
  if (ssid.length < 1 || ssid.length > MAX_SSID_BYTES) bad('ssid must be 1..32 bytes');
  if (typeof s.passphrase !== 'string') bad('passphrase must be a string');
  const p = s.passphrase;
  const passOk = p.length === 0 || (p.length >= 8 && p.length <= 63 && PRINTABLE_RE.test(p)) || HEX64_RE.test(p);
  if (!passOk) bad('passphrase must be empty, 8..63 printable ASCII characters, or 64 hex digits');
  if (typeof s.brokerHost !== 'string' || s.brokerHost.length < 1 || s.brokerHost.length > MAX_HOST_BYTES || !HOST_RE.test(s.brokerHost) || s.brokerHost.includes('..'))
    bad('broker host must be 1..64 characters of A-Z a-z 0-9 . -');
  if (!Number.isInteger(s.brokerPort) || s.brokerPort < 1 || s.brokerPort > 65535) bad('broker port must be 1..65535');
}

/** Encodes the record (see module doc). Throws NetworkSettingsError('INVALID'). */
export function encodeNetworkSettings(s: NetworkSettings): Uint8Array {
  checkNetworkSettings(s);
  const e = new TextEncoder();
  const ssid = e.encode(s.ssid);
  const pass = e.encode(s.passphrase);
  const host = e.encode(s.brokerHost);
  const out = new Uint8Array(1 + 1 + ssid.length + 1 + pass.length + 1 + host.length + 2);
  let o = 0;
  out[o++] = 1;
  for (const f of [ssid, pass, host]) {
    out[o++] = f.length;
    for (let i = 0; i < f.length; i++) out[o++] = f[i]!;
  }
  out[o++] = s.brokerPort >>> 8;
  out[o++] = s.brokerPort & 0xff;
  return out;
}

/**
 * Parses a record. Throws NetworkSettingsError: CORRUPT on a bad shape (version,
 * lengths, trailing bytes, bad UTF-8), INVALID when a field is out of bounds.
 */
export function decodeNetworkSettings(b: Uint8Array): NetworkSettings {
  const bad = (why: string): never => {
    throw new NetworkSettingsError('CORRUPT', `network settings record: ${why}`);
  };
  if (b.length < 7 || b.length > MAX_NETWORK_RECORD_BYTES) bad('bad length');
  if (b[0] !== 1) bad('unknown version');
  const dec = new TextDecoder('utf-8', { fatal: true });
  let o = 1;
  const field = (max: number): string => {
    if (o >= b.length) bad('truncated');
    const n = b[o]!;
    if (n > max || o + 1 + n > b.length) bad('field too long');
    let s = '';
    try {
      s = dec.decode(b.subarray(o + 1, o + 1 + n));
    } catch {
      bad('bad text');
    }
    o += 1 + n;
    return s;
  };
  const ssid = field(MAX_SSID_BYTES);
  const passphrase = field(MAX_PASSPHRASE_BYTES);
  const brokerHost = field(MAX_HOST_BYTES);
  if (o + 2 !== b.length) bad('bad port or trailing bytes');
  const brokerPort = (b[o]! << 8) | b[o + 1]!;
  const s = { ssid, passphrase, brokerHost, brokerPort };
  checkNetworkSettings(s);
  return s;
}

/** Stores settings on `storage` (atomic write of one key). Throws NetworkSettingsError('INVALID') or the storage's PortError. */
export function saveNetworkSettings(storage: StoragePort, s: NetworkSettings): void {
  storage.write(NETWORK_SETTINGS_KEY, encodeNetworkSettings(s));
}

/**
 * Loads the settings, or undefined when none are stored. A corrupt record is
 * reported as undefined and counted by the caller via `onCorrupt` (it is left in
 * place until the next save or factory reset).
 */
export function loadNetworkSettings(storage: StoragePort, onCorrupt?: () => void): NetworkSettings | undefined {
  const raw = storage.read(NETWORK_SETTINGS_KEY);
  if (!raw) return undefined;
  try {
    return decodeNetworkSettings(raw);
  } catch {
    onCorrupt?.();
    return undefined;
  }
}
