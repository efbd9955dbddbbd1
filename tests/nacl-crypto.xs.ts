import { test } from './xs/harness.js';
import { naclCrypto, wireNaclRandom } from '../src/nacl-crypto.js';
import { FakeRandom } from './fakes/fake-random.js';
import nacl from 'tweetnacl';
import { PortError } from '../hal/ports.js';

test('secretbox round trip and tamper detection inside XS', (t) => {
  const key = new Uint8Array(32).fill(7);
  const nonce = new Uint8Array(24).fill(1);
  const msg = new TextEncoder().encode('hello paw');
  const box = naclCrypto.secretbox(msg, nonce, key);
  t.is(box.length, msg.length + 16);
  t.deepEqual(naclCrypto.secretboxOpen(box, nonce, key), msg);
  box[3] ^= 1;
  t.is(naclCrypto.secretboxOpen(box, nonce, key), null);
});

test('secretboxOpenInPlace equals secretboxOpen, in place; a tampered box is refused unchanged; bad arguments are typed errors', (t) => {
  const key = new Uint8Array(32).fill(9);
  const nonce = new Uint8Array(24).fill(4);
  const msg = new TextEncoder().encode('a chunk of sealed audio, opened where it lies');
  const box = naclCrypto.secretbox(msg, nonce, key);
  const buf = new Uint8Array(3 + box.length + 2).fill(0xee);
  buf.set(box, 3);
  t.true(naclCrypto.secretboxOpenInPlace!(buf, 3, msg.length, nonce, key));
  t.deepEqual(buf.subarray(3 + 16, 3 + 16 + msg.length), naclCrypto.secretboxOpen(box, nonce, key)!);
  t.true(buf[0] === 0xee && buf[2] === 0xee && buf[buf.length - 1] === 0xee && buf[buf.length - 2] === 0xee, 'outside the range untouched');
  const bad = box.slice();
  bad[20] ^= 1;
  const copy = bad.slice();
  t.false(naclCrypto.secretboxOpenInPlace!(bad, 0, msg.length, nonce, key));
  t.deepEqual(bad, copy);
  t.throws(() => naclCrypto.secretboxOpenInPlace!(new Uint8Array(20), 0, 5, nonce, key), (e) => e instanceof PortError && e.code === 'SIZE');
  t.throws(() => naclCrypto.secretboxOpenInPlace!(new Uint8Array(40), 0, 5, nonce.subarray(1), key), (e) => e instanceof PortError && e.code === 'SIZE');
  t.throws(() => naclCrypto.secretboxOpenInPlace!('box' as unknown as Uint8Array, 0, 1, nonce, key), (e) => e instanceof PortError && e.code === 'INVAL');
});

test('tweetnacl PRNG is wired to the RandomPort', (t) => {
  const r = new FakeRandom(1);
  wireNaclRandom(r);
  const b = nacl.randomBytes(8);
  t.is(b.length, 8);
  t.true(r.calls > 0);
});

test('wrong sizes are typed errors', (t) => {
  t.throws(() => naclCrypto.secretbox(new Uint8Array(1), new Uint8Array(23), new Uint8Array(32)), (e) => (e as { code?: string }).code === 'SIZE');
});

test('a value that is not a Uint8Array is PortError INVAL, as in the native adapter (hal/moddable-crypto.ts)', (t) => {
  const notBytes = 'x' as unknown as Uint8Array;
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as { code?: string }).code ?? `untyped: ${String(e)}`;
    }
    return 'no throw';
  };
  t.is(code(() => naclCrypto.secretbox(notBytes, new Uint8Array(24), new Uint8Array(32))), 'INVAL', 'secretbox message');
  t.is(code(() => naclCrypto.secretboxOpen(notBytes, new Uint8Array(24), new Uint8Array(32))), 'INVAL', 'secretboxOpen box');
  t.is(code(() => naclCrypto.onetimeauth(notBytes, new Uint8Array(32))), 'INVAL', 'onetimeauth message');
  t.is(code(() => naclCrypto.sha512([1, 2] as unknown as Uint8Array)), 'INVAL', 'sha512 of an array');
  t.is(code(() => naclCrypto.boxBefore(notBytes, new Uint8Array(32))), 'INVAL', 'boxBefore key');
  t.is(code(() => naclCrypto.signVerify(notBytes, new Uint8Array(64), new Uint8Array(32))), 'INVAL', 'signVerify message');
  t.false(naclCrypto.signVerify(new Uint8Array(1), notBytes, new Uint8Array(32)), 'a signature that is not bytes does not verify');
});
