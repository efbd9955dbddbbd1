/**
 * The committed vectors (tests/vectors/envelope-v2.json) against this
 * implementation, in both tiers: the JSON equals what the sealer produces now,
 * every chunk opens to its packets, and every rejection vector gives its code.
 * The independent check with libsodium is tests/envelope-vectors.test.ts. Portable.
 */
import vectors from './vectors/envelope-v2.json' with { type: 'json' };
import v1vectors from './vectors/envelope-v1.json' with { type: 'json' };
import { naclCrypto } from '../src/nacl-crypto.js';
import { Roster } from '../src/roster.js';
import { EnvelopeError, ToyEnvelope, toHex } from '../src/envelope.js';
import { PhoneEnvelope } from '../phone/phone-envelope.js';
import { fromHex, makeEnvelopeVectors, type EnvelopeVectors } from '../tools/envelope-vectors.js';
import { FakeRandom } from './fakes/fake-random.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import type { EnvelopeCase } from './envelope-world.js';

const V = vectors as EnvelopeVectors;

function toyFor(nowMs: number): ToyEnvelope {
  const storage = new MemoryStorage();
  const roster = new Roster(storage);
  const toy = V.identities.toy!;
  for (const id of ['mum', 'dad']) roster.add({ id, name: id, publicKey: fromHex(V.identities[id]!.publicKey) });
  return new ToyEnvelope({
    crypto: naclCrypto,
    random: new FakeRandom(1),
    storage,
    clock: { wallNow: () => nowMs },
    roster,
    publicKey: fromHex(toy.publicKey),
    secretKey: fromHex(toy.secretKey),
  });
}

export const envelopeVectorCases: EnvelopeCase[] = [
  {
    name: 'vectors: the committed JSON equals what the sealer produces',
    fn: (t) => {
      const now = makeEnvelopeVectors(v1vectors.messages[1]!.chunks[0]!.bytes);
      t.is(JSON.stringify(now), JSON.stringify(V), 'regenerate with: npx tsx tools/make-envelope-vectors.ts');
    },
  },
  {
    name: 'vectors: every message opens to its packets at each recipient',
    fn: (t) => {
      for (const m of V.messages) {
        for (const r of m.recipients) {
          const now = m.createdSeconds * 1000;
          const chunks = m.chunks.map((c) => fromHex(c.bytes));
          let got: string[] = [];
          if (r === 'toy') {
            const toy = toyFor(now);
            for (const c of chunks) got = got.concat(toy.arrivals.push(c).packets.map((p) => toHex(p)));
          } else {
            const phone = new PhoneEnvelope({
              crypto: naclCrypto,
              random: new FakeRandom(1),
              storage: new MemoryStorage(),
              clock: { wallNow: () => now },
              secretKey: fromHex(V.identities[r]!.secretKey),
              toyPublicKey: fromHex(V.identities[m.sender]!.publicKey),
            });
            for (const c of chunks) got = got.concat(phone.opener.push(c).packets.map((p) => toHex(p)));
          }
          t.deepEqual(got, m.chunks.flatMap((c) => c.packets), `${m.name} at ${r}`);
        }
      }
    },
  },
  {
    name: 'vectors: every rejection gives its error code',
    fn: (t) => {
      const created = V.messages.find((m) => m.name === 'mum-to-toy')!.createdSeconds;
      for (const r of V.rejections) {
        const toy = toyFor((r.nowSeconds ?? created) * 1000);
        const chunks = r.chunks.map(fromHex);
        let code = 'none';
        try {
          for (let i = 0; i < chunks.length; i++) {
            try {
              const got = toy.arrivals.push(chunks[i]!);
              if (r.finishEach && got.final) toy.arrivals.finish(got.info.messageKey);
            } catch (e) {
              if (i < chunks.length - 1) throw new Error(`chunk ${i} of "${r.name}" rejected early`);
              throw e;
            }
          }
          if (r.finish) for (const k of toy.arrivals.incomplete()) toy.arrivals.finish(k);
        } catch (e) {
          code = e instanceof EnvelopeError ? e.code : String(e);
        }
        t.is(code, r.error, r.name);
      }
    },
  },
  {
    name: 'vectors: every chunk of the v1 vectors is refused with VERSION',
    fn: (t) => {
      const toy = toyFor(Date.UTC(2026, 10, 28));
      for (const m of v1vectors.messages)
        for (const ch of m.chunks) {
          let code = 'none';
          try {
            toy.arrivals.push(fromHex(ch.bytes));
          } catch (e) {
            code = e instanceof EnvelopeError ? e.code : String(e);
          }
          t.is(code, 'VERSION', `${m.name} chunk ${ch.index}`);
        }
    },
  },
];
