/**
 * The native crypto (hal/moddable-crypto.ts over hal/native/pawpost-crypto.c)
 * against tweetnacl (src/nacl-crypto.ts, the reference) INSIDE the firmware:
 * run by the device tier's scenario build (tests/device-scenario.ts, command
 * `crypto`) in the SDK's runtime, where the C really runs, and by
 * tests/moddable-crypto-sim.test.ts on Node against the sim's host functions.
 *
 * Checks, on deterministic pseudo-random inputs (no secrets; 17 message sizes
 * for the symmetric operations, 3 key sets for X25519 and Ed25519): every CryptoPort
 * operation gives the same bytes, tampered boxes and signatures are refused by
 * both, small-order points give the same all-zero result; and the host
 * functions refuse bad arguments (wrong type, wrong size, offset or length
 * outside the buffer, negative, fractional, NaN, detached buffer) with a
 * TypeError or RangeError instead of touching memory, while the adapter turns
 * them into PortError. Returns the counts; `failures` names the first few.
 */
import nacl from 'tweetnacl';
import { PortError, type CryptoPort } from '../hal/ports.js';
import { ModdableCrypto } from '../hal/moddable-crypto.js';
import { naclCrypto } from '../src/nacl-crypto.js';

declare function native(name: string): (...args: unknown[]) => unknown;

export interface CryptoCheckResult {
  passed: number;
  failed: number;
  failures: string[];
}

