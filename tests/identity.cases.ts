/**
 * Identity-loading cases shared by the ava tier (tests/identity.test.ts) and
 * the XS tier (tests/identity.xs.ts). Portable: the identity is built with
 * tweetnacl from a FakeRandom, stored in a MemoryStorage in the byte form an
 * NVS-backed StoragePort returns (see src/identity.ts).
 */
import nacl from 'tweetnacl';
import {
  IDENTITY_ERROR_CODES, IDENTITY_KEY_LIST, IDENTITY_KEYS as K, IdentityError, loadIdentity, makerSignedMessage,
  toyCheckString, toyIdFromBytes, tryLoadIdentity, type IdentityErrorCode,
} from '../src/identity.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { Counters } from '../src/counters.js';
import type { ToyIdentity } from '../src/pairing-service.js';
import { PortError, type StoragePort } from '../hal/ports.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { MemoryLog } from './fakes/memory-log.js';
import { FakeRandom } from './fakes/fake-random.js';
import type { CaseAssert } from './xs/harness.js';

export type MiniAssert = CaseAssert;

const enc = new TextEncoder();
const i32 = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b;
};

export interface Fixture {
  storage: MemoryStorage;
  makerPublicKey: Uint8Array;
  secrets: Uint8Array[];
  password: string;
  toyId: string;
}

const cache = new Map<number, Fixture>();

/** A fully provisioned MemoryStorage (deterministic from seed; a fresh copy each call, crypto done once). */
export function provisioned(seed = 7): Fixture {
  let f = cache.get(seed);
  if (!f) cache.set(seed, (f = build(seed)));
  const storage = new MemoryStorage();
  for (const [k, v] of f.storage.data) storage.data.set(k, v.slice());
  return { ...f, storage };
}

function build(seed: number): Fixture {
  const r = new FakeRandom(seed);
  const bytes = (n: number) => {
    const b = new Uint8Array(n);
    r.fill(b);
    return b;
  };
  const idBytes = bytes(16);
  const toyId = toyIdFromBytes(idBytes);
  const sk = bytes(32);
  const pk = nacl.box.keyPair.fromSecretKey(sk).publicKey;
  const setup = bytes(16);
  const maker = nacl.sign.keyPair.fromSeed(bytes(32));
  const sig = nacl.sign.detached(makerSignedMessage(idBytes, pk), maker.secretKey);
  const password = 'pw-' + toyIdFromBytes(bytes(16)).slice(0, 29);
  const s = new MemoryStorage();
  s.write(K.version, i32(1));
  s.write(K.toyId, enc.encode(toyId));
  s.write(K.boxSecretKey, sk);
  s.write(K.boxPublicKey, pk);
  s.write(K.setupSecret, setup);
  s.write(K.mqttUser, enc.encode(toyId));
  s.write(K.mqttPassword, enc.encode(password));
  s.write(K.mqttHost, enc.encode('mqtt.pawpost.example'));
  s.write(K.mqttPort, i32(8883));
  s.write(K.makerSignature, sig);
  s.write(K.done, Uint8Array.of(1));
  return { storage: s, makerPublicKey: maker.publicKey, secrets: [sk, setup], password, toyId };
}

function codeOf(storage: StoragePort, opts = {}): IdentityErrorCode | 'none' | string {
  try {
    loadIdentity(storage, opts);
    return 'none';
  } catch (e) {
    return e instanceof IdentityError ? e.code : `untyped:${String(e)}`;
  }
}

function hex(b: Uint8Array): string {
  return toyIdFromBytes(b);
}

