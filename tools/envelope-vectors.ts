/**
 * Builds the envelope v2 test vectors (tests/vectors/envelope-v2.json) with the
 * real sealer and fixed THROWAWAY keys. Portable (runs in Node and in XS), so
 * both tiers can check that the committed JSON equals what the sealer produces.
 * Written to disk by tools/make-envelope-vectors.ts.
 *
 * Randomness is scripted: per message the sealer draws one 32-byte seed, and
 * these are the bytes given here. Every intermediate value (pair keys, seal
 * key, message id, content key, wrap and tag nonces, one-time keys, tags) is
 * listed so that a second implementation can find its first difference.
 */
import type { CryptoPort, RandomPort, StoragePort } from '../hal/ports.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { EnvelopeSealer, tagKey } from '../src/envelope-sealer.js';
import {
  HEADER_BYTES,
  LABEL_MESSAGE,
  LABEL_SEAL_KEY,
  NONCE_KIND_CHUNK,
  NONCE_KIND_FINAL,
  NONCE_KIND_WRAP,
  OFF_FLAGS,
  OFF_INDEX,
  OFF_RECIPIENTS,
  OFF_SENDER,
  TAG_BYTES,
  WRAP_BYTES,
  asciiBytes,
  concatBytes,
  pairKey,
  readChunkHeader,
  toHex,
  writeNonce,
  writeU32,
} from '../src/envelope-format.js';

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

export interface VectorIdentity { secretKey: string; publicKey: string; sealKey: string }
export interface VectorTag { slot: number; nonce: string; oneTimeKey: string; tag: string }
export interface VectorChunk { index: number; final: boolean; nonce: string; packets: string[]; plaintext: string; bytes: string; key: string; tags: VectorTag[] }
export interface VectorMessage {
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
  chunks: VectorChunk[];
}
/**
 * Fed in order to a fresh toy (roster: mum, dad; no replay record; wall clock =
 * nowSeconds, default createdSeconds of mum-to-toy): every chunk but the last is
 * accepted (and with finishEach, a message is finished after its final chunk);
 * the last chunk (or, with finish, the end of the message) gives `error`.
 */
export interface VectorRejection { name: string; chunks: string[]; finish?: boolean; finishEach?: boolean; nowSeconds?: number; error: string }
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

/** Recomputes a chunk's recipient tags with the given pair keys (for rejection vectors whose tags must still verify). */
function retag(c: CryptoPort, chunk: Uint8Array, keys: Uint8Array[]): Uint8Array {
  const h = readChunkHeader(chunk);
  const out = chunk.slice();
  const nonce = new Uint8Array(24);
  keys.forEach((k, j) => {
    const otk = tagKey(c, k, h.messageId, h.index, j, nonce, new Uint8Array(32));
    out.set(c.onetimeauth(out.subarray(0, h.tagsAt), otk), h.tagsAt + j * TAG_BYTES);
  });
  return out;
}

/** Replaces a chunk's body by secretbox(plain) under ck (new length), then retags. */
function rebody(c: CryptoPort, chunk: Uint8Array, ck: Uint8Array, plain: Uint8Array, keys: Uint8Array[]): Uint8Array {
  const h = readChunkHeader(chunk);
  const nonce = new Uint8Array(24);
  writeNonce(nonce, h.messageId, h.index, h.final ? NONCE_KIND_FINAL : NONCE_KIND_CHUNK);
  const box = c.secretbox(plain, nonce, ck);
  const out = new Uint8Array(h.bodyAt + box.length + h.recipients * TAG_BYTES);
  out.set(chunk.subarray(0, h.bodyAt));
  out.set(box, h.bodyAt);
  return retag(c, out, keys);
}

/**
 * Builds the vectors. Deterministic: same output on every engine and with every CryptoPort
 * (`crypto`: tweetnacl by default; the device tier passes the native one, tests/device-vectors.ts).
 * `v1ChunkHex`: a v1 chunk for the "v1 refused" vector, tests/vectors/envelope-v1.json
 * messages[1].chunks[0].bytes (V1_CHUNK_HEX reads it; passed in so that this file imports
 * no JSON and also builds into the device tier's firmware).
 */
