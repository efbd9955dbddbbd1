import test from 'ava';
import sodium from 'libsodium-wrappers';
import { isSmallOrderKey } from '../src/key-checks.js';

// libsodium refuses (throws) crypto_scalarmult with a small-order point: the list must agree with it.
test('isSmallOrderKey agrees with libsodium on its blacklist and on random keys', async (t) => {
  await sodium.ready;
  const secret = sodium.randombytes_buf(32);
  const refused = (pk: Uint8Array) => {
    try {
      sodium.crypto_scalarmult(secret, pk);
      return false;
    } catch {
      return true;
    }
  };
  const hex = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ];
  for (const h of hex) {
    const pk = sodium.from_hex(h);
    t.true(refused(pk), `libsodium refuses ${h.slice(0, 8)}`);
    t.true(isSmallOrderKey(pk), `flagged ${h.slice(0, 8)}`);
  }
  for (let i = 0; i < 200; i++) {
    const pk = sodium.crypto_box_keypair().publicKey;
    t.is(isSmallOrderKey(pk), refused(pk));
  }
});
