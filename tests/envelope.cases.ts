/**
 * Envelope cases run in both tiers (tests/envelope.test.ts in Node with ava,
 * tests/envelope.xs.ts inside XS). Portable.
 */
import {
  EnvelopeOpener,
  HEADER_BYTES,
  MAX_CHUNK_BYTES,
  MAX_PACKETS,
  ReplayGuard,
  RosterKeys,
  SEND_COUNTER_KEY,
  WRAP_BYTES,
  chunkKey,
  peekChunk,
  RECEIVE_RECORD_KEY,
  TAG_BYTES,
  DEFAULT_PAD_BLOCK,
  MIN_PACKET_ROOM,
  toHex,
  readChunkHeader,
  readChunkHeaderInto,
  newChunkInfo,
  chunkKeyCodes,
} from '../src/envelope.js';
import { Roster } from '../src/roster.js';
import { PhoneEnvelope } from '../phone/phone-envelope.js';
import { STORAGE_MAX_VALUE_BYTES } from '../hal/ports.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import type { CryptoPort } from '../hal/ports.js';
import { CountingCrypto, World, makePackets, openAll, sameBytes, samePackets, sealAll, throwsCode, withInPlaceCrypto, type EnvelopeCase } from './envelope-world.js';

const DAY = 24 * 3600 * 1000;

