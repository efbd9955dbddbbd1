/**
 * The envelope vectors checked by an INDEPENDENT implementation written from
 * docs/PROTOCOL.md alone: libsodium (libsodium-wrappers) for X25519 /
 * crypto_box_beforenm / crypto_secretbox, and @noble/curves + @noble/ciphers as
 * a third NaCl, with its own parser. Nothing here imports src/envelope*, so
 * the format is not shaped by tweetnacl by accident. Also runs the shared
 * vector cases (committed JSON = sealer output; rejections) in Node.
 */
import test from 'ava';
import _sodium from 'libsodium-wrappers';
import { x25519 } from '@noble/curves/ed25519.js';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import vectors from './vectors/envelope-v1.json' with { type: 'json' };
import { envelopeVectorCases } from './envelope-vectors.cases.js';

for (const c of envelopeVectorCases) test(c.name, (t) => c.fn(t));

const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const V = vectors as {
  identities: Record<string, { secretKey: string; publicKey: string }>;
  messages: {
    name: string;
    sender: string;
    recipients: string[];
    messageId: string;
    contentKey: string;
    counter: number;
    createdSeconds: number;
    wraps: { slot: number; recipient: string; sharedKey: string; nonce: string; plaintext: string; sealed: string }[];
    chunks: { index: number; final: boolean; nonce: string; packets: string[]; plaintext: string; bytes: string; key: string }[];
  }[];
};

/** nonce = id(16) | index u16 BE | kind | 5 zero (PROTOCOL.md). */
function nonce(id: Uint8Array, index: number, kind: number): Uint8Array {
  const n = new Uint8Array(24);
  n.set(id, 0);
  n[16] = index >> 8;
  n[17] = index & 0xff;
  n[18] = kind;
  return n;
}

/** Parses framed packets: u16 BE length 1..1275 + bytes, repeated. */
function unframe(p: Uint8Array): string[] {
  const out: string[] = [];
  let o = 0;
  while (o < p.length) {
    const n = (p[o]! << 8) | p[o + 1]!;
    if (n < 1 || n > 1275 || o + 2 + n > p.length) throw new Error('bad framing');
    out.push(toHex(p.subarray(o + 2, o + 2 + n)));
    o += 2 + n;
  }
  return out;
}

test('independent libsodium opener: keys, wraps, nonces and every chunk match the vectors', async (t) => {
  await _sodium.ready;
  const s = _sodium;
  for (const [name, id] of Object.entries(V.identities)) {
    t.is(toHex(s.crypto_scalarmult_base(hex(id.secretKey))), id.publicKey, `${name} public key`);
    t.is(toHex(x25519.getPublicKey(hex(id.secretKey))), id.publicKey, `${name} public key (noble)`);
  }
  for (const m of V.messages) {
    const sender = V.identities[m.sender]!;
    const chunks = m.chunks.map((c) => hex(c.bytes));
    const head = chunks[0]!;
    // Clear header of every chunk.
    chunks.forEach((c, i) => {
      t.is(c[0], 1, 'version');
      t.is(c[1], i === chunks.length - 1 ? 1 : 0, 'flags');
      t.is(toHex(c.subarray(2, 18)), m.messageId);
      t.is((c[18]! << 8) | c[19]!, i);
      t.is(toHex(c.subarray(20, 52)), sender.publicKey);
      t.is(m.chunks[i]!.key, `${m.messageId}.${i.toString(16).padStart(4, '0')}`);
    });
    const n = head[52]!;
    t.is(n, m.recipients.length);
    const id = hex(m.messageId);
    // Each recipient derives K itself (libsodium beforenm from its own secret) and opens its wrap.
    for (let j = 0; j < n; j++) {
      const r = V.identities[m.recipients[j]!]!;
      const k = s.crypto_box_beforenm(hex(sender.publicKey), hex(r.secretKey));
      t.is(toHex(k), m.wraps[j]!.sharedKey, 'shared key');
      t.is(toHex(s.crypto_box_beforenm(hex(r.publicKey), hex(sender.secretKey))), m.wraps[j]!.sharedKey, 'symmetric');
      const wn = nonce(id, j, 3);
      t.is(toHex(wn), m.wraps[j]!.nonce);
      const wrap = head.subarray(53 + 56 * j, 53 + 56 * (j + 1));
      t.is(toHex(wrap), m.wraps[j]!.sealed);
      const wp = s.crypto_secretbox_open_easy(wrap, wn, k);
      t.is(wp.length, 40);
      t.is(toHex(wp.subarray(0, 32)), m.contentKey);
      t.is(Buffer.from(wp).readUInt32BE(32), m.counter);
      t.is(Buffer.from(wp).readUInt32BE(36), m.createdSeconds);
      // And libsodium seals the same wrap byte for byte.
      t.is(toHex(s.crypto_secretbox_easy(wp, wn, k)), m.wraps[j]!.sealed);
      // A recipient's key opens only its own slot.
      if (n > 1) t.throws(() => s.crypto_secretbox_open_easy(head.subarray(53 + 56 * ((j + 1) % n), 53 + 56 * ((j + 1) % n) + 56), wn, k));
    }
    const ck = hex(m.contentKey);
    chunks.forEach((c, i) => {
      const final = i === chunks.length - 1;
      const cn = nonce(id, i, final ? 2 : 1);
      t.is(toHex(cn), m.chunks[i]!.nonce);
      const body = c.subarray(i === 0 ? 53 + 56 * n : 52);
      const plain = s.crypto_secretbox_open_easy(body, cn, ck);
      t.is(toHex(plain), m.chunks[i]!.plaintext);
      t.deepEqual(unframe(plain), m.chunks[i]!.packets);
      t.is(toHex(s.crypto_secretbox_easy(plain, cn, ck)), toHex(body), 'libsodium reseals the same bytes');
      // noble's xsalsa20poly1305 (tag-first, like secretbox_easy) agrees.
      t.is(toHex(xsalsa20poly1305(ck, cn).decrypt(body)), m.chunks[i]!.plaintext, 'noble opens it too');
      // The nonce binds the index and the final flag.
      t.throws(() => s.crypto_secretbox_open_easy(body, nonce(id, i + 1, final ? 2 : 1), ck));
      t.throws(() => s.crypto_secretbox_open_easy(body, nonce(id, i, final ? 1 : 2), ck));
    });
  }
});

