/**
 * The pairing protocol's shared part (toy and phone): constants, the typed
 * error, HMAC-SHA-512 over the CryptoPort, the key schedule, nonces, and the
 * codecs of every message. Byte-exact specification: docs/PROTOCOL.md, "## Pairing".
 * Portable (src/): no Node, no Moddable.
 *
 * Ownership: every function returns new buffers owned by the caller; inputs are
 * lent and never kept.
 */
import type { CryptoPort } from '../hal/ports.js';
import { concatBytes } from './bytes.js';
import type { NetworkSettings } from './network-settings.js';
import { decodeNetworkSettings, encodeNetworkSettings } from './network-settings.js';

// ---------------------------------------------------------------- GATT names and UUIDs

/** The pairing service (custom 128-bit UUID; advertised only in pairing mode). */
export const PAIRING_SERVICE_UUID = '7a3f0001-5061-7750-6f73-742d70616972';
/** Characteristic names as in bleservices/pawpost-pairing.json. */
export const CHR_INFO = 'info';
export const CHR_PAIR = 'pair';
export const CHR_SESSION = 'session';
export const CHR_UUIDS: Readonly<Record<string, string>> = {
  info: '7a3f0002-5061-7750-6f73-742d70616972',
  pair: '7a3f0003-5061-7750-6f73-742d70616972',
  session: '7a3f0004-5061-7750-6f73-742d70616972',
};

// ---------------------------------------------------------------- sizes and times

/** Largest write the toy accepts on any characteristic (bytes; larger is OVERSIZE). */
export const MAX_WRITE_BYTES = 200;
/** Largest notification the toy sends (bytes): M2, 113 bytes (session responses are 24). */
export const MAX_NOTIFY_BYTES = 113;
/**
 * Smallest ATT MTU a phone must negotiate (MAX_NOTIFY_BYTES + 3 bytes of ATT header).
 * A phone below it gets the uncounted wire error MTU instead of a cut-off M2.
 */
export const MIN_ATT_MTU = MAX_NOTIFY_BYTES + 3;
/** Pairing mode lasts this long after the local press (ms). */
export const PAIRING_WINDOW_MS = 120_000;
/** A connected phone must send M1 within this (ms), or it is dropped (uncounted): a silent phone cannot hold the toy. */
export const PRE_M1_TIMEOUT_MS = 8_000;
/** A started handshake must finish (M3 received) within this after M2 (ms); a timeout is not counted. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** An authenticated session ends after this long without a request (ms). */
export const SESSION_IDLE_MS = 60_000;
/**
 * An authenticated session may outlive the pairing window by at most this (ms):
 * then it is ended, whatever the phone sends (the overall session limit).
 */
export const SESSION_GRACE_MS = 30_000;
/** Failed proofs of the setup secret (a wrong M3) that lock pairing. */
export const MAX_FAILED_ATTEMPTS = 5;
/** How long pairing stays locked after the last failed proof (ms, monotonic; a local pairing gesture clears it). */
export const LOCKOUT_MS = 600_000;

// ---------------------------------------------------------------- message types

export const MSG_M1 = 0x01;
export const MSG_M2 = 0x02;
export const MSG_M3 = 0x03;
export const MSG_M4 = 0x04;
export const MSG_SESSION = 0x10;
export const MSG_ERROR = 0x7f;
/** Version 2: M4 carries the toy's proof of its static key (version 1 had none; refused as MALFORMED). */
export const PROTOCOL_VERSION = 2;

/** Session request operations (first byte of a request's plaintext). */
export const OP_REGISTER = 0x01;
export const OP_NETWORK = 0x02;
export const OP_REMOVE = 0x03;
export const OP_DONE = 0x04;

/** Status byte of a session response. */
export const STATUS = {
  OK: 0,
  INVALID: 1,
  FULL: 2,
  DUPLICATE: 3,
  NOT_FOUND: 4,
  DENIED: 5,
  STORAGE: 6,
} as const;
export type StatusName = keyof typeof STATUS;

// ---------------------------------------------------------------- errors

