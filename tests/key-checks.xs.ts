import { test } from './xs/harness.js';
import nacl from 'tweetnacl';
import { isSmallOrderKey } from '../src/key-checks.js';

test('small-order X25519 keys are flagged, with or without the top bit', (t) => {
  const one = new Uint8Array(32);
  one[0] = 1;
  t.true(isSmallOrderKey(one), 'u = 1');
  t.true(isSmallOrderKey(new Uint8Array(32)), 'u = 0');
  const top = one.slice();
  top[31] = 0x80;
  t.true(isSmallOrderKey(top), 'u = 1 with the ignored top bit set');
  t.true(isSmallOrderKey(new Uint8Array(31)), 'wrong length');
});

test('every flagged key gives an all-zero X25519 result; random keys are not flagged', (t) => {
  const secret = new Uint8Array(32);
  for (let i = 0; i < 32; i++) secret[i] = (i * 29 + 7) & 0xff;
  const kp = nacl.box.keyPair.fromSecretKey(secret);
  t.false(isSmallOrderKey(kp.publicKey), 'a real public key');
  // Small-order points give a zero shared secret with any clamped scalar.
  const p1 = new Uint8Array(32);
  p1[0] = 1;
  t.true(nacl.scalarMult(secret, p1).every((b) => b === 0), 'u = 1 gives zero');
  for (let i = 0; i < 20; i++) {
    const s = new Uint8Array(32);
    for (let j = 0; j < 32; j++) s[j] = (i * 131 + j * 17 + 3) & 0xff;
    t.false(isSmallOrderKey(nacl.box.keyPair.fromSecretKey(s).publicKey), `key ${i}`);
  }
});
