/**
 * Builds the envelope test vectors (tests/vectors/envelope-v1.json) with the
 * real sealer and fixed THROWAWAY keys. Portable (runs in Node and in XS), so
 * both tiers can check that the committed JSON equals what the sealer produces.
 * Written to disk by tools/make-envelope-vectors.ts.
 *
 * Randomness is scripted: per message the sealer draws the 16-byte message id
 * first, then the 32-byte content key, and these are the bytes given here.
 */
import type { RandomPort, StoragePort } from '../hal/ports.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { EnvelopeSealer } from '../src/envelope-sealer.js';
import { NONCE_KIND_CHUNK, NONCE_KIND_FINAL, NONCE_KIND_WRAP, toHex, writeNonce, writeU32 } from '../src/envelope-format.js';

export function fromHex(h: string): Uint8Array {
  const b = new Uint8Array(h.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return b;
}

/** Bytes 0..n-1 of a simple deterministic sequence (not random: readable throwaway material). */
function seq(n: number, start: number, step: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (start + i * step) & 0xff;
  return b;
}

class ScriptedRandom implements RandomPort {
  private parts: Uint8Array[];
  constructor(...parts: Uint8Array[]) {
    this.parts = parts;
  }
  fill(into: Uint8Array): void {
    const p = this.parts.shift();
    if (!p || p.length !== into.length) throw new Error('scripted random: unexpected request');
    for (let i = 0; i < p.length; i++) into[i] = p[i]!;
  }
}

class OneCounterStorage implements StoragePort {
  private v: Uint8Array | undefined;
  constructor(lastCounter: number) {
    this.v = new Uint8Array(5);
    this.v[0] = 1;
    writeU32(this.v, 1, lastCounter);
  }
  read(): Uint8Array | undefined {
    return this.v?.slice();
  }
  write(_k: string, value: Uint8Array): void {
    this.v = value.slice();
  }
  remove(): void {
    this.v = undefined;
  }
  keys(): string[] {
    return this.v ? ['rp.tx'] : [];
  }
}

export interface VectorIdentity { secretKey: string; publicKey: string }
export interface VectorChunk { index: number; final: boolean; nonce: string; packets: string[]; plaintext: string; bytes: string; key: string }
export interface VectorMessage {
  name: string;
  sender: string;
  recipients: string[];
  messageId: string;
  contentKey: string;
  counter: number;
  createdSeconds: number;
  packetsPerChunk: number;
  wraps: { slot: number; recipient: string; sharedKey: string; nonce: string; plaintext: string; sealed: string }[];
  chunks: VectorChunk[];
}
/** Fed in order to a fresh toy opener; every chunk but the last is accepted; the last (or, with finish, the end of the message) gives `error`. */
export interface VectorRejection { name: string; message: string; chunks: string[]; finish?: boolean; error: string }
export interface EnvelopeVectors {
  comment: string;
  version: number;
  identities: Record<string, VectorIdentity>;
  messages: VectorMessage[];
  rejections: VectorRejection[];
}

function packetsFor(lengths: number[], seed: number): Uint8Array[] {
  let s = seed;
  return lengths.map((n) => {
    const p = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      p[i] = s >>> 24;
    }
    return p;
  });
}