test('independent libsodium sealer produces messages the toy accepts (vector keys, fresh ids)', async (t) => {
  await _sodium.ready;
  const s = _sodium;
  const { ToyEnvelope } = await import('../src/envelope.js');
  const { Roster } = await import('../src/roster.js');
  const { naclCrypto } = await import('../src/nacl-crypto.js');
  const { MemoryStorage } = await import('./fakes/memory-storage.js');
  const { FakeRandom } = await import('./fakes/fake-random.js');
  const mum = V.identities.mum!;
  const toyId = V.identities.toy!;
  const storage = new MemoryStorage();
  const roster = new Roster(storage);
  roster.add({ id: 'mum', name: 'Mum', publicKey: hex(mum.publicKey) });
  const now = Date.UTC(2026, 10, 28);
  const toy = new ToyEnvelope({ crypto: naclCrypto, random: new FakeRandom(3), storage, clock: { wallNow: () => now }, roster, publicKey: hex(toyId.publicKey), secretKey: hex(toyId.secretKey) });
  // Seal from the spec with libsodium: 2 chunks, 3 packets.
  const id = s.randombytes_buf(16);
  const ck = s.crypto_secretbox_keygen();
  const k = s.crypto_box_beforenm(hex(toyId.publicKey), hex(mum.secretKey));
  const wp = new Uint8Array(40);
  wp.set(ck);
  Buffer.from(wp.buffer).writeUInt32BE(5, 32);
  Buffer.from(wp.buffer).writeUInt32BE(Math.floor(now / 1000) - 60, 36);
  const header = (i: number, final: boolean) => {
    const h = new Uint8Array(52);
    h[0] = 1;
    h[1] = final ? 1 : 0;
    h.set(id, 2);
    h[18] = i >> 8;
    h[19] = i & 0xff;
    h.set(hex(mum.publicKey), 20);
    return h;
  };
  const frame = (ps: Uint8Array[]) => Buffer.concat(ps.flatMap((p) => [Buffer.from([p.length >> 8, p.length & 0xff]), Buffer.from(p)]));
  const p = [Uint8Array.of(1, 2, 3), new Uint8Array(300).fill(7), Uint8Array.of(9)];
  const c0 = Buffer.concat([header(0, false), Uint8Array.of(1), s.crypto_secretbox_easy(wp, nonce(id, 0, 3), k), s.crypto_secretbox_easy(frame(p.slice(0, 2)), nonce(id, 0, 1), ck)]);
  const c1 = Buffer.concat([header(1, true), s.crypto_secretbox_easy(frame(p.slice(2)), nonce(id, 1, 2), ck)]);
  const r0 = toy.arrivals.push(new Uint8Array(c0));
  const r1 = toy.arrivals.push(new Uint8Array(c1));
  t.is(r0.info.counter, 5);
  t.deepEqual([...r0.packets, ...r1.packets].map(toHex), p.map(toHex));
  t.true(r1.final);
});
