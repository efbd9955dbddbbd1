/**
 * The envelope v2 vectors checked by an INDEPENDENT implementation written from
 * docs/PROTOCOL.md alone, twice: on libsodium (libsodium-wrappers-sumo: beforenm,
 * SHA-512, secretbox, onetimeauth) and on @noble (curves x25519, ciphers
 * hsalsa/xsalsa20poly1305/poly1305, hashes sha512). Nothing here imports
 * src/envelope*, so the format is not shaped by tweetnacl by accident. Each
 * implementation re-seals every message byte for byte, opens it as each
 * recipient, and runs its own opener (the check order of PROTOCOL.md) over
 * every rejection vector, which must give the same error code.
 * Also runs the shared vector cases (committed JSON = sealer output; rejections) in Node.
 */
import test from 'ava';
import sodiumReady from 'libsodium-wrappers-sumo';
import { x25519 } from '@noble/curves/ed25519.js';
import { hsalsa, xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { poly1305 } from '@noble/ciphers/_poly1305.js';
import { sha512 } from '@noble/hashes/sha2.js';
import vectors from './vectors/envelope-v2.json' with { type: 'json' };
import { envelopeVectorCases } from './envelope-vectors.cases.js';

for (const c of envelopeVectorCases) test(c.name, (t) => c.fn(t));

const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const cat = (...p: Uint8Array[]) => new Uint8Array(Buffer.concat(p));
const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'ascii'));
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return new Uint8Array(b);
};
const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

interface V2Vectors {
  identities: Record<string, { secretKey: string; publicKey: string; sealKey: string }>;
  messages: {
    name: string;
    sender: string;
    recipients: string[];
    seed: string;
    messageId: string;
    contentKey: string;
    counter: number;
    createdSeconds: number;
    packetsPerChunk: number;
    padBlock: number;
    wraps: { slot: number; recipient: string; sharedKey: string; pairKey: string; nonce: string; plaintext: string; sealed: string }[];
    chunks: { index: number; final: boolean; nonce: string; packets: string[]; plaintext: string; bytes: string; key: string; tags: { slot: number; nonce: string; oneTimeKey: string; tag: string }[] }[];
  }[];
  rejections: { name: string; chunks: string[]; finish?: boolean; finishEach?: boolean; nowSeconds?: number; error: string }[];
}
const V = vectors as V2Vectors;

/** The primitives PROTOCOL.md names. */
interface Nacl {
  name: string;
  publicKey(sk: Uint8Array): Uint8Array;
  beforenm(pk: Uint8Array, sk: Uint8Array): Uint8Array;
  sha512(m: Uint8Array): Uint8Array;
  secretbox(m: Uint8Array, n: Uint8Array, k: Uint8Array): Uint8Array;
  /** null when it does not open. */
  secretboxOpen(b: Uint8Array, n: Uint8Array, k: Uint8Array): Uint8Array | null;
  poly1305(m: Uint8Array, k: Uint8Array): Uint8Array;
}

async function sodiumNacl(): Promise<Nacl> {
  await sodiumReady.ready;
  const s = sodiumReady;
  return {
    name: 'libsodium',
    publicKey: (sk) => s.crypto_scalarmult_base(sk),
    beforenm: (pk, sk) => s.crypto_box_beforenm(pk, sk),
    sha512: (m) => s.crypto_hash_sha512(m),
    secretbox: (m, n, k) => s.crypto_secretbox_easy(m, n, k),
    secretboxOpen: (b, n, k) => {
      try {
        return s.crypto_secretbox_open_easy(b, n, k);
      } catch {
        return null;
      }
    },
    poly1305: (m, k) => s.crypto_onetimeauth(m, k),
  };
}

