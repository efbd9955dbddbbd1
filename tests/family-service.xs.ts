// The toy's receipts (src/family-service.ts) with kept note keys, one note buffer
// sealed in place and note numbers reserved in blocks (issue 13, heap slots per
// receipt), in XS and in Node: every note still opens at the phone
// (phone/phone-family.ts) and only there; a roster change drops and zeroes the
// kept keys, so a member removed and added again gets notes under its new key;
// numbers keep rising across a restart and a failed reservation sends nothing.
// The allocation figures are in bench/probe-receipt.ts, not here.
import { test, type XsAssert } from './xs/harness.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { Counters } from '../src/counters.js';
import { Roster } from '../src/roster.js';
import { RosterKeys } from '../src/envelope-keys.js';
import { FamilyService, NOTE_SEQ_BLOCK, NOTE_SEQ_KEY } from '../src/family-service.js';
import {
  FamilyNoteError,
  NOTE_BODY_AT,
  NOTE_BYTES,
  encodeNoteBody,
  encodeReceiptBodyHex,
  sealNote,
  sealNoteInPlace,
} from '../src/family-note.js';
import { readU32 } from '../src/envelope-format.js';
import { PhoneFamily } from '../phone/phone-family.js';
import type { CryptoPort } from '../hal/ports.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { ManualClock } from './fakes/manual-clock.js';
import { FakeRandom } from './fakes/fake-random.js';

const TOY_SECRET = new Uint8Array(32).fill(7);
const KEY_A = '00112233445566778899aabbccddeeff';
const KEY_B = 'A0B1C2D3E4F5061728394A5B6C7D8E9F';

/** A crypto port that counts SHA-512 calls (each noteKey is one) and keeps the keys it sealed under (lent by the service). */
function spyCrypto(inPlace = true): { crypto: CryptoPort; sha512s: () => number; sealKeys: Uint8Array[] } {
  let n = 0;
  const sealKeys: Uint8Array[] = [];
  const nc = naclCrypto; // a plain object (tweetnacl) or a class instance (the native port): forward method by method
  const c: CryptoPort = {
    boxKeyPairFromSecret: (s) => nc.boxKeyPairFromSecret(s),
    boxBefore: (p, s) => nc.boxBefore(p, s),
    secretboxOpen: (b, nonce, key) => nc.secretboxOpen(b, nonce, key),
    onetimeauth: (m, key) => nc.onetimeauth(m, key),
    scalarMult: (s, p) => nc.scalarMult(s, p),
    signVerify: (m, sig, pk) => nc.signVerify(m, sig, pk),
    sha512: (m) => {
      n++;
      return naclCrypto.sha512(m);
    },
    secretbox: (m, nonce, key) => {
      sealKeys.push(key);
      return naclCrypto.secretbox(m, nonce, key);
    },
  };
  c.secretboxInPlace = inPlace
    ? (buf, offset, length, nonce, key) => {
        sealKeys.push(key);
        naclCrypto.secretboxInPlace!(buf, offset, length, nonce, key);
      }
    : undefined;
  return { crypto: c, sha512s: () => n, sealKeys };
}

/** A toy's family service on a real roster and the envelope's key cache (as src/app.ts wires them); notes land in `sent` (copied). */
function toyFamily(opts: { storage?: MemoryStorage; crypto?: CryptoPort; roster?: Roster } = {}) {
  const storage = opts.storage ?? new MemoryStorage();
  const crypto = opts.crypto ?? naclCrypto;
  const clock = new ManualClock();
  const random = new FakeRandom(5);
  const counters = new Counters();
  const roster = opts.roster ?? new Roster(storage);
  const toy = naclCrypto.boxKeyPairFromSecret(TOY_SECRET);
  const keys = new RosterKeys(roster, crypto, toy.secretKey, toy.publicKey);
  const sent: Uint8Array[] = [];
  const family = new FamilyService({
    crypto,
    random,
    storage,
    clock,
    roster,
    sharedKeyFor: (pk) => keys.sharedKeyFor(pk),
    toyPublicKey: toy.publicKey,
    send: (n) => {
      sent.push(n.slice()); // the note is lent (the outbox copies it too)
      return 'OK';
    },
    counters,
  });
  return { family, roster, storage, clock, random, counters, sent, toyPublicKey: toy.publicKey };
}

/** A phone of the family: its key pair from `seed`, its side of the notes (phone/phone-family.ts). */
function phoneOf(seed: number, toyPublicKey: Uint8Array, clock: ManualClock, random: FakeRandom) {
  const secretKey = new Uint8Array(32).fill(seed);
  const publicKey = naclCrypto.boxKeyPairFromSecret(secretKey).publicKey;
  const fam = new PhoneFamily({ crypto: naclCrypto, random, clock, secretKey, toyPublicKey });
  return { publicKey, fam };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'none';
  } catch (e) {
    return e instanceof FamilyNoteError ? e.code : 'other';
  }
}