/** Deterministic bytes (xorshift32); not random, not secret. */
function bytesFrom(seed: number, n: number): Uint8Array {
  let x = (seed * 2654435761) >>> 0 || 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function hex(b: Uint8Array | null): string {
  if (!b) return 'null';
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
}

/** RFC 8032 section 7.1 TEST 1: the empty message, its Ed25519 public key and signature. */
const RFC8032_PK = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const RFC8032_SIG =
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';
function unhex(h: string): Uint8Array {
  const out = new Uint8Array(h.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Runs every check; never throws. `keySets`: how many key sets go through the public-key
 * operations beside tweetnacl (each costs ~10^8 XS steps in tweetnacl: the device tier's debug
 * runtime passes 0 and relies on the pairing vectors, tests/device-vectors.ts, for X25519).
 */
export function runCryptoCheck(native_: CryptoPort = new ModdableCrypto(), keySets = 3): CryptoCheckResult {
  const r: CryptoCheckResult = { passed: 0, failed: 0, failures: [] };
  const ok = (name: string, cond: boolean) => {
    if (cond) r.passed++;
    else {
      r.failed++;
      if (r.failures.length < 5) r.failures.push(name);
    }
  };
  const same = (name: string, f: (c: CryptoPort) => Uint8Array | boolean | null) => {
    try {
      const a = f(native_);
      const b = f(naclCrypto);
      ok(name, typeof a === 'boolean' || typeof b === 'boolean' ? a === b : hex(a) === hex(b));
    } catch (e) {
      ok(`${name} threw ${e instanceof Error ? e.name : 'value'}`, false);
    }
  };
  const REF = nacl as unknown as { sign: { keyPair: { fromSeed(s: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } }; detached(m: Uint8Array, sk: Uint8Array): Uint8Array } };

  // up to a chunk's size: the device tier runs this at the ESP32's fixed 78,848-byte chunk heap
  const sizes = [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 511, 1000];
  for (let k = 0; k < sizes.length; k++) {
    const n = sizes[k]!;
    const key = bytesFrom(100 + k, 32);
    const nonce = bytesFrom(200 + k, 24);
    // a message lent as a view with an offset, as the envelope lends them
    const store = bytesFrom(300 + k, n + 7);
    const msg = store.subarray(3, 3 + n);
    same(`secretbox ${n}`, (c) => c.secretbox(msg, nonce, key));
    const box = naclCrypto.secretbox(msg, nonce, key);
    const boxStore = new Uint8Array(box.length + 5);
    boxStore.set(box, 5);
    same(`secretboxOpen ${n}`, (c) => c.secretboxOpen(boxStore.subarray(5), nonce, key));
    ok(`secretboxOpen ${n} leaves the box alone`, hex(boxStore.subarray(5)) === hex(box));
    for (const at of [0, 15, 16, box.length - 1]) {
      if (at >= box.length) continue;
      const bad = box.slice();
      bad[at]! ^= 0x01;
      ok(`tampered box ${n}@${at} refused`, native_.secretboxOpen(bad, nonce, key) === null && naclCrypto.secretboxOpen(bad, nonce, key) === null);
    }
    same(`onetimeauth ${n}`, (c) => c.onetimeauth(msg, key));
    same(`sha512 ${n}`, (c) => c.sha512(msg));
    if (k >= keySets) continue;
    const sk = bytesFrom(400 + k, 32);
    same(`keyPair ${k}`, (c) => c.boxKeyPairFromSecret(sk).publicKey);
    const pk = naclCrypto.boxKeyPairFromSecret(bytesFrom(500 + k, 32)).publicKey;
    same(`boxBefore ${k}`, (c) => c.boxBefore(pk, sk));
    same(`scalarMult ${k}`, (c) => c.scalarMult(sk, pk));
    same(`scalarMult on raw bytes ${k}`, (c) => c.scalarMult(sk, bytesFrom(600 + k, 32)));
    const seed = bytesFrom(700 + k, 32);
    const signer = REF.sign.keyPair.fromSeed(seed);
    const sig = REF.sign.detached(msg, signer.secretKey);
    ok(`signVerify ${n} accepts`, native_.signVerify(msg, sig, signer.publicKey) && naclCrypto.signVerify(msg, sig, signer.publicKey));
    const badSig = sig.slice();
    badSig[k % 64]! ^= 0x80;
    ok(`signVerify ${n} refuses a flipped signature bit`, !native_.signVerify(msg, badSig, signer.publicKey));
  }
  // small-order points (src/key-checks.ts refuses them first): all-zero X25519, as tweetnacl gives
  const zero = new Uint8Array(32);
  const one = new Uint8Array(32);
  one[0] = 1;
  const zeroBefore = '351f86faa3b988468a850122b65b0acece9c4826806aeee63de9c0da2bd7f91e'; // HSalsa20 of a zero key, zero nonce (tweetnacl)
  for (const p of [zero, one]) {
    ok(`scalarMult small-order ${p[0]} is all zero`, hex(native_.scalarMult(bytesFrom(9, 32), p)) === hex(zero));
    ok(`boxBefore small-order ${p[0]} is HSalsa20 of zero`, hex(native_.boxBefore(p, bytesFrom(9, 32))) === zeroBefore);
  }
  // Ed25519: RFC 8032 TEST 1, and one flipped bit
  const rfcSig = unhex(RFC8032_SIG);
  ok('signVerify RFC 8032 test 1 accepts', native_.signVerify(new Uint8Array(0), rfcSig, unhex(RFC8032_PK)));
  rfcSig[63]! ^= 0x01;
  ok('signVerify RFC 8032 test 1 with a flipped bit refuses', !native_.signVerify(new Uint8Array(0), rfcSig, unhex(RFC8032_PK)));

  // the adapter: typed errors
  const portCode = (f: () => unknown): string => {
    try {
      f();
      return 'none';
    } catch (e) {
      return e instanceof PortError ? e.code : e instanceof Error ? e.name : 'value';
    }
  };
  ok('adapter: 31-byte key is SIZE', portCode(() => native_.secretbox(new Uint8Array(1), new Uint8Array(24), new Uint8Array(31))) === 'SIZE');
  ok('adapter: 23-byte nonce is SIZE', portCode(() => native_.secretboxOpen(new Uint8Array(20), new Uint8Array(23), new Uint8Array(32))) === 'SIZE');
  ok('adapter: a string message is INVAL', portCode(() => native_.sha512('abc' as unknown as Uint8Array)) === 'INVAL');
  ok('adapter: short box opens to null', native_.secretboxOpen(new Uint8Array(15), new Uint8Array(24), new Uint8Array(32)) === null);
  ok('adapter: short signature is false', native_.signVerify(new Uint8Array(1), new Uint8Array(63), new Uint8Array(32)) === false);

  // the host functions themselves: bad arguments throw, never touch memory outside the lent buffers
  const seal = native('xs_pawpost_secretbox_seal') as (b: unknown, o: unknown, l: unknown, n: unknown, k: unknown) => void;
  const open = native('xs_pawpost_secretbox_open') as (b: unknown, o: unknown, l: unknown, n: unknown, k: unknown) => boolean;
  const sha = native('xs_pawpost_sha512') as (o: unknown, b: unknown, off: unknown, l: unknown) => void;
  const base = native('xs_pawpost_x25519_base') as (o: unknown, s: unknown) => void;
  const throwsName = (f: () => unknown): string => {
    try {
      f();
      return 'none';
    } catch (e) {
      return e instanceof Error ? e.name : 'value';
    }
  };
  const n24 = new Uint8Array(24);
  const k32 = new Uint8Array(32);
  const guard = new Uint8Array(64).fill(0xa5);
  const inner = guard.subarray(16, 48); // 32 bytes with guards either side
  ok('seal: length past the buffer is RangeError', throwsName(() => seal(inner, 0, 17, n24, k32)) === 'RangeError');
  ok('seal: offset past the buffer is RangeError', throwsName(() => seal(inner, 33, 0, n24, k32)) === 'RangeError');
  ok('seal: offset + length wraps is RangeError', throwsName(() => seal(inner, 16, 0x7fffffff - 8, n24, k32)) === 'RangeError');
  ok('seal: negative offset is RangeError', throwsName(() => seal(inner, -1, 0, n24, k32)) === 'RangeError');
  ok('seal: fractional length is RangeError', throwsName(() => seal(inner, 0, 1.5, n24, k32)) === 'RangeError');
  ok('seal: NaN length is RangeError', throwsName(() => seal(inner, 0, NaN, n24, k32)) === 'RangeError');
  ok('seal: a string length is TypeError', throwsName(() => seal(inner, 0, '1', n24, k32)) === 'TypeError');
  ok('seal: a 31-byte key is TypeError', throwsName(() => seal(inner, 0, 0, n24, new Uint8Array(31))) === 'TypeError');
  ok('seal: an Int16Array buffer is TypeError', throwsName(() => seal(new Int16Array(32), 0, 0, n24, k32)) === 'TypeError');
  ok('seal: a plain object is TypeError', throwsName(() => seal({}, 0, 0, n24, k32)) === 'TypeError');
  ok('seal: missing arguments is TypeError', throwsName(() => (seal as (...a: unknown[]) => void)(inner, 0, 0)) === 'TypeError');
  ok('open: length past the buffer is RangeError', throwsName(() => open(inner, 1, 16, n24, k32)) === 'RangeError');
  ok('sha512: a 63-byte output is TypeError', throwsName(() => sha(new Uint8Array(63), inner, 0, 0)) === 'TypeError');
  ok('sha512: a range past the buffer is RangeError', throwsName(() => sha(new Uint8Array(64), inner, 30, 3)) === 'RangeError');
  ok('x25519_base: a null scalar is TypeError', throwsName(() => base(new Uint8Array(32), null)) === 'TypeError');
  let guardsKept = true;
  for (let i = 0; i < 16; i++) if (guard[i] !== 0xa5 || guard[48 + i] !== 0xa5) guardsKept = false;
  ok('bad calls wrote nothing outside the lent view', guardsKept);
  seal(inner, 0, 16, n24, k32); // exactly fits: tag + 16 bytes
  ok('an exact-fit seal writes only inside the view', guard.subarray(0, 16).every((b) => b === 0xa5) && guard.subarray(48).every((b) => b === 0xa5));
  ok('an exact-fit seal opens in place', open(inner, 0, 16, n24, k32) === true && inner.subarray(16).every((b) => b === 0xa5));
  // a detached buffer (ES2024 ArrayBuffer.prototype.transfer, when the engine has it)
  const ab = new ArrayBuffer(64) as ArrayBuffer & { transfer?: () => ArrayBuffer };
  if (typeof ab.transfer === 'function') {
    const view = new Uint8Array(ab);
    ab.transfer();
    ok('a detached buffer is TypeError', throwsName(() => sha(new Uint8Array(64), view, 0, 0)) === 'TypeError');
    ok('adapter: a detached message is IO', portCode(() => native_.sha512(view)) === 'IO');
  }
  return r;
}