function nobleNacl(): Nacl {
  const le32 = (b: Uint8Array) => new Uint32Array(new Uint8Array(b).buffer);
  return {
    name: 'noble',
    publicKey: (sk) => x25519.getPublicKey(sk),
    beforenm: (pk, sk) => {
      // crypto_box_beforenm = HSalsa20(key = X25519(sk, pk), input = 16 zero bytes).
      const sigma = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
      const out = new Uint32Array(8);
      hsalsa(sigma, le32(x25519.getSharedSecret(sk, pk)), new Uint32Array(4), out);
      return new Uint8Array(out.buffer);
    },
    sha512: (m) => sha512(m),
    secretbox: (m, n, k) => xsalsa20poly1305(k, n).encrypt(m),
    secretboxOpen: (b, n, k) => {
      try {
        return xsalsa20poly1305(k, n).decrypt(b);
      } catch {
        return null;
      }
    },
    poly1305: (m, k) => poly1305(m, k),
  };
}

// ---------------------------------------------------------------- the format, from PROTOCOL.md

const HEADER = 53;
const WRAP = 56;
const TAG = 16;

function nonce(id: Uint8Array, index: number, kind: number, slot = 0): Uint8Array {
  const n = new Uint8Array(24);
  n.set(id, 0);
  n[16] = index >> 8;
  n[17] = index & 0xff;
  n[18] = kind;
  n[19] = slot;
  return n;
}
const pairKey = (x: Nacl, k: Uint8Array, s: Uint8Array, r: Uint8Array) => x.sha512(cat(ascii('PawPost envelope v2 pair key'), k, s, r)).slice(0, 32);
const otk = (x: Nacl, pk: Uint8Array, id: Uint8Array, i: number, j: number) => x.secretbox(new Uint8Array(32), nonce(id, i, 4, j), pk).slice(16, 48);

/** Seals a whole message from its parameters (the sender side of PROTOCOL.md). */
function sealMessage(
  x: Nacl,
  senderSk: Uint8Array,
  senderPk: Uint8Array,
  recipientPks: Uint8Array[],
  ctr: number,
  seed: Uint8Array,
  created: number,
  packets: Uint8Array[],
  ppc: number,
  pad: number,
): Uint8Array[] {
  const sealKey = x.sha512(cat(ascii('PawPost envelope v2 seal key'), senderSk)).slice(0, 32);
  const d = x.sha512(cat(ascii('PawPost envelope v2 message'), sealKey, senderPk, u32(ctr), seed));
  const id = d.slice(0, 16);
  const ck = d.slice(32, 64);
  const keys = recipientPks.map((r) => pairKey(x, x.beforenm(r, senderSk), senderPk, r));
  const n = keys.length;
  const groups: Uint8Array[][] = [];
  for (let i = 0; i < packets.length; i += ppc) groups.push(packets.slice(i, i + ppc));
  return groups.map((g, i) => {
    const final = i === groups.length - 1;
    let plain = cat(...g.flatMap((p) => [Uint8Array.of(p.length >> 8, p.length & 0xff), p]));
    if (pad > 0 && plain.length % pad) plain = cat(plain, new Uint8Array(pad - (plain.length % pad)));
    const header = cat(Uint8Array.of(2, final ? 1 : 0, n), id, Uint8Array.of(i >> 8, i & 0xff), senderPk);
    const wraps = i === 0 ? cat(...keys.map((k, j) => x.secretbox(cat(ck, u32(ctr), u32(created)), nonce(id, 0, 3, j), k))) : new Uint8Array(0);
    const authed = cat(header, wraps, x.secretbox(plain, nonce(id, i, final ? 2 : 1), ck));
    return cat(authed, ...keys.map((k, j) => x.poly1305(authed, otk(x, k, id, i, j))));
  });
}

class Rejected extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/** A receiver (PROTOCOL.md "Opening"), with its own replay record in memory. */
class Receiver {
  private open = new Map<string, { sender: Uint8Array; n: number; slot: number; pk: Uint8Array; ck: Uint8Array; next: number; complete: boolean; packets: number; openedAt: number }>();
  private replay = new Map<string, { high: number; window: number }>();
  constructor(
    private readonly x: Nacl,
    private readonly me: { sk: Uint8Array; pk: Uint8Array },
    private readonly peers: Uint8Array[],
    public nowMs: number,
  ) {}

