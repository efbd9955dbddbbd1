/**
 * CryptoPort on tweetnacl (host and XS). The device may bind native libsodium
 * behind the same interface; both are libsodium-compatible byte for byte.
 *
 * tweetnacl's own PRNG looks for WebCrypto or node:crypto, which XS lacks:
 * `wireNaclRandom` routes it to the RandomPort (hardware RNG on the device).
 */
import nacl from 'tweetnacl';
import { PortError, type CryptoPort, type RandomPort } from '../hal/ports.js';

/**
 * Argument checks shared by every method, the same codes as the native adapter
 * (hal/moddable-crypto.ts): PortError('INVAL') for a value that is not a
 * Uint8Array, PortError('SIZE') for a key, nonce, point or scalar of the wrong length.
 */
function bytes(b: Uint8Array, what: string): void {
  if (!(b instanceof Uint8Array)) throw new PortError('INVAL', `${what} must be a Uint8Array`);
}
function need(b: Uint8Array, n: number, what: string): void {
  bytes(b, what);
  if (b.length !== n) throw new PortError('SIZE', `${what} must be ${n} bytes`);
}

/** Makes nacl.randomBytes (used by tweetnacl internally) draw from `random`. */
export function wireNaclRandom(random: RandomPort): void {
  nacl.setPRNG((x: Uint8Array, n: number) => {
    const v = x.subarray(0, n);
    random.fill(v);
  });
}

/** The CryptoPort implemented with tweetnacl. Stateless; safe to share. */
export const naclCrypto: CryptoPort = {
  boxKeyPairFromSecret(secretKey) {
    need(secretKey, 32, 'secret key');
    const kp = nacl.box.keyPair.fromSecretKey(secretKey);
    return { publicKey: kp.publicKey, secretKey: kp.secretKey };
  },
  boxBefore(theirPublic, mySecret) {
    need(theirPublic, 32, 'public key');
    need(mySecret, 32, 'secret key');
    return nacl.box.before(theirPublic, mySecret);
  },
  secretbox(message, nonce, key) {
    bytes(message, 'message');
    need(nonce, 24, 'nonce');
    need(key, 32, 'key');
    return nacl.secretbox(message, nonce, key);
  },
  secretboxOpen(box, nonce, key) {
    bytes(box, 'box');
    need(nonce, 24, 'nonce');
    need(key, 32, 'key');
    if (box.length < 16) return null;
    return nacl.secretbox.open(box, nonce, key);
  },
  onetimeauth(message, key) {
    bytes(message, 'message');
    need(key, 32, 'one-time key');
    const out = new Uint8Array(16);
    (nacl as unknown as { lowlevel: { crypto_onetimeauth: (o: Uint8Array, op: number, m: Uint8Array, mp: number, n: number, k: Uint8Array) => number } }).lowlevel.crypto_onetimeauth(out, 0, message, 0, message.length, key);
    return out;
  },
  secretboxInPlace(buf, offset, length, nonce, key) {
    need(nonce, 24, 'nonce');
    need(key, 32, 'key');
    if (!(buf instanceof Uint8Array) || !(offset >= 0 && length >= 0 && offset + 16 + length <= buf.length)) throw new PortError('SIZE', 'box range outside its buffer');
    // tweetnacl allocates inside (pure JS; the device's port does not)
    buf.set(nacl.secretbox(buf.subarray(offset + 16, offset + 16 + length), nonce, key), offset);
  },
  secretboxOpenInPlace(buf, offset, length, nonce, key) {
    bytes(buf, 'buffer');
    need(nonce, 24, 'nonce');
    need(key, 32, 'key');
    if (!(offset >= 0 && length >= 0 && offset + 16 + length <= buf.length) || (offset | 0) !== offset || (length | 0) !== length) throw new PortError('SIZE', 'box range outside its buffer');
    // tweetnacl allocates inside (pure JS; the device's port does not)
    const plain = nacl.secretbox.open(buf.subarray(offset, offset + 16 + length), nonce, key);
    if (!plain) return false;
    buf.set(plain, offset + 16);
    return true;
  },
  onetimeauthInto(out16, buf, offset, length, key) {
    need(out16, 16, 'tag');
    need(key, 32, 'one-time key');
    if (!(buf instanceof Uint8Array) || !(offset >= 0 && length >= 0 && offset + length <= buf.length)) throw new PortError('SIZE', 'message range outside its buffer');
    (nacl as unknown as { lowlevel: { crypto_onetimeauth: (o: Uint8Array, op: number, m: Uint8Array, mp: number, n: number, k: Uint8Array) => number } }).lowlevel.crypto_onetimeauth(out16, 0, buf, offset, length, key);
  },
  scalarMult(scalar, point) {
    need(scalar, 32, 'scalar');
    need(point, 32, 'point');
    return nacl.scalarMult(scalar, point);
  },
  sha512(message) {
    bytes(message, 'message');
    return nacl.hash(message);
  },
  signVerify(message, signature, publicKey) {
    bytes(message, 'message');
    if (!(signature instanceof Uint8Array) || !(publicKey instanceof Uint8Array)) return false;
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    return nacl.sign.detached.verify(message, signature, publicKey);
  },
};
