/**
 * The signed firmware update manifest (issue 14): what the release command
 * (tools/release.ts) writes and the relay announces, and what the toy checks
 * before it writes a byte of a new image. Portable: no Node, no Moddable.
 *
 * Wire format (big-endian, fixed MANIFEST_BYTES = 156; docs/PROTOCOL.md "Firmware update manifest"):
 *   0   4  magic "PPFW"
 *   4   1  format version (1)
 *   5   1  release key id: index into the toy's compiled-in release public keys
 *   6   2  reserved, 0
 *   8  32  target board, ASCII [a-z0-9_/.-], NUL-padded (e.g. "esp32/m5atom_echo", "lin")
 *  40   6  firmware version major, minor, patch (u16 each)
 *  46   2  reserved, 0
 *  48   4  security version (u32): anti-rollback; the toy refuses one below its stored value
 *  52   4  image size in bytes (u32, 1..MANIFEST_MAX_IMAGE_BYTES)
 *  56  32  SHA-256 of the image
 *  88   4  issued at, seconds since 1970 (u32; informative)
 *  92  64  Ed25519 signature over SIGN_DOMAIN || bytes 0..91
 *
 * Errors: parse/verify return a typed UpdateRefusal code, never throw on bad input.
 */
import type { CryptoPort } from '../hal/ports.js';

export const MANIFEST_BYTES = 156;
export const MANIFEST_BODY_BYTES = 92;
export const MANIFEST_FORMAT = 1;
/** Upper bound on any image, whatever the slot: 4 MiB (the largest ESP32 OTA slot on a 8 MB flash). */
export const MANIFEST_MAX_IMAGE_BYTES = 4 * 1024 * 1024;
export const BOARD_MAX = 32;
const MAGIC = [0x50, 0x50, 0x46, 0x57]; // "PPFW"
/** Domain separation: a manifest signature can never be mistaken for a maker signature. */
export const SIGN_DOMAIN = 'PawPost firmware manifest v1\u0000';
const BOARD_RE = /^[a-z0-9_/.-]{1,32}$/;

/** Every reason an update is refused; each is also a counter `update.refused.<code>`. */
export type UpdateRefusal =
  | 'FORMAT' // not a manifest of this format (length, magic, reserved, board characters)
  | 'KEY' // the key id names no release key this firmware trusts
  | 'SIGNATURE' // the signature does not verify
  | 'BOARD' // built for another board
  | 'DOWNGRADE' // security version below the stored one
  | 'STALE' // firmware version not newer than the running one (a replayed older release)
  | 'SIZE' // image larger than the slot or the format limit, or empty
  | 'BUSY' // recording, playing or pairing: wait
  | 'STATE' // call out of order (no offer accepted, already switched)
  | 'OFFSET' // a chunk that does not continue the image
  | 'TRUNCATED' // fewer bytes than the manifest says
  | 'OVERFLOW' // more bytes than the manifest says
  | 'HASH' // the written image's SHA-256 differs from the manifest
  | 'IO'; // the slot or storage failed

export interface FirmwareVersion {
  major: number;
  minor: number;
  patch: number;
}

export interface UpdateManifest {
  keyId: number;
  board: string;
  version: FirmwareVersion;
  securityVersion: number;
  imageSize: number;
  /** 32 bytes. */
  sha256: Uint8Array;
  issuedAt: number;
  /** 64 bytes. */
  signature: Uint8Array;
}

/** -1, 0, 1 as a is older, equal, newer than b. */
export function compareVersions(a: FirmwareVersion, b: FirmwareVersion): number {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch !== b.patch) return a.patch < b.patch ? -1 : 1;
  return 0;
}

/** "1.2.3" → version, or undefined for anything else (each part 0..65535). */
export function parseVersion(s: string): FirmwareVersion | undefined {
  const m = /^(\d{1,5})\.(\d{1,5})\.(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const v = { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
  return v.major > 0xffff || v.minor > 0xffff || v.patch > 0xffff ? undefined : v;
}

export function formatVersion(v: FirmwareVersion): string {
  return `${v.major}.${v.minor}.${v.patch}`;
}

function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0x7f;
  return out;
}

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) >>> 0) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}
function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/**
 * The unsigned body (92 bytes) of a manifest. Throws RangeError on a field out
 * of range: this runs in the release tool, on the maker's own input.
 */
