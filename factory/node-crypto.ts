/**
 * Native (node:crypto) X25519 and Ed25519 for the factory, byte-compatible
 * with tweetnacl / libsodium (same RFC 7748 clamping, deterministic RFC 8032
 * signatures; tests/provision.test.ts checks both against tweetnacl).
 * tweetnacl's pure-JS key pair + signature is ~50x slower on Node
 * (`npx tsx bench/run.ts provision` prints both rates).
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { CryptoPort } from '../hal/ports.js';
import { PortError } from '../hal/ports.js';
import { naclCrypto } from '../src/nacl-crypto.js';

const b64u = (b: Uint8Array) => Buffer.from(b).toString('base64url');

function need(b: Uint8Array, n: number, what: string): void {
  if (!(b instanceof Uint8Array) || b.length !== n) throw new PortError('SIZE', `${what} must be ${n} bytes`);
}

/** The X25519 public key of a 32-byte secret (crypto_scalarmult_base). */
export function x25519PublicKey(secretKey: Uint8Array): Uint8Array {
  need(secretKey, 32, 'secret key');
  const jwk = createPublicKey(createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64u(secretKey), x: '' }, format: 'jwk' })).export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
}

/** An Ed25519 signing key from a 32-byte seed (as nacl.sign.keyPair.fromSeed). */
export interface Ed25519Signer {
  publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

export function ed25519Signer(seed: Uint8Array): Ed25519Signer {
  need(seed, 32, 'seed');
  const key: KeyObject = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64u(seed), x: '' }, format: 'jwk' });
  const publicKey = new Uint8Array(Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url'));
  return { publicKey, sign: (m) => new Uint8Array(sign(null, m, key)) };
}

function ed25519PublicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(publicKey) }, format: 'jwk' });
}

/** CryptoPort with native X25519 base multiplication, Ed25519 verify and SHA-512; the rest is tweetnacl. */
export const nodeCrypto: CryptoPort = {
  ...naclCrypto,
  boxKeyPairFromSecret(secretKey) {
    return { publicKey: x25519PublicKey(secretKey), secretKey: secretKey.slice() };
  },
  sha512(message) {
    return new Uint8Array(createHash('sha512').update(message).digest());
  },
  signVerify(message, signature, publicKey) {
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    try {
      return verify(null, message, ed25519PublicKeyObject(publicKey), signature);
    } catch {
      return false;
    }
  },
};
