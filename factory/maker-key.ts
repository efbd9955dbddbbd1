/**
 * The maker's Ed25519 key: `provision.ts keygen` writes it once, `provision`
 * signs every toy's id and public key with it (src/identity.ts
 * makerSignedMessage), the parent app checks the signature with the public key.
 *
 * Files (one line each, text):
 *   maker.key  "PAWPOST-MAKER-SECRET-V1 <base64 of the 32-byte Ed25519 seed>"  mode 0600
 *   maker.pub  "PAWPOST-MAKER-PUBLIC-V1 <64 hex digits>"
 *
 * Errors: MakerKeyError with code EXISTS, FORMAT, PERMISSIONS, IO. Messages never hold key bytes.
 */
import * as fs from 'node:fs';
import { checkPrivateKeyFile, readKeyLine } from './key-file.js';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';

export const MAKER_SECRET_TAG = 'PAWPOST-MAKER-SECRET-V1';
export const MAKER_PUBLIC_TAG = 'PAWPOST-MAKER-PUBLIC-V1';

export type MakerKeyErrorCode = 'EXISTS' | 'FORMAT' | 'PERMISSIONS' | 'IO';

export class MakerKeyError extends Error {
  override readonly name = 'MakerKeyError';
  readonly code: MakerKeyErrorCode;
  constructor(code: MakerKeyErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface MakerKey {
  /** 32 bytes. */
  publicKey: Uint8Array;
  /** The 32-byte Ed25519 seed (nacl.sign.keyPair.fromSeed). SECRET. */
  seed: Uint8Array;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/**
 * Creates `<dir>/maker.key` (0600) and `<dir>/maker.pub`. Refuses to overwrite
 * either (EXISTS). Returns the file paths and the public key.
 */
export function makerKeygen(dir: string, seed: Uint8Array = randomBytes(32)): { keyFile: string; pubFile: string; publicKey: Uint8Array } {
  const keyFile = path.join(dir, 'maker.key');
  const pubFile = path.join(dir, 'maker.pub');
  for (const f of [keyFile, pubFile]) if (fs.existsSync(f)) throw new MakerKeyError('EXISTS', `${f} exists; refusing to overwrite a maker key`);
  if (seed.length !== 32) throw new MakerKeyError('FORMAT', 'seed must be 32 bytes');
  fs.mkdirSync(dir, { recursive: true });
  const kp = nacl.sign.keyPair.fromSeed(seed);
  try {
    fs.writeFileSync(keyFile, `${MAKER_SECRET_TAG} ${Buffer.from(seed).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
    fs.chmodSync(keyFile, 0o600); // in case the umask widened nothing but a later copy did
    fs.writeFileSync(pubFile, `${MAKER_PUBLIC_TAG} ${hex(kp.publicKey)}\n`, { flag: 'wx', mode: 0o644 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new MakerKeyError('EXISTS', 'maker key file appeared while writing; refusing to overwrite');
    throw new MakerKeyError('IO', `cannot write maker key: ${(e as Error).message}`);
  }
  return { keyFile, pubFile, publicKey: kp.publicKey };
}

const fail = (code: 'IO' | 'FORMAT' | 'PERMISSIONS', message: string): never => {
  throw new MakerKeyError(code, message);
};
const readLine = (file: string, what: string): string => readKeyLine(file, what, fail);

/**
 * Reads the maker secret key file. Refuses a file readable by group or others
 * (PERMISSIONS), a wrong tag or a seed that is not 32 bytes of base64 (FORMAT).
 */
export function readMakerSecretKey(file: string): MakerKey {
  checkPrivateKeyFile(file, 'maker key', fail);
  const line = readLine(file, 'maker key');
  const [tag, b64, ...rest] = line.split(' ');
  if (tag !== MAKER_SECRET_TAG || rest.length || !b64 || !/^[A-Za-z0-9+/]{43}=$/.test(b64)) {
    throw new MakerKeyError('FORMAT', `maker key ${file} is not a ${MAKER_SECRET_TAG} file (corrupt or truncated?)`);
  }
  const seed = new Uint8Array(Buffer.from(b64, 'base64'));
  if (seed.length !== 32) throw new MakerKeyError('FORMAT', `maker key ${file}: seed must be 32 bytes`);
  const kp = nacl.sign.keyPair.fromSeed(seed);
  return { publicKey: kp.publicKey, seed };
}

/** Parses a maker public key line (FORMAT on anything else). */
export function parseMakerPublicKey(line: string, where = 'maker public key'): Uint8Array {
  const [tag, h, ...rest] = line.trim().split(' ');
  if (tag !== MAKER_PUBLIC_TAG || rest.length || !h || !/^[0-9a-f]{64}$/.test(h)) {
    throw new MakerKeyError('FORMAT', `${where} is not a ${MAKER_PUBLIC_TAG} line (corrupt or truncated?)`);
  }
  return new Uint8Array(Buffer.from(h, 'hex'));
}

/** Reads maker.pub. */
export function readMakerPublicKey(file: string): Uint8Array {
  return parseMakerPublicKey(readLine(file, 'maker public key'), `maker public key ${file}`);
}

/** The public key line as maker.pub holds it. */
export function formatMakerPublicKey(publicKey: Uint8Array): string {
  return `${MAKER_PUBLIC_TAG} ${hex(publicKey)}`;
}
