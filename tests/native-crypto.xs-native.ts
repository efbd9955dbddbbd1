/**
 * The device's C inside XS (the native worker, tools/xs-native/; run by
 * `npx tsx tools/xs-test.ts --native`): hal/native/pawpost-crypto.c,
 * pawpost-random.c and opus-codec.c over Debian's libsodium and libopus.
 *
 * - Byte for byte: every CryptoPort operation of hal/moddable-crypto.ts gives
 *   the bytes of src/nacl-crypto.ts (tweetnacl, the reference) over sizes that
 *   cross Salsa20 block and Poly1305 block boundaries, and tampered boxes fail
 *   on both.
 * - Bad arguments to the raw host functions (wrong buffer type, out-of-range or
 *   non-integer offset and length, detached buffer, read-only output, missing
 *   arguments) throw TypeError or RangeError, never crash the worker, and never
 *   write outside the lent range; the adapters turn them into typed errors.
 * Native-only: not run under Node (no C there), nor by the plain XS tier.
 */
import { test } from './xs/harness.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { ModdableCrypto } from '../hal/moddable-crypto.js';
import { ModdableOpusCodec } from '../hal/moddable-codec.js';
import { ModdableRandom } from '../hal/moddable-random.js';
import { PortError, FRAME_SAMPLES } from '../hal/ports.js';
import { CodecError } from '../audio/codec-port.js';
import nacl from 'tweetnacl';

declare function native(name: string): (...args: unknown[]) => unknown;
declare function __pawpostNativeCalls(): number;

const native_ = new ModdableCrypto();
/** Deterministic bytes (an LCG): inputs only, never keys of anything real. */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
const SIZES = [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000, 4096];

test('native calls are counted by the worker (the C runs)', (t) => {
  const before = __pawpostNativeCalls();
  native_.sha512(new Uint8Array(3));
  t.is(__pawpostNativeCalls() - before, 1);
  t.true(naclCrypto !== (native_ as unknown), 'the test compares two implementations');
});

test('X25519: public keys, shared keys and scalar mult equal tweetnacl', (t) => {
  for (let i = 0; i < 8; i++) {
    const a = bytes(32, 100 + i);
    const b = bytes(32, 200 + i);
    const ka = naclCrypto.boxKeyPairFromSecret(a);
    t.deepEqual(native_.boxKeyPairFromSecret(a).publicKey, ka.publicKey, `public key ${i}`);
    const kb = naclCrypto.boxKeyPairFromSecret(b);
    t.deepEqual(native_.boxBefore(kb.publicKey, a), naclCrypto.boxBefore(kb.publicKey, a), `box.before ${i}`);
    t.deepEqual(native_.scalarMult(a, kb.publicKey), naclCrypto.scalarMult(a, kb.publicKey), `scalarMult ${i}`);
  }
});

test('X25519 with a small-order point: the same all-zero bytes, counted', (t) => {
  const zeroPoint = new Uint8Array(32);
  const c = new ModdableCrypto();
  t.deepEqual(c.scalarMult(bytes(32, 1), zeroPoint), naclCrypto.scalarMult(bytes(32, 1), zeroPoint));
  t.deepEqual(c.boxBefore(zeroPoint, bytes(32, 1)), naclCrypto.boxBefore(zeroPoint, bytes(32, 1)));
  t.is(c.smallOrderResults, 2);
});

test('secretbox seal and open equal tweetnacl at every size; tampering fails on both', (t) => {
  for (const n of SIZES) {
    const m = bytes(n, n + 1);
    const nonce = bytes(24, n + 2);
    const key = bytes(32, n + 3);
    const box = native_.secretbox(m, nonce, key);
    t.deepEqual(box, naclCrypto.secretbox(m, nonce, key), `seal ${n}`);
    t.deepEqual(native_.secretboxOpen(box, nonce, key), m, `open ${n}`);
    const bad = box.slice();
    bad[(n * 7) % bad.length] ^= 0x20;
    t.is(native_.secretboxOpen(bad, nonce, key), null, `tampered ${n}`);
    t.is(naclCrypto.secretboxOpen(bad, nonce, key), null, `tampered ${n} (js)`);
    t.deepEqual(box, naclCrypto.secretbox(m, nonce, key), 'the caller\'s box is not modified by open');
  }
  t.is(native_.secretboxOpen(new Uint8Array(15), bytes(24, 1), bytes(32, 2)), null, 'shorter than a tag');
});

