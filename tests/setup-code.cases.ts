/**
 * Setup-code cases shared by the ava tier (tests/setup-code.test.ts) and the XS
 * tier (tests/setup-code.xs.ts). Portable. Each case gets a tiny assert surface.
 */
import { base32Decode, base32Encode, formatSetupCode, parseSetupCode, SETUP_CODE_LENGTH, SETUP_CODE_LENGTH_V1, SetupCodeError, toyIdBytes } from '../src/setup-code.js';
import type { CaseAssert } from './xs/harness.js';

export type MiniAssert = CaseAssert;

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return e instanceof SetupCodeError ? e.code : `untyped:${String(e)}`;
  }
  return 'none';
};

const SECRET = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
const ID = '0123456789abcdef0123456789abcdef';
const KEY_HASH = Uint8Array.from({ length: 16 }, (_, i) => 255 - i * 13);

export const setupCodeCases: [string, (t: MiniAssert) => void][] = [
  [
    'RFC 4648 base32 test vectors (unpadded)',
    (t) => {
      const enc = new TextEncoder();
      const want: [string, string][] = [['', ''], ['f', 'MY'], ['fo', 'MZXQ'], ['foo', 'MZXW6'], ['foob', 'MZXW6YQ'], ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI']];
      for (const [plain, b32] of want) {
        t.is(base32Encode(enc.encode(plain)), b32, plain);
        t.deepEqual(base32Decode(b32), enc.encode(plain), b32);
        t.deepEqual(base32Decode(b32.toLowerCase()), enc.encode(plain), `${b32} lowercase`);
      }
    },
  ],
  [
    'PP2 (with the toy key hash) round-trips, 90 characters, uppercase, QR alphanumeric only',
    (t) => {
      const s = formatSetupCode({ toyId: ID, setupSecret: SECRET, toyKeyHash: KEY_HASH });
      t.is(s.length, SETUP_CODE_LENGTH);
      t.is(SETUP_CODE_LENGTH, 90, 'fits QR version 4-M in alphanumeric mode (90 characters)');
      t.true(/^[0-9A-Z:]+$/.test(s), 'alphanumeric QR set');
      t.is(s.slice(0, 37), `PP2:${ID.toUpperCase()}:`);
      const p = parseSetupCode(s);
      t.is(p.toyId, ID);
      t.deepEqual(p.setupSecret, SECRET);
      t.deepEqual(p.toyKeyHash, KEY_HASH);
      t.deepEqual(parseSetupCode(s.toLowerCase()).toyKeyHash, KEY_HASH, 'typed in lowercase');
    },
  ],
  [
    'PP1 (older labels, no key hash) round-trips, 63 characters, uppercase, QR alphanumeric only',
    (t) => {
      const s = formatSetupCode({ toyId: ID, setupSecret: SECRET });
      t.is(s.length, SETUP_CODE_LENGTH_V1);
      t.is(parseSetupCode(s).toyKeyHash, undefined);
      t.true(/^[0-9A-Z:]+$/.test(s), 'alphanumeric QR set');
      t.is(s.slice(0, 37), `PP1:${ID.toUpperCase()}:`);
      const p = parseSetupCode(s);
      t.is(p.toyId, ID);
      t.deepEqual(p.setupSecret, SECRET);
      t.deepEqual(parseSetupCode(s.toLowerCase()).setupSecret, SECRET, 'typed in lowercase');
      for (let k = 0; k < 50; k++) {
        const sec = Uint8Array.from({ length: 16 }, (_, i) => (i * 31 + k * 7 + k * k) & 255);
        t.deepEqual(parseSetupCode(formatSetupCode({ toyId: ID, setupSecret: sec })).setupSecret, sec);
      }
    },
  ],
  [
    'malformed codes are typed errors',
    (t) => {
      const good = formatSetupCode({ toyId: ID, setupSecret: SECRET });
      const cases: [string, string][] = [
        ['', 'LENGTH'],
        [good + 'A', 'LENGTH'],
        [good.slice(0, -1), 'LENGTH'],
        ['PP2' + good.slice(3), 'LENGTH'], // a PP2 code is 90 characters
        ['XX1:' + good.slice(4), 'PREFIX'],
        [good.slice(0, 36) + '-' + good.slice(37), 'FORMAT'],
        [good.slice(0, 10) + 'G' + good.slice(11), 'TOY_ID'],
        [good.slice(0, 40) + '1' + good.slice(41), 'SECRET'], // '1' is not base32
        [good.slice(0, 40) + '=' + good.slice(41), 'SECRET'],
        [good.slice(0, 62) + '7', 'SECRET'], // non-zero pad bits: a second spelling
        [' ' + good.slice(1), 'PREFIX'],
      ];
      const v2 = formatSetupCode({ toyId: ID, setupSecret: SECRET, toyKeyHash: KEY_HASH });
      cases.push(
        ['PP1' + v2.slice(3), 'LENGTH'],
        [v2.slice(0, 63) + '-' + v2.slice(64), 'FORMAT'],
        [v2.slice(0, 70) + '1' + v2.slice(71), 'SECRET'],
        [v2.slice(0, 89) + '7', 'SECRET'], // non-zero pad bits in the key hash
        ['PP3' + v2.slice(3), 'PREFIX'],
      );
      for (const [s, want] of cases) t.is(codeOf(() => parseSetupCode(s)), want, JSON.stringify(s.slice(0, 12)));
      t.is(codeOf(() => formatSetupCode({ toyId: ID, setupSecret: SECRET, toyKeyHash: new Uint8Array(15) })), 'LENGTH');
      t.is(codeOf(() => parseSetupCode(42 as unknown as string)), 'FORMAT');
      t.is(codeOf(() => formatSetupCode({ toyId: 'abc', setupSecret: SECRET })), 'TOY_ID');
      t.is(codeOf(() => formatSetupCode({ toyId: ID, setupSecret: new Uint8Array(15) })), 'LENGTH');
      t.is(codeOf(() => toyIdBytes(ID.toUpperCase())), 'TOY_ID');
      t.is(codeOf(() => base32Decode('A')), 'SECRET');
    },
  ],
  [
    'error messages never carry the secret',
    (t) => {
      const good = formatSetupCode({ toyId: ID, setupSecret: SECRET });
      const secretPart = good.slice(37);
      try {
        parseSetupCode(good.slice(0, 62) + '7');
      } catch (e) {
        t.true(!(e as Error).message.includes(secretPart.slice(0, 8)));
      }
    },
  ],
];
