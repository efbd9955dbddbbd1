/**
 * The setup code printed as a QR code on the toy's label (and the phone's parser
 * for it). Portable: used by the factory (formats it), the parent app and tests
 * (parse it).
 *
 * Format (ASCII, all in the QR "alphanumeric" character set so the code stays small):
 *
 *   PP2:<TOY ID: 32 uppercase hex>:<SETUP SECRET: base32, 26>:<TOY KEY HASH: base32, 26>   (90 characters)
 *   PP1:<TOY ID: 32 uppercase hex>:<SETUP SECRET: base32, 26>                              (63, older labels)
 *
 * base32 is RFC 4648, uppercase, no padding. The toy key hash is 16 bytes:
 * src/pairing-protocol.ts toyKeyHash(toy's static public key). The phone refuses a
 * toy whose key does not match it (an evil twin that copied the label), and refuses
 * a PP1 code, which carries no key hash (phone/phone-pairing.ts).
 *
 * The toy id is 16 bytes (32 hex digits; the firmware writes it lowercase, the
 * label uppercase). The setup secret is 16 random bytes (26 base32 characters;
 * the two trailing pad bits of the last character must be zero, so each secret
 * has exactly one spelling). parseSetupCode accepts lowercase letters too (a
 * person may type the code) but nothing else: no spaces, no '=' padding, no
 * other prefix or version.
 *
 * Errors: SetupCodeError with code
 *   LENGTH  not 63 (PP1) or 90 (PP2) characters / secret or key hash not 16 bytes / id not 16 bytes
 *   PREFIX  does not start with "PP1:" or "PP2:" (an unknown version)
 *   FORMAT  separators missing
 *   TOY_ID  the id part is not 32 hex digits
 *   SECRET  the secret part is not canonical base32 of 16 bytes
 * Messages never contain the secret.
 */

/** Prefix of the current format (with the toy key hash). */
export const SETUP_CODE_PREFIX = 'PP2:';
/** Prefix of the older format without the toy key hash. */
export const SETUP_CODE_PREFIX_V1 = 'PP1:';
export const SETUP_SECRET_BYTES = 16;
export const TOY_ID_BYTES = 16;
/** Bytes of the toy key hash (src/pairing-protocol.ts TOY_KEY_HASH_BYTES). */
export const KEY_HASH_BYTES = 16;
/** Length of a PP2 setup code string: 4 + 32 + 1 + 26 + 1 + 26. */
export const SETUP_CODE_LENGTH = 90;
/** Length of a PP1 setup code string: 4 + 32 + 1 + 26. */
export const SETUP_CODE_LENGTH_V1 = 63;

export type SetupCodeErrorCode = 'LENGTH' | 'PREFIX' | 'FORMAT' | 'TOY_ID' | 'SECRET';