test('in place (the sealer\'s path): secretboxInPlace and onetimeauthInto give the same bytes as secretbox and onetimeauth, only inside their ranges', (t) => {
  for (const n of SIZES) {
    const m = bytes(n, n + 11);
    const nonce = bytes(24, n + 12);
    const key = bytes(32, n + 13);
    const buf = new Uint8Array(7 + 16 + n + 5).fill(0x77);
    buf.set(m, 7 + 16);
    native_.secretboxInPlace(buf, 7, n, nonce, key);
    t.deepEqual(buf.subarray(7, 7 + 16 + n), naclCrypto.secretbox(m, nonce, key), `seal in place ${n}`);
    t.true(buf.subarray(0, 7).every((x) => x === 0x77) && buf.subarray(7 + 16 + n).every((x) => x === 0x77), `outside untouched ${n}`);
    const tag = new Uint8Array(16);
    native_.onetimeauthInto(tag, buf, 3, n, key);
    t.deepEqual(tag, naclCrypto.onetimeauth(buf.subarray(3, 3 + n), key), `poly1305 into ${n}`);
    const js = new Uint8Array(16);
    naclCrypto.onetimeauthInto!(js, buf, 3, n, key);
    t.deepEqual(js, tag, `tweetnacl's onetimeauthInto ${n}`);
  }
  t.throws(() => native_.secretboxInPlace(new Uint8Array(20), 0, 5, bytes(24, 1), bytes(32, 2)), (e) => e instanceof PortError && e.code === 'IO', 'range past the buffer');
  t.throws(() => native_.onetimeauthInto(new Uint8Array(15), new Uint8Array(4), 0, 4, bytes(32, 2)), (e) => e instanceof PortError && e.code === 'SIZE', 'tag not 16 bytes');
});

test('secretboxOpenInPlace (the playback path) gives secretboxOpen\'s plaintext in place, only inside its range; a bad tag changes nothing', (t) => {
  for (const n of SIZES) {
    const m = bytes(n, n + 21);
    const nonce = bytes(24, n + 22);
    const key = bytes(32, n + 23);
    const box = naclCrypto.secretbox(m, nonce, key);
    const buf = new Uint8Array(5 + box.length + 9).fill(0x55);
    buf.set(box, 5);
    t.true(native_.secretboxOpenInPlace(buf, 5, n, nonce, key), `opens ${n}`);
    t.deepEqual(buf.subarray(5 + 16, 5 + 16 + n), native_.secretboxOpen(box, nonce, key)!, `same plaintext as secretboxOpen ${n}`);
    t.deepEqual(buf.subarray(5 + 16, 5 + 16 + n), m, `plaintext ${n}`);
    t.true(buf.subarray(0, 5).every((x) => x === 0x55) && buf.subarray(5 + 16 + n).every((x) => x === 0x55), `outside untouched ${n}`);
    const js = new Uint8Array(box.length);
    js.set(box);
    t.true(naclCrypto.secretboxOpenInPlace!(js, 0, n, nonce, key), `tweetnacl opens ${n}`);
    t.deepEqual(js.subarray(16), m, `tweetnacl's in place ${n}`);
    const bad = box.slice();
    bad[n > 0 ? 16 + (n >> 1) : 3] ^= 1; // a ciphertext byte, or a tag byte when there is none
    const copy = bad.slice();
    t.false(native_.secretboxOpenInPlace(bad, 0, n, nonce, key), `tampered ${n}`);
    t.deepEqual(bad, copy, `a refused box is left as it was ${n}`);
    t.false(naclCrypto.secretboxOpenInPlace!(bad, 0, n, nonce, key), `tweetnacl refuses the tampered box ${n}`);
  }
  for (const c of [native_, naclCrypto]) {
    const isSize = (e: unknown): boolean => e instanceof PortError && e.code === 'SIZE';
    t.throws(() => c.secretboxOpenInPlace!(new Uint8Array(20), 0, 5, bytes(24, 1), bytes(32, 2)), isSize, 'range past the buffer');
    t.throws(() => c.secretboxOpenInPlace!(new Uint8Array(40), -1, 5, bytes(24, 1), bytes(32, 2)), isSize, 'negative offset');
    t.throws(() => c.secretboxOpenInPlace!(new Uint8Array(40), 0.5, 5, bytes(24, 1), bytes(32, 2)), isSize, 'fractional offset');
    t.throws(() => c.secretboxOpenInPlace!(new Uint8Array(40), 0, 5, bytes(23, 1), bytes(32, 2)), isSize, 'short nonce');
    t.throws(() => c.secretboxOpenInPlace!(new Uint8Array(40), 0, 5, bytes(24, 1), bytes(31, 2)), isSize, 'short key');
    t.throws(() => c.secretboxOpenInPlace!([1, 2, 3] as unknown as Uint8Array, 0, 1, bytes(24, 1), bytes(32, 2)), (e) => e instanceof PortError && e.code === 'INVAL', 'not bytes');
  }
});

