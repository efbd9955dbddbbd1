/**
 * The toy's factory identity, read at start-up from the read-only factory
 * storage (NVS namespace "pawpost", written by `npm run provision`; see
 * docs/PROVISIONING.md for every key, its NVS type and its byte form).
 *
 * Portable (XS and Node): no Node, no Moddable specifier. The storage adapter
 * maps NVS types to bytes as follows, and this module reads only bytes:
 *   string -> UTF-8 bytes without the NUL; blob -> the bytes;
 *   i32 -> 4 bytes little-endian; u8 -> 1 byte.
 *
 * Start-up calls `loadIdentity(storage)` (throws IdentityError) or
 * `tryLoadIdentity(storage)` (returns a result). A toy whose identity does not
 * load must not run normally: it shows the identity-error LED pattern and logs
 * one `identity.invalid` line with the error code and the key name (never a
 * value). Every outcome is counted (`identity.ok`, `identity.error.<CODE>`).
 */
import type { CryptoPort, LogPort, StoragePort } from '../hal/ports.js';
import type { Counters } from './counters.js';
import { isSmallOrderKey } from './key-checks.js';
import { base32Encode, toyIdBytes as toyIdToBytes } from './setup-code.js';

/** NVS namespace of the factory data. */
export const IDENTITY_NAMESPACE = 'pawpost';

/** Current layout version written by the factory (key `id_ver`). */
export const IDENTITY_VERSION = 1;

/**
 * NVS key names (each <= 15 characters, the NVS limit) and their NVS types.
 * The factory writes them in this order; `id_done` is last, so a partly
 * written image is recognisable.
 */
export const IDENTITY_KEYS = {
  /** i32: layout version, IDENTITY_VERSION. */
  version: 'id_ver',
  /** string: toy id, 32 lowercase hex characters (16 random bytes). */
  toyId: 'toy_id',
  /** blob, 32 bytes: X25519 secret key. SECRET. */
  boxSecretKey: 'box_sk',
  /** blob, 32 bytes: X25519 public key. */
  boxPublicKey: 'box_pk',
  /** blob, 16 bytes: the setup secret printed in the label's QR code. SECRET. */
  setupSecret: 'setup_sec',
  /** string: MQTT user name; equals the toy id. */
  mqttUser: 'mqtt_user',
  /** string: MQTT password, 16..128 printable ASCII characters. SECRET. */
  mqttPassword: 'mqtt_pass',
  /** string: broker host name, 1..253 characters of [A-Za-z0-9.-]. */
  mqttHost: 'mqtt_host',
  /** i32: broker TCP port, 1..65535. */
  mqttPort: 'mqtt_port',
  /** blob, 64 bytes: maker's Ed25519 signature over makerSignedMessage(toyId, box_pk). */
  makerSignature: 'maker_sig',
  /** u8: 1 when the factory finished writing the identity. */
  done: 'id_done',
  /**
   * OPTIONAL blob, 64..2048 bytes: the DER certificate of the CA the broker's TLS
   * certificate must chain to (`provision --broker-ca`). Absent: the SDK's own CA list.
   */
  mqttCa: 'mqtt_ca',
  /**
   * OPTIONAL blob, 32 bytes: the relay's X25519 public key (`npm run relay -- init`
   * makes it; `provision --relay-pub`). With it the toy enrolls each paired phone at the
   * relay by a sealed notice on its `ctl` topic (src/enrollment-notices.ts).
   */
  relayPublicKey: 'relay_pk',
} as const;

/** Bounds of the optional broker CA certificate (DER), bytes. */
export const MQTT_CA_MIN_BYTES = 64;
export const MQTT_CA_MAX_BYTES = 2048;

/** Every identity key in the order the factory writes them. */
export const IDENTITY_KEY_LIST: readonly string[] = [
  IDENTITY_KEYS.version,
  IDENTITY_KEYS.toyId,
  IDENTITY_KEYS.boxSecretKey,
  IDENTITY_KEYS.boxPublicKey,
  IDENTITY_KEYS.setupSecret,
  IDENTITY_KEYS.mqttUser,
  IDENTITY_KEYS.mqttPassword,
  IDENTITY_KEYS.mqttHost,
  IDENTITY_KEYS.mqttPort,
  IDENTITY_KEYS.makerSignature,
  IDENTITY_KEYS.done,
];

/** Domain-separation prefix of the maker signature: ASCII "PawPost toy v1" (14 bytes). */
export const MAKER_SIGNATURE_CONTEXT = 'PawPost toy v1';