const MALFORMED: [string, string, Uint8Array][] = [
  ['toy id uppercase', K.toyId, enc.encode('0123456789ABCDEF0123456789ABCDEF')],
  ['toy id short', K.toyId, enc.encode('0123456789abcdef')],
  ['secret key 31 bytes', K.boxSecretKey, new Uint8Array(31).fill(3)],
  ['secret key all zero', K.boxSecretKey, new Uint8Array(32)],
  ['public key 33 bytes', K.boxPublicKey, new Uint8Array(33).fill(3)],
  ['setup secret 15 bytes', K.setupSecret, new Uint8Array(15).fill(9)],
  ['setup secret all 0xFF', K.setupSecret, new Uint8Array(16).fill(255)],
  ['user is not the toy id', K.mqttUser, enc.encode('someone-else')],
  ['password too short', K.mqttPassword, enc.encode('short')],
  ['password with a space', K.mqttPassword, enc.encode('abcdefgh ijklmnopqrst')],
  ['host with a slash', K.mqttHost, enc.encode('mqtt/evil')],
  ['port 0', K.mqttPort, i32(0)],
  ['port 70000', K.mqttPort, i32(70000)],
  ['port 3 bytes', K.mqttPort, Uint8Array.of(1, 2, 3)],
  ['signature 63 bytes', K.makerSignature, new Uint8Array(63).fill(1)],
  ['done flag 0', K.done, Uint8Array.of(0)],
  ['done flag 2 bytes', K.done, Uint8Array.of(1, 0)],
  ['version 5 bytes', K.version, new Uint8Array(5)],
  ['broker CA 10 bytes', K.mqttCa, Uint8Array.of(0x30, 1, 2, 3, 4, 5, 6, 7, 8, 9)],
  ['broker CA not DER', K.mqttCa, new Uint8Array(300).fill(0x41)],
  ['broker CA over 2048 bytes', K.mqttCa, new Uint8Array(2049).fill(0x30)],
];