test('Poly1305 and SHA-512 equal tweetnacl at every size', (t) => {
  for (const n of SIZES) {
    const m = bytes(n, 3 * n + 5);
    t.deepEqual(native_.onetimeauth(m, bytes(32, n)), naclCrypto.onetimeauth(m, bytes(32, n)), `poly1305 ${n}`);
    t.deepEqual(native_.sha512(m), naclCrypto.sha512(m), `sha512 ${n}`);
  }
});

test('Ed25519 verify agrees with tweetnacl on a good and a tampered signature', (t) => {
  const m = bytes(200, 9);
  const kp = nacl.sign.keyPair.fromSeed(bytes(32, 10));
  const sig = nacl.sign.detached(m, kp.secretKey);
  t.true(naclCrypto.signVerify(m, sig, kp.publicKey));
  t.true(native_.signVerify(m, sig, kp.publicKey));
  const bad = sig.slice();
  bad[5] ^= 1;
  t.false(naclCrypto.signVerify(m, bad, kp.publicKey));
  t.false(native_.signVerify(m, bad, kp.publicKey));
  t.false(native_.signVerify(m, sig.subarray(1), kp.publicKey), 'short signature');
  t.false(native_.signVerify(m, sig, new Uint8Array(31)), 'short key');
});

// ---------------------------------------------------------------- bad arguments to the raw host functions
const seal = native('xs_pawpost_secretbox_seal');
const open = native('xs_pawpost_secretbox_open');
const sha = native('xs_pawpost_sha512');
const base = native('xs_pawpost_x25519_base');
const otauth = native('xs_pawpost_onetimeauth');
const verify = native('xs_pawpost_sign_verify');
const random = native('xs_pawpost_random');

const isType = (e: unknown) => e instanceof TypeError;
const isRange = (e: unknown) => e instanceof RangeError;
const isTyped = (e: unknown) => e instanceof TypeError || e instanceof RangeError;

test('an unknown host function name is a TypeError', (t) => {
  t.throws(() => native('xs_no_such_function'), isType);
  t.throws(() => (native as unknown as (x: unknown) => unknown)(42), isType);
});

test('wrong buffer types throw TypeError (string, number, object, null, Int16Array, no argument)', (t) => {
  const key = new Uint8Array(32);
  const nonce = new Uint8Array(24);
  for (const wrong of ['abc', 7, {}, null, undefined, new Int16Array(64), [1, 2, 3]]) {
    t.throws(() => seal(wrong, 0, 0, nonce, key), isType, `seal buffer ${String(wrong)}`);
    t.throws(() => seal(new Uint8Array(64), 0, 0, wrong, key), isType, `seal nonce ${String(wrong)}`);
    t.throws(() => sha(wrong, new Uint8Array(4), 0, 4), isType, `sha out ${String(wrong)}`);
    t.throws(() => base(new Uint8Array(32), wrong), isType, `x25519 scalar ${String(wrong)}`);
    t.throws(() => random(wrong), isTyped, `random ${String(wrong)}`);
  }
  t.throws(() => seal(), isType, 'no arguments');
  t.throws(() => base(new Uint8Array(32)), isType, 'one argument short');
  t.throws(() => base(new Uint8Array(31), new Uint8Array(32)), isType, 'out of the wrong size');
  t.throws(() => sha(new Uint8Array(64), new Uint8Array(4), '0', 4), isType, 'offset as a string');
});