export type PairingErrorCode =
  | 'MALFORMED' // a message does not parse (bad type, bad length, bad field)
  | 'OVERSIZE' // a write longer than MAX_WRITE_BYTES
  | 'OUT_OF_ORDER' // a message that is not the one expected now (also a wrong counter)
  | 'NOT_PAIRING' // a write outside pairing mode
  | 'NO_SESSION' // a session message before authentication
  | 'AUTH' // key confirmation or a sealed box failed
  | 'TOY_AUTH' // (phone) the toy did not prove the setup secret: wrong code or an impostor
  | 'BAD_POINT' // an ephemeral key of low order (all-zero shared secret)
  | 'LOCKED' // too many failed attempts
  | 'BUSY' // another phone holds the pairing connection
  | 'MTU' // the phone's ATT MTU is below MIN_ATT_MTU: M2 cannot be sent (not counted)
  | 'TOY_KEY' // (phone) the toy's static key does not match the label's key hash, or the toy did not prove it: an impostor
  | 'TIMEOUT' // (phone) no answer in time
  | 'REFUSED' // (phone) the toy answered with an error code or a non-OK status
  | 'CLOSED'; // used after close()

/** A typed pairing error. `code` is stable; `message` never holds key material. */
export class PairingError extends Error {
  override readonly name = 'PairingError';
  readonly code: PairingErrorCode;
  constructor(code: PairingErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Error codes the toy sends in clear (MSG_ERROR, before a session exists). */
export const WIRE_ERRORS: readonly PairingErrorCode[] = ['MALFORMED', 'OVERSIZE', 'OUT_OF_ORDER', 'NOT_PAIRING', 'NO_SESSION', 'AUTH', 'BAD_POINT', 'LOCKED', 'BUSY', 'MTU'];

// ---------------------------------------------------------------- byte helpers

const enc = new TextEncoder();
/** ASCII/UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return enc.encode(s);
}

/** Concatenates byte arrays into one new array. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}

/** Constant-time equality of two byte arrays (length is not secret). */
export function ctEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Overwrites a secret buffer with zeros. */
export function wipe(b: Uint8Array | undefined): void {
  if (b) b.fill(0);
}

function isZero(b: Uint8Array): boolean {
  let d = 0;
  for (let i = 0; i < b.length; i++) d |= b[i]!;
  return d === 0;
}

// ---------------------------------------------------------------- HMAC and key schedule

const BLOCK = 128;

/** HMAC-SHA-512 (RFC 2104) over the CryptoPort's SHA-512. Returns 64 bytes. */
export function hmacSha512(crypto: CryptoPort, key: Uint8Array, data: Uint8Array): Uint8Array {
  let k = key;
  if (k.length > BLOCK) k = crypto.sha512(k);
  const ipad = new Uint8Array(BLOCK + data.length);
  const opad = new Uint8Array(BLOCK + 64);
  for (let i = 0; i < BLOCK; i++) {
    const b = i < k.length ? k[i]! : 0;
    ipad[i] = b ^ 0x36;
    opad[i] = b ^ 0x5c;
  }
  for (let i = 0; i < data.length; i++) ipad[BLOCK + i] = data[i]!;
  const inner = crypto.sha512(ipad);
  for (let i = 0; i < 64; i++) opad[BLOCK + i] = inner[i]!;
  const out = crypto.sha512(opad);
  wipe(ipad);
  wipe(opad);
  return out;
}

export const LABEL = utf8('PawPost pairing v1');
const L_KEYS = utf8('keys');
const L_CONFIRM = utf8('confirm');
const L_TOY = utf8('toy');
const L_PHONE = utf8('phone');

/** Every key of one pairing session. All secret; wipe() them when done. */
export interface SessionKeys {
  /** secretbox key, toy → phone. */
  t2p: Uint8Array;
  /** secretbox key, phone → toy. */
  p2t: Uint8Array;
  /** HMAC key of the toy's confirmation tag. */
  confirmToy: Uint8Array;
  /** HMAC key of the phone's confirmation tag. */
  confirmPhone: Uint8Array;
}

/** th1 = SHA-512(LABEL || toyId(16) || E_phone(32) || E_toy(32)). */
export function transcript1(crypto: CryptoPort, toyId: Uint8Array, ePhone: Uint8Array, eToy: Uint8Array): Uint8Array {
  return crypto.sha512(concat(LABEL, toyId, ePhone, eToy));
}

/** th_next = SHA-512(th || message). */
export function transcriptNext(crypto: CryptoPort, th: Uint8Array, message: Uint8Array): Uint8Array {
  return crypto.sha512(concat(th, message));
}

/**
 * The key schedule: prk = HMAC(setupSecret, dh || th1);
 * keys = HMAC(prk, "keys" || 0x01) → t2p = [0,32), p2t = [32,64);
 * conf = HMAC(prk, "confirm" || 0x02) → confirmToy = [0,32), confirmPhone = [32,64).
 * Throws PairingError('BAD_POINT') when dh is all zero (a low-order ephemeral key).
 */
export function deriveKeys(crypto: CryptoPort, setupSecret: Uint8Array, dh: Uint8Array, th1: Uint8Array): SessionKeys {
  if (isZero(dh)) throw new PairingError('BAD_POINT', 'ephemeral key of low order');
  const prk = hmacSha512(crypto, setupSecret, concat(dh, th1));
  const keys = hmacSha512(crypto, prk, concat(L_KEYS, Uint8Array.of(1)));
  const conf = hmacSha512(crypto, prk, concat(L_CONFIRM, Uint8Array.of(2)));
  const out = { t2p: keys.slice(0, 32), p2t: keys.slice(32, 64), confirmToy: conf.slice(0, 32), confirmPhone: conf.slice(32, 64) };
  wipe(prk);
  wipe(keys);
  wipe(conf);
  return out;
}

/** tagT = HMAC(confirmToy, "toy" || th1 || toyPublic)[0,32). */
export function toyTag(crypto: CryptoPort, k: SessionKeys, th1: Uint8Array, toyPublic: Uint8Array): Uint8Array {
  return hmacSha512(crypto, k.confirmToy, concat(L_TOY, th1, toyPublic)).slice(0, 32);
}

/** tagP = HMAC(confirmPhone, "phone" || th2 || phonePublic || staticShared)[0,32). staticShared = crypto_box_beforenm(toy, phone). */
export function phoneTag(crypto: CryptoPort, k: SessionKeys, th2: Uint8Array, phonePublic: Uint8Array, staticShared: Uint8Array): Uint8Array {
  return hmacSha512(crypto, k.confirmPhone, concat(L_PHONE, th2, phonePublic, staticShared)).slice(0, 32);
}

const L_TOY_KEY = utf8('toy key');
const L_KEY_HASH = utf8('PawPost toy key v1');

/** Bytes of the toy-key hash on the label (SetupCode.toyKeyHash). */
export const TOY_KEY_HASH_BYTES = 16;

/**
 * The label's check on the toy's static public key: SHA-512("PawPost toy key v1" || toyPublic)[0,16).
 * The phone refuses a toy whose M2 key does not hash to it (TOY_KEY). Takes only sha512 so the factory can call it.
 */
export function toyKeyHash(crypto: Pick<CryptoPort, 'sha512'>, toyPublic: Uint8Array): Uint8Array {
  return crypto.sha512(concat(L_KEY_HASH, toyPublic)).slice(0, TOY_KEY_HASH_BYTES);
}

/**
 * The toy's proof that it holds the secret key of toyPublic (in M4):
 * HMAC(staticShared, "toy key" || th3)[0,32), th3 = SHA-512(th2 || M3).
 * Only the holders of the toy's or this phone's static secret key can compute it.
 */
export function toyKeyProof(crypto: CryptoPort, staticShared: Uint8Array, th3: Uint8Array): Uint8Array {
  return hmacSha512(crypto, staticShared, concat(L_TOY_KEY, th3)).slice(0, 32);
}

/** Direction bytes of the nonce. */
export const DIR_T2P = 0x54; // 'T'
export const DIR_P2T = 0x50; // 'P'

/** 24-byte secretbox nonce: dir, 19 zero bytes, counter as u32 big-endian. */
export function nonceFor(dir: number, counter: number): Uint8Array {
  const n = new Uint8Array(24);
  n[0] = dir;
  new DataView(n.buffer).setUint32(20, counter >>> 0, false);
  return n;
}

// ---------------------------------------------------------------- device information

/** Public facts the `info` characteristic gives without pairing. */
export interface DeviceInfo {
  /** Model name, 1..32 bytes. */
  model: string;
  /** Firmware version, 1..16 bytes. */
  firmware: string;
  /** Where to report a security problem (URL or mail address), 1..64 bytes. */
  securityContact: string;
  /** Last day of security updates, YYYY-MM-DD. */
  securityUpdatesUntil: string;
}

/** Encodes DeviceInfo as compact JSON (UTF-8, <= 200 bytes). Throws PairingError('MALFORMED') when a field is out of bounds. */
export function encodeDeviceInfo(info: DeviceInfo): Uint8Array {
  const lim: [keyof DeviceInfo, number][] = [['model', 32], ['firmware', 16], ['securityContact', 64], ['securityUpdatesUntil', 10]];
  for (const [k, n] of lim) {
    const v = info[k];
    if (typeof v !== 'string' || v.length < 1 || utf8(v).length > n) throw new PairingError('MALFORMED', `device info: ${k} must be 1..${n} bytes`);
  }
  if (!/^\d{4}-\d{2}-\d{2}$/.test(info.securityUpdatesUntil)) throw new PairingError('MALFORMED', 'device info: securityUpdatesUntil must be YYYY-MM-DD');
  return utf8(JSON.stringify({ model: info.model, firmware: info.firmware, securityContact: info.securityContact, securityUpdatesUntil: info.securityUpdatesUntil }));
}

/** Parses the `info` characteristic (phone side). Throws PairingError('MALFORMED'). */
export function decodeDeviceInfo(b: Uint8Array): DeviceInfo {
  if (b.length > 200) throw new PairingError('MALFORMED', 'device info too long');
  let o: unknown;
  try {
    o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b));
  } catch {
    throw new PairingError('MALFORMED', 'device info is not JSON');
  }
  const r = o as Record<string, unknown>;
  if (!r || typeof r !== 'object') throw new PairingError('MALFORMED', 'device info is not an object');
  const info = { model: r.model, firmware: r.firmware, securityContact: r.securityContact, securityUpdatesUntil: r.securityUpdatesUntil } as DeviceInfo;
  encodeDeviceInfo(info); // same bounds
  return info;
}

