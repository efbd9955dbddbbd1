/**
 * Enrollment grants: how a paired phone gets its own broker account without a
 * person in the loop (docs/BROKER.md "## Phone enrollment"). Portable.
 *
 * The toy makes a GRANT for a phone it has just paired, or a REVOKE when a member
 * is removed, sealed from the toy's X25519 key to the relay's X25519 key
 * (crypto_box: boxBefore(relayPublic, toySecret) + secretbox). Only the toy (or the
 * relay itself) can make one; the relay checks it with the toy's public key from
 * the factory registry. The phone carries the grant to the relay's enrollment
 * service inside an ENROLL request sealed from the phone's own X25519 key to the
 * relay, so a grant copied off the phone is useless without the phone's key.
 *
 * Wire formats (all integers big-endian):
 *   notice (grant / revoke), 114 bytes:
 *     [0x01 version][kind 0x01 grant | 0x02 revoke][toyId 16][nonce 24][box 72]
 *     box = secretbox(body, nonce, k_toy_relay); body (56 bytes) =
 *     [kind][toyId 16][phonePublicKey 32][seq u32][reserved 0x00 0x00 0x00]
 *   enroll request (phone -> relay), 57 + 16 + 3 + (0 or 114) + password bytes:
 *     [0x01 version][phonePublicKey 32][nonce 24][box]
 *     box = secretbox([grant length u16][grant][password length u8][password ASCII], nonce, k_phone_relay)
 *     grant length 0: "use the grants my toys delivered to the relay themselves"
 *     (the toy publishes its notices on pp/t/<toyId>/ctl; docs/BROKER.md).
 *
 * `seq` is a per-toy counter the toy increments for every notice it makes (kept
 * in its storage); a grant whose seq is not above the last REVOKE's seq for the
 * same phone is refused by the relay, and every grant is usable once.
 * The phone's broker user name is derived from its public key (phoneBrokerUser),
 * so neither side has to carry it.
 *
 * Errors: GrantError with `code` FORMAT (length, version, kind, field), FORGED
 * (authentication failed: wrong toy key, wrong relay key or altered), TOY (the
 * sealed toy id differs from the clear one), WEAK_KEY (small-order phone key),
 * PASSWORD (length or character set). Messages never hold secrets.
 */
import type { CryptoPort } from '../hal/ports.js';
import { isSmallOrderKey } from './key-checks.js';

export const GRANT_VERSION = 0x01;
export const KIND_GRANT = 0x01;
export const KIND_REVOKE = 0x02;
export const NOTICE_BODY_BYTES = 56;
/** Total size of a grant or revoke notice, bytes. */
export const NOTICE_BYTES = 2 + 16 + 24 + 16 + NOTICE_BODY_BYTES;
/** Phone broker password: 16..128 printable ASCII characters (no spaces). */
export const PASSWORD_MIN = 16;
export const PASSWORD_MAX = 128;
/** Largest enroll request, bytes (the enrollment service refuses anything larger before any crypto). */
export const ENROLL_MAX_BYTES = 1 + 32 + 24 + 16 + 2 + NOTICE_BYTES + 1 + PASSWORD_MAX;

export type GrantErrorCode = 'FORMAT' | 'FORGED' | 'TOY' | 'WEAK_KEY' | 'PASSWORD';