test('out-of-range or non-integer offsets and lengths throw RangeError and write nothing', (t) => {
  const key = new Uint8Array(32);
  const nonce = new Uint8Array(24);
  const buf = new Uint8Array(64).fill(0xaa);
  const cases: [number, number][] = [
    [-1, 0], [0, -1], [0.5, 0], [0, 1.5], [NaN, 0], [0, NaN], [Infinity, 0], [0, Infinity],
    [65, 0], [0, 49], [49, 0], [1, 48], [2 ** 31, 0], [0, 2 ** 31], [2 ** 31 - 1, 2 ** 31 - 1], [0, 2 ** 31 - 16],
  ];
  for (const [o, l] of cases) {
    t.throws(() => seal(buf, o, l, nonce, key), isRange, `seal (${o}, ${l})`);
    t.throws(() => open(buf, o, l, nonce, key), isRange, `open (${o}, ${l})`);
  }
  t.true(buf.every((b) => b === 0xaa), 'nothing written by a refused call');
  t.throws(() => sha(new Uint8Array(64), buf, 60, 5), isRange, 'sha range past the end');
  t.throws(() => otauth(new Uint8Array(16), buf, 64, 1, key), isRange, 'poly1305 range past the end');
  t.throws(() => verify(new Uint8Array(64), buf, 0, 65, new Uint8Array(32)), isRange, 'verify range past the end');
  // the edge itself is inside: a whole-buffer seal works
  seal(buf, 0, 48, nonce, key);
  t.deepEqual(buf, naclCrypto.secretbox(new Uint8Array(48).fill(0xaa), nonce, key), 'the edge case seals the whole buffer');
});

test('views: the offset counts from the view; a range past the view is refused even inside its buffer', (t) => {
  const key = bytes(32, 1);
  const nonce = bytes(24, 2);
  const backing = new Uint8Array(100).fill(0x55);
  const view = backing.subarray(10, 60); // 50 bytes
  view.set(bytes(34, 3), 16);
  seal(view, 0, 34, nonce, key);
  t.deepEqual(view, naclCrypto.secretbox(bytes(34, 3), nonce, key));
  t.true(backing.subarray(0, 10).every((b) => b === 0x55) && backing.subarray(60).every((b) => b === 0x55), 'nothing outside the view');
  t.throws(() => seal(view, 1, 34, nonce, key), isRange, 'one byte past the view');
  const dv = new DataView(backing.buffer, 20, 40);
  t.throws(() => sha(new Uint8Array(64), dv, 0, 41), isRange, 'DataView: past its end');
  const out = new Uint8Array(64);
  sha(out, dv, 0, 40);
  t.deepEqual(out, naclCrypto.sha512(backing.subarray(20, 60)), 'DataView range');
  const ab = new ArrayBuffer(8);
  sha(out, ab, 2, 6);
  t.deepEqual(out, naclCrypto.sha512(new Uint8Array(6)), 'ArrayBuffer range');
});

test('a detached buffer throws TypeError, in every position', (t) => {
  const transfer = (ArrayBuffer.prototype as unknown as { transfer?: unknown }).transfer;
  t.is(typeof transfer, 'function', 'this XS has ArrayBuffer.prototype.transfer');
  const detached = () => {
    const b = new Uint8Array(64);
    (b.buffer as unknown as { transfer(): ArrayBuffer }).transfer();
    return b;
  };
  const key = new Uint8Array(32);
  const nonce = new Uint8Array(24);
  t.throws(() => seal(detached(), 0, 0, nonce, key), isType, 'seal buffer');
  t.throws(() => seal(new Uint8Array(64), 0, 0, detached().subarray(0, 24), key), isTyped, 'seal nonce');
  t.throws(() => sha(detached(), new Uint8Array(1), 0, 1), isType, 'sha out');
  t.throws(() => random(detached()), isType, 'random');
  const ab = new ArrayBuffer(32);
  (ab as unknown as { transfer(): ArrayBuffer }).transfer();
  t.throws(() => base(ab, new Uint8Array(32)), isType, 'detached ArrayBuffer');
  // the adapter turns it into a typed PortError('IO') and counts it
  const c = new ModdableCrypto();
  const m = detached();
  t.throws(() => c.sha512(m), (e) => e instanceof PortError && e.code === 'IO');
  t.is(c.failures, 1);
});