// ---------------------------------------------------------------- session requests and responses

export type SessionRequest =
  | { op: 'register'; id: string; name: string }
  | { op: 'network'; settings: NetworkSettings }
  | { op: 'remove'; id: string }
  | { op: 'done' };

const OPS: Record<SessionRequest['op'], number> = { register: OP_REGISTER, network: OP_NETWORK, remove: OP_REMOVE, done: OP_DONE };

function lenStr(s: string, max: number, what: string): Uint8Array {
  const b = utf8(s);
  if (b.length < 1 || b.length > max) throw new PairingError('MALFORMED', `${what} must be 1..${max} bytes`);
  return concat(Uint8Array.of(b.length), b);
}

/** Encodes a request's plaintext. Throws PairingError('MALFORMED') (or NetworkSettingsError) on bad fields. */
export function encodeRequest(r: SessionRequest): Uint8Array {
  const op = Uint8Array.of(OPS[r.op]);
  switch (r.op) {
    case 'register':
      return concat(op, lenStr(r.id, 16, 'member id'), lenStr(r.name, 32, 'member name'));
    case 'network':
      return concat(op, encodeNetworkSettings(r.settings));
    case 'remove':
      return concat(op, lenStr(r.id, 16, 'member id'));
    case 'done':
      return op;
  }
}

