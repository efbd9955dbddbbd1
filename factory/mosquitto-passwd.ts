/**
 * Mosquitto password-file lines in the format mosquitto_passwd (2.0.x) writes:
 *
 *   <username>:$7$<iterations>$<base64 salt>$<base64 hash>
 *
 * `$7$` is PBKDF2-HMAC-SHA512; mosquitto 2.0.11 (Debian bookworm) writes
 * 101 iterations, a 12-byte salt and a 64-byte hash, both in standard base64
 * with padding (checked against `mosquitto_passwd -b -c`). The broker holds
 * only these lines: the password itself never leaves the toy's NVS.
 *
 * Errors are MosquittoPasswdError with a stable `code`; messages never hold the password.
 */
import { pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export const MOSQUITTO_PBKDF2_ITERATIONS = 101;
export const MOSQUITTO_SALT_BYTES = 12;
export const MOSQUITTO_HASH_BYTES = 64;

export type MosquittoPasswdErrorCode = 'USERNAME' | 'PASSWORD' | 'FORMAT';

export class MosquittoPasswdError extends Error {
  override readonly name = 'MosquittoPasswdError';
  readonly code: MosquittoPasswdErrorCode;
  constructor(code: MosquittoPasswdErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Parsed `$7$` line. */
export interface MosquittoPasswdEntry {
  username: string;
  iterations: number;
  salt: Uint8Array;
  hash: Uint8Array;
}

function checkUsername(username: string): void {
  // mosquitto splits the line at the first ':'; the MQTT username is UTF-8 without NUL.
  if (username.length < 1 || username.length > 256 || /[:\r\n\0]/.test(username)) {
    throw new MosquittoPasswdError('USERNAME', 'username must be 1..256 characters without ":" or line breaks');
  }
}

/**
 * One password-file line (no trailing newline) for `username` / `password`.
 * `salt` (12 bytes) is random unless given (tests).
 */
export function mosquittoPasswdLine(username: string, password: string, salt: Uint8Array = randomBytes(MOSQUITTO_SALT_BYTES)): string {
  checkUsername(username);
  if (password.length < 1 || password.length > 65535) throw new MosquittoPasswdError('PASSWORD', 'password must be 1..65535 characters');
  if (salt.length !== MOSQUITTO_SALT_BYTES) throw new MosquittoPasswdError('FORMAT', `salt must be ${MOSQUITTO_SALT_BYTES} bytes`);
  const hash = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, MOSQUITTO_PBKDF2_ITERATIONS, MOSQUITTO_HASH_BYTES, 'sha512');
  return `${username}:$7$${MOSQUITTO_PBKDF2_ITERATIONS}$${Buffer.from(salt).toString('base64')}$${hash.toString('base64')}`;
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses a `$7$` password-file line. Throws MosquittoPasswdError('FORMAT' | 'USERNAME'). */
export function parseMosquittoPasswdLine(line: string): MosquittoPasswdEntry {
  const colon = line.indexOf(':');
  if (colon < 1) throw new MosquittoPasswdError('FORMAT', 'line has no "user:" prefix');
  const username = line.slice(0, colon);
  checkUsername(username);
  const parts = line.slice(colon + 1).split('$');
  // ['', '7', iterations, salt, hash]
  if (parts.length !== 5 || parts[0] !== '' || parts[1] !== '7') throw new MosquittoPasswdError('FORMAT', `${username}: not a $7$ (PBKDF2-SHA512) entry`);
  if (!/^[1-9]\d{0,8}$/.test(parts[2]!)) throw new MosquittoPasswdError('FORMAT', `${username}: bad iteration count`);
  if (!B64.test(parts[3]!) || !B64.test(parts[4]!)) throw new MosquittoPasswdError('FORMAT', `${username}: salt or hash is not base64`);
  const salt = new Uint8Array(Buffer.from(parts[3]!, 'base64'));
  const hash = new Uint8Array(Buffer.from(parts[4]!, 'base64'));
  if (salt.length !== MOSQUITTO_SALT_BYTES || hash.length !== MOSQUITTO_HASH_BYTES) {
    throw new MosquittoPasswdError('FORMAT', `${username}: salt must be ${MOSQUITTO_SALT_BYTES} and hash ${MOSQUITTO_HASH_BYTES} bytes`);
  }
  return { username, iterations: Number(parts[2]), salt, hash };
}

/** True when `password` matches the parsed or textual entry (constant-time compare). */
export function verifyMosquittoPassword(entry: MosquittoPasswdEntry | string, password: string): boolean {
  const e = typeof entry === 'string' ? parseMosquittoPasswdLine(entry) : entry;
  const h = pbkdf2Sync(Buffer.from(password, 'utf8'), e.salt, e.iterations, e.hash.length, 'sha512');
  return timingSafeEqual(h, e.hash);
}
