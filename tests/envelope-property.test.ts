/**
 * Property tests (fast-check): whatever bytes reach the opener, it either
 * returns exactly the packets that were sealed at that position of that
 * message, or throws an EnvelopeError — never another exception, never other
 * audio. 10,000 mutated streams + 3,000 arbitrary byte strings + round trips.
 */
import test from 'ava';
import fc from 'fast-check';
import { naclCrypto } from '../src/nacl-crypto.js';
import { EnvelopeError, EnvelopeOpener, MAX_CHUNK_BYTES, ReplayGuard, pairKey, peekChunk, readChunkHeader, type OpenedChunk } from '../src/envelope.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { World, makePackets, samePackets, sealAll } from './envelope-world.js';

const w = new World(['mum', 'dad'], { packetsPerChunk: 4 });
const mum = w.phones[0]!;
/** Mum's receive key for toy → family messages: K(toy→mum). */
const mumRx = pairKey(naclCrypto, mum.sharedKey, w.toyPublic, mum.publicKey);
/** Sealed messages (mum → toy, and toy → family for a second opener) and what each chunk holds. */
const toToy = [1, 2, 3].map((seed) => {
  const packets = makePackets(4 * seed + 1, seed, 1, 50);
  return { chunks: sealAll(mum.env.begin(), packets), packets };
});
const toFamily = [4, 5].map((seed) => {
  const packets = makePackets(9, seed, 1, 50);
  return { chunks: sealAll(w.toy.begin(), packets), packets };
});
const expected = new Map<string, Uint8Array[][]>();
const sealedBytes = new Map<string, Uint8Array[]>();
for (const m of [...toToy, ...toFamily]) {
  sealedBytes.set(peekChunk(m.chunks[0]!)!.messageKey, m.chunks);
  const perChunk: Uint8Array[][] = [];
  for (let i = 0; i < m.chunks.length; i++) perChunk.push(m.packets.slice(i * 4, i * 4 + 4));
  expected.set(peekChunk(m.chunks[0]!)!.messageKey, perChunk);
}
const allChunks = [...toToy, ...toFamily].flatMap((m) => m.chunks);