function opensAs(t: XsAssert, fam: PhoneFamily, note: Uint8Array, messageId: string, state: 'delivered' | 'heard', what: string): number {
  const n = fam.openToyNote(note);
  t.is(n.kind, 'receipt', what);
  if (n.kind === 'receipt') {
    t.is(n.messageId, messageId.toLowerCase(), `${what}: message id`);
    t.is(n.state, state, `${what}: state`);
  }
  return n.seq;
}

// ---------------------------------------------------------------- the allocation-free note parts

test('a receipt body from the hex key is the body encodeNoteBody makes; a key that is not 32 hex digits is MALFORMED and leaves no body', (t) => {
  const out = new Uint8Array(NOTE_BYTES).fill(0xee);
  encodeReceiptBodyHex(out, NOTE_BODY_AT, 77, 1_790_000_000_000, KEY_B, 'heard');
  const id = new Uint8Array(16);
  for (let i = 0; i < 16; i++) id[i] = parseInt(KEY_B.slice(2 * i, 2 * i + 2), 16);
  t.deepEqual([...out.subarray(NOTE_BODY_AT)], [...encodeNoteBody(77, 1_790_000_000_000, { kind: 'receipt', messageId: id, state: 'heard' })]);
  t.deepEqual([...out.subarray(0, NOTE_BODY_AT)], new Array(NOTE_BODY_AT).fill(0xee), 'nothing before the body is touched');
  for (const bad of [KEY_A.slice(1), KEY_A + '0', KEY_A.slice(0, 31) + 'g', ' ' + KEY_A.slice(1), '', 42 as unknown as string]) {
    const b = new Uint8Array(NOTE_BYTES).fill(0xee);
    t.is(codeOf(() => encodeReceiptBodyHex(b, NOTE_BODY_AT, 1, 0, bad, 'delivered')), 'MALFORMED', `key ${String(bad)}`);
    t.true(b.subarray(NOTE_BODY_AT).every((x) => x === 0 || x === 0xee), 'no half-written body');
    t.true(b.subarray(NOTE_BODY_AT + 9, NOTE_BODY_AT + 25).every((x) => x === 0 || x === 0xee), 'no message id bytes');
  }
  t.is(codeOf(() => encodeReceiptBodyHex(new Uint8Array(NOTE_BYTES), NOTE_BODY_AT, 0, 0, KEY_A, 'heard')), 'MALFORMED', 'seq 0');
  t.is(codeOf(() => encodeReceiptBodyHex(new Uint8Array(NOTE_BYTES - 1), NOTE_BODY_AT, 1, 0, KEY_A, 'heard')), 'MALFORMED', 'a short buffer');
});

test('a note sealed in place is byte for byte the note sealNote makes, with and without the port\'s secretboxInPlace', (t) => {
  const key = new Uint8Array(32).fill(3);
  const sender = new Uint8Array(32).fill(4);
  const nonce = new Uint8Array(24).fill(5);
  const body = encodeNoteBody(9, 0, { kind: 'receipt', messageId: new Uint8Array(16).fill(6), state: 'delivered' });
  const expected = sealNote(naclCrypto, key, sender, nonce, body);
  for (const inPlace of [true, false]) {
    const { crypto, sealKeys } = spyCrypto(inPlace);
    const note = new Uint8Array(NOTE_BYTES);
    note.set(body, NOTE_BODY_AT);
    sealNoteInPlace(crypto, key, sender, nonce, note);
    t.deepEqual([...note], [...expected], inPlace ? 'in place' : 'secretbox fallback');
    t.is(sealKeys.length, 1);
  }
  t.is(codeOf(() => sealNoteInPlace(naclCrypto, key, sender, nonce, new Uint8Array(NOTE_BYTES + 1))), 'MALFORMED');
  t.is(codeOf(() => sealNoteInPlace(naclCrypto, key, sender, new Uint8Array(23), new Uint8Array(NOTE_BYTES))), 'MALFORMED');
});

// ---------------------------------------------------------------- kept note keys