export function encodeManifestBody(m: Omit<UpdateManifest, 'signature'>): Uint8Array {
  if (!BOARD_RE.test(m.board)) throw new RangeError('board must be 1..32 of [a-z0-9_/.-]');
  if (!Number.isInteger(m.keyId) || m.keyId < 0 || m.keyId > 255) throw new RangeError('key id 0..255');
  for (const p of [m.version.major, m.version.minor, m.version.patch]) {
    if (!Number.isInteger(p) || p < 0 || p > 0xffff) throw new RangeError('version parts 0..65535');
  }
  if (!Number.isInteger(m.securityVersion) || m.securityVersion < 0 || m.securityVersion > 0xffffffff) throw new RangeError('security version u32');
  if (!Number.isInteger(m.imageSize) || m.imageSize < 1 || m.imageSize > MANIFEST_MAX_IMAGE_BYTES) throw new RangeError('image size out of range');
  if (m.sha256.length !== 32) throw new RangeError('sha256 must be 32 bytes');
  if (!Number.isInteger(m.issuedAt) || m.issuedAt < 0 || m.issuedAt > 0xffffffff) throw new RangeError('issuedAt u32');
  const b = new Uint8Array(MANIFEST_BODY_BYTES);
  b.set(MAGIC, 0);
  b[4] = MANIFEST_FORMAT;
  b[5] = m.keyId;
  b.set(asciiBytes(m.board), 8);
  put16(b, 40, m.version.major);
  put16(b, 42, m.version.minor);
  put16(b, 44, m.version.patch);
  put32(b, 48, m.securityVersion);
  put32(b, 52, m.imageSize);
  b.set(m.sha256, 56);
  put32(b, 88, m.issuedAt);
  return b;
}

/** The exact bytes the release key signs: SIGN_DOMAIN || body. */
export function manifestSignedMessage(body: Uint8Array): Uint8Array {
  const d = asciiBytes(SIGN_DOMAIN);
  const out = new Uint8Array(d.length + body.length);
  out.set(d, 0);
  out.set(body, d.length);
  return out;
}

/** body || signature: the 156 bytes that travel. */
export function joinManifest(body: Uint8Array, signature: Uint8Array): Uint8Array {
  if (body.length !== MANIFEST_BODY_BYTES || signature.length !== 64) throw new RangeError('body 92 and signature 64 bytes');
  const out = new Uint8Array(MANIFEST_BYTES);
  out.set(body, 0);
  out.set(signature, MANIFEST_BODY_BYTES);
  return out;
}

/** Parses the layout only (no signature check). Returns a refusal code for anything malformed. */
export function parseManifest(bytes: Uint8Array): UpdateManifest | 'FORMAT' {
  if (!(bytes instanceof Uint8Array) || bytes.length !== MANIFEST_BYTES) return 'FORMAT';
  for (let i = 0; i < 4; i++) if (bytes[i] !== MAGIC[i]) return 'FORMAT';
  if (bytes[4] !== MANIFEST_FORMAT || bytes[6] !== 0 || bytes[7] !== 0 || bytes[46] !== 0 || bytes[47] !== 0) return 'FORMAT';
  let board = '';
  let end = 8;
  while (end < 40 && bytes[end] !== 0) board += String.fromCharCode(bytes[end++]!);
  for (let i = end; i < 40; i++) if (bytes[i] !== 0) return 'FORMAT';
  if (!BOARD_RE.test(board)) return 'FORMAT';
  const imageSize = u32(bytes, 52);
  if (imageSize < 1 || imageSize > MANIFEST_MAX_IMAGE_BYTES) return 'FORMAT';
  return {
    keyId: bytes[5]!,
    board,
    version: { major: u16(bytes, 40), minor: u16(bytes, 42), patch: u16(bytes, 44) },
    securityVersion: u32(bytes, 48),
    imageSize,
    sha256: bytes.slice(56, 88),
    issuedAt: u32(bytes, 88),
    signature: bytes.slice(MANIFEST_BODY_BYTES, MANIFEST_BYTES),
  };
}

/**
 * Parses and checks the signature with the release key the manifest names.
 * `releaseKeys[keyId]` is a 32-byte Ed25519 public key (or absent: a retired key).
 */
export function verifyManifest(
  bytes: Uint8Array,
  releaseKeys: ReadonlyArray<Uint8Array | undefined>,
  crypto: Pick<CryptoPort, 'signVerify'>,
): UpdateManifest | UpdateRefusal {
  const m = parseManifest(bytes);
  if (m === 'FORMAT') return m;
  const key = releaseKeys[m.keyId];
  if (!key || key.length !== 32) return 'KEY';
  const ok = crypto.signVerify(manifestSignedMessage(bytes.subarray(0, MANIFEST_BODY_BYTES)), m.signature, key);
  return ok ? m : 'SIGNATURE';
}