test('the adapter checks first: PortError INVAL and SIZE (sizes as src/nacl-crypto.ts)', (t) => {
  const c = new ModdableCrypto();
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return e instanceof PortError ? e.code : `not a PortError: ${String(e)}`;
    }
    return 'no throw';
  };
  const notBytes = 'x' as unknown as Uint8Array;
  const calls = c.calls;
  t.is(code(() => c.secretbox(notBytes, new Uint8Array(24), new Uint8Array(32))), 'INVAL', 'message not bytes');
  t.is(code(() => c.sha512([1, 2] as unknown as Uint8Array)), 'INVAL', 'sha512 of an array');
  // sizes: the same codes as the reference (src/nacl-crypto.ts checks types and sizes the same way)
  for (const [impl, name] of [[c, 'native'], [naclCrypto, 'tweetnacl']] as const) {
    t.is(code(() => impl.secretbox(new Uint8Array(1), new Uint8Array(23), new Uint8Array(32))), 'SIZE', `${name}: nonce size`);
    t.is(code(() => impl.secretbox(new Uint8Array(1), new Uint8Array(24), new Uint8Array(31))), 'SIZE', `${name}: key size`);
    t.is(code(() => impl.boxBefore(new Uint8Array(31), new Uint8Array(32))), 'SIZE', `${name}: public key size`);
    t.is(code(() => impl.scalarMult(new Uint8Array(32), new Uint8Array(33))), 'SIZE', `${name}: point size`);
  }
  t.is(c.calls, calls, 'nothing reached the C');
});

test('random: fills every byte of any size from getrandom(2); refuses a detached buffer', (t) => {
  const r = new ModdableRandom();
  const a = new Uint8Array(4096);
  r.fill(a);
  const seen = new Set<number>();
  for (const b of a) seen.add(b);
  t.true(seen.size > 200, `4096 random bytes take ${seen.size} values`);
  const z = new Uint8Array(0);
  r.fill(z);
  t.is(z.length, 0);
});

// ---------------------------------------------------------------- Opus
function tone(frame: number): Int16Array {
  const pcm = new Int16Array(FRAME_SAMPLES);
  for (let i = 0; i < FRAME_SAMPLES; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * (frame * FRAME_SAMPLES + i)) / 16000));
  return pcm;
}

test('opus: 50 frames encode and decode through libopus; the tone comes back', (t) => {
  const codec = new ModdableOpusCodec();
  const packet = new Uint8Array(1275);
  const out = new Int16Array(FRAME_SAMPLES);
  let energy = 0;
  for (let f = 0; f < 50; f++) {
    const n = codec.encode(tone(f), packet);
    t.true(n >= 1 && n <= 1275, `packet ${f}: ${n} bytes`);
    t.is(codec.decode(packet, n, out), FRAME_SAMPLES);
    if (f >= 10) for (let i = 0; i < FRAME_SAMPLES; i++) energy += out[i]! * out[i]!;
  }
  const rms = Math.sqrt(energy / (40 * FRAME_SAMPLES));
  t.true(rms > 2000 && rms < 9000, `decoded RMS ${rms.toFixed(0)} near the tone's 5657`);
  t.is(codec.encoded, 50);
  codec.close();
  codec.close();
  t.throws(() => codec.encode(tone(0), packet), (e) => e instanceof CodecError && e.code === 'CLOSED');
});