/** Parses a request's plaintext. Throws PairingError('MALFORMED') or NetworkSettingsError. */
export function decodeRequest(b: Uint8Array): SessionRequest {
  const bad = (why: string): never => {
    throw new PairingError('MALFORMED', `request: ${why}`);
  };
  if (b.length < 1) bad('empty');
  const dec = new TextDecoder('utf-8', { fatal: true });
  let o = 1;
  const str = (max: number): string => {
    if (o >= b.length) bad('truncated');
    const n = b[o]!;
    if (n < 1 || n > max || o + 1 + n > b.length) bad('bad string length');
    let s = '';
    try {
      s = dec.decode(b.subarray(o + 1, o + 1 + n));
    } catch {
      bad('bad UTF-8');
    }
    o += 1 + n;
    return s;
  };
  let r: SessionRequest;
  switch (b[0]) {
    case OP_REGISTER: {
      const id = str(16);
      const name = str(32);
      r = { op: 'register', id, name };
      break;
    }
    case OP_NETWORK:
      return { op: 'network', settings: decodeNetworkSettings(b.subarray(1)) };
    case OP_REMOVE:
      r = { op: 'remove', id: str(16) };
      break;
    case OP_DONE:
      r = { op: 'done' };
      break;
    default:
      return bad('unknown operation');
  }
  if (o !== b.length) bad('trailing bytes');
  return r;
}