export const identityCases: [string, (t: MiniAssert) => void][] = [
  [
    'the optional broker CA (mqtt_ca) loads when present and is absent otherwise',
    (t) => {
      const f = provisioned();
      t.is(loadIdentity(f.storage).mqttCa, undefined);
      const der = new Uint8Array(600).fill(7);
      der[0] = 0x30;
      f.storage.write(K.mqttCa, der);
      t.deepEqual(loadIdentity(f.storage).mqttCa, der);
    },
  ],
  [
    'a provisioned storage loads, is counted, and logs no secret',
    (t) => {
      const f = provisioned();
      const counters = new Counters();
      const log = new MemoryLog();
      const id = loadIdentity(f.storage, { counters, log, crypto: naclCrypto, makerPublicKey: f.makerPublicKey });
      t.is(id.toyId, f.toyId);
      t.is(id.mqttUser, f.toyId);
      t.is(id.mqttPassword, f.password);
      t.is(id.mqttHost, 'mqtt.pawpost.example');
      t.is(id.mqttPort, 8883);
      t.deepEqual(id.secretKey, f.secrets[0]);
      t.deepEqual(id.setupSecret, f.secrets[1]);
      t.is(counters.get('identity.ok'), 1);
      t.is(counters.get('identity.error'), 0);
      const text = log.text();
      t.true(text.includes('identity.loaded'), 'one log line');
      for (const s of f.secrets) t.true(!text.includes(hex(s)), 'no secret in the log');
      t.true(!text.includes(f.password), 'no password in the log');
      // An Identity is what the pairing service takes.
      const asPairing: ToyIdentity = id;
      t.is(asPairing.publicKey.length, 32);
    },
  ],
  [
    'blank storage: NOT_PROVISIONED, counted and logged with the code',
    (t) => {
      const counters = new Counters();
      const log = new MemoryLog();
      const r = tryLoadIdentity(new MemoryStorage(), { counters, log });
      t.is(r.ok, false);
      if (!r.ok) t.is(r.error.code, 'NOT_PROVISIONED');
      t.is(counters.get('identity.error.NOT_PROVISIONED'), 1);
      t.is(log.lines.length, 1);
      t.is(log.lines[0]!.event, 'identity.invalid');
      t.is(log.lines[0]!.fields?.code, 'NOT_PROVISIONED');
    },
  ],
  [
    'every missing key is MISSING and names the key',
    (t) => {
      for (const key of IDENTITY_KEY_LIST) {
        const f = provisioned();
        f.storage.remove(key);
        const r = tryLoadIdentity(f.storage);
        t.is(r.ok, false, key);
        if (!r.ok) {
          t.is(r.error.code, 'MISSING', key);
          t.is(r.error.key, key);
        }
      }
    },
  ],
  [
    'malformed values are MALFORMED with the key, and the message holds no value',
    (t) => {
      for (const [what, key, value] of MALFORMED) {
        const f = provisioned();
        f.storage.write(key, value);
        const counters = new Counters();
        const r = tryLoadIdentity(f.storage, { counters });
        t.is(r.ok, false, what);
        if (!r.ok) {
          t.is(r.error.code, 'MALFORMED', what);
          t.is(r.error.key, key, what);
          for (const s of f.secrets) t.true(!r.error.message.includes(hex(s)), `${what}: no secret in the message`);
          t.true(!r.error.message.includes(f.password), `${what}: no password in the message`);
        }
        t.is(counters.get('identity.error.MALFORMED'), 1, what);
      }
    },
  ],
  [
    'an unknown layout version is VERSION',
    (t) => {
      const f = provisioned();
      f.storage.write(K.version, i32(2));
      t.is(codeOf(f.storage), 'VERSION');
      f.storage.remove(K.toyId); // even with keys missing, the version is reported first
      t.is(codeOf(f.storage), 'VERSION');
    },
  ],
  [
    'with a crypto port: a public key of another secret is MISMATCH',
    (t) => {
      const f = provisioned();
      const other = provisioned(99);
      f.storage.write(K.boxPublicKey, other.storage.read(K.boxPublicKey)!);
      t.is(codeOf(f.storage), 'none', 'not checked without crypto');
      t.is(codeOf(f.storage, { crypto: naclCrypto }), 'MISMATCH');
    },
  ],
  [
    'with the maker key: a signature by another maker, or over another id, is SIGNATURE',
    (t) => {
      const f = provisioned();
      const other = provisioned(99);
      t.is(codeOf(f.storage, { crypto: naclCrypto, makerPublicKey: other.makerPublicKey }), 'SIGNATURE');
      const g = provisioned();
      g.storage.write(K.makerSignature, other.storage.read(K.makerSignature)!);
      t.is(codeOf(g.storage, { crypto: naclCrypto, makerPublicKey: g.makerPublicKey }), 'SIGNATURE');
    },
  ],
  [
    'a storage that fails to read is IO, never an untyped exception',
    (t) => {
      const f = provisioned();
      const broken: StoragePort = {
        read: () => {
          throw new PortError('IO', 'flash read failed');
        },
        write: () => undefined,
        remove: () => undefined,
        keys: () => [],
      };
      t.is(codeOf(broken), 'IO');
      const weird: StoragePort = { ...broken, read: () => 'not bytes' as unknown as Uint8Array };
      t.is(codeOf(weird), 'MALFORMED');
      t.is(codeOf(f.storage), 'none');
    },
  ],
  [
    'tryLoadIdentity never throws, even when the log throws',
    (t) => {
      const log = { log: () => { throw new Error('log broke'); } };
      const r = tryLoadIdentity(new MemoryStorage(), { log });
      t.is(r.ok, false);
      const f = provisioned();
      t.is(tryLoadIdentity(f.storage, { log }).ok, true);
    },
  ],
  [
    'maker signed message and check string layouts',
    (t) => {
      const id = Uint8Array.from({ length: 16 }, (_, i) => i);
      const pk = Uint8Array.from({ length: 32 }, (_, i) => 100 + i);
      const m = makerSignedMessage(id, pk);
      t.is(m.length, 62);
      t.is(String.fromCharCode(...m.subarray(0, 14)), 'PawPost toy v1');
      t.deepEqual(m.subarray(14, 30), id);
      t.deepEqual(m.subarray(30), pk);
      const c = toyCheckString(naclCrypto, id, pk);
      t.true(/^[A-Z2-7]{4}-[A-Z2-7]{4}$/.test(c), c);
      const pk2 = pk.slice();
      pk2[0] ^= 1;
      t.true(toyCheckString(naclCrypto, id, pk2) !== c, 'depends on the key');
      t.is(IDENTITY_ERROR_CODES.length, 7);
      for (const key of IDENTITY_KEY_LIST) t.true(key.length <= 15, `${key} fits NVS`);
    },
  ],
];