  private unframe(p: Uint8Array): string[] {
    const out: string[] = [];
    let o = 0;
    while (o < p.length) {
      if (p[o] === 0 && (o + 1 === p.length || p[o + 1] === 0)) {
        if (p.subarray(o).some((b) => b !== 0)) throw new Rejected('MALFORMED');
        break;
      }
      if (o + 2 > p.length) throw new Rejected('MALFORMED');
      const n = (p[o]! << 8) | p[o + 1]!;
      if (n < 1 || n > 1275 || o + 2 + n > p.length) throw new Rejected('MALFORMED');
      out.push(toHex(p.subarray(o + 2, o + 2 + n)));
      o += 2 + n;
    }
    if (out.length === 0) throw new Rejected('MALFORMED');
    return out;
  }

  push(c: Uint8Array): { key: string; final: boolean; packets: string[] } {
    if (c.length === 0) throw new Rejected('SHORT');
    if (c[0] !== 2) throw new Rejected('VERSION');
    if (c.length < 88) throw new Rejected('SHORT');
    if (c.length > 2693) throw new Rejected('TOO_LARGE');
    if (c[1]! & ~1) throw new Rejected('MALFORMED');
    const n = c[2]!;
    if (n < 1 || n > 8) throw new Rejected('MALFORMED');
    const index = (c[19]! << 8) | c[20]!;
    if (index >= 3000) throw new Rejected('MALFORMED');
    const final = (c[1]! & 1) === 1;
    const bodyAt = HEADER + (index === 0 ? WRAP * n : 0);
    const tagsAt = c.length - TAG * n;
    if (tagsAt - bodyAt < 19) throw new Rejected('SHORT');
    if (tagsAt - bodyAt > 2064) throw new Rejected('TOO_LARGE');
    const id = c.slice(3, 19);
    const key = toHex(id);
    const sender = c.slice(21, 53);
    const tagOk = (pk: Uint8Array, slot: number) => eq(this.x.poly1305(c.subarray(0, tagsAt), otk(this.x, pk, id, index, slot)), c.subarray(tagsAt + slot * TAG, tagsAt + slot * TAG + TAG));
    const body = (ck: Uint8Array) => {
      const p = this.x.secretboxOpen(c.subarray(bodyAt, tagsAt), nonce(id, index, final ? 2 : 1), ck);
      if (!p) throw new Rejected('AUTH');
      return this.unframe(p);
    };
    if (index === 0) {
      if (this.open.has(key)) throw new Rejected('DUPLICATE');
      // PROTOCOL.md: 0, 1, the two points of order 8, p-1, p, p+1 (top bit ignored).
      const pm = (last: string) => last + 'ff'.repeat(30) + '7f';
      const smallOrder = ['00'.repeat(32), '01' + '00'.repeat(31), 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157', pm('ec'), pm('ed'), pm('ee')];
      const isSmall = smallOrder.includes(toHex(sender.map((b, i) => (i === 31 ? b & 0x7f : b))));
      if (isSmall || !this.peers.some((p) => eq(p, sender))) throw new Rejected('UNKNOWN_SENDER');
      const pk = pairKey(this.x, this.x.beforenm(sender, this.me.sk), sender, this.me.pk);
      let w: Uint8Array | null = null;
      let slot = 0;
      for (; slot < n; slot++) {
        w = this.x.secretboxOpen(c.subarray(HEADER + slot * WRAP, HEADER + (slot + 1) * WRAP), nonce(id, 0, 3, slot), pk);
        if (w) break;
      }
      if (!w) throw new Rejected('NOT_RECIPIENT');
      if (!tagOk(pk, slot)) throw new Rejected('AUTH');
      const ctr = Buffer.from(w).readUInt32BE(32);
      const created = Buffer.from(w).readUInt32BE(36) * 1000;
      if (this.nowMs >= Date.UTC(2025, 0, 1)) {
        if (this.nowMs > created + 7 * 86400 * 1000) throw new Rejected('EXPIRED');
        if (created > this.nowMs + 600 * 1000) throw new Rejected('FUTURE');
      }
      const r = this.replay.get(toHex(sender));
      if (ctr < 1 || (r && ctr <= r.high && (ctr === r.high || r.high - ctr > 32 || (r.window >>> (r.high - ctr - 1)) & 1))) throw new Rejected('REPLAY');
      const packets = body(w.slice(0, 32));
      if (this.open.size >= 4) {
        // Room (PROTOCOL.md rule 16): a complete message, else the oldest incomplete one open over 10 min, else BUSY.
        const all = [...this.open];
        const done = all.find(([, x]) => x.complete);
        const old = all.sort((a, b) => a[1].openedAt - b[1].openedAt)[0]!;
        if (done) this.open.delete(done[0]);
        else if (this.nowMs - old[1].openedAt > 600_000) this.open.delete(old[0]);
        else throw new Rejected('BUSY');
      }
      if (!r) this.replay.set(toHex(sender), { high: ctr, window: 0 });
      else if (ctr > r.high) {
        const s = ctr - r.high;
        r.window = s > 32 ? 0 : s === 32 ? 0x80000000 : ((r.window << s) | (1 << (s - 1))) >>> 0;
        r.high = ctr;
      } else r.window = (r.window | (1 << (r.high - ctr - 1))) >>> 0;
      this.open.set(key, { sender, n, slot, pk, ck: w.slice(0, 32), next: 1, complete: final, packets: packets.length, openedAt: this.nowMs });
      return { key, final, packets };
    }
    const m = this.open.get(key);
    if (!m) throw new Rejected('ORDER');
    if (!eq(m.sender, sender) || m.n !== n) throw new Rejected('AUTH');
    if (index < m.next) throw new Rejected('DUPLICATE');
    if (m.complete) throw new Rejected('ORDER');
    if (index > m.next) throw new Rejected('ORDER');
    if (!tagOk(m.pk, m.slot)) throw new Rejected('AUTH');
    const packets = body(m.ck);
    if (m.packets + packets.length > 3000) throw new Rejected('TOO_LONG');
    m.packets += packets.length;
    m.next++;
    if (final) m.complete = true;
    return { key, final, packets };
  }

  finish(key: string): void {
    const m = this.open.get(key);
    if (!m) return;
    this.open.delete(key);
    if (!m.complete) throw new Rejected('TRUNCATED');
  }
  incomplete(): string[] {
    return [...this.open].filter(([, m]) => !m.complete).map(([k]) => k);
  }
}

const ID = (name: string) => ({ sk: hex(V.identities[name]!.secretKey), pk: hex(V.identities[name]!.publicKey) });

for (const make of [sodiumNacl, async () => nobleNacl()]) {
  test(`independent ${make === sodiumNacl ? 'libsodium' : 'noble'} implementation: keys, every message re-sealed byte for byte and opened by each recipient`, async (t) => {
    const x = await make();
    for (const [name, id] of Object.entries(V.identities)) {
      t.is(toHex(x.publicKey(hex(id.secretKey))), id.publicKey, `${name} public key`);
      t.is(toHex(x.sha512(cat(ascii('PawPost envelope v2 seal key'), hex(id.secretKey))).slice(0, 32)), id.sealKey, `${name} seal key`);
    }
    for (const m of V.messages) {
      const s = ID(m.sender);
      const rs = m.recipients.map(ID);
      m.wraps.forEach((w, j) => {
        t.is(toHex(x.beforenm(rs[j]!.pk, s.sk)), w.sharedKey, 'K');
        t.is(toHex(x.beforenm(s.pk, rs[j]!.sk)), w.sharedKey, 'K, the other side');
        t.is(toHex(pairKey(x, hex(w.sharedKey), s.pk, rs[j]!.pk)), w.pairKey, 'K(S→R)');
        t.not(toHex(pairKey(x, hex(w.sharedKey), rs[j]!.pk, s.pk)), w.pairKey, 'K(R→S) differs');
        t.is(toHex(nonce(hex(m.messageId), 0, 3, j)), w.nonce);
        t.is(toHex(x.secretbox(hex(w.plaintext), hex(w.nonce), hex(w.pairKey))), w.sealed);
      });
      const packets = m.chunks.flatMap((ch) => ch.packets.map(hex));
      const sealed = sealMessage(x, s.sk, s.pk, rs.map((r) => r.pk), m.counter, hex(m.seed), m.createdSeconds, packets, m.packetsPerChunk, m.padBlock);
      t.deepEqual(sealed.map(toHex), m.chunks.map((ch) => ch.bytes), `${m.name}: re-sealed byte for byte`);
      m.chunks.forEach((ch, i) => {
        ch.tags.forEach((tg, j) => {
          t.is(toHex(otk(x, hex(m.wraps[j]!.pairKey), hex(m.messageId), i, j)), tg.oneTimeKey, 'one-time key');
          t.is(tg.nonce, toHex(nonce(hex(m.messageId), i, 4, j)));
        });
        t.is(ch.key, `${m.messageId}.${i.toString(16).padStart(4, '0')}`);
      });
      for (const r of m.recipients) {
        const peers = [s.pk];
        const rx = new Receiver(x, ID(r), peers, m.createdSeconds * 1000);
        const got: string[] = [];
        for (const ch of m.chunks) got.push(...rx.push(hex(ch.bytes)).packets);
        t.deepEqual(got, m.chunks.flatMap((ch) => ch.packets), `${m.name} opened by ${r}`);
      }
    }
  });

  test(`independent ${make === sodiumNacl ? 'libsodium' : 'noble'} opener gives every rejection vector its error code`, async (t) => {
    const x = await make();
    const created = V.messages.find((m) => m.name === 'mum-to-toy')!.createdSeconds;
    for (const r of V.rejections) {
      const toy = new Receiver(x, ID('toy'), [ID('mum').pk, ID('dad').pk], (r.nowSeconds ?? created) * 1000);
      let code = 'none';
      try {
        r.chunks.forEach((ch, i) => {
          try {
            const got = toy.push(hex(ch));
            if (r.finishEach && got.final) toy.finish(got.key);
          } catch (e) {
            if (i < r.chunks.length - 1) throw new Error(`chunk ${i} of "${r.name}" rejected early (${String(e)})`);
            throw e;
          }
        });
        if (r.finish) for (const k of toy.incomplete()) toy.finish(k);
      } catch (e) {
        code = e instanceof Rejected ? e.code : String(e);
      }
      t.is(code, r.error, r.name);
    }
  });
}

test('a message sealed by the independent libsodium sealer is accepted by the toy (and a reflected copy is not)', async (t) => {
  const x = await sodiumNacl();
  const { ToyEnvelope } = await import('../src/envelope.js');
  const { Roster } = await import('../src/roster.js');
  const { naclCrypto } = await import('../src/nacl-crypto.js');
  const { MemoryStorage } = await import('./fakes/memory-storage.js');
  const { FakeRandom } = await import('./fakes/fake-random.js');
  const mum = ID('mum');
  const toyId = ID('toy');
  const storage = new MemoryStorage();
  const roster = new Roster(storage);
  roster.add({ id: 'mum', name: 'Mum', publicKey: mum.pk });
  const now = Date.UTC(2026, 10, 28);
  const toy = new ToyEnvelope({ crypto: naclCrypto, random: new FakeRandom(3), storage, clock: { wallNow: () => now }, roster, publicKey: toyId.pk, secretKey: toyId.sk });
  const p = [Uint8Array.of(1, 2, 3), new Uint8Array(300).fill(7), Uint8Array.of(9)];
  const chunks = sealMessage(x, mum.sk, mum.pk, [toyId.pk], 5, new Uint8Array(32).fill(1), Math.floor(now / 1000) - 60, p, 2, 128);
  const r0 = toy.arrivals.push(chunks[0]!);
  const r1 = toy.arrivals.push(chunks[1]!);
  t.is(r0.info.counter, 5);
  t.deepEqual([...r0.packets, ...r1.packets].map(toHex), p.map(toHex));
  t.true(r1.final);
  // The toy's own direction: a message sealed by the toy "to itself as Mum" does not open.
  const reflected = sealMessage(x, toyId.sk, toyId.pk, [mum.pk], 6, new Uint8Array(32).fill(2), Math.floor(now / 1000), p, 3, 0)[0]!;
  reflected.set(mum.pk, 21);
  t.throws(() => toy.arrivals.push(reflected), { message: /key wrap/ });
});
