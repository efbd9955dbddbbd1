/**
 * The bench's stand-in for native crypto when the native worker (tools/xs-native/,
 * which links hal/native/pawpost-crypto.c) is skipped: a CryptoPort whose every operation is ONE
 * synchronous call out of XS (issueCommand), answered by the host
 * (bench/native-crypto.bench.ts, on tweetnacl: the same bytes as libsodium).
 * So the XS compute steps metered around the toy's code are its JavaScript
 * alone, with the cryptography outside XS as on the device, and `calls`
 * counts the native calls the device would make. The marshalling here (a few
 * typed-array copies per call) is counted too, so the figures are an upper
 * bound of the device's JavaScript with hal/moddable-crypto.ts.
 *
 * Wire: query [op u8][argc u8] then per argument [length u32 LE][bytes];
 * answer [status u8 (1 ok / 0 null or false)][bytes].
 */
import type { CryptoPort } from '../../hal/ports.js';

declare function issueCommand(msg: ArrayBuffer): ArrayBuffer;

export const OPS = ['keypair', 'before', 'seal', 'open', 'otauth', 'x25519', 'sha512', 'verify'] as const;

export class HostCrypto implements CryptoPort {
  calls = 0;

  private call(op: number, args: Uint8Array[]): { ok: boolean; out: Uint8Array } {
    this.calls++;
    let n = 2;
    for (const a of args) n += 4 + a.length;
    const q = new Uint8Array(n);
    q[0] = op;
    q[1] = args.length;
    let at = 2;
    for (const a of args) {
      q[at] = a.length & 0xff;
      q[at + 1] = (a.length >>> 8) & 0xff;
      q[at + 2] = (a.length >>> 16) & 0xff;
      q[at + 3] = (a.length >>> 24) & 0xff;
      q.set(a, at + 4);
      at += 4 + a.length;
    }
    const r = new Uint8Array(issueCommand(q.buffer as ArrayBuffer));
    return { ok: r[0] === 1, out: r.subarray(1) };
  }

  boxKeyPairFromSecret(secretKey: Uint8Array) {
    return { publicKey: this.call(0, [secretKey]).out, secretKey: secretKey.slice() };
  }
  boxBefore(theirPublic: Uint8Array, mySecret: Uint8Array) {
    return this.call(1, [theirPublic, mySecret]).out;
  }
  secretbox(message: Uint8Array, nonce: Uint8Array, key: Uint8Array) {
    return this.call(2, [message, nonce, key]).out;
  }
  secretboxOpen(box: Uint8Array, nonce: Uint8Array, key: Uint8Array) {
    const r = this.call(3, [box, nonce, key]);
    return r.ok ? r.out : null;
  }
  onetimeauth(message: Uint8Array, key: Uint8Array) {
    return this.call(4, [message, key]).out;
  }
  scalarMult(scalar: Uint8Array, point: Uint8Array) {
    return this.call(5, [scalar, point]).out;
  }
  sha512(message: Uint8Array) {
    return this.call(6, [message]).out;
  }
  signVerify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array) {
    return this.call(7, [message, signature, publicKey]).ok;
  }
}