test('opus host functions: bad arguments throw, never crash; a closed handle is refused', (t) => {
  const create = native('xs_opus_create');
  const encode = native('xs_opus_encode');
  const decode = native('xs_opus_decode');
  const close = native('xs_opus_close');
  const h = create(16000, 16000, 5);
  const pcm = tone(0);
  const packet = new Uint8Array(1275);
  t.throws(() => create(16000, 16000, 11), isRange, 'complexity 11');
  t.throws(() => create(12345, 16000, 5), (e) => e instanceof Error, 'a sample rate libopus refuses');
  t.throws(() => encode(h, pcm.buffer, 1, FRAME_SAMPLES, packet), isRange, 'odd pcm offset');
  t.throws(() => encode(h, pcm.buffer, -2, FRAME_SAMPLES, packet), isRange, 'negative pcm offset');
  t.throws(() => encode(h, pcm.buffer, 2, FRAME_SAMPLES, packet), isRange, 'pcm past its buffer');
  t.throws(() => encode(h, pcm.buffer, 0, 0, packet), isRange, 'zero samples');
  t.throws(() => encode(h, pcm, 0, FRAME_SAMPLES, packet), isType, 'an Int16Array is not a byte buffer');
  t.throws(() => encode(h, pcm.buffer, 0, FRAME_SAMPLES, 'packet'), isType, 'packet not a buffer');
  // XS's own check of a host object (fxGetHostDataValidate) throws SyntaxError, on the device too
  t.throws(() => encode({}, pcm.buffer, 0, FRAME_SAMPLES, packet), (e) => e instanceof SyntaxError, 'not a codec handle');
  t.throws(() => encode(new Uint8Array(8), pcm.buffer, 0, FRAME_SAMPLES, packet), (e) => e instanceof SyntaxError, 'a buffer is not a codec handle');
  const n = encode(h, pcm.buffer, 0, FRAME_SAMPLES, packet) as number;
  const out = new Int16Array(FRAME_SAMPLES);
  t.throws(() => decode(h, packet, 0, out.buffer, 0, FRAME_SAMPLES), isRange, 'packet length 0');
  t.throws(() => decode(h, packet, 1276, out.buffer, 0, FRAME_SAMPLES), isRange, 'packet length 1276');
  t.throws(() => decode(h, packet.subarray(0, 3), 4, out.buffer, 0, FRAME_SAMPLES), isRange, 'length past the packet');
  t.throws(() => decode(h, packet, n, out.buffer, 0, FRAME_SAMPLES + 1), isRange, 'pcm too small');
  t.is(decode(h, packet, n, out.buffer, 0, FRAME_SAMPLES), FRAME_SAMPLES, 'still usable after the refusals');
  close(h);
  close(h);
  t.throws(() => encode(h, pcm.buffer, 0, FRAME_SAMPLES, packet), (e) => e instanceof Error && /closed/.test(e.message), 'closed');
});

test('opus encode at an offset within a room (into the sealer\'s plaintext): the same packet, nothing outside the room written, bad ranges refused', (t) => {
  const encode = native('xs_opus_encode');
  const create = native('xs_opus_create');
  const a = create(16000, 16000, 5);
  const b = create(16000, 16000, 5);
  const plain = new Uint8Array(2048).fill(0x5a);
  const ref = new Uint8Array(1275);
  let at = 2;
  let roomEnd = 0;
  for (let f = 0; f < 10; f++) {
    const pcm = tone(f);
    roomEnd = at + 256;
    const n = encode(a, pcm.buffer, 0, FRAME_SAMPLES, plain, at, 256) as number;
    const m = encode(b, pcm.buffer, 0, FRAME_SAMPLES, ref) as number;
    t.is(n, m);
    t.deepEqual(plain.subarray(at, at + n), ref.subarray(0, m), `frame ${f}`);
    at += n;
  }
  // libopus may use the whole room as scratch (its range coder writes from both ends): only outside the rooms is untouched
  t.true(plain.subarray(0, 2).every((x) => x === 0x5a) && plain.subarray(roomEnd).every((x) => x === 0x5a), 'outside the rooms untouched');
  const pcm = tone(0);
  t.throws(() => encode(a, pcm.buffer, 0, FRAME_SAMPLES, plain, 2049, 10), isRange, 'offset past the buffer');
  t.throws(() => encode(a, pcm.buffer, 0, FRAME_SAMPLES, plain, -1, 10), isRange, 'negative offset');
  t.throws(() => encode(a, pcm.buffer, 0, FRAME_SAMPLES, plain, 2000, 49), isRange, 'room past the buffer');
  t.throws(() => encode(a, pcm.buffer, 0, FRAME_SAMPLES, plain, 10, 0), isRange, 'no room');
  const codec = new ModdableOpusCodec();
  t.throws(() => codec.encode(pcm, plain, 1900), (e) => e instanceof CodecError && e.code === 'SIZE', 'the adapter wants MIN_ENCODE_ROOM');
  const n = codec.encode(pcm, plain, 100, 300);
  t.true(n >= 1 && n <= 300);
  codec.close();
});

test('opus: a corrupted packet is a typed DECODE error and the codec stays usable', (t) => {
  const codec = new ModdableOpusCodec();
  const out = new Int16Array(FRAME_SAMPLES);
  const junk = new Uint8Array(1275);
  junk.set([0xff, 0xff, 0xff, 0xff, 0xff]);
  t.throws(() => codec.decode(junk, 5, out), (e) => e instanceof CodecError && e.code === 'DECODE');
  const packet = new Uint8Array(1275);
  const n = codec.encode(tone(1), packet);
  t.is(codec.decode(packet, n, out), FRAME_SAMPLES);
  codec.close();
});
