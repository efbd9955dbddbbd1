/**
 * CryptoPort on the device: libsodium bound natively (hal/native/pawpost-crypto.c,
 * native("xs_pawpost_*")). Same bytes as src/nacl-crypto.ts (tweetnacl), the
 * reference; the firmware on esp32 and lin uses this one (src/main.ts), the host
 * keeps tweetnacl. In the simulator the same host functions are implemented on
 * tweetnacl (sim/moddable/native.ts), so this file runs unchanged there.
 *
 * Memory: secretboxInPlace, secretboxOpenInPlace and onetimeauthInto allocate
 * nothing (the sealer's and the toy's receive/playback paths, issue 13); every other call allocates its result only (a box is allocated once at
 * 16 + length and sealed in place; an opened box is copied once and opened in
 * place, the plaintext is a view of that copy after the 16-byte tag). Inputs
 * are lent and never kept or modified.
 *
 * Errors: PortError('SIZE') for a key, nonce, point or scalar of the wrong
 * length, PortError('INVAL') for an argument that is not a Uint8Array (both
 * checked here first, as src/nacl-crypto.ts does); a throw of the host function
 * (detached buffer, range: see the C file) becomes PortError('IO') without
 * the message. secretboxOpen returns null for a box under 16 bytes or a bad
 * tag. signVerify returns false for a wrong-sized signature or key; note that
 * libsodium also refuses non-canonical signatures that tweetnacl accepts.
 *
 * Differences from tweetnacl, by design of libsodium, none of which PawPost
 * relies on: X25519 with a small-order point gives the same all-zero bytes
 * (src/key-checks.ts refuses such keys before), and `smallOrderResults`
 * counts them.
 */
import { PortError, type CryptoPort } from './ports.js';

// XS binds a host function by name; `native` is a keyword of the XS parser
// (not a global), so it is declared here for tsc and erased from the output.
declare function native(name: string): (...args: unknown[]) => unknown;

type Bytes = Uint8Array;
const x25519Base = native('xs_pawpost_x25519_base') as (out: Bytes, scalar: Bytes) => void;
const x25519 = native('xs_pawpost_x25519') as (out: Bytes, scalar: Bytes, point: Bytes) => boolean;
const boxBeforeNm = native('xs_pawpost_box_before') as (out: Bytes, theirPublic: Bytes, mySecret: Bytes) => boolean;
const sbSeal = native('xs_pawpost_secretbox_seal') as (buf: Bytes, offset: number, length: number, nonce: Bytes, key: Bytes) => void;
const sbOpen = native('xs_pawpost_secretbox_open') as (buf: Bytes, offset: number, length: number, nonce: Bytes, key: Bytes) => boolean;
const otAuth = native('xs_pawpost_onetimeauth') as (out: Bytes, buf: Bytes, offset: number, length: number, key: Bytes) => void;
const sha512Host = native('xs_pawpost_sha512') as (out: Bytes, buf: Bytes, offset: number, length: number) => void;
const signVerifyHost = native('xs_pawpost_sign_verify') as (sig: Bytes, buf: Bytes, offset: number, length: number, pk: Bytes) => boolean;

function bytes(b: unknown, what: string): asserts b is Uint8Array {
  if (!(b instanceof Uint8Array)) throw new PortError('INVAL', `${what} must be a Uint8Array`);
}
function need(b: unknown, n: number, what: string): asserts b is Uint8Array {
  bytes(b, what);
  if (b.length !== n) throw new PortError('SIZE', `${what} must be ${n} bytes`);
}

/** Host-function calls made by every ModdableCrypto since boot (read by the device tier's scenario build). */
export const nativeCryptoStats = { calls: 0 };

/** The native CryptoPort. One instance per device is enough; it keeps counters only. */
export class ModdableCrypto implements CryptoPort {
  /** Host-function calls made (for the bench and the device tier). */
  calls = 0;
  /** X25519 results that were all zero (small-order points); the bytes are still returned, as tweetnacl does. */
  smallOrderResults = 0;
  /** Host-function throws turned into PortError('IO'). */
  failures = 0;

  private host<T>(fn: () => T): T {
    this.calls++;
    nativeCryptoStats.calls++;
    try {
      return fn();
    } catch {
      return this.refused();
    }
  }

  /** A native call threw: counted, PortError IO. */
  private refused(): never {
    this.failures++;
    throw new PortError('IO', 'native crypto refused its arguments');
  }

  boxKeyPairFromSecret(secretKey: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
    need(secretKey, 32, 'secret key');
    const publicKey = new Uint8Array(32);
    const sk = secretKey.slice();
    this.host(() => x25519Base(publicKey, sk));
    return { publicKey, secretKey: sk };
  }