/** The factory identity of one toy. Holds secrets: never log it. */
export interface Identity {
  readonly version: number;
  /** 32 lowercase hex characters. */
  readonly toyId: string;
  /** The 16 bytes the toy id encodes. */
  readonly toyIdBytes: Uint8Array;
  /** X25519 secret key, 32 bytes. SECRET. (Same field names as pairing-service's ToyIdentity, so an Identity can be passed there.) */
  readonly secretKey: Uint8Array;
  /** X25519 public key, 32 bytes. */
  readonly publicKey: Uint8Array;
  /** 16 bytes. SECRET. */
  readonly setupSecret: Uint8Array;
  readonly mqttUser: string;
  /** SECRET. */
  readonly mqttPassword: string;
  readonly mqttHost: string;
  readonly mqttPort: number;
  /** DER certificate of the broker's CA, when the factory fixed one. */
  readonly mqttCa?: Uint8Array;
  /** The relay's X25519 public key, when the factory wrote one. */
  readonly relayPublicKey?: Uint8Array;
  /** 64 bytes, Ed25519. */
  readonly makerSignature: Uint8Array;
}

/**
 * Why the identity did not load. Stable codes (the lead maps them to the LED
 * error pattern):
 * - NOT_PROVISIONED: no identity key at all (a blank or wiped factory partition);
 * - MISSING: some keys present, `key` absent (a partly written image);
 * - MALFORMED: `key` has the wrong length, range or characters;
 * - VERSION: `id_ver` names a layout this firmware does not know;
 * - MISMATCH: box_pk is not the public key of box_sk (only with options.crypto);
 * - SIGNATURE: maker_sig does not verify (only with options.makerPublicKey);
 * - IO: the storage port threw while reading.
 */
export type IdentityErrorCode = 'NOT_PROVISIONED' | 'MISSING' | 'MALFORMED' | 'VERSION' | 'MISMATCH' | 'SIGNATURE' | 'IO';

/** Every IdentityErrorCode, for exhaustive mapping (e.g. to LED patterns). */
export const IDENTITY_ERROR_CODES: readonly IdentityErrorCode[] = [
  'NOT_PROVISIONED', 'MISSING', 'MALFORMED', 'VERSION', 'MISMATCH', 'SIGNATURE', 'IO',
];

/** A typed identity error. `message` and `key` never hold a value, only names. */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  readonly code: IdentityErrorCode;
  /** The NVS key concerned, when one is. */
  readonly key: string | undefined;
  constructor(code: IdentityErrorCode, key: string | undefined, message: string) {
    super(message);
    this.code = code;
    this.key = key;
  }
}

export interface LoadIdentityOptions {
  /** Counts `identity.ok` and `identity.error.<CODE>`. */
  counters?: Counters;
  /** Logs one `identity.loaded` or `identity.invalid` line (code and key only). */
  log?: LogPort;
  /**
   * When given, checks that box_pk derives from box_sk (one X25519: ~42 ms on
   * desktop XS, seconds on the ESP32 in pure JS: leave it out at every boot
   * unless the crypto port is native).
   */
  crypto?: CryptoPort;
  /** When given (with crypto), verifies maker_sig with this 32-byte Ed25519 key. */
  makerPublicKey?: Uint8Array;
}

export type IdentityResult = { ok: true; identity: Identity } | { ok: false; error: IdentityError };

const HEX = '0123456789abcdef';

/** 16 bytes as 32 lowercase hex characters. */
export function toyIdFromBytes(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX.charAt(bytes[i]! >> 4) + HEX.charAt(bytes[i]! & 15);
  return s;
}

/**
 * The byte string the maker signs (Ed25519) for each toy:
 * ASCII "PawPost toy v1" (14) || toy id bytes (16) || X25519 public key (32) = 62 bytes.
 * The parent app rebuilds it to tell a genuine toy.
 */
export function makerSignedMessage(toyIdBytes: Uint8Array, boxPublicKey: Uint8Array): Uint8Array {
  const ctx = new TextEncoder().encode(MAKER_SIGNATURE_CONTEXT);
  const out = new Uint8Array(ctx.length + 16 + 32);
  let o = 0;
  for (let i = 0; i < ctx.length; i++) out[o++] = ctx[i]!;
  for (let i = 0; i < 16; i++) out[o++] = toyIdBytes[i]!;
  for (let i = 0; i < 32; i++) out[o++] = boxPublicKey[i]!;
  return out;
}

/** Domain-separation prefix of the label check string: ASCII "PawPost check v1". */
export const CHECK_STRING_CONTEXT = 'PawPost check v1';

/**
 * The short check string printed on the label beside the QR code, "XXXX-XXXX":
 * the first 40 bits of SHA-512("PawPost check v1" || toy id (16) || X25519
 * public key (32)) in RFC 4648 base32. Derived from public data only (it may
 * sit in the registry); the parent app shows the same string for the toy it
 * paired with, so a person can compare it with the label.
 */
