/**
 * The release key: an Ed25519 key that signs firmware update manifests
 * (src/update-manifest.ts). Kept like the maker key (factory/maker-key.ts):
 * created once, offline, never in the repository; its public key is compiled
 * into the firmware (docs/SECURITY.md "Firmware updates").
 *
 * Files (one line each, text):
 *   release.key  "PAWPOST-RELEASE-SECRET-V1 <base64 of the 32-byte Ed25519 seed>"  mode 0600
 *   release.pub  "PAWPOST-RELEASE-PUBLIC-V1 <64 hex digits>"
 *
 * Errors: ReleaseKeyError with code EXISTS, FORMAT, PERMISSIONS, IO. Messages never hold key bytes.
 */
import * as fs from 'node:fs';
import { checkPrivateKeyFile, readKeyLine } from '../factory/key-file.js';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';

export const RELEASE_SECRET_TAG = 'PAWPOST-RELEASE-SECRET-V1';
export const RELEASE_PUBLIC_TAG = 'PAWPOST-RELEASE-PUBLIC-V1';

export type ReleaseKeyErrorCode = 'EXISTS' | 'FORMAT' | 'PERMISSIONS' | 'IO';

export class ReleaseKeyError extends Error {
  override readonly name = 'ReleaseKeyError';
  readonly code: ReleaseKeyErrorCode;
  constructor(code: ReleaseKeyErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface ReleaseKey {
  /** 32 bytes. */
  publicKey: Uint8Array;
  /** 64-byte tweetnacl secret key (seed || public). SECRET. */
  secretKey: Uint8Array;
}

/** Creates `<dir>/release.key` (0600) and `<dir>/release.pub`; refuses to overwrite (EXISTS). */
export function releaseKeygen(dir: string, seed: Uint8Array = randomBytes(32)): { keyFile: string; pubFile: string; publicKey: Uint8Array } {
  const keyFile = path.join(dir, 'release.key');
  const pubFile = path.join(dir, 'release.pub');
  for (const f of [keyFile, pubFile]) if (fs.existsSync(f)) throw new ReleaseKeyError('EXISTS', `${f} exists; refusing to overwrite a release key`);
  if (seed.length !== 32) throw new ReleaseKeyError('FORMAT', 'seed must be 32 bytes');
  fs.mkdirSync(dir, { recursive: true });
  const kp = nacl.sign.keyPair.fromSeed(seed);
  try {
    fs.writeFileSync(keyFile, `${RELEASE_SECRET_TAG} ${Buffer.from(seed).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
    fs.chmodSync(keyFile, 0o600);
    fs.writeFileSync(pubFile, `${formatReleasePublicKey(kp.publicKey)}\n`, { flag: 'wx', mode: 0o644 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ReleaseKeyError('EXISTS', 'release key file appeared while writing; refusing to overwrite');
    throw new ReleaseKeyError('IO', `cannot write release key: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return { keyFile, pubFile, publicKey: kp.publicKey };
}

const fail = (code: 'IO' | 'FORMAT' | 'PERMISSIONS', message: string): never => {
  throw new ReleaseKeyError(code, message);
};
const readLine = (file: string, what: string): string => readKeyLine(file, what, fail);

/** Reads release.key; refuses a file readable by group or others (PERMISSIONS) or malformed (FORMAT). */
export function readReleaseSecretKey(file: string): ReleaseKey {
  checkPrivateKeyFile(file, 'release key', fail);
  const [tag, b64, ...rest] = readLine(file, 'release key').split(' ');
  if (tag !== RELEASE_SECRET_TAG || rest.length || !b64 || !/^[A-Za-z0-9+/]{43}=$/.test(b64)) {
    throw new ReleaseKeyError('FORMAT', `release key ${file} is not a ${RELEASE_SECRET_TAG} file (corrupt or truncated?)`);
  }
  const seed = new Uint8Array(Buffer.from(b64, 'base64'));
  if (seed.length !== 32) throw new ReleaseKeyError('FORMAT', `release key ${file}: seed must be 32 bytes`);
  const kp = nacl.sign.keyPair.fromSeed(seed);
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
}

export function parseReleasePublicKey(line: string, where = 'release public key'): Uint8Array {
  const [tag, h, ...rest] = line.trim().split(' ');
  if (tag !== RELEASE_PUBLIC_TAG || rest.length || !h || !/^[0-9a-f]{64}$/.test(h)) {
    throw new ReleaseKeyError('FORMAT', `${where} is not a ${RELEASE_PUBLIC_TAG} line (corrupt or truncated?)`);
  }
  return new Uint8Array(Buffer.from(h, 'hex'));
}

export function readReleasePublicKey(file: string): Uint8Array {
  return parseReleasePublicKey(readLine(file, 'release public key'), `release public key ${file}`);
}

export function formatReleasePublicKey(publicKey: Uint8Array): string {
  return `${RELEASE_PUBLIC_TAG} ${Buffer.from(publicKey).toString('hex')}`;
}