/** Builds the vectors. Deterministic: same output on every engine. */
export function makeEnvelopeVectors(): EnvelopeVectors {
  const c = naclCrypto;
  const ids: Record<string, { sk: Uint8Array; pk: Uint8Array }> = {};
  const idSpec: [string, number, number][] = [['toy', 0x10, 3], ['mum', 0x20, 5], ['dad', 0x30, 7]];
  for (const [name, start, step] of idSpec) {
    const sk = seq(32, start, step);
    ids[name] = { sk, pk: c.boxKeyPairFromSecret(sk).publicKey };
  }
  const identities: Record<string, VectorIdentity> = {};
  for (const k of Object.keys(ids)) identities[k] = { secretKey: toHex(ids[k]!.sk), publicKey: toHex(ids[k]!.pk) };

  const spec = [
    { name: 'toy-to-family', sender: 'toy', recipients: ['mum', 'dad'], counter: 42, created: 1795910400, ppc: 3, lengths: [40, 38, 1, 60, 300, 41, 39], seed: 7, idStart: 0xa0, keyStart: 0x40 },
    { name: 'mum-to-toy', sender: 'mum', recipients: ['toy'], counter: 7, created: 1795910500, ppc: 2, lengths: [35, 36, 37, 38, 2], seed: 9, idStart: 0xb0, keyStart: 0x60 },
    { name: 'one-chunk', sender: 'dad', recipients: ['toy'], counter: 1, created: 1795910600, ppc: 15, lengths: [20, 21], seed: 11, idStart: 0xc0, keyStart: 0x80 },
  ];
  const messages: VectorMessage[] = [];
  const nonce = new Uint8Array(24);
  for (const m of spec) {
    const sender = ids[m.sender]!;
    const messageId = seq(16, m.idStart, 1);
    const contentKey = seq(32, m.keyStart, 1);
    const shared = m.recipients.map((r) => c.boxBefore(ids[r]!.pk, sender.sk));
    const sealer = new EnvelopeSealer({
      crypto: c,
      random: new ScriptedRandom(messageId, contentKey),
      storage: new OneCounterStorage(m.counter - 1),
      clock: { wallNow: () => m.created * 1000 + 999 },
      senderPublicKey: sender.pk,
      packetsPerChunk: m.ppc,
    });
    const msg = sealer.begin(shared);
    const packets = packetsFor(m.lengths, m.seed);
    const bytes: Uint8Array[] = [];
    for (const p of packets) {
      const out = msg.addPacket(p);
      if (out) bytes.push(out);
    }
    bytes.push(msg.finish());
    const wrapPlain = new Uint8Array(40);
    wrapPlain.set(contentKey, 0);
    writeU32(wrapPlain, 32, m.counter);
    writeU32(wrapPlain, 36, m.created);
    const wraps = m.recipients.map((r, j) => {
      writeNonce(nonce, messageId, j, NONCE_KIND_WRAP);
      return { slot: j, recipient: r, sharedKey: toHex(shared[j]!), nonce: toHex(nonce), plaintext: toHex(wrapPlain), sealed: toHex(c.secretbox(wrapPlain, nonce, shared[j]!)) };
    });
    let pi = 0;
    const chunks: VectorChunk[] = bytes.map((b, index) => {
      const final = index === bytes.length - 1;
      const n = Math.min(m.ppc, packets.length - pi);
      const ps = packets.slice(pi, pi + n);
      pi += n;
      const plain: number[] = [];
      for (const p of ps) plain.push(p.length >> 8, p.length & 0xff, ...p);
      writeNonce(nonce, messageId, index, final ? NONCE_KIND_FINAL : NONCE_KIND_CHUNK);
      return { index, final, nonce: toHex(nonce), packets: ps.map((p) => toHex(p)), plaintext: toHex(Uint8Array.from(plain)), bytes: toHex(b), key: `${toHex(messageId)}.${toHex(Uint8Array.of(index >> 8, index & 0xff))}` };
    });
    messages.push({
      name: m.name,
      sender: m.sender,
      recipients: m.recipients,
      messageId: toHex(messageId),
      contentKey: toHex(contentKey),
      counter: m.counter,
      createdSeconds: m.created,
      packetsPerChunk: m.ppc,
      wraps,
      chunks,
    });
  }

  // Rejections, for the toy as receiver of mum-to-toy (chunks fed in order).
  const mt = messages[1]!.chunks.map((x) => fromHex(x.bytes));
  const tf = messages[0]!.chunks.map((x) => fromHex(x.bytes));
  const hex = (b: Uint8Array) => toHex(b);
  const edit = (b: Uint8Array, f: (x: Uint8Array) => void) => {
    const x = b.slice();
    f(x);
    return x;
  };
  // mum-to-toy's header for chunk 1 in front of toy-to-family's chunk-1 body.
  const spliced = new Uint8Array(52 + tf[1]!.length - 52);
  spliced.set(mt[1]!.subarray(0, 52), 0);
  spliced.set(tf[1]!.subarray(52), 52);
  const rejections: VectorRejection[] = [
    { name: 'unknown version', message: 'mum-to-toy', chunks: [hex(edit(mt[0]!, (x) => (x[0] = 2)))], error: 'VERSION' },
    { name: 'shorter than a header', message: 'mum-to-toy', chunks: [hex(mt[0]!.subarray(0, 51))], error: 'SHORT' },
    { name: 'body bit flipped', message: 'mum-to-toy', chunks: [hex(edit(mt[0]!, (x) => (x[x.length - 1]! ^= 1)))], error: 'AUTH' },
    { name: 'key wrap bit flipped', message: 'mum-to-toy', chunks: [hex(edit(mt[0]!, (x) => (x[60]! ^= 0x80)))], error: 'NOT_RECIPIENT' },
    { name: 'sender not in roster (toy-to-family head)', message: 'toy-to-family', chunks: [hex(tf[0]!)], error: 'UNKNOWN_SENDER' },
    { name: 'final flag set on a non-final chunk', message: 'mum-to-toy', chunks: [hex(mt[0]!), hex(edit(mt[1]!, (x) => (x[1] = 1)))], error: 'AUTH' },
    { name: 'chunk 2 skipped', message: 'mum-to-toy', chunks: [hex(mt[0]!), hex(mt[2]!)], error: 'ORDER' },
    { name: 'chunk 2 relabelled as chunk 1 (index and flag rewritten)', message: 'mum-to-toy', chunks: [hex(mt[0]!), hex(edit(mt[2]!, (x) => ((x[19] = 1), (x[1] = 0))))], error: 'AUTH' },
    { name: 'truncated: final chunk never arrives', message: 'mum-to-toy', chunks: [hex(mt[0]!), hex(mt[1]!)], finish: true, error: 'TRUNCATED' },
    { name: 'chunk 1 sent twice', message: 'mum-to-toy', chunks: [hex(mt[0]!), hex(mt[1]!), hex(mt[1]!)], error: 'DUPLICATE' },
    { name: 'head replayed after the message', message: 'mum-to-toy', chunks: [...mt.map(hex), hex(mt[0]!)], error: 'DUPLICATE' },
    { name: 'chunk body spliced from another message', message: 'mum-to-toy', chunks: [hex(mt[0]!), hex(spliced)], error: 'AUTH' },
  ];

  return {
    comment:
      'PawPost envelope v1 test vectors (docs/PROTOCOL.md, "Envelope"). THROWAWAY keys: never use them. ' +
      'All byte strings are lower-case hex. Generated by tools/make-envelope-vectors.ts; rejections are fed in order to the toy ' +
      '(roster: mum, dad) with wall clock = createdSeconds of mum-to-toy and no prior replay record: all chunks but the last open, ' +
      'the last (or, with finish, the end of the message) gives the error code.',
    version: 1,
    identities,
    messages,
    rejections,
  };
}