test('receipts under a kept note key open at the phone, one key worked out per member; another member cannot open them', (t) => {
  const spy = spyCrypto();
  const f = toyFamily({ crypto: spy.crypto });
  const mum = phoneOf(0x21, f.toyPublicKey, f.clock, f.random);
  const dad = phoneOf(0x22, f.toyPublicKey, f.clock, f.random);
  // shared keys cached from pairing: the roster does not change during the receipts
  f.roster.add({ id: 'mum', name: 'Mum', publicKey: mum.publicKey, sharedKey: naclCrypto.boxBefore(mum.publicKey, TOY_SECRET) });
  f.roster.add({ id: 'dad', name: 'Dad', publicKey: dad.publicKey, sharedKey: naclCrypto.boxBefore(dad.publicKey, TOY_SECRET) });
  const before = spy.sha512s();
  f.family.receipt(mum.publicKey, KEY_A, 'delivered'); // works the key out
  const afterFirst = spy.sha512s();
  f.family.receipt(mum.publicKey, KEY_A, 'heard'); // kept key
  f.family.receipt(mum.publicKey, KEY_B, 'delivered');
  f.family.receipt(dad.publicKey, KEY_B, 'heard');
  f.family.receipt(dad.publicKey, KEY_A, 'delivered');
  t.is(afterFirst - before, 3, 'the first receipt works the keys out (the envelope\'s two pair keys, the note key)');
  t.is(spy.sha512s() - afterFirst, 3, 'then Dad\'s first only: no SHA-512 for a kept key');
  t.is(f.sent.length, 5);
  t.is(f.counters.get('family.receipt_delivered'), 3);
  t.is(f.counters.get('family.receipt_heard'), 2);
  t.is(f.counters.get('family.note_failed'), 0);
  const seqs = [
    opensAs(t, mum.fam, f.sent[0]!, KEY_A, 'delivered', 'first'),
    opensAs(t, mum.fam, f.sent[1]!, KEY_A, 'heard', 'kept key'),
    opensAs(t, mum.fam, f.sent[2]!, KEY_B, 'delivered', 'kept key, upper-case hex'),
  ];
  t.deepEqual(seqs, [1, 2, 3], 'numbers rise');
  t.is(opensAs(t, dad.fam, f.sent[3]!, KEY_B, 'heard', 'Dad'), 4);
  t.is(opensAs(t, dad.fam, f.sent[4]!, KEY_A, 'delivered', 'Dad, kept key'), 5);
  for (const n of f.sent.slice(0, 3)) t.is(codeOf(() => dad.fam.openToyNote(n)), 'AUTH', 'not for Dad');
  const nonces = new Set(f.sent.map((n) => Array.from(n.subarray(33, 57)).join(',')));
  t.is(nonces.size, 5, 'a fresh nonce per note');
  // a receipt for a stranger, or a bad key: nothing sent, counted
  f.family.receipt(new Uint8Array(32).fill(9), KEY_A, 'heard');
  f.family.receipt(mum.publicKey, 'not a key', 'heard');
  t.is(f.sent.length, 5);
  t.is(f.counters.get('family.receipt_no_member'), 1);
  t.is(f.counters.get('family.note_failed'), 1);
});

test('a member removed and added again with a new phone gets receipts under its new key; the old kept key is zeroed', (t) => {
  const spy = spyCrypto();
  const f = toyFamily({ crypto: spy.crypto });
  const mum = phoneOf(0x21, f.toyPublicKey, f.clock, f.random);
  const dad = phoneOf(0x22, f.toyPublicKey, f.clock, f.random);
  f.roster.add({ id: 'mum', name: 'Mum', publicKey: mum.publicKey });
  f.roster.add({ id: 'dad', name: 'Dad', publicKey: dad.publicKey });
  f.family.receipt(dad.publicKey, KEY_A, 'delivered');
  f.family.receipt(dad.publicKey, KEY_A, 'heard');
  const dadKey = spy.sealKeys[1]!;
  t.is(spy.sealKeys[0], dadKey, 'the second receipt used the kept key');
  t.true(dadKey.some((x) => x !== 0));
  opensAs(t, dad.fam, f.sent[1]!, KEY_A, 'heard', 'the old phone');

  // Dad's phone is reset: removed, then added again under the same id (and the same place in the list) with a new key.
  // The roster changes behind the service's back (no memberChanged): the new member list alone must drop the kept keys.
  f.roster.remove('dad');
  const newDad = phoneOf(0x23, f.toyPublicKey, f.clock, f.random);
  f.roster.add({ id: 'dad', name: 'Dad', publicKey: newDad.publicKey });
  f.family.receipt(dad.publicKey, KEY_B, 'delivered');
  t.is(f.counters.get('family.receipt_no_member'), 1, 'the old key is no member any more');
  f.family.receipt(newDad.publicKey, KEY_B, 'delivered');
  t.is(f.sent.length, 3);
  t.is(codeOf(() => dad.fam.openToyNote(f.sent[2]!)), 'AUTH', 'the old phone cannot open it');
  opensAs(t, newDad.fam, f.sent[2]!, KEY_B, 'delivered', 'the new phone');
  t.not(spy.sealKeys[2], dadKey);
  t.true(dadKey.every((x) => x === 0), 'the dropped key was zeroed');

  // a member notice, a factory reset (forgetKeys) and close() zero the kept keys too
  const mumFirst = spy.sealKeys.length;
  f.family.receipt(mum.publicKey, KEY_A, 'heard');
  const mumKey = spy.sealKeys[mumFirst]!;
  f.family.memberChanged('removed', 'nobody');
  t.true(mumKey.every((x) => x === 0), 'zeroed by a member notice');
  f.family.receipt(mum.publicKey, KEY_A, 'heard');
  const again = spy.sealKeys[spy.sealKeys.length - 1]!;
  f.family.forgetKeys();
  t.true(again.every((x) => x === 0), 'zeroed by forgetKeys');
  f.family.receipt(mum.publicKey, KEY_B, 'heard');
  const last = spy.sealKeys[spy.sealKeys.length - 1]!;
  f.family.close();
  t.true(last.every((x) => x === 0), 'zeroed by close');
  opensAs(t, mum.fam, f.sent[f.sent.length - 1]!, KEY_B, 'heard', 'Mum after the changes');
});