export function toyCheckString(crypto: Pick<CryptoPort, 'sha512'>, toyIdBytes: Uint8Array, publicKey: Uint8Array): string {
  const ctx = new TextEncoder().encode(CHECK_STRING_CONTEXT);
  const msg = new Uint8Array(ctx.length + 48);
  for (let i = 0; i < ctx.length; i++) msg[i] = ctx[i]!;
  for (let i = 0; i < 16; i++) msg[ctx.length + i] = toyIdBytes[i]!;
  for (let i = 0; i < 32; i++) msg[ctx.length + 16 + i] = publicKey[i]!;
  const b32 = base32Encode(crypto.sha512(msg).subarray(0, 5));
  return `${b32.slice(0, 4)}-${b32.slice(4, 8)}`;
}

function allSame(b: Uint8Array): boolean {
  for (let i = 1; i < b.length; i++) if (b[i] !== b[0]) return false;
  return true;
}

function decodeAscii(b: Uint8Array, key: string, min: number, max: number, re: RegExp): string {
  if (b.length < min || b.length > max) throw new IdentityError('MALFORMED', key, `${key}: length ${b.length} outside ${min}..${max}`);
  let s = '';
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c < 0x21 || c > 0x7e) throw new IdentityError('MALFORMED', key, `${key}: non-printable byte at ${i}`);
    s += String.fromCharCode(c);
  }
  if (!re.test(s)) throw new IdentityError('MALFORMED', key, `${key}: wrong characters`);
  return s;
}

function readI32(b: Uint8Array, key: string): number {
  if (b.length !== 4) throw new IdentityError('MALFORMED', key, `${key}: i32 must be 4 bytes, got ${b.length}`);
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) | 0;
}

function blob(b: Uint8Array, key: string, n: number): Uint8Array {
  if (b.length !== n) throw new IdentityError('MALFORMED', key, `${key}: must be ${n} bytes, got ${b.length}`);
  return b;
}

/** Keys the factory may write or leave out (a toy without them uses the defaults). */
const OPTIONAL_KEYS: readonly string[] = [IDENTITY_KEYS.mqttCa, IDENTITY_KEYS.relayPublicKey];

function readAll(storage: StoragePort): Map<string, Uint8Array> {
  const got = new Map<string, Uint8Array>();
  for (const key of [...IDENTITY_KEY_LIST, ...OPTIONAL_KEYS]) {
    let v: Uint8Array | undefined;
    try {
      v = storage.read(key);
    } catch (e) {
      const code = (e as { code?: unknown })?.code;
      throw new IdentityError('IO', key, `${key}: storage read failed${typeof code === 'string' ? ` (${code})` : ''}`);
    }
    if (v !== undefined) {
      if (!(v instanceof Uint8Array)) throw new IdentityError('MALFORMED', key, `${key}: storage returned a non-byte value`);
      got.set(key, v);
    }
  }
  return got;
}