  boxBefore(theirPublic: Uint8Array, mySecret: Uint8Array): Uint8Array {
    need(theirPublic, 32, 'public key');
    need(mySecret, 32, 'secret key');
    const out = new Uint8Array(32);
    if (!this.host(() => boxBeforeNm(out, theirPublic, mySecret))) this.smallOrderResults++;
    return out;
  }

  secretbox(message: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array {
    bytes(message, 'message');
    need(nonce, 24, 'nonce');
    need(key, 32, 'key');
    const box = new Uint8Array(16 + message.length);
    box.set(message, 16);
    this.calls++;
    nativeCryptoStats.calls++;
    try {
      sbSeal(box, 0, message.length, nonce, key); // per chunk: no closure (XS heap slots, issue 13)
    } catch {
      this.refused();
    }
    return box;
  }

  secretboxOpen(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null {
    bytes(box, 'box');
    need(nonce, 24, 'nonce');
    need(key, 32, 'key');
    if (box.length < 16) return null;
    const work = box.slice();
    this.calls++;
    nativeCryptoStats.calls++;
    let ok = false;
    try {
      ok = sbOpen(work, 0, box.length - 16, nonce, key); // per chunk: no closure (XS heap slots, issue 13)
    } catch {
      this.refused();
    }
    return ok ? work.subarray(16) : null;
  }

  /** In place, allocation-free (no closure either): see CryptoPort.secretboxInPlace. */
  secretboxInPlace(buf: Uint8Array, offset: number, length: number, nonce: Uint8Array, key: Uint8Array): void {
    bytes(buf, 'buffer');
    need(nonce, 24, 'nonce');
    need(key, 32, 'key');
    this.calls++;
    nativeCryptoStats.calls++;
    try {
      sbSeal(buf, offset, length, nonce, key);
    } catch {
      this.failures++;
      throw new PortError('IO', 'native crypto refused its arguments');
    }
  }

  /** In place, allocation-free (no closure either): see CryptoPort.secretboxOpenInPlace. */
  secretboxOpenInPlace(buf: Uint8Array, offset: number, length: number, nonce: Uint8Array, key: Uint8Array): boolean {
    bytes(buf, 'buffer');
    need(nonce, 24, 'nonce');
    need(key, 32, 'key');
    if (!(offset >= 0 && length >= 0 && offset + 16 + length <= buf.length) || (offset | 0) !== offset || (length | 0) !== length) throw new PortError('SIZE', 'box range outside its buffer');
    this.calls++;
    nativeCryptoStats.calls++;
    let ok = false;
    try {
      ok = sbOpen(buf, offset, length, nonce, key);
    } catch {
      this.refused();
    }
    return ok;
  }

  /** Allocation-free: see CryptoPort.onetimeauthInto. */
  onetimeauthInto(out16: Uint8Array, buf: Uint8Array, offset: number, length: number, key: Uint8Array): void {
    need(out16, 16, 'tag');
    bytes(buf, 'message');
    need(key, 32, 'one-time key');
    this.calls++;
    nativeCryptoStats.calls++;
    try {
      otAuth(out16, buf, offset, length, key);
    } catch {
      this.failures++;
      throw new PortError('IO', 'native crypto refused its arguments');
    }
  }

  onetimeauth(message: Uint8Array, key: Uint8Array): Uint8Array {
    bytes(message, 'message');
    need(key, 32, 'one-time key');
    const out = new Uint8Array(16);
    this.calls++;
    nativeCryptoStats.calls++;
    try {
      otAuth(out, message, 0, message.length, key); // per chunk: no closure (XS heap slots, issue 13)
    } catch {
      this.refused();
    }
    return out;
  }

  scalarMult(scalar: Uint8Array, point: Uint8Array): Uint8Array {
    need(scalar, 32, 'scalar');
    need(point, 32, 'point');
    const out = new Uint8Array(32);
    if (!this.host(() => x25519(out, scalar, point))) this.smallOrderResults++;
    return out;
  }

  sha512(message: Uint8Array): Uint8Array {
    bytes(message, 'message');
    const out = new Uint8Array(64);
    this.host(() => sha512Host(out, message, 0, message.length));
    return out;
  }

  signVerify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
    bytes(message, 'message');
    if (!(signature instanceof Uint8Array) || !(publicKey instanceof Uint8Array)) return false;
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    return this.host(() => signVerifyHost(signature, message, 0, message.length, publicKey));
  }
}