type Mutation =
  | { kind: 'none' }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'cut'; at: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'splice'; other: number; at: number }
  | { kind: 'extend'; extra: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(3000), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat(3000) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(80), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('splice' as const), other: fc.nat(1000), at: fc.nat(3000) }),
  fc.record({ kind: fc.constant('extend' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
);

function apply(c: Uint8Array, m: Mutation): Uint8Array {
  switch (m.kind) {
    case 'none':
      return c;
    case 'flip': {
      const x = c.slice();
      x[m.at % x.length]! ^= 1 << m.bit;
      return x;
    }
    case 'cut':
      return c.subarray(0, m.at % (c.length + 1));
    case 'set': {
      const x = c.slice();
      x[m.at % x.length] = m.value;
      return x;
    }
    case 'splice': {
      const o = allChunks[m.other % allChunks.length]!;
      const at = m.at % (Math.min(c.length, o.length) + 1);
      const x = new Uint8Array(o.length);
      x.set(c.subarray(0, at));
      x.set(o.subarray(at), at);
      return x;
    }
    case 'extend': {
      const x = new Uint8Array(c.length + m.extra.length);
      x.set(c);
      x.set(m.extra, c.length);
      return x;
    }
  }
}

/** Pushes; returns the result or the EnvelopeError; rethrows anything else (fails the property). */
function pushTyped(o: EnvelopeOpener, c: Uint8Array): OpenedChunk | EnvelopeError {
  try {
    return o.push(c);
  } catch (e) {
    if (e instanceof EnvelopeError && typeof e.code === 'string') return e;
    throw e;
  }
}

function checkOpened(r: OpenedChunk, bytes: Uint8Array, admit: boolean): boolean {
  const h = readChunkHeader(bytes);
  if (admit) {
    // Admission decrypts nothing: what it accepts must be a sealed chunk, byte for byte up to the tags.
    const orig = sealedBytes.get(h.messageKey)?.[h.index];
    if (!orig || r.packets.length !== 0 || orig.length !== bytes.length) return false;
    for (let i = 0; i < h.tagsAt; i++) if (orig[i] !== bytes[i]) return false;
    return r.index === h.index;
  }
  const want = expected.get(h.messageKey)?.[h.index];
  return want !== undefined && r.index === h.index && samePackets(r.packets, want);
}

test('mutated, reordered, duplicated and spliced streams open to exactly what was sealed (or, in admission, are exactly what was sealed) or give a typed error (10,000 cases)', (t) => {
  let opened = 0;
  let rejected = 0;
  fc.assert(
    fc.property(
      fc.nat(toToy.length + toFamily.length - 1),
      fc.array(fc.tuple(fc.nat(12), mutation), { minLength: 1, maxLength: 8 }),
      fc.boolean(),
      fc.boolean(),
      (which, steps, withReplay, admit) => {
        const mode = admit ? ('admit' as const) : ('full' as const);
        const toyMsg = which < toToy.length;
        const msg = toyMsg ? toToy[which]! : toFamily[which - toToy.length]!;
        const opener = toyMsg
          ? new EnvelopeOpener({ crypto: naclCrypto, keys: w.toy.keys, clock: w.clock, mode, replay: withReplay ? new ReplayGuard(new MemoryStorage()) : undefined })
          : new EnvelopeOpener({ crypto: naclCrypto, keys: { receiveKeyFor: (pk: Uint8Array) => (pk.length === 32 && pk.every((v, i) => v === w.toyPublic[i]) ? mumRx : undefined) }, clock: w.clock, mode });
        for (const [idx, mut] of steps) {
          const bytes = apply(msg.chunks[idx % msg.chunks.length]!, mut);
          const r = pushTyped(opener, bytes);
          if (r instanceof EnvelopeError) rejected++;
          else {
            opened++;
            if (!checkOpened(r, bytes, admit)) return false;
          }
        }
        // finish never throws anything but an EnvelopeError either.
        for (const k of opener.incomplete()) {
          try {
            opener.finish(k);
          } catch (e) {
            if (!(e instanceof EnvelopeError)) throw e;
          }
        }
        return true;
      },
    ),
    { numRuns: 10_000, seed: 20261128 },
  );
  t.true(opened > 1000, `opened ${opened}`);
  t.true(rejected > 1000, `rejected ${rejected}`);
});

test('arbitrary byte strings given to the opener give only typed errors (3,000 cases)', (t) => {
  const prefixes = allChunks.map((c) => c.subarray(0, 54));
  fc.assert(
    fc.property(fc.nat(prefixes.length), fc.uint8Array({ maxLength: 2700 }), (p, body) => {
      // Half the inputs start with a real header (so they reach the crypto), half are raw noise.
      const bytes = p < prefixes.length ? new Uint8Array([...prefixes[p]!, ...body]) : body;
      const o = new EnvelopeOpener({ crypto: naclCrypto, keys: w.toy.keys, clock: w.clock, replay: new ReplayGuard(new MemoryStorage()) });
      const r = pushTyped(o, bytes);
      return r instanceof EnvelopeError;
    }),
    { numRuns: 3_000, seed: 7 },
  );
  t.pass();
});

test('round trip: any packets (1..1275 bytes, up to 200) and chunk sizes open to exactly the same packets', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 1275 }), { minLength: 1, maxLength: 200 }),
      fc.integer({ min: 1, max: 100 }),
      (packets, ppc) => {
        const phone = w.makePhone(mum.secretKey, new MemoryStorage(), ppc, mum.sharedKey);
        const chunks = sealAll(phone.begin(), packets);
        const o = new EnvelopeOpener({ crypto: naclCrypto, keys: w.toy.keys, clock: w.clock });
        const got: Uint8Array[] = [];
        for (const c of chunks) {
          if (c.length > MAX_CHUNK_BYTES) return false;
          for (const p of o.push(c).packets) got.push(p);
        }
        o.finish(peekChunk(chunks[0]!)!.messageKey);
        return samePackets(got, packets);
      },
    ),
    { numRuns: 300, seed: 3 },
  );
  t.pass();
});