export const envelopeCases: EnvelopeCase[] = [
  {
    name: 'issue 13, ReplayGuard works on the record\'s bytes: the same records and answers as the entry-list model it replaced (eviction, window, reorder)',
    fn: (t) => {
      const storage = new MemoryStorage();
      const guard = new ReplayGuard(storage);
      type E = { key: Uint8Array; high: number; window: number };
      const model: E[] = [];
      const encode = (es: E[]) => {
        const v = new Uint8Array(2 + es.length * 40);
        v[0] = 2;
        v[1] = es.length;
        es.forEach((e, i) => {
          v.set(e.key, 2 + i * 40);
          const dv = new DataView(v.buffer);
          dv.setUint32(2 + i * 40 + 32, e.high);
          dv.setUint32(2 + i * 40 + 36, e.window);
        });
        return v;
      };
      const keys = Array.from({ length: 40 }, (_, i) => new Uint8Array(32).fill(i + 1));
      let seed = 7;
      const rnd = (n: number) => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return (seed >>> 8) % n;
      };
      for (let step = 0; step < 400; step++) {
        const key = keys[rnd(40)]!;
        const e = model.find((x) => sameBytes(x.key, key));
        const counter = Math.max(1, (e?.high ?? 5) + rnd(40) - 20);
        let want = 'ok';
        if (e && counter <= e.high) {
          const d = e.high - counter;
          if (d === 0 || d > 32 || (e.window & (1 << (d - 1))) !== 0) want = 'REPLAY';
        }
        let got = 'ok';
        try {
          guard.check(key, counter);
        } catch (err) {
          got = (err as { code: string }).code;
        }
        t.is(got, want, `check at step ${step}`);
        if (want !== 'ok') continue;
        guard.commit(key, counter);
        const i = model.findIndex((x) => sameBytes(x.key, key));
        let m: E;
        if (i < 0) {
          m = { key, high: counter, window: 0 };
          if (model.length >= 32) model.shift();
        } else {
          m = model[i]!;
          model.splice(i, 1);
          if (counter > m.high) {
            const shift = counter - m.high;
            m.window = shift > 32 ? 0 : shift === 32 ? 0x80000000 : ((m.window << shift) | (1 << (shift - 1))) >>> 0;
            m.high = counter;
          } else if (counter < m.high && m.high - counter <= 32) m.window = (m.window | (1 << (m.high - counter - 1))) >>> 0;
        }
        model.push(m);
        t.true(sameBytes(storage.read(RECEIVE_RECORD_KEY)!, encode(model)), `record at step ${step}`);
      }
      t.is(guard.counters.get('replay.evicted') > 0, true, 'evictions exercised');
      storage.write(RECEIVE_RECORD_KEY, new Uint8Array([2, 3, 1])); // corrupt: counted, replaced by the one entry
      guard.commit(keys[0]!, 9);
      t.true(sameBytes(storage.read(RECEIVE_RECORD_KEY)!, encode([{ key: keys[0]!, high: 9, window: 0 }])));
      t.is(guard.counters.get('replay.corrupt'), 1);
    },
  },
  {
    name: 'issue 13, the sealer\'s per-message scratch made once: messages in a row and overlapping ones open alike, in place or not; a second abort() of an old message leaves the newer one\'s buffer alone',
    fn: (t) => {
      for (const inPlace of [false, true]) {
        const w = new World(['mum', 'dad']);
        if (inPlace) withInPlaceCrypto(w.crypto);
        const said = [makePackets(40, 21), makePackets(30, 22), makePackets(20, 23)];
        const a = w.toy.begin();
        const ca = sealAll(a, said[0]!);
        const b = w.toy.begin(); // the sealer's buffer and scratch again (a is finished)
        const c = w.toy.begin(); // b is open: c gets its own
        const cb: Uint8Array[] = [];
        const cc: Uint8Array[] = [];
        for (let i = 0; i < 30; i++) {
          const x = b.addPacket(said[1]![i]!);
          if (x) cb.push(x);
          if (i < 20) {
            const y = c.addPacket(said[2]![i]!);
            if (y) cc.push(y);
          }
        }
        a.abort(); // a second abort of a finished message: b's buffer and keys stay
        cb.push(b.finish());
        cc.push(c.finish());
        for (const phone of w.phones) {
          for (const [chunks, want] of [[ca, said[0]!], [cb, said[1]!], [cc, said[2]!]] as const) {
            const { packets, results } = openAll(phone.env.opener, chunks);
            t.true(samePackets(packets, want), `${phone.id} opens (in place ${inPlace})`);
            phone.env.opener.finish(results[0]!.info.messageKey);
          }
        }
        const scratch = (w.toy as unknown as { sealer: { scratch?: { keys: Uint8Array[]; wrapBox: Uint8Array; tk: Uint8Array } } }).sealer.scratch;
        t.true(scratch !== undefined, 'the sealer kept its scratch');
        t.true(scratch!.keys.every((k) => k.every((x) => x === 0)) && scratch!.wrapBox.every((x) => x === 0) && scratch!.tk.every((x) => x === 0), 'keys and scratch zeroed after the messages');
      }
    },
  },
  {
    name: 'issue 13, the toy\'s receive side without allocations: readChunkHeaderInto and chunkKeyCodes give readChunkHeader\'s and chunkKey\'s values, the same errors',
    fn: (t) => {
      const w = new World(['mum', 'dad']);
      const chunks = sealAll(w.phones[0]!.env.begin(), makePackets(40, 2));
      const into = newChunkInfo();
      const codes: number[] = [];
      for (const c of chunks) {
        const a = readChunkHeader(c);
        const b = readChunkHeaderInto(c, into);
        t.is(b, into, 'the same object back');
        t.true(sameBytes(b.messageId, a.messageId) && sameBytes(b.sender, a.sender), 'id and sender copied');
        t.true(b.messageId.buffer !== c.buffer && b.sender.buffer !== c.buffer, 'own buffers, not views of the chunk');
        t.deepEqual([b.messageKey, b.index, b.final, b.recipients, b.bodyAt, b.tagsAt], [a.messageKey, a.index, a.final, a.recipients, a.bodyAt, a.tagsAt]);
        t.true(chunkKeyCodes(c, codes));
        t.is(String.fromCharCode(...codes), chunkKey(c)!, 'the dedupe key\'s characters');
      }
      const before = into.messageKey;
      const bad = chunks[1]!.slice();
      bad[2] = 0; // no recipients
      throwsCode(t, () => readChunkHeader(bad), 'MALFORMED');
      throwsCode(t, () => readChunkHeaderInto(bad, into), 'MALFORMED');
      t.is(into.messageKey, before, 'unchanged on a throw');
      t.false(chunkKeyCodes(bad, codes), 'no key for a malformed header');
      t.is(chunkKey(bad), undefined);
      throwsCode(t, () => readChunkHeaderInto(chunks[0]!, { ...newChunkInfo(), sender: new Uint8Array(3) }), 'STATE');
    },
  },
  {
    name: 'issue 13, in place: the toy\'s admit (allocation-free recipient tag) and play (body opened in the chunk, one reused result) give the allocating openers\' packets; every tampered chunk is still refused',
    fn: (t) => {
      const packets = makePackets(60, 4);
      const open = (inPlace: boolean, mode: 'admit' | 'play') => {
        const w = new World(['mum', 'dad']);
        if (inPlace) withInPlaceCrypto(w.crypto);
        const chunks = sealAll(w.phones[1]!.env.begin(), packets); // dad → toy
        w.crypto.calls = {}; // the opener's calls only (the phone shares this crypto)
        const opener = new EnvelopeOpener({ crypto: w.crypto, keys: w.toy.keys, clock: w.clock, mode, packetViews: false, inPlace, reuseResult: inPlace });
        return { w, chunks, opener };
      };
      for (const mode of ['admit', 'play'] as const) {
        const a = open(false, mode);
        const b = open(true, mode);
        t.true(b.chunks.every((c, i) => sameBytes(c, a.chunks[i]!)), 'the same chunks (same seed)');
        const copies = b.chunks.map((c) => c.slice());
        const ra = openAll(a.opener, a.chunks);
        const rb = openAll(b.opener, copies);
        t.true(samePackets(rb.packets, ra.packets), `${mode}: the same packets`);
        if (mode === 'play') t.true(samePackets(rb.packets, packets), 'the packets sealed');
        t.true(rb.results.every((r) => r === rb.results[0]), `${mode}: one reused result object`);
        t.is(b.w.crypto.calls.onetimeauth ?? 0, 0, 'no allocating onetimeauth');
        t.is(b.w.crypto.calls.secretboxOpen ?? 0, 1, 'secretboxOpen only for the head\'s key wrap');
        if (mode === 'admit') t.is(b.w.crypto.calls.onetimeauthInto, b.chunks.length, 'a tag checked per chunk');
        else t.is(b.w.crypto.calls.secretboxOpenInPlace, b.chunks.length, 'every body opened in place');
        b.opener.finish(rb.results[0]!.info.messageKey);
        // tampering: header, body, my tag; each refused (AUTH) by the in-place opener as by the allocating one
        for (const at of [25, b.chunks[1]!.length - 40, b.chunks[1]!.length - 1]) {
          const fresh = open(true, mode);
          const fresh0 = open(false, mode);
          fresh.opener.push(fresh.chunks[0]!.slice());
          fresh0.opener.push(fresh0.chunks[0]!.slice());
          const c1 = fresh.chunks[1]!.slice();
          c1[at] ^= 0x10;
          let codeA = 'none';
          let codeB = 'none';
          try {
            fresh0.opener.push(c1.slice());
          } catch (e) {
            codeA = (e as { code: string }).code;
          }
          try {
            fresh.opener.push(c1);
          } catch (e) {
            codeB = (e as { code: string }).code;
          }
          t.is(codeB, codeA, `${mode}: byte ${at} tampered: the same answer as the allocating opener`);
          if (at !== c1.length - 1) t.is(codeB, 'AUTH', `${mode}: a tampered header or body byte ${at} is refused`);
        }
      }
    },
  },
  {
    name: 'toy → family: sealed once, every member opens exactly the packets, chunk by chunk',
    fn: (t) => {
      const w = new World(['mum', 'dad', 'gran']);
      const packets = makePackets(50, 3); // 1 s of audio
      const before = { ...w.crypto.calls };
      const msg = w.toy.begin();
      const chunks = sealAll(msg, packets);
      t.is(chunks.length, 4, '50 packets at 15 per chunk');
      // One secretbox per wrap and per chunk: the audio is sealed once, not per member;
      // per chunk and member only a 32-byte secretbox (the tag key) and a Poly1305.
      t.is((w.crypto.calls.secretbox ?? 0) - (before.secretbox ?? 0), 3 + 4 + 4 * 3);
      t.is((w.crypto.calls.onetimeauth ?? 0) - (before.onetimeauth ?? 0), 4 * 3);
      const plain0 = packets.slice(0, 15).reduce((n, p) => n + 2 + p.length, 0);
      t.is(chunks[0]!.length, HEADER_BYTES + 3 * WRAP_BYTES + 16 + Math.ceil(plain0 / DEFAULT_PAD_BLOCK) * DEFAULT_PAD_BLOCK + 3 * TAG_BYTES);
      for (const phone of w.phones) {
        const { packets: got, results } = openAll(phone.env.opener, chunks);
        t.true(samePackets(got, packets), `${phone.id} gets the packets`);
        t.deepEqual(results.map((r) => r.final), [false, false, false, true]);
        t.is(results[0]!.info.counter, 1);
        t.is(results[0]!.info.createdMs, Math.floor(w.clock.wallNow() / 1000) * 1000);
        phone.env.opener.finish(results[0]!.info.messageKey);
      }
      t.is(w.crypto.calls.boxBefore ?? 0, before.boxBefore ?? 0, 'no X25519 per message');
    },
  },
  {
    name: 'reservePacket/commitPacket (the encoder writes into the lent plaintext): the same chunks as addPacket, opened alike; the plaintext is the sealer\'s, reused',
    fn: (t) => {
      const packets = makePackets(50, 5);
      const seal = (lent: boolean) => {
        const w = new World(['mum', 'dad']);
        if (lent) {
          // and the allocation-free crypto calls (as hal/moddable-crypto.ts has them): same bytes
          const c = w.crypto as CountingCrypto & Pick<CryptoPort, 'secretboxInPlace' | 'onetimeauthInto'>;
          // bound: in the native tier naclCrypto is the device's ModdableCrypto, whose methods use `this`
          c.secretboxInPlace = (b, o, l, n, k) => naclCrypto.secretboxInPlace!(b, o, l, n, k);
          c.onetimeauthInto = (t16, b, o, l, k) => naclCrypto.onetimeauthInto!(t16, b, o, l, k);
        }
        const msg = w.toy.begin();
        const chunks: Uint8Array[] = [];
        for (const p of packets) {
          if (!lent) {
            const c = msg.addPacket(p);
            if (c) chunks.push(c);
            continue;
          }
          const c = msg.reservePacket();
          if (c) chunks.push(c.slice()); // lent: valid until the next call on the message
          t.true(msg.packetRoom >= MIN_PACKET_ROOM && msg.packetRoom <= 1275);
          msg.plaintext.set(p, msg.packetAt);
          msg.commitPacket(p.length);
        }
        chunks.push(msg.finish());
        return { w, chunks };
      };
      const a = seal(false);
      const b = seal(true);
      t.deepEqual(b.chunks.map((c) => c.length), a.chunks.map((c) => c.length));
      // the same World seed gives the same keys and ids: the chunks are byte for byte the same
      t.true(b.chunks.every((c, i) => sameBytes(c, a.chunks[i]!)), 'identical chunks');
      const { packets: got } = openAll(b.w.phones[0]!.env.opener, b.chunks);
      t.true(samePackets(got, packets));
      // bounds: a length beyond the room or without a reservation is refused, the message stays usable
      const msg = b.w.toy.begin();
      throwsCode(t, () => msg.commitPacket(10), 'STATE');
      msg.reservePacket();
      throwsCode(t, () => msg.commitPacket(msg.packetRoom + 1), 'TOO_LARGE');
      throwsCode(t, () => msg.commitPacket(0), 'TOO_LARGE');
      msg.plaintext.set(packets[0]!, msg.packetAt);
      msg.commitPacket(packets[0]!.length);
      const buf = msg.plaintext;
      t.true(b.w.toy.begin().plaintext.buffer !== buf.buffer, 'a second open message gets its own buffer');
      msg.abort();
      t.true(buf.every((x) => x === 0), 'zeroed at abort');
      t.is(b.w.toy.begin().plaintext.buffer, buf.buffer, 'the next message borrows the sealer\'s buffer again');
    },
  },
  {
    name: 'reservePacket closes a chunk early when less than 2 + MIN_PACKET_ROOM bytes are left, never overflows 2048',
    fn: (t) => {
      const w = new World(['mum']);
      const msg = w.toy.begin();
      const big = new Uint8Array(500).fill(7);
      const chunks: Uint8Array[] = [];
      let cuts = 0;
      for (let i = 0; i < 12; i++) {
        const c = msg.reservePacket();
        if (c) {
          chunks.push(c.slice());
          cuts++;
        }
        t.true(msg.packetAt + msg.packetRoom <= 2048);
        msg.plaintext.set(big, msg.packetAt);
        msg.commitPacket(big.length);
      }
      chunks.push(msg.finish());
      t.is(cuts, 2, 'four 502-byte packets (2,008 B with their lengths) fill a chunk: less than 258 B left');
      const { packets: got } = openAll(w.phones[0]!.env.opener, chunks);
      t.is(got.length, 12);
    },
  },
  {
    name: 'family → toy: the toy opens a member message; chunks stream out before the paw is released',
    fn: (t) => {
      const w = new World(['mum', 'dad']);
      const dad = w.phones[1]!;
      const msg = dad.env.begin();
      const packets = makePackets(40, 9);
      let firstChunkAt = -1;
      const chunks: Uint8Array[] = [];
      packets.forEach((p, i) => {
        const c = msg.addPacket(p);
        if (c) {
          chunks.push(c);
          if (firstChunkAt < 0) firstChunkAt = i;
        }
      });
      t.is(firstChunkAt, 15, 'the head leaves when the 16th packet (320 ms) arrives');
      t.is(chunks.length, 2);
      chunks.push(msg.finish());
      const { packets: got, results } = openAll(w.toy.arrivals, chunks);
      t.true(samePackets(got, packets));
      t.true(sameBytes(results[0]!.info.sender, dad.publicKey), 'sender is dad');
      t.true(sameBytes(peekChunk(chunks[1]!)!.sender, dad.publicKey));
    },
  },
  {
    name: 'a stranger, a reflected message and a forged sender field are rejected before any audio is decoded',
    fn: (t) => {
      const w = new World(['mum', 'dad']);
      const strangerSecret = new Uint8Array(32).fill(99);
      const stranger = new PhoneEnvelope({ crypto: w.crypto, random: w.random, storage: new MemoryStorage(), clock: w.clock, secretKey: strangerSecret, toyPublicKey: w.toyPublic });
      const s = sealAll(stranger.begin(), makePackets(5, 1));
      const opens = w.crypto.calls.secretboxOpen ?? 0;
      throwsCode(t, () => w.toy.arrivals.push(s[0]!), 'UNKNOWN_SENDER');
      t.is(w.crypto.calls.secretboxOpen ?? 0, opens, 'nothing decrypted for a stranger');
      t.is(w.toy.counters.get('envelope.UNKNOWN_SENDER'), 1);
      // The stranger writes mum's public key as sender: wraps do not open under mum's shared key.
      const forged = s[0]!.slice();
      forged.set(w.phones[0]!.publicKey, 21);
      throwsCode(t, () => w.toy.arrivals.push(forged), 'NOT_RECIPIENT');
      // The toy's own message reflected back to the toy; mum's message delivered to dad's phone.
      const own = sealAll(w.toy.begin(), makePackets(3, 2));
      throwsCode(t, () => w.toy.arrivals.push(own[0]!), 'UNKNOWN_SENDER');
      const mums = sealAll(w.phones[0]!.env.begin(), makePackets(3, 4));
      throwsCode(t, () => w.phones[1]!.env.opener.push(mums[0]!), 'UNKNOWN_SENDER');
      throwsCode(t, () => w.toy.arrivals.push(s[1] ?? s[0]!.subarray(0, 60)), s[1] ? 'ORDER' : 'SHORT');
    },
  },
  {
    name: 'a phone not among the recipients cannot open a toy message (NOT_RECIPIENT)',
    fn: (t) => {
      const w = new World(['mum', 'dad']);
      const chunks = sealAll(w.toy.begin(), makePackets(4, 5));
      // A phone paired to the same toy after the message was sealed: its shared key is not in any wrap.
      const late = new PhoneEnvelope({ crypto: w.crypto, random: w.random, storage: new MemoryStorage(), clock: w.clock, secretKey: new Uint8Array(32).fill(5), toyPublicKey: w.toyPublic });
      throwsCode(t, () => late.opener.push(chunks[0]!), 'NOT_RECIPIENT');
    },
  },
  {
    name: 'replayed and older messages are rejected, also after a restart; playback re-opens without a counter check',
    fn: (t) => {
      const w = new World(['mum']);
      const mum = w.phones[0]!;
      const m1 = sealAll(mum.env.begin(), makePackets(20, 1));
      const m2 = sealAll(mum.env.begin(), makePackets(20, 2));
      openAll(w.toy.arrivals, m2);
      t.true(w.toyStorage.read(RECEIVE_RECORD_KEY) !== undefined, 'replay record stored');
      t.is(openAll(w.toy.arrivals, m1).results[0]!.info.counter, 1, 'an older message that never arrived is accepted once (window)');
      w.toy.arrivals.finish(peekChunk(m1[0]!)!.messageKey);
      throwsCode(t, () => w.toy.arrivals.push(m1[0]!), 'REPLAY', 'older counter, already accepted');
      throwsCode(t, () => w.toy.arrivals.push(m2[0]!), 'DUPLICATE', 'same head again while open');
      w.restartToy();
      throwsCode(t, () => w.toy.arrivals.push(m2[0]!), 'REPLAY', 'replay after restart');
      throwsCode(t, () => w.toy.arrivals.push(m2[1]!), 'ORDER', 'later chunk without its head');
      // The stored, admitted message still plays.
      const { packets } = openAll(w.toy.playback, m2);
      t.true(samePackets(packets, makePackets(20, 2)));
      // The phone's send counter survives its restart: the next message is newer.
      w.restartPhone(0);
      const m3 = sealAll(mum.env.begin(), makePackets(3, 3));
      t.is(w.toy.arrivals.push(m3[0]!).info.counter, 3);
      t.true(mum.storage.read(SEND_COUNTER_KEY) !== undefined);
    },
  },
  {
    name: 'messages expire after 7 days (default) and may not come from the future',
    fn: (t) => {
      const w = new World(['mum']);
      const chunks = sealAll(w.phones[0]!.env.begin(), makePackets(5, 1));
      w.clock.setWall(w.clock.wallNow() + 7 * DAY + 1000);
      throwsCode(t, () => w.toy.playback.push(chunks[0]!), 'EXPIRED');
      w.clock.setWall(w.clock.wallNow() - 7 * DAY - 1000 - 11 * 60 * 1000);
      throwsCode(t, () => w.toy.playback.push(chunks[0]!), 'FUTURE');
      w.clock.setWall(w.clock.wallNow() + 11 * 60 * 1000 + 6 * DAY);
      t.is(w.toy.arrivals.push(chunks[0]!).packets.length, 5, 'inside the lifetime');
      // An unset clock (no SNTP yet) skips time checks and counts it.
      const w2 = new World(['mum']);
      const c2 = sealAll(w2.phones[0]!.env.begin(), makePackets(2, 1));
      w2.clock.setWall(0);
      t.is(w2.toy.arrivals.push(c2[0]!).packets.length, 2);
      t.is(w2.toy.counters.get('envelope.clock_unset'), 1);
    },
  },
  {
    name: 'truncation, reordering, duplication, relabelling, splicing and flag flips are detected',
    fn: (t) => {
      const w = new World(['mum']);
      const mum = w.phones[0]!;
      const a = sealAll(mum.env.begin(), makePackets(60, 1)); // 4 chunks
      const b = sealAll(mum.env.begin(), makePackets(60, 2));
      t.is(a.length, 4);
      const o = w.toy.arrivals;
      o.push(a[0]!);
      throwsCode(t, () => o.push(a[2]!), 'ORDER', 'gap');
      o.push(a[1]!);
      throwsCode(t, () => o.push(a[1]!), 'DUPLICATE');
      const relabel = a[3]!.slice();
      relabel[20] = 2;
      relabel[1] = 0;
      throwsCode(t, () => o.push(relabel), 'AUTH', 'final chunk relabelled as chunk 2');
      const flip = a[2]!.slice();
      flip[1] = 1;
      throwsCode(t, () => o.push(flip), 'AUTH', 'final flag set on chunk 2');
      const splice = new Uint8Array(HEADER_BYTES + b[2]!.length - HEADER_BYTES);
      splice.set(a[2]!.subarray(0, HEADER_BYTES));
      splice.set(b[2]!.subarray(HEADER_BYTES), HEADER_BYTES);
      throwsCode(t, () => o.push(splice), 'AUTH', 'body from another message');
      const sender = a[2]!.slice();
      sender[25]! ^= 1;
      throwsCode(t, () => o.push(sender), 'AUTH', 'sender field changed on a later chunk');
      o.push(a[2]!);
      const key = peekChunk(a[0]!)!.messageKey;
      t.deepEqual(o.incomplete(), [key]);
      throwsCode(t, () => o.finish(key), 'TRUNCATED');
      t.deepEqual(o.incomplete(), []);
      // A complete message finishes cleanly; a chunk after the final one is rejected.
      openAll(o, b);
      throwsCode(t, () => o.push(b[3]!), 'DUPLICATE');
      o.finish(peekChunk(b[0]!)!.messageKey);
    },
  },
  {
    name: 'limits: 60 s, packet sizes, empty messages, chunk sizes, versions and short input are typed errors',
    fn: (t) => {
      const w = new World(['mum', 'dad', 'a', 'b', 'c', 'd', 'e', 'f']);
      t.is(w.roster.size, 8);
      // The largest chunks: 8 wraps and 1275-byte packets stay well under the 4000-byte storage value.
      const big = w.toy.begin();
      const maxPackets = makePackets(4, 1, 1275, 1275);
      const bigChunks = sealAll(big, maxPackets);
      t.is(bigChunks.length, 4, 'one 1275-byte packet per 2048-byte chunk');
      t.true(bigChunks.every((c) => c.length <= MAX_CHUNK_BYTES && c.length < STORAGE_MAX_VALUE_BYTES));
      t.is(MAX_CHUNK_BYTES, 2693);
      // 60 s: 3000 packets accepted, the 3001st is TOO_LONG, and the message still finishes.
      const msg = w.phones[0]!.env.begin();
      const p = new Uint8Array(3).fill(1);
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < MAX_PACKETS; i++) {
        const c = msg.addPacket(p);
        if (c) chunks.push(c);
      }
      throwsCode(t, () => msg.addPacket(p), 'TOO_LONG');
      t.is(msg.durationMs, 60_000);
      chunks.push(msg.finish());
      const { packets } = openAll(w.toy.arrivals, chunks);
      t.is(packets.length, MAX_PACKETS);
      throwsCode(t, () => msg.addPacket(p), 'STATE');
      const m2 = w.phones[0]!.env.begin();
      throwsCode(t, () => m2.addPacket(new Uint8Array(0)), 'TOO_LARGE');
      throwsCode(t, () => m2.addPacket(new Uint8Array(1276)), 'TOO_LARGE');
      throwsCode(t, () => m2.finish(), 'EMPTY');
      // Opener-side bounds.
      const good = sealAll(w.phones[1]!.env.begin(), makePackets(3, 1));
      throwsCode(t, () => w.toy.arrivals.push(new Uint8Array(0)), 'SHORT');
      throwsCode(t, () => w.toy.arrivals.push(good[0]!.subarray(0, HEADER_BYTES - 1)), 'SHORT');
      const v1 = good[0]!.slice();
      v1[0] = 1;
      throwsCode(t, () => w.toy.arrivals.push(v1), 'VERSION');
      throwsCode(t, () => w.toy.arrivals.push(new Uint8Array(MAX_CHUNK_BYTES + 1).fill(2)), 'TOO_LARGE');
      const flags = good[0]!.slice();
      flags[1] = 0x81;
      throwsCode(t, () => w.toy.arrivals.push(flags), 'MALFORMED');
      const count = good[0]!.slice();
      count[2] = 9;
      throwsCode(t, () => w.toy.arrivals.push(count), 'MALFORMED');
      t.is(w.toy.arrivals.push(good[0]!).packets.length, 3, 'the untouched head still opens');
    },
  },
  {
    name: 'padding: chunk sizes no longer follow the Opus packet sizes (within a 256-byte block); padding is zeros and parses back',
    fn: (t) => {
      const w = new World(['mum']);
      const quiet = makePackets(45, 1, 20, 25);
      const loud = makePackets(45, 2, 26, 31);
      const a = sealAll(w.phones[0]!.env.begin(), quiet);
      const b = sealAll(w.phones[0]!.env.begin(), loud);
      t.deepEqual(a.map((c) => c.length), b.map((c) => c.length), 'the same sizes on the wire');
      t.true(samePackets(openAll(w.toy.arrivals, a).packets, quiet));
      t.true(samePackets(openAll(w.toy.arrivals, b).packets, loud));
      const c0 = new PhoneEnvelope({ crypto: w.crypto, random: w.random, storage: new MemoryStorage(), clock: w.clock, secretKey: w.phones[0]!.secretKey, toyPublicKey: w.toyPublic, sharedKey: w.phones[0]!.sharedKey, padBlock: 0 });
      const qa = sealAll(c0.begin(), quiet);
      const qb = sealAll(c0.begin(), loud);
      t.true(qa.some((c, i) => c.length !== qb[i]!.length), 'without padding the sizes differ');
    },
  },
  {
    name: 'cost: admission checks each chunk by its recipient tag without decrypting; playback opens each chunk once',
    fn: (t) => {
      const w = new World(['mum']);
      const packets = makePackets(50, 21); // 1 s: 4 chunks
      const chunks = sealAll(w.phones[0]!.env.begin(), packets);
      t.is(chunks.length, 4);
      const admit = new EnvelopeOpener({ crypto: w.crypto, keys: w.toy.keys, clock: w.clock, mode: 'admit', replay: w.toy.replay });
      const before = { ...w.crypto.calls };
      const d = (k: string) => (w.crypto.calls[k] ?? 0) - (before[k] ?? 0);
      for (const c of chunks) t.is(admit.push(c).packets.length, 0, 'admission returns no audio');
      t.is(d('secretboxOpen'), 1, 'admission: only the key wrap is opened, no chunk body');
      t.is(d('onetimeauth'), 4, 'one Poly1305 per chunk');
      const mid = { ...w.crypto.calls };
      const { packets: got } = openAll(w.toy.playback, chunks);
      t.true(samePackets(got, packets));
      t.is((w.crypto.calls.secretboxOpen ?? 0) - (mid.secretboxOpen ?? 0), 1 + 4, 'playback: the wrap, then each body once');
      t.is((w.crypto.calls.onetimeauth ?? 0) - (mid.onetimeauth ?? 0), 0, 'playback does not check the tags again');
      // A chunk whose tag does not verify is refused at admission, before anything is stored as admitted.
      const bad = chunks[0]!.slice();
      bad[bad.length - 1]! ^= 1;
      const admit2 = new EnvelopeOpener({ crypto: w.crypto, keys: w.toy.keys, clock: w.clock, mode: 'admit' });
      throwsCode(t, () => admit2.push(bad), 'AUTH');
    },
  },
  {
    name: 'chunkKey and peekChunk read the clear header without opening; malformed input gives undefined',
    fn: (t) => {
      const w = new World(['mum']);
      const chunks = sealAll(w.toy.begin(), makePackets(31, 1)); // 3 chunks
      const id = toHex(peekChunk(chunks[0]!)!.messageId);
      t.deepEqual(chunks.map((c) => chunkKey(c)), [`${id}.0000`, `${id}.0001`, `${id}.0002`]);
      const h = peekChunk(chunks[2]!)!;
      t.is(h.index, 2);
      t.true(h.final);
      t.is(h.recipients, 1, 'every chunk carries n');
      t.true(sameBytes(h.sender, w.toyPublic));
      t.is(peekChunk(chunks[0]!)!.recipients, 1);
      t.is(chunkKey(new Uint8Array(10)), undefined);
      t.is(chunkKey(chunks[1]!.subarray(0, 40)), undefined);
      t.is(peekChunk(new Uint8Array(5000)), undefined);
    },
  },
  {
    name: 'storage failures: no counter is consumed by a failed begin; a failed replay write returns no audio',
    fn: (t) => {
      const w = new World(['mum']);
      const mum = w.phones[0]!;
      mum.storage.failAfter = 0;
      throwsCode(t, () => mum.env.begin(), 'STORAGE');
      mum.storage.failAfter = -1;
      const chunks = sealAll(mum.env.begin(), makePackets(3, 1));
      w.toyStorage.failAfter = 0;
      throwsCode(t, () => w.toy.arrivals.push(chunks[0]!), 'STORAGE');
      w.toyStorage.failAfter = -1;
      const r = w.toy.arrivals.push(chunks[0]!);
      t.is(r.info.counter, 1, 'the first message, counter 1');
      t.is(w.toy.counters.get('envelope.STORAGE'), 1);
    },
  },
  {
    name: 'a removed member\'s pair keys are zeroed and dropped at the next key lookup; forget() zeroes all of them (factory reset); the rest still work',
    fn: (t) => {
      const w = new World(['mum', 'dad']);
      const roster = new Roster(new MemoryStorage());
      roster.add({ id: 'mum', name: 'Mum', publicKey: w.phones[0]!.publicKey });
      roster.add({ id: 'dad', name: 'Dad', publicKey: w.phones[1]!.publicKey });
      const keys = new RosterKeys(roster, w.crypto, w.toySecret, w.toyPublic);
      const zero = (b: Uint8Array) => b.every((x) => x === 0);
      const [txMum, txDad] = keys.recipients();
      const rxDad = keys.receiveKeyFor(w.phones[1]!.publicKey)!;
      const rxMum = keys.receiveKeyFor(w.phones[0]!.publicKey)!;
      const mumCopy = rxMum.slice();
      t.false(zero(txDad!) || zero(rxDad), 'real keys first');
      roster.remove('dad');
      t.is(keys.receiveKeyFor(w.phones[1]!.publicKey), undefined, 'dad is no sender now');
      keys.receiveKeyFor(w.phones[0]!.publicKey); // any lookup after the change
      t.true(zero(rxDad), 'dad\'s receive key zeroed');
      t.true(zero(txDad!), 'dad\'s send key zeroed');
      t.false(zero(rxMum), 'mum\'s keys untouched');
      t.is(keys.recipients().length, 1);
      t.true(sameBytes(keys.recipients()[0]!, txMum!));
      keys.forget();
      t.true(zero(rxMum) && zero(txMum!), 'forget zeroes every kept key');
      keys.forget(); // twice is safe
      t.true(sameBytes(keys.receiveKeyFor(w.phones[0]!.publicKey)!, mumCopy), 'worked out again after forget');
    },
  },
  {
    name: 'shared keys are computed once per member and cached in the roster; pair keys differ per direction; wipe keeps the send counter',
    fn: (t) => {
      const storage = new MemoryStorage();
      const w = new World(['mum']);
      const roster = new Roster(storage);
      roster.add({ id: 'mum', name: 'Mum', publicKey: w.phones[0]!.publicKey }); // no cached key
      const keys = new RosterKeys(roster, w.crypto, w.toySecret, w.toyPublic);
      const before = w.crypto.calls.boxBefore ?? 0;
      const tx = keys.recipients()[0]!;
      const rx = keys.receiveKeyFor(w.phones[0]!.publicKey)!;
      t.false(sameBytes(tx, rx), 'K(toy→mum) differs from K(mum→toy)');
      const shared = keys.sharedKeyFor(w.phones[0]!.publicKey)!;
      const phoneSide = new PhoneEnvelope({ crypto: w.crypto, random: w.random, storage: new MemoryStorage(), clock: w.clock, secretKey: w.phones[0]!.secretKey, toyPublicKey: w.toyPublic });
      t.true(sameBytes(shared, phoneSide.sharedKey), 'both sides derive the same X25519 key');
      t.is((w.crypto.calls.boxBefore ?? 0) - before, 2, 'one X25519 on each side');
      t.is(keys.counters.get('envelope.shared_key_computed'), 1);
      t.true(new Roster(storage).get('mum')!.sharedKey !== undefined, 'persisted');
      t.is(keys.receiveKeyFor(new Uint8Array(32).fill(9)), undefined);
      // Replay record: one key for all senders; wipe removes it, keeps rp.tx.
      const g = new ReplayGuard(storage);
      g.commit(w.phones[0]!.publicKey, 5);
      storage.write(SEND_COUNTER_KEY, Uint8Array.of(1, 0, 0, 0, 9));
      t.is(g.last(w.phones[0]!.publicKey), 5);
      t.deepEqual(storage.keys('rp.').sort(), [RECEIVE_RECORD_KEY, SEND_COUNTER_KEY].sort());
      g.wipe();
      t.is(g.last(w.phones[0]!.publicKey), 0);
      t.deepEqual(storage.keys('rp.'), [SEND_COUNTER_KEY]);
      // A corrupt record (a storage fault) is counted and read as empty.
      storage.write(RECEIVE_RECORD_KEY, Uint8Array.of(7));
      t.is(g.last(w.phones[0]!.publicKey), 0);
      t.is(g.counters.get('replay.corrupt'), 1);
    },
  },
  {
    name: 'replay window: out-of-order whole messages within 32 are accepted once; older ones and repeats are REPLAY',
    fn: (t) => {
      const g = new ReplayGuard(new MemoryStorage());
      const k = new Uint8Array(32).fill(4);
      g.check(k, 40);
      g.commit(k, 40);
      throwsCode(t, () => g.check(k, 40), 'REPLAY', 'same counter');
      for (const c of [39, 8]) {
        g.check(k, c);
        g.commit(k, c);
        throwsCode(t, () => g.check(k, c), 'REPLAY', `counter ${c} twice`);
      }
      throwsCode(t, () => g.check(k, 7), 'REPLAY', 'outside the window');
      g.check(k, 20);
      g.commit(k, 72); // 40 moves to the window's edge (72 - 32)
      throwsCode(t, () => g.check(k, 40), 'REPLAY', 'window bit kept across the shift');
      throwsCode(t, () => g.check(k, 39), 'REPLAY', 'now too old');
      g.check(k, 41);
      g.commit(k, 200);
      throwsCode(t, () => g.check(k, 72), 'REPLAY');
      g.check(k, 199);
      throwsCode(t, () => g.check(k, 0), 'REPLAY', 'counter 0 is never valid');
    },
  },
  {
    name: 'too many open messages answer BUSY; complete ones are evicted first, then incomplete ones older than 10 min',
    fn: (t) => {
      const w = new World(['mum']);
      const o = new EnvelopeOpener({ crypto: w.crypto, keys: w.toy.keys, clock: w.clock, maxOpen: 2 });
      const msgs = [1, 2, 3].map((s) => sealAll(w.phones[0]!.env.begin(), makePackets(20, s)));
      o.push(msgs[0]![0]!);
      o.push(msgs[1]![0]!);
      throwsCode(t, () => o.push(msgs[2]![0]!), 'BUSY');
      o.push(msgs[0]![1]!); // completes message 0
      t.is(o.push(msgs[2]![0]!).index, 0, 'evicts the complete message');
      // Both open messages are incomplete now: a fourth head is BUSY until the older one has waited 10 min.
      const m4 = sealAll(w.phones[0]!.env.begin(), makePackets(20, 4));
      throwsCode(t, () => o.push(m4[0]!), 'BUSY');
      w.clock.setWall(w.clock.wallNow() + 10 * 60 * 1000 + 1);
      t.is(o.push(m4[0]!).index, 0, 'the stale incomplete message made room');
      t.is(o.counters.get('envelope.stale_dropped'), 1);
      throwsCode(t, () => o.push(msgs[1]![1]!), 'ORDER', 'the dropped message is gone');
      o.close();
      o.close();
      throwsCode(t, () => o.push(msgs[2]![1]!), 'STATE');
    },
  },
];