export class GrantError extends Error {
  override readonly name = 'GrantError';
  readonly code: GrantErrorCode;
  constructor(code: GrantErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export type NoticeKind = 'grant' | 'revoke';

/** A notice after it has been opened and checked. */
export interface Notice {
  kind: NoticeKind;
  /** 32 lowercase hex. */
  toyId: string;
  phonePublicKey: Uint8Array;
  /** The toy's notice counter, 0..2^32-1. */
  seq: number;
}

const HEX = '0123456789abcdef';

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += HEX[x >> 4]! + HEX[x & 15]!;
  return s;
}

function fromHex32(s: string): Uint8Array {
  if (!/^[0-9a-f]{32}$/.test(s)) throw new GrantError('FORMAT', 'toy id must be 32 lowercase hex characters');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function eq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

function u32(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new GrantError('FORMAT', 'seq must be an integer 0..2^32-1');
  return Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
}

const encoder = new TextEncoder();
const PREFIX = encoder.encode('PawPost phone user v1');

/** The phone's broker user name: "ph-" + first 16 bytes of SHA-512("PawPost phone user v1" ‖ phonePublicKey), hex. */
export function phoneBrokerUser(crypto: CryptoPort, phonePublicKey: Uint8Array): string {
  if (phonePublicKey.length !== 32) throw new GrantError('FORMAT', 'phone public key must be 32 bytes');
  const m = new Uint8Array(PREFIX.length + 32);
  m.set(PREFIX, 0);
  m.set(phonePublicKey, PREFIX.length);
  return 'ph-' + toHex(crypto.sha512(m).subarray(0, 16));
}

export interface MakeNoticeOptions {
  crypto: CryptoPort;
  kind: NoticeKind;
  toyId: string;
  /** k = boxBefore(relayPublicKey, toySecretKey); cache it (one X25519). Secret. */
  toyRelayKey: Uint8Array;
  phonePublicKey: Uint8Array;
  seq: number;
  /** 24 random bytes (RandomPort). */
  nonce: Uint8Array;
}

/** Makes a grant or revoke notice (NOTICE_BYTES). Throws GrantError('FORMAT' | 'WEAK_KEY'). */
export function makeNotice(o: MakeNoticeOptions): Uint8Array {
  const id = fromHex32(o.toyId);
  if (o.phonePublicKey.length !== 32) throw new GrantError('FORMAT', 'phone public key must be 32 bytes');
  if (isSmallOrderKey(o.phonePublicKey)) throw new GrantError('WEAK_KEY', 'phone public key has small order');
  if (o.nonce.length !== 24) throw new GrantError('FORMAT', 'nonce must be 24 bytes');
  const kind = o.kind === 'grant' ? KIND_GRANT : KIND_REVOKE;
  const body = new Uint8Array(NOTICE_BODY_BYTES);
  body[0] = kind;
  body.set(id, 1);
  body.set(o.phonePublicKey, 17);
  body.set(u32(o.seq), 49);
  const box = o.crypto.secretbox(body, o.nonce, o.toyRelayKey);
  const out = new Uint8Array(NOTICE_BYTES);
  out[0] = GRANT_VERSION;
  out[1] = kind;
  out.set(id, 2);
  out.set(o.nonce, 18);
  out.set(box, 42);
  return out;
}

/** The clear header of a notice (before any crypto): which toy's key opens it. Throws GrantError('FORMAT'). */
export function peekNotice(notice: Uint8Array): { kind: NoticeKind; toyId: string } {
  if (!(notice instanceof Uint8Array) || notice.length !== NOTICE_BYTES) throw new GrantError('FORMAT', `notice must be ${NOTICE_BYTES} bytes`);
  if (notice[0] !== GRANT_VERSION) throw new GrantError('FORMAT', 'unknown notice version');
  if (notice[1] !== KIND_GRANT && notice[1] !== KIND_REVOKE) throw new GrantError('FORMAT', 'unknown notice kind');
  return { kind: notice[1] === KIND_GRANT ? 'grant' : 'revoke', toyId: toHex(notice.subarray(2, 18)) };
}

/**
 * Opens a notice with k = boxBefore(toyPublicKey, relaySecretKey), the toy being the
 * one peekNotice names. Throws GrantError('FORMAT' | 'FORGED' | 'TOY' | 'WEAK_KEY').
 */
export function openNotice(crypto: CryptoPort, notice: Uint8Array, relayToyKey: Uint8Array): Notice {
  const head = peekNotice(notice);
  const body = crypto.secretboxOpen(notice.subarray(42), notice.subarray(18, 42), relayToyKey);
  if (!body) throw new GrantError('FORGED', 'notice does not authenticate');
  if (body.length !== NOTICE_BODY_BYTES) throw new GrantError('FORMAT', 'notice body has the wrong length');
  if (body[0] !== notice[1]) throw new GrantError('FORMAT', 'sealed kind differs from the clear one');
  if (!eq(body.subarray(1, 17), notice.subarray(2, 18))) throw new GrantError('TOY', 'sealed toy id differs from the clear one');
  if (body[53] !== 0 || body[54] !== 0 || body[55] !== 0) throw new GrantError('FORMAT', 'reserved bytes are not zero');
  const phonePublicKey = body.slice(17, 49);
  if (isSmallOrderKey(phonePublicKey)) throw new GrantError('WEAK_KEY', 'phone public key has small order');
  const seq = ((body[49]! << 24) >>> 0) + (body[50]! << 16) + (body[51]! << 8) + body[52]!;
  return { kind: head.kind, toyId: head.toyId, phonePublicKey, seq };
}

function checkPassword(p: string): Uint8Array {
  if (p.length < PASSWORD_MIN || p.length > PASSWORD_MAX || !/^[\x21-\x7e]+$/.test(p)) {
    throw new GrantError('PASSWORD', `password must be ${PASSWORD_MIN}..${PASSWORD_MAX} printable ASCII characters`);
  }
  return encoder.encode(p);
}

export interface MakeEnrollOptions {
  crypto: CryptoPort;
  phonePublicKey: Uint8Array;
  /** k = boxBefore(relayPublicKey, phoneSecretKey). Secret. */
  phoneRelayKey: Uint8Array;
  /** The toy's grant, or an empty array when the toy delivered it to the relay itself. */
  grant: Uint8Array;
  /** The broker password the phone chose (>= 128 bits of randomness). Secret. */
  password: string;
  nonce: Uint8Array;
}

/** The phone's enroll request. Throws GrantError('FORMAT' | 'PASSWORD'). */
export function makeEnrollRequest(o: MakeEnrollOptions): Uint8Array {
  if (o.phonePublicKey.length !== 32 || o.nonce.length !== 24) throw new GrantError('FORMAT', 'phone key 32 bytes, nonce 24 bytes');
  if (o.grant.length !== 0) peekNotice(o.grant);
  const pw = checkPassword(o.password);
  const pt = new Uint8Array(2 + o.grant.length + 1 + pw.length);
  pt[0] = o.grant.length >> 8;
  pt[1] = o.grant.length & 255;
  pt.set(o.grant, 2);
  pt[2 + o.grant.length] = pw.length;
  pt.set(pw, 3 + o.grant.length);
  const box = o.crypto.secretbox(pt, o.nonce, o.phoneRelayKey);
  const out = new Uint8Array(57 + box.length);
  out[0] = GRANT_VERSION;
  out.set(o.phonePublicKey, 1);
  out.set(o.nonce, 33);
  out.set(box, 57);
  return out;
}

/** The clear part of an enroll request: the sender's key. Throws GrantError('FORMAT' | 'WEAK_KEY'). */
export function peekEnrollRequest(req: Uint8Array): { phonePublicKey: Uint8Array } {
  if (!(req instanceof Uint8Array) || req.length < 57 + 16 + 3 + PASSWORD_MIN || req.length > ENROLL_MAX_BYTES) {
    throw new GrantError('FORMAT', 'enroll request has the wrong length');
  }
  if (req[0] !== GRANT_VERSION) throw new GrantError('FORMAT', 'unknown enroll request version');
  const phonePublicKey = req.slice(1, 33);
  if (isSmallOrderKey(phonePublicKey)) throw new GrantError('WEAK_KEY', 'phone public key has small order');
  return { phonePublicKey };
}

/**
 * Opens an enroll request with k = boxBefore(phonePublicKey, relaySecretKey).
 * Returns the grant (still sealed: open it with openNotice; empty when the phone relies
 * on grants its toys delivered themselves) and the password.
 * Throws GrantError('FORMAT' | 'FORGED' | 'PASSWORD').
 */
export function openEnrollRequest(crypto: CryptoPort, req: Uint8Array, relayPhoneKey: Uint8Array): { grant: Uint8Array; password: string } {
  peekEnrollRequest(req);
  const pt = crypto.secretboxOpen(req.subarray(57), req.subarray(33, 57), relayPhoneKey);
  if (!pt) throw new GrantError('FORGED', 'enroll request does not authenticate');
  const gl = (pt[0]! << 8) | pt[1]!;
  if ((gl !== NOTICE_BYTES && gl !== 0) || pt.length < 3 + gl) throw new GrantError('FORMAT', 'grant length');
  const grant = pt.slice(2, 2 + gl);
  const pl = pt[2 + gl]!;
  if (pt.length !== 3 + gl + pl) throw new GrantError('FORMAT', 'password length');
  let password = '';
  for (const b of pt.subarray(3 + gl)) {
    if (b < 0x21 || b > 0x7e) throw new GrantError('PASSWORD', 'password must be printable ASCII');
    password += String.fromCharCode(b);
  }
  checkPassword(password);
  return { grant, password };
}