test('a member whose shared key is worked out at its first receipt (stored in the roster then) gets a note that opens', (t) => {
  const f = toyFamily();
  const mum = phoneOf(0x21, f.toyPublicKey, f.clock, f.random);
  f.roster.add({ id: 'mum', name: 'Mum', publicKey: mum.publicKey }); // no cached shared key: setSharedKey makes a new member list
  const list = f.roster.list();
  f.family.receipt(mum.publicKey, KEY_A, 'delivered');
  t.not(f.roster.list(), list, 'the roster changed during the receipt');
  f.family.receipt(mum.publicKey, KEY_A, 'heard');
  t.is(f.sent.length, 2);
  opensAs(t, mum.fam, f.sent[0]!, KEY_A, 'delivered', 'first');
  opensAs(t, mum.fam, f.sent[1]!, KEY_A, 'heard', 'kept');
});

// ---------------------------------------------------------------- note numbers

test('note numbers are reserved in blocks before use: they rise across a restart; a failed reservation sends nothing and the next receipt tries again', (t) => {
  const storage = new MemoryStorage();
  let f = toyFamily({ storage });
  const mum = phoneOf(0x21, f.toyPublicKey, f.clock, f.random);
  f.roster.add({ id: 'mum', name: 'Mum', publicKey: mum.publicKey });
  const writes0 = storage.writes;
  for (let i = 0; i < 3; i++) f.family.receipt(mum.publicKey, KEY_A, 'delivered');
  t.is(readU32(storage.read(NOTE_SEQ_KEY)!, 0), NOTE_SEQ_BLOCK, 'a block reserved before the first note');
  t.is(storage.writes - writes0 - 1, 1, 'one counter write for three notes (and the roster\'s shared key)');
  t.deepEqual(f.sent.map((n) => mum.fam.openToyNote(n).seq), [1, 2, 3]);

  // a restart: the rest of the block is skipped, the numbers still rise
  f = toyFamily({ storage, roster: new Roster(storage) });
  f.family.receipt(mum.publicKey, KEY_A, 'heard');
  t.is(mum.fam.openToyNote(f.sent[0]!).seq, NOTE_SEQ_BLOCK + 1);
  for (let i = 1; i < NOTE_SEQ_BLOCK; i++) f.family.receipt(mum.publicKey, KEY_A, 'heard');
  t.is(f.sent.length, NOTE_SEQ_BLOCK, 'the block is used up');
  // the next note needs a reservation: the storage fails (power cut), nothing is sent
  storage.failAfter = 0;
  f.family.receipt(mum.publicKey, KEY_B, 'heard');
  t.is(f.sent.length, NOTE_SEQ_BLOCK);
  t.is(f.counters.get('family.note_failed'), 1);
  t.is(readU32(storage.read(NOTE_SEQ_KEY)!, 0), 2 * NOTE_SEQ_BLOCK);
  storage.failAfter = -1;
  f.family.receipt(mum.publicKey, KEY_B, 'heard');
  t.is(readU32(storage.read(NOTE_SEQ_KEY)!, 0), 3 * NOTE_SEQ_BLOCK);
  let last = 0;
  for (const n of f.sent.slice(1)) last = mum.fam.openToyNote(n).seq; // each above the one before (else STALE)
  t.is(last, 2 * NOTE_SEQ_BLOCK + 1);
  // an exhausted counter: MALFORMED never, a counted failure, nothing sent
  storage.write(NOTE_SEQ_KEY, Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  f = toyFamily({ storage, roster: new Roster(storage) });
  f.family.receipt(mum.publicKey, KEY_A, 'heard');
  t.is(f.sent.length, 0);
  t.is(f.counters.get('family.note_failed'), 1);
});