function parse(storage: StoragePort, options: LoadIdentityOptions): Identity {
  const K = IDENTITY_KEYS;
  const got = readAll(storage);
  if (got.size === 0) throw new IdentityError('NOT_PROVISIONED', undefined, 'no factory identity in storage');
  // Version first: an unknown layout is reported as VERSION, not as missing keys.
  const verBytes = got.get(K.version);
  if (verBytes !== undefined) {
    const v = readI32(verBytes, K.version);
    if (v !== IDENTITY_VERSION) throw new IdentityError('VERSION', K.version, `identity layout version ${v} is not supported`);
  }
  for (const key of IDENTITY_KEY_LIST) {
    if (!got.has(key)) throw new IdentityError('MISSING', key, `${key}: missing`);
  }
  const need = (k: string) => got.get(k)!;
  const done = need(K.done);
  if (done.length !== 1 || done[0] !== 1) throw new IdentityError('MALFORMED', K.done, `${K.done}: must be the u8 1`);

  const toyId = decodeAscii(need(K.toyId), K.toyId, 32, 32, /^[0-9a-f]{32}$/);
  const toyIdBytes = toyIdToBytes(toyId);
  const secretKey = blob(need(K.boxSecretKey), K.boxSecretKey, 32);
  if (allSame(secretKey)) throw new IdentityError('MALFORMED', K.boxSecretKey, `${K.boxSecretKey}: degenerate key`);
  const publicKey = blob(need(K.boxPublicKey), K.boxPublicKey, 32);
  if (allSame(publicKey)) throw new IdentityError('MALFORMED', K.boxPublicKey, `${K.boxPublicKey}: degenerate key`);
  const setupSecret = blob(need(K.setupSecret), K.setupSecret, 16);
  if (allSame(setupSecret)) throw new IdentityError('MALFORMED', K.setupSecret, `${K.setupSecret}: degenerate secret`);
  const mqttUser = decodeAscii(need(K.mqttUser), K.mqttUser, 1, 64, /^[^:]+$/);
  if (mqttUser !== toyId) throw new IdentityError('MALFORMED', K.mqttUser, `${K.mqttUser}: must equal the toy id`);
  const mqttPassword = decodeAscii(need(K.mqttPassword), K.mqttPassword, 16, 128, /^[\x21-\x7e]+$/);
  const mqttHost = decodeAscii(need(K.mqttHost), K.mqttHost, 1, 253, /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/);
  const mqttPort = readI32(need(K.mqttPort), K.mqttPort);
  if (mqttPort < 1 || mqttPort > 65535) throw new IdentityError('MALFORMED', K.mqttPort, `${K.mqttPort}: ${mqttPort} outside 1..65535`);
  const makerSignature = blob(need(K.makerSignature), K.makerSignature, 64);
  const mqttCa = got.get(K.mqttCa);
  if (mqttCa !== undefined && (mqttCa.length < MQTT_CA_MIN_BYTES || mqttCa.length > MQTT_CA_MAX_BYTES || mqttCa[0] !== 0x30)) {
    throw new IdentityError('MALFORMED', K.mqttCa, `${K.mqttCa}: not a DER certificate of ${MQTT_CA_MIN_BYTES}..${MQTT_CA_MAX_BYTES} bytes`);
  }
  const relayPublicKey = got.get(K.relayPublicKey);
  if (relayPublicKey !== undefined) {
    blob(relayPublicKey, K.relayPublicKey, 32);
    if (isSmallOrderKey(relayPublicKey)) throw new IdentityError('MALFORMED', K.relayPublicKey, `${K.relayPublicKey}: key of small order`);
  }

  const crypto = options.crypto;
  if (crypto) {
    let derived: Uint8Array;
    try {
      derived = crypto.boxKeyPairFromSecret(secretKey).publicKey;
    } catch {
      throw new IdentityError('MALFORMED', K.boxSecretKey, `${K.boxSecretKey}: rejected by the crypto port`);
    }
    for (let i = 0; i < 32; i++) {
      if (derived[i] !== publicKey[i]) throw new IdentityError('MISMATCH', K.boxPublicKey, `${K.boxPublicKey}: does not belong to ${K.boxSecretKey}`);
    }
    if (options.makerPublicKey) {
      const ok = crypto.signVerify(makerSignedMessage(toyIdBytes, publicKey), makerSignature, options.makerPublicKey);
      if (!ok) throw new IdentityError('SIGNATURE', K.makerSignature, `${K.makerSignature}: maker signature does not verify`);
    }
  }
  return {
    version: IDENTITY_VERSION, toyId, toyIdBytes, secretKey, publicKey, setupSecret,
    mqttUser, mqttPassword, mqttHost, mqttPort, makerSignature,
    ...(mqttCa ? { mqttCa } : {}),
    ...(relayPublicKey ? { relayPublicKey } : {}),
  };
}

/**
 * Reads and validates the identity. Never throws anything but IdentityError;
 * counts and logs the outcome (see LoadIdentityOptions).
 */
export function tryLoadIdentity(storage: StoragePort, options: LoadIdentityOptions = {}): IdentityResult {
  let result: IdentityResult;
  try {
    result = { ok: true, identity: parse(storage, options) };
  } catch (e) {
    const error = e instanceof IdentityError ? e : new IdentityError('MALFORMED', undefined, 'identity check failed unexpectedly');
    result = { ok: false, error };
  }
  try {
    if (result.ok) {
      options.counters?.inc('identity.ok');
      options.log?.log('info', 'identity.loaded', { toyId: result.identity.toyId });
    } else {
      options.counters?.inc('identity.error');
      options.counters?.inc(`identity.error.${result.error.code}`);
      const fields: Record<string, string> = { code: result.error.code };
      if (result.error.key !== undefined) fields.key = result.error.key;
      options.log?.log('error', 'identity.invalid', fields);
    }
  } catch {
    // a failing log or counter must not turn a result into an exception
  }
  return result;
}

/** Reads and validates the identity; throws IdentityError (with a code) when it is absent or bad. */
export function loadIdentity(storage: StoragePort, options: LoadIdentityOptions = {}): Identity {
  const r = tryLoadIdentity(storage, options);
  if (!r.ok) throw r.error;
  return r.identity;
}
