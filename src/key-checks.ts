/**
 * Checks on X25519 public keys that come from outside (pairing, roster, envelope).
 *
 * A public key of small order makes every X25519 result with it one of a few
 * constants that anyone can compute, whatever the other side's secret: a
 * "shared" key that is not secret. Such keys are refused wherever a peer key
 * enters. The list is libsodium's (crypto_scalarmult/curve25519 blacklist):
 * the points of order 1, 2, 4 and 8 and their non-canonical encodings
 * (u + p). The top bit of the last byte is ignored, as X25519 ignores it.
 *
 * Portable: no host module.
 */

const HEX_BLACKLIST = [
  // 0 (order 4)
  '0000000000000000000000000000000000000000000000000000000000000000',
  // 1 (order 1)
  '0100000000000000000000000000000000000000000000000000000000000000',
  // 325606250916557431795983626356110631294008115727848805560023387167927233504 (order 8)
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  // 39382357235489614581723060781553021112529911719440698176882885853963445705823 (order 8)
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  // p - 1 (order 2)
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  // p (=0, order 4)
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  // p + 1 (=1, order 1)
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];

function fromHex(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const BLACKLIST: Uint8Array[] = HEX_BLACKLIST.map(fromHex);

/**
 * True when `key` (32 bytes) is an X25519 public key of small order, or is
 * not 32 bytes at all. Constant-time over the list (no early exit per byte).
 */
export function isSmallOrderKey(key: Uint8Array): boolean {
  if (!(key instanceof Uint8Array) || key.length !== 32) return true;
  let found = 0;
  for (let k = 0; k < BLACKLIST.length; k++) {
    const b = BLACKLIST[k]!;
    let diff = 0;
    for (let i = 0; i < 31; i++) diff |= key[i]! ^ b[i]!;
    diff |= (key[31]! & 0x7f) ^ b[31]!;
    found |= diff === 0 ? 1 : 0;
  }
  return found === 1;
}