export function makeEnvelopeVectors(v1ChunkHex: string, crypto: CryptoPort = naclCrypto): EnvelopeVectors {
  const c = crypto;
  const ids: Record<string, { sk: Uint8Array; pk: Uint8Array }> = {};
  const idSpec: [string, number, number][] = [['toy', 0x10, 3], ['mum', 0x20, 5], ['dad', 0x30, 7]];
  for (const [name, start, step] of idSpec) {
    const sk = seq(32, start, step);
    ids[name] = { sk, pk: c.boxKeyPairFromSecret(sk).publicKey };
  }
  const identities: Record<string, VectorIdentity> = {};
  for (const k of Object.keys(ids)) {
    const sealKey = c.sha512(concatBytes([asciiBytes(LABEL_SEAL_KEY), ids[k]!.sk])).subarray(0, 32);
    identities[k] = { secretKey: toHex(ids[k]!.sk), publicKey: toHex(ids[k]!.pk), sealKey: toHex(sealKey) };
  }

  const spec = [
    { name: 'toy-to-family', sender: 'toy', recipients: ['mum', 'dad'], counter: 42, created: 1795910400, ppc: 3, pad: 256, lengths: [40, 38, 1, 60, 300, 41, 39], seed: 7, seedStart: 0xa0 },
    { name: 'mum-to-toy', sender: 'mum', recipients: ['toy'], counter: 7, created: 1795910500, ppc: 2, pad: 0, lengths: [35, 36, 37, 38, 2], seed: 9, seedStart: 0xb0 },
    { name: 'one-chunk', sender: 'dad', recipients: ['toy'], counter: 1, created: 1795910600, ppc: 15, pad: 64, lengths: [20, 21], seed: 11, seedStart: 0xc0 },
  ];
  const messages: VectorMessage[] = [];
  const nonce = new Uint8Array(24);
  const zero32 = new Uint8Array(32);
  for (const m of spec) {
    const sender = ids[m.sender]!;
    const seed = seq(32, m.seedStart, 1);
    const shared = m.recipients.map((r) => c.boxBefore(ids[r]!.pk, sender.sk));
    const pks = m.recipients.map((r, j) => pairKey(c, shared[j]!, sender.pk, ids[r]!.pk));
    const sealer = new EnvelopeSealer({
      crypto: c,
      random: new ScriptedRandom(seed),
      storage: new OneCounterStorage(m.counter - 1),
      clock: { wallNow: () => m.created * 1000 + 999 },
      senderPublicKey: sender.pk,
      senderSecretKey: sender.sk,
      packetsPerChunk: m.ppc,
      padBlock: m.pad,
    });
    const msg = sealer.begin(pks);
    const messageId = msg.messageId.slice();
    const ctr = new Uint8Array(4);
    writeU32(ctr, 0, m.counter);
    const d = c.sha512(concatBytes([asciiBytes(LABEL_MESSAGE), fromHex(identities[m.sender]!.sealKey), sender.pk, ctr, seed]));
    const contentKey = d.slice(32, 64);
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
      writeNonce(nonce, messageId, 0, NONCE_KIND_WRAP, j);
      return { slot: j, recipient: r, sharedKey: toHex(shared[j]!), pairKey: toHex(pks[j]!), nonce: toHex(nonce), plaintext: toHex(wrapPlain), sealed: toHex(c.secretbox(wrapPlain, nonce, pks[j]!)) };
    });
    let pi = 0;
    const chunks: VectorChunk[] = bytes.map((b, index) => {
      const final = index === bytes.length - 1;
      const n = Math.min(m.ppc, packets.length - pi);
      const ps = packets.slice(pi, pi + n);
      pi += n;
      const plain: number[] = [];
      for (const p of ps) plain.push(p.length >> 8, p.length & 0xff, ...p);
      if (m.pad > 0) while (plain.length % m.pad !== 0) plain.push(0);
      writeNonce(nonce, messageId, index, final ? NONCE_KIND_FINAL : NONCE_KIND_CHUNK);
      const cn = toHex(nonce);
      const h = readChunkHeader(b);
      const tags = pks.map((k, j) => {
        const otk = tagKey(c, k, messageId, index, j, nonce, zero32);
        return { slot: j, nonce: toHex(nonce), oneTimeKey: toHex(otk), tag: toHex(b.subarray(h.tagsAt + j * TAG_BYTES, h.tagsAt + (j + 1) * TAG_BYTES)) };
      });
      return { index, final, nonce: cn, packets: ps.map((p) => toHex(p)), plaintext: toHex(Uint8Array.from(plain)), bytes: toHex(b), key: `${toHex(messageId)}.${toHex(Uint8Array.of(index >> 8, index & 0xff))}`, tags };
    });
    messages.push({
      name: m.name,
      sender: m.sender,
      recipients: m.recipients,
      seed: toHex(seed),
      messageId: toHex(messageId),
      contentKey: toHex(contentKey),
      counter: m.counter,
      createdSeconds: m.created,
      packetsPerChunk: m.ppc,
      padBlock: m.pad,
      wraps,
      chunks,
    });
  }

  // Rejections, for the toy as receiver (chunks fed in order).
  const mtMsg = messages[1]!;
  const mt = mtMsg.chunks.map((x) => fromHex(x.bytes));
  const tf = messages[0]!.chunks.map((x) => fromHex(x.bytes));
  const mumKey = [fromHex(mtMsg.wraps[0]!.pairKey)];
  const ck = fromHex(mtMsg.contentKey);
  const hex = (b: Uint8Array) => toHex(b);
  const edit = (b: Uint8Array, f: (x: Uint8Array) => void) => {
    const x = b.slice();
    f(x);
    return x;
  };
  const retagMum = (b: Uint8Array) => retag(c, b, mumKey);
  // mum-to-toy's header for chunk 1 in front of toy-to-family's chunk-1 body (tags as they were).
  const spliced = concatBytes([mt[1]!.subarray(0, HEADER_BYTES), tf[1]!.subarray(HEADER_BYTES, tf[1]!.length - 2 * TAG_BYTES), mt[1]!.subarray(mt[1]!.length - TAG_BYTES)]);
  const smallOrder = new Uint8Array(32);
  smallOrder[0] = 1;
  const plainOf = (i: number) => fromHex(mtMsg.chunks[i]!.plaintext);
  const created = mtMsg.createdSeconds;
  const v1 = fromHex(v1ChunkHex);
  // Five messages from mum (counters 20..24), two chunks each: only their heads are fed.
  const mumSealer = (counter: number, seed: Uint8Array, ppc: number) =>
    new EnvelopeSealer({ crypto: c, random: new ScriptedRandom(seed), storage: new OneCounterStorage(counter - 1), clock: { wallNow: () => created * 1000 }, senderPublicKey: ids.mum!.pk, senderSecretKey: ids.mum!.sk, packetsPerChunk: ppc });
  const busyHeads = [0, 1, 2, 3, 4].map((i) => {
    const msg = mumSealer(20 + i, seq(32, 0x11 * (i + 1), 3), 1).begin(mumKey);
    msg.addPacket(Uint8Array.of(i + 1));
    const head = msg.addPacket(Uint8Array.of(i + 2))!;
    msg.abort();
    return head;
  });
  // 3000 one-byte packets in 30 chunks, then the final chunk re-sealed with 101 packets.
  const longSealer = mumSealer(30, seq(32, 0x77, 5), 100);
  const longMsg = longSealer.begin(mumKey);
  const long: Uint8Array[] = [];
  for (let i = 0; i < 3000; i++) {
    const out = longMsg.addPacket(Uint8Array.of(i & 0xff || 1));
    if (out) long.push(out);
  }
  const lastPlain = new Uint8Array(101 * 3);
  for (let i = 0; i < 101; i++) lastPlain.set([0, 1, 0x5a], i * 3);
  const longCk = c.sha512(concatBytes([asciiBytes(LABEL_MESSAGE), fromHex(identities.mum!.sealKey), ids.mum!.pk, Uint8Array.of(0, 0, 0, 30), seq(32, 0x77, 5)])).slice(32, 64);
  const finalChunk = longMsg.finish();
  const tooLong = [...long, rebody(c, finalChunk, longCk, lastPlain, mumKey)];
  const rejections: VectorRejection[] = [
    { name: 'empty', chunks: [''], error: 'SHORT' },
    { name: 'a version 1 chunk (mum-to-toy head of envelope-v1.json)', chunks: [hex(v1)], error: 'VERSION' },
    { name: 'unknown version 3', chunks: [hex(edit(mt[0]!, (x) => (x[0] = 3)))], error: 'VERSION' },
    { name: 'version byte alone', chunks: ['02'], error: 'SHORT' },
    { name: 'shorter than the smallest chunk (87 bytes)', chunks: [hex(mt[0]!.subarray(0, 87))], error: 'SHORT' },
    { name: 'longer than 2693 bytes', chunks: [hex(concatBytes([mt[0]!, new Uint8Array(2694 - mt[0]!.length)]))], error: 'TOO_LARGE' },
    { name: 'unknown flag bit', chunks: [hex(edit(mt[0]!, (x) => (x[OFF_FLAGS] = 0x02)))], error: 'MALFORMED' },
    { name: 'recipient count 0', chunks: [hex(edit(mt[0]!, (x) => (x[OFF_RECIPIENTS] = 0)))], error: 'MALFORMED' },
    { name: 'recipient count 9', chunks: [hex(edit(mt[0]!, (x) => (x[OFF_RECIPIENTS] = 9)))], error: 'MALFORMED' },
    { name: 'chunk index 3000', chunks: [hex(edit(mt[1]!, (x) => ((x[OFF_INDEX] = 3000 >> 8), (x[OFF_INDEX + 1] = 3000 & 0xff))))], error: 'MALFORMED' },
    { name: 'head shorter than its 8 declared wraps', chunks: [hex(edit(mt[0]!, (x) => (x[OFF_RECIPIENTS] = 8)))], error: 'SHORT' },
    { name: 'later chunk body over 2048 + 16 bytes', chunks: [hex(concatBytes([mt[1]!.subarray(0, HEADER_BYTES), new Uint8Array(2048 + 17), new Uint8Array(16)]))], error: 'TOO_LARGE' },
    { name: 'sender not in roster (toy-to-family head)', chunks: [hex(tf[0]!)], error: 'UNKNOWN_SENDER' },
    { name: 'sender key of small order (u = 1)', chunks: [hex(edit(mt[0]!, (x) => x.set(smallOrder, OFF_SENDER)))], error: 'UNKNOWN_SENDER' },
    { name: 'reflection: toy-to-family head relabelled as from mum', chunks: [hex(edit(tf[0]!, (x) => x.set(ids.mum!.pk, OFF_SENDER)))], error: 'NOT_RECIPIENT' },
    { name: 'mum-to-toy head relabelled as from dad', chunks: [hex(edit(mt[0]!, (x) => x.set(ids.dad!.pk, OFF_SENDER)))], error: 'NOT_RECIPIENT' },
    { name: 'key wrap bit flipped', chunks: [hex(edit(mt[0]!, (x) => (x[HEADER_BYTES + 8]! ^= 0x80)))], error: 'NOT_RECIPIENT' },
    { name: 'recipient tag bit flipped', chunks: [hex(edit(mt[0]!, (x) => (x[x.length - 1]! ^= 1)))], error: 'AUTH' },
    { name: 'body bit flipped (tag not recomputed)', chunks: [hex(edit(mt[0]!, (x) => (x[HEADER_BYTES + WRAP_BYTES + 20]! ^= 1)))], error: 'AUTH' },
    { name: 'body bit flipped, tag recomputed by the sender (content-key box fails)', chunks: [hex(retagMum(edit(mt[0]!, (x) => (x[HEADER_BYTES + WRAP_BYTES + 20]! ^= 1))))], error: 'AUTH' },
    { name: 'bad packet framing (length 1276), sealed and tagged by the sender', chunks: [hex(rebody(c, mt[0]!, ck, Uint8Array.of(0x04, 0xfc, 1, 2, 3), mumKey))], error: 'MALFORMED' },
    { name: 'non-zero byte in padding, sealed and tagged by the sender', chunks: [hex(rebody(c, mt[0]!, ck, concatBytes([plainOf(0), Uint8Array.of(0, 0, 0, 5)]), mumKey))], error: 'MALFORMED' },
    { name: 'expired: now = created + 7 days + 1 s', chunks: [hex(mt[0]!)], nowSeconds: created + 7 * 86400 + 1, error: 'EXPIRED' },
    { name: 'from the future: now = created - 601 s', chunks: [hex(mt[0]!)], nowSeconds: created - 601, error: 'FUTURE' },
    { name: 'head again after the message was finished', chunks: [...mt.map(hex), hex(mt[0]!)], finishEach: true, error: 'REPLAY' },
    { name: 'head again while the message is open', chunks: [hex(mt[0]!), hex(mt[0]!)], error: 'DUPLICATE' },
    { name: 'later chunk without its head', chunks: [hex(mt[1]!)], error: 'ORDER' },
    { name: 'chunk 2 skipped', chunks: [hex(mt[0]!), hex(mt[2]!)], error: 'ORDER' },
    { name: 'chunk 1 sent twice', chunks: [hex(mt[0]!), hex(mt[1]!), hex(mt[1]!)], error: 'DUPLICATE' },
    { name: 'chunk after the final chunk (index 3, tagged by the sender)', chunks: [...mt.map(hex), hex(retagMum(edit(mt[2]!, (x) => (x[OFF_INDEX + 1] = 3))))], error: 'ORDER' },
    { name: 'final flag set on a non-final chunk', chunks: [hex(mt[0]!), hex(edit(mt[1]!, (x) => (x[OFF_FLAGS] = 1)))], error: 'AUTH' },
    { name: 'final flag set on a non-final chunk, tagged by the sender (content-key box fails)', chunks: [hex(mt[0]!), hex(retagMum(edit(mt[1]!, (x) => (x[OFF_FLAGS] = 1))))], error: 'AUTH' },
    { name: 'chunk 2 relabelled as chunk 1', chunks: [hex(mt[0]!), hex(edit(mt[2]!, (x) => ((x[OFF_INDEX + 1] = 1), (x[OFF_FLAGS] = 0))))], error: 'AUTH' },
    { name: 'sender changed on a later chunk', chunks: [hex(mt[0]!), hex(edit(mt[1]!, (x) => x.set(ids.dad!.pk, OFF_SENDER)))], error: 'AUTH' },
    { name: 'recipient count changed on a later chunk', chunks: [hex(mt[0]!), hex(concatBytes([edit(mt[1]!, (x) => (x[OFF_RECIPIENTS] = 2)), new Uint8Array(16)]))], error: 'AUTH' },
    { name: 'chunk body spliced from another message', chunks: [hex(mt[0]!), hex(spliced)], error: 'AUTH' },
    { name: 'truncated: final chunk never arrives', chunks: [hex(mt[0]!), hex(mt[1]!)], finish: true, error: 'TRUNCATED' },
    { name: 'a fifth message head while four are open and incomplete (none older than 10 min)', chunks: busyHeads.map(hex), error: 'BUSY' },
    { name: '3001 packets: a final chunk over 60 s, sealed and tagged by the sender', chunks: tooLong.map(hex), error: 'TOO_LONG' },
  ];

  return {
    comment:
      'PawPost envelope v2 test vectors (docs/PROTOCOL.md, "Envelope"). THROWAWAY keys: never use them. ' +
      'All byte strings are lower-case hex. Generated by tools/make-envelope-vectors.ts; rejections are fed in order to the toy ' +
      '(roster: mum, dad) with wall clock = nowSeconds (default: createdSeconds of mum-to-toy) and no prior replay record: all chunks but the last open ' +
      '(with finishEach, a message is finished after its final chunk), the last (or, with finish, the end of the message) gives the error code.',
    version: 2,
    identities,
    messages,
    rejections,
  };
}