/** A typed setup-code error; the message never holds the secret. */
export class SetupCodeError extends Error {
  override readonly name = 'SetupCodeError';
  readonly code: SetupCodeErrorCode;
  constructor(code: SetupCodeErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** What a setup code carries. */
export interface SetupCode {
  /** 32 lowercase hex characters. */
  toyId: string;
  /** 16 bytes; secret (owned by the caller). */
  setupSecret: Uint8Array;
  /** 16 bytes: toyKeyHash(toy public key). Absent in a PP1 code; formatSetupCode writes PP2 when present. */
  toyKeyHash?: Uint8Array;
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const HEX_LOWER_RE = /^[0-9a-f]{32}$/;
const HEX_ANY_RE = /^[0-9A-Fa-f]{32}$/;

/** RFC 4648 base32, uppercase, without padding. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < bytes.length; i++) {
    acc = ((acc << 8) | bytes[i]!) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(acc >>> bits) & 31];
    }
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

/**
 * Decodes unpadded RFC 4648 base32 (case-insensitive). Throws SetupCodeError('SECRET')
 * on a character outside the alphabet, an impossible length, or non-zero pad bits.
 */
export function base32Decode(text: string): Uint8Array {
  const n = text.length;
  // Valid unpadded lengths mod 8: 0, 2, 4, 5, 7.
  const r = n % 8;
  if (r === 1 || r === 3 || r === 6) throw new SetupCodeError('SECRET', 'base32: impossible length');
  const out = new Uint8Array(Math.floor((n * 5) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    let c = text.charCodeAt(i);
    if (c >= 97 && c <= 122) c -= 32; // lowercase → uppercase
    let v: number;
    if (c >= 65 && c <= 90) v = c - 65;
    else if (c >= 50 && c <= 55) v = c - 50 + 26;
    else throw new SetupCodeError('SECRET', 'base32: character outside the alphabet');
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) throw new SetupCodeError('SECRET', 'base32: non-zero pad bits');
  return out;
}

/**
 * Formats the label payload: PP2 when `toyKeyHash` is given (what the factory prints), else PP1.
 * Throws SetupCodeError TOY_ID or LENGTH on bad input.
 */
export function formatSetupCode(code: SetupCode): string {
  if (typeof code.toyId !== 'string' || !HEX_ANY_RE.test(code.toyId)) throw new SetupCodeError('TOY_ID', 'toy id must be 32 hex digits');
  if (!(code.setupSecret instanceof Uint8Array) || code.setupSecret.length !== SETUP_SECRET_BYTES)
    throw new SetupCodeError('LENGTH', `setup secret must be ${SETUP_SECRET_BYTES} bytes`);
  if (code.toyKeyHash === undefined) return `${SETUP_CODE_PREFIX_V1}${code.toyId.toUpperCase()}:${base32Encode(code.setupSecret)}`;
  if (!(code.toyKeyHash instanceof Uint8Array) || code.toyKeyHash.length !== KEY_HASH_BYTES) throw new SetupCodeError('LENGTH', `toy key hash must be ${KEY_HASH_BYTES} bytes`);
  return `${SETUP_CODE_PREFIX}${code.toyId.toUpperCase()}:${base32Encode(code.setupSecret)}:${base32Encode(code.toyKeyHash)}`;
}

/** Parses a label payload, PP2 or PP1 (see the module doc). Throws SetupCodeError. */
export function parseSetupCode(text: string): SetupCode {
  if (typeof text !== 'string') throw new SetupCodeError('FORMAT', 'setup code must be a string');
  const prefix = text.slice(0, 4).toUpperCase();
  const v2 = prefix === SETUP_CODE_PREFIX;
  if (text.length !== SETUP_CODE_LENGTH && text.length !== SETUP_CODE_LENGTH_V1)
    throw new SetupCodeError('LENGTH', `setup code must be ${SETUP_CODE_LENGTH} characters (or ${SETUP_CODE_LENGTH_V1} for PP1)`);
  if (!v2 && prefix !== SETUP_CODE_PREFIX_V1) throw new SetupCodeError('PREFIX', 'setup code must start with PP2: or PP1:');
  if (text.length !== (v2 ? SETUP_CODE_LENGTH : SETUP_CODE_LENGTH_V1))
    throw new SetupCodeError('LENGTH', `a ${prefix} setup code must be ${v2 ? SETUP_CODE_LENGTH : SETUP_CODE_LENGTH_V1} characters`);
  if (text[36] !== ':' || (v2 && text[63] !== ':')) throw new SetupCodeError('FORMAT', 'setup code: missing separator');
  const id = text.slice(4, 36);
  if (!HEX_ANY_RE.test(id)) throw new SetupCodeError('TOY_ID', 'toy id must be 32 hex digits');
  const secret = base32Decode(text.slice(37, 63));
  if (secret.length !== SETUP_SECRET_BYTES) throw new SetupCodeError('LENGTH', 'setup secret must be 16 bytes');
  const toyId = id.toLowerCase();
  if (!HEX_LOWER_RE.test(toyId)) throw new SetupCodeError('TOY_ID', 'toy id must be 32 hex digits');
  if (!v2) return { toyId, setupSecret: secret };
  const keyHash = base32Decode(text.slice(64));
  if (keyHash.length !== KEY_HASH_BYTES) throw new SetupCodeError('LENGTH', 'toy key hash must be 16 bytes');
  return { toyId, setupSecret: secret, toyKeyHash: keyHash };
}

/** 32 lowercase hex digits → 16 bytes. Throws SetupCodeError('TOY_ID'). */
export function toyIdBytes(toyId: string): Uint8Array {
  if (typeof toyId !== 'string' || !HEX_LOWER_RE.test(toyId)) throw new SetupCodeError('TOY_ID', 'toy id must be 32 lowercase hex digits');
  const out = new Uint8Array(TOY_ID_BYTES);
  for (let i = 0; i < TOY_ID_BYTES; i++) out[i] = parseInt(toyId.slice(2 * i, 2 * i + 2), 16);
  return out;
}