/** A response: 0x80|op, status byte, then for REGISTER the member count (u8). */
export interface SessionResponse {
  op: number;
  status: StatusName;
  members?: number;
}

export function encodeResponse(op: number, status: StatusName, members?: number): Uint8Array {
  return members === undefined ? Uint8Array.of(0x80 | op, STATUS[status]) : Uint8Array.of(0x80 | op, STATUS[status], members);
}

export function decodeResponse(b: Uint8Array): SessionResponse {
  if (b.length < 2 || b.length > 3 || (b[0]! & 0x80) === 0) throw new PairingError('MALFORMED', 'response: bad shape');
  const status = (Object.keys(STATUS) as StatusName[]).find((k) => STATUS[k] === b[1]);
  if (!status) throw new PairingError('MALFORMED', 'response: unknown status');
  return b.length === 3 ? { op: b[0]! & 0x7f, status, members: b[2]! } : { op: b[0]! & 0x7f, status };
}

/** A session frame: 0x10, counter u32 BE, secretbox. */
export function sealFrame(crypto: CryptoPort, key: Uint8Array, dir: number, counter: number, plaintext: Uint8Array): Uint8Array {
  const box = crypto.secretbox(plaintext, nonceFor(dir, counter), key);
  const out = new Uint8Array(5 + box.length);
  out[0] = MSG_SESSION;
  new DataView(out.buffer).setUint32(1, counter >>> 0, false);
  for (let i = 0; i < box.length; i++) out[5 + i] = box[i]!;
  return out;
}

/**
 * Opens a session frame whose counter must equal `expected`.
 * Throws PairingError MALFORMED (shape), OUT_OF_ORDER (counter), AUTH (box).
 */
export function openFrame(crypto: CryptoPort, key: Uint8Array, dir: number, expected: number, frame: Uint8Array): Uint8Array {
  if (frame.length < 5 + 16 || frame[0] !== MSG_SESSION) throw new PairingError('MALFORMED', 'session frame: bad shape');
  const ctr = new DataView(frame.buffer, frame.byteOffset, frame.length).getUint32(1, false);
  if (ctr !== expected) throw new PairingError('OUT_OF_ORDER', 'session frame: unexpected counter');
  const pt = crypto.secretboxOpen(frame.subarray(5), nonceFor(dir, ctr), key);
  if (!pt) throw new PairingError('AUTH', 'session frame: authentication failed');
  return pt;
}

/**
 * An error notification sent in clear before a session exists: 0x7f, code index,
 * and for LOCKED a third byte: whole minutes until pairing unlocks (1..255, rounded up).
 */
export function encodeWireError(code: PairingErrorCode, lockedMs = 0): Uint8Array {
  const i = WIRE_ERRORS.indexOf(code);
  if (code === 'LOCKED') return Uint8Array.of(MSG_ERROR, i, Math.max(1, Math.min(255, Math.ceil(lockedMs / 60_000))));
  return Uint8Array.of(MSG_ERROR, i < 0 ? 0 : i);
}

export function decodeWireError(b: Uint8Array): PairingErrorCode | undefined {
  return decodeWireErrorDetail(b)?.code;
}

/** As decodeWireError, with the minutes a LOCKED error carries (0 when absent). */
export function decodeWireErrorDetail(b: Uint8Array): { code: PairingErrorCode; minutes: number } | undefined {
  if (b.length < 2 || b.length > 3 || b[0] !== MSG_ERROR) return undefined;
  const code = WIRE_ERRORS[b[1]!] ?? 'MALFORMED';
  return { code, minutes: b.length === 3 && code === 'LOCKED' ? b[2]! : 0 };
}
