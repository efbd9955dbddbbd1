/**
 * The attacks of issue 10 against the envelope, each run against the frozen
 * v1 code (tests/envelope-v1/, the envelope as it was before v2) and against
 * v2 (src/envelope*.ts). For every attack the v1 half asserts that the attack
 * SUCCEEDS there (so the v2 assertions, run on v1, would fail), and the v2 half
 * asserts that it is refused with a typed error. Both tiers (Node and XS). Portable.
 */
import type { RandomPort } from '../hal/ports.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { Roster, encodeRoster, ROSTER_KEY } from '../src/roster.js';
import { factoryReset } from '../src/factory-reset.js';
import * as V2 from '../src/envelope.js';
import { PhoneEnvelope as PhoneV2 } from '../phone/phone-envelope.js';
import * as V1 from './envelope-v1/envelope.js';
import { PhoneEnvelope as PhoneV1 } from './envelope-v1/phone-envelope.js';
import { FakeRandom } from './fakes/fake-random.js';
import { ManualClock } from './fakes/manual-clock.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { makePackets, sameBytes, samePackets, throwsCode, type EnvelopeCase, type CaseT } from './envelope-world.js';
import type { Member } from '../src/roster.js';

type Version = 1 | 2;
const c = naclCrypto;

interface Opened {
  info: { sender: Uint8Array; messageKey: string; counter: number };
  final: boolean;
  packets: Uint8Array[];
}
interface Opener {
  push(chunk: Uint8Array): Opened;
  finish(key: string): void;
}
interface Msg {
  addPacket(p: Uint8Array): Uint8Array | undefined;
  finish(): Uint8Array;
}
interface Person {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  shared: Uint8Array;
  storage: MemoryStorage;
  env: { opener: Opener; begin(): Msg };
}

/** A toy with Mum and Dad, in envelope version v. Fresh keys from a fixed seed (throwaway). */
class Family {
  readonly clock = new ManualClock(Date.UTC(2026, 10, 28, 9, 0, 0));
  readonly random: RandomPort;
  readonly toyStorage = new MemoryStorage();
  readonly toySecret = new Uint8Array(32);
  readonly toyPublic: Uint8Array;
  roster!: Roster;
  toy!: { arrivals: Opener; begin(): Msg };
  readonly mum: Person;
  readonly dad: Person;

  constructor(readonly v: Version, random?: RandomPort) {
    const keys = new FakeRandom(777);
    this.random = random ?? new FakeRandom(4242);
    keys.fill(this.toySecret);
    this.toyPublic = c.boxKeyPairFromSecret(this.toySecret).publicKey;
    this.roster = new Roster(this.toyStorage);
    const person = (id: string): Person => {
      const secretKey = new Uint8Array(32);
      keys.fill(secretKey);
      const publicKey = c.boxKeyPairFromSecret(secretKey).publicKey;
      const shared = c.boxBefore(publicKey, this.toySecret);
      this.roster.add({ id, name: id, publicKey, sharedKey: shared });
      const storage = new MemoryStorage();
      return { secretKey, publicKey, shared, storage, env: this.phone(secretKey, storage, shared) };
    };
    this.mum = person('mum');
    this.dad = person('dad');
    this.restartToy();
  }

  phone(secretKey: Uint8Array, storage: MemoryStorage, sharedKey?: Uint8Array): { opener: Opener; begin(): Msg } {
    const o = { crypto: c, random: this.random, storage, clock: this.clock, secretKey, toyPublicKey: this.toyPublic, sharedKey };
    return this.v === 1 ? new PhoneV1(o) : new PhoneV2(o);
  }

  restartToy(): void {
    this.roster = new Roster(this.toyStorage);
    const o = { crypto: c, random: this.random, storage: this.toyStorage, clock: this.clock, roster: this.roster, publicKey: this.toyPublic, secretKey: this.toySecret };
    this.toy = this.v === 1 ? new V1.ToyEnvelope(o) : new V2.ToyEnvelope(o);
  }

  /** Byte offset of the sender field in this version's header. */
  get senderAt(): number {
    return this.v === 1 ? 20 : V2.OFF_SENDER;
  }

  /** What a recipient in wrap slot `slot` learns from a head: the content key (the recipient is an insider). */
  contentKeyFrom(head: Uint8Array, recipient: Person, slot: number, senderPublic: Uint8Array): Uint8Array {
    const nonce = new Uint8Array(24);
    if (this.v === 1) {
      const id = head.subarray(2, 18);
      V1.writeNonce(nonce, id, slot, V1.NONCE_KIND_WRAP);
      return c.secretboxOpen(head.subarray(53 + slot * 56, 53 + (slot + 1) * 56), nonce, recipient.shared)!.slice(0, 32);
    }
    const id = head.subarray(V2.OFF_ID, V2.OFF_ID + 16);
    V2.writeNonce(nonce, id, 0, V2.NONCE_KIND_WRAP, slot);
    const k = V2.pairKey(c, recipient.shared, senderPublic, recipient.publicKey);
    const at = V2.HEADER_BYTES + slot * V2.WRAP_BYTES;
    return c.secretboxOpen(head.subarray(at, at + V2.WRAP_BYTES), nonce, k)!.slice(0, 32);
  }

  /**
   * An insider holding the content key rewrites a chunk: new audio sealed under
   * CK in place of the body (the rest kept; in v2 the recipient tags are kept
   * as they were, since the insider cannot compute anyone else's).
   */
  reseal(chunk: Uint8Array, ck: Uint8Array, packets: Uint8Array[]): Uint8Array {
    const plain: number[] = [];
    for (const p of packets) plain.push(p.length >> 8, p.length & 0xff, ...p);
    const nonce = new Uint8Array(24);
    if (this.v === 1) {
      const h = V1.readChunkHeader(chunk);
      V1.writeNonce(nonce, h.messageId, h.index, h.final ? V1.NONCE_KIND_FINAL : V1.NONCE_KIND_CHUNK);
      const bodyAt = h.index === 0 ? 53 + 56 * h.recipients : 52;
      const box = c.secretbox(Uint8Array.from(plain), nonce, ck);
      const out = new Uint8Array(bodyAt + box.length);
      out.set(chunk.subarray(0, bodyAt));
      out.set(box, bodyAt);
      return out;
    }
    const h = V2.readChunkHeader(chunk);
    V2.writeNonce(nonce, h.messageId, h.index, h.final ? V2.NONCE_KIND_FINAL : V2.NONCE_KIND_CHUNK);
    const box = c.secretbox(Uint8Array.from(plain), nonce, ck);
    const tags = chunk.subarray(h.tagsAt);
    const out = new Uint8Array(h.bodyAt + box.length + tags.length);
    out.set(chunk.subarray(0, h.bodyAt));
    out.set(box, h.bodyAt);
    out.set(tags, h.bodyAt + box.length);
    return out;
  }
}

function sealAll(msg: Msg, packets: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const p of packets) {
    const ch = msg.addPacket(p);
    if (ch) out.push(ch);
  }
  out.push(msg.finish());
  return out;
}

/** A roster as the v1 firmware kept it: no key checks at all (src/roster.ts now refuses small-order keys). */
class UncheckedRoster {
  constructor(private readonly members: Member[]) {}
  list(): readonly Member[] {
    return this.members;
  }
  get(id: string): Member | undefined {
    return this.members.find((m) => m.id === id);
  }
  byPublicKey(pk: Uint8Array): Member | undefined {
    return this.members.find((m) => sameBytes(m.publicKey, pk));
  }
  setSharedKey(id: string, k: Uint8Array): void {
    this.get(id)!.sharedKey = k.slice();
  }
}

function withSender(chunk: Uint8Array, at: number, pub: Uint8Array): Uint8Array {
  const x = chunk.slice();
  x.set(pub, at);
  return x;
}

/** Pushes all chunks; returns the packets, or the error code of the first refusal. */
function tryOpen(o: Opener, chunks: Uint8Array[]): { packets: Uint8Array[]; sender?: Uint8Array } | string {
  const packets: Uint8Array[] = [];
  let sender: Uint8Array | undefined;
  try {
    for (const ch of chunks) {
      const r = o.push(ch);
      sender = r.info.sender;
      for (const p of r.packets) packets.push(p.slice());
      if (r.final) o.finish(r.info.messageKey);
    }
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  return { packets, sender };
}

function accepted(t: CaseT, r: ReturnType<typeof tryOpen>, what: string): { packets: Uint8Array[]; sender?: Uint8Array } {
  t.true(typeof r !== 'string', `${what}: accepted (got ${typeof r === 'string' ? r : 'packets'})`);
  return typeof r === 'string' ? { packets: [] } : r;
}

const SMALL_ORDER_U1 = (() => {
  const k = new Uint8Array(32);
  k[0] = 1;
  return k;
})();

/** A RandomPort whose output repeats: the same bytes for every request of a given size. */
class StuckRandom implements RandomPort {
  fill(into: Uint8Array): void {
    for (let i = 0; i < into.length; i++) into[i] = (i * 7 + 3) & 0xff;
  }
}

export const envelopeAttackCases: EnvelopeCase[] = [
  {
    name: 'attack 1a, reflection to the toy: the toy\'s own message relabelled "from Mum" (v1 plays it as Mum\'s; v2 NOT_RECIPIENT)',
    fn: (t) => {
      for (const v of [1, 2] as const) {
        const f = new Family(v);
        const own = makePackets(20, 5);
        const chunks = sealAll(f.toy.begin(), own).map((ch) => withSender(ch, f.senderAt, f.mum.publicKey));
        const r = tryOpen(f.toy.arrivals, chunks);
        if (v === 1) {
          const got = accepted(t, r, 'v1 reflection');
          t.true(samePackets(got.packets, own) && sameBytes(got.sender!, f.mum.publicKey), 'v1: the child hears its own recording as "from Mum"');
          // Side effect: Mum's replay record now holds the toy's counter; her real message 1 is refused.
          t.is(tryOpen(f.toy.arrivals, sealAll(f.mum.env.begin(), makePackets(2, 1))), 'REPLAY', 'v1: Mum\'s real message refused');
        } else {
          t.is(r, 'NOT_RECIPIENT', 'v2 refuses the reflected message');
          t.true(typeof tryOpen(f.toy.arrivals, sealAll(f.mum.env.begin(), makePackets(2, 1))) !== 'string', 'v2: Mum\'s real message still plays');
        }
      }
    },
  },
  {
    name: 'attack 1b, reflection to a phone: Mum\'s own message relabelled "from the toy" (v1 shows it; v2 NOT_RECIPIENT)',
    fn: (t) => {
      for (const v of [1, 2] as const) {
        const f = new Family(v);
        const mine = makePackets(10, 6);
        const chunks = sealAll(f.mum.env.begin(), mine).map((ch) => withSender(ch, f.senderAt, f.toyPublic));
        const r = tryOpen(f.mum.env.opener, chunks);
        if (v === 1) t.true(samePackets(accepted(t, r, 'v1 mirror').packets, mine), 'v1: Mum\'s phone shows her own message as from the toy');
        else t.is(r, 'NOT_RECIPIENT');
      }
    },
  },
  {
    name: 'attack 2a, Mum forges a message "from Dad" to the child from a toy → family head (v1 plays it; v2 NOT_RECIPIENT)',
    fn: (t) => {
      for (const v of [1, 2] as const) {
        const f = new Family(v);
        const toFamily = sealAll(f.toy.begin(), makePackets(3, 7)); // one chunk, wraps for mum (0) and dad (1)
        t.is(toFamily.length, 1);
        const ck = f.contentKeyFrom(toFamily[0]!, f.mum, 0, f.toyPublic);
        const evil = makePackets(3, 99);
        const forged = f.reseal(withSender(toFamily[0]!, f.senderAt, f.dad.publicKey), ck, evil);
        const r = tryOpen(f.toy.arrivals, [forged]);
        if (v === 1) {
          const got = accepted(t, r, 'v1 Mum-as-Dad');
          t.true(samePackets(got.packets, evil) && sameBytes(got.sender!, f.dad.publicKey), 'v1: the child hears Mum\'s forgery as Dad');
        } else t.is(r, 'NOT_RECIPIENT');
      }
    },
  },
  {
    name: 'attack 2b, Mum replaces every chunk of a toy → family message that Dad receives (v1 accepts; v2 AUTH)',
    fn: (t) => {
      for (const v of [1, 2] as const) {
        const f = new Family(v);
        const genuine = sealAll(f.toy.begin(), makePackets(40, 8)); // 3 chunks
        const ck = f.contentKeyFrom(genuine[0]!, f.mum, 0, f.toyPublic);
        const evil = makePackets(40, 98);
        const forged = genuine.map((ch, i) => f.reseal(ch, ck, evil.slice(i * 15, i * 15 + 15)));
        const r = tryOpen(f.dad.env.opener, forged);
        if (v === 1) t.true(samePackets(accepted(t, r, 'v1 replaced chunks').packets, evil), 'v1: Dad hears Mum\'s audio as the child\'s');
        else t.is(r, 'AUTH');
        // Only later chunks replaced (the head genuine): v1 accepts these too; v2 refuses chunk 1.
        const f2 = new Family(v);
        const g2 = sealAll(f2.toy.begin(), makePackets(40, 8));
        const ck2 = f2.contentKeyFrom(g2[0]!, f2.mum, 0, f2.toyPublic);
        const r2 = tryOpen(f2.dad.env.opener, [g2[0]!, f2.reseal(g2[1]!, ck2, evil.slice(0, 15)), f2.reseal(g2[2]!, ck2, evil.slice(15, 25))]);
        if (v === 1) accepted(t, r2, 'v1 replaced later chunks');
        else t.is(r2, 'AUTH');
      }
    },
  },
  {
    name: 'attack 2c, the relay holds back the genuine copy and delivers Mum\'s replacement (v1: forgery heard, genuine lost; v2: forgery refused, genuine heard)',
    fn: (t) => {
      for (const v of [1, 2] as const) {
        const f = new Family(v);
        const said = makePackets(20, 9);
        const genuine = sealAll(f.toy.begin(), said);
        const ck = f.contentKeyFrom(genuine[0]!, f.mum, 0, f.toyPublic);
        const forged = genuine.map((ch, i) => f.reseal(ch, ck, makePackets(15, 50 + i).slice(0, i === 0 ? 15 : 5)));
        const first = tryOpen(f.dad.env.opener, forged);
        const later = tryOpen(f.dad.env.opener, genuine);
        if (v === 1) {
          accepted(t, first, 'v1 forgery');
          t.is(later, 'REPLAY', 'v1: the genuine message is then refused');
        } else {
          t.is(first, 'AUTH');
          t.true(samePackets(accepted(t, later, 'v2 genuine').packets, said), 'v2: Dad hears what the child said');
        }
      }
    },
  },
  {
    name: 'attack 3, replay after a factory reset and re-pairing with the same phone key (v1 plays it again; v2 REPLAY)',
    fn: (t) => {
      for (const v of [1, 2] as const) {
        const f = new Family(v);
        const captured = sealAll(f.mum.env.begin(), makePackets(10, 10));
        accepted(t, tryOpen(f.toy.arrivals, captured), `v${v} first delivery`);
        factoryReset(f.toyStorage);
        f.restartToy();
        t.is(f.roster.size, 0, 'reset emptied the roster');
        f.roster.add({ id: 'mum', name: 'Mum', publicKey: f.mum.publicKey, sharedKey: f.mum.shared }); // paired again
        f.restartToy();
        const r = tryOpen(f.toy.arrivals, captured);
        if (v === 1) accepted(t, r, 'v1 replay after reset');
        else t.is(r, 'REPLAY');
        // Also with the toy's clock unset (no SNTP after the reset), where the TTL cannot help.
        f.clock.setWall(0);
        if (v === 2) t.is(tryOpen(f.toy.arrivals, captured), 'REPLAY');
      }
    },
  },
  {
    name: 'attack 4, a small-order member key (u = 1): a sender with no secret at all is admitted by v1; v2 refuses the key everywhere',
    fn: (t) => {
      for (const v of [1, 2] as const) {
        const f = new Family(v);
        // Anyone computes the "shared" key: X25519 with a small-order point is a constant.
        const anySecret = new Uint8Array(32).fill(0x42);
        const k = c.boxBefore(SMALL_ORDER_U1, anySecret);
        t.true(sameBytes(k, c.boxBefore(SMALL_ORDER_U1, f.toySecret)), 'the toy computes the same key');
        const members: Member[] = [...f.roster.list(), { id: 'evil', name: 'evil', publicKey: SMALL_ORDER_U1 }];
        if (v === 1) {
          const toy = new V1.ToyEnvelope({ crypto: c, random: f.random, storage: f.toyStorage, clock: f.clock, roster: new UncheckedRoster(members) as unknown as Roster, publicKey: f.toyPublic, secretKey: f.toySecret });
          const sealer = new V1.EnvelopeSealer({ crypto: c, random: f.random, storage: new MemoryStorage(), clock: f.clock, senderPublicKey: SMALL_ORDER_U1 });
          const said = makePackets(5, 11);
          t.true(samePackets(accepted(t, tryOpen(toy.arrivals, sealAll(sealer.begin([k]), said)), 'v1 small order').packets, said), 'v1 plays it');
        } else {
          let code = '';
          try {
            f.roster.add({ id: 'evil', name: 'evil', publicKey: SMALL_ORDER_U1 });
          } catch (e) {
            code = (e as { code?: string }).code ?? '';
          }
          t.is(code, 'INVALID', 'the roster refuses the key');
          // A roster that holds such a member anyway (written by v1 firmware): the envelope still refuses it.
          const toy = new V2.ToyEnvelope({ crypto: c, random: f.random, storage: f.toyStorage, clock: f.clock, roster: new UncheckedRoster(members) as unknown as Roster, publicKey: f.toyPublic, secretKey: f.toySecret });
          const sealer = new V2.EnvelopeSealer({ crypto: c, random: f.random, storage: new MemoryStorage(), clock: f.clock, senderPublicKey: SMALL_ORDER_U1, senderSecretKey: anySecret });
          t.is(tryOpen(toy.arrivals, sealAll(sealer.begin([V2.pairKey(c, k, SMALL_ORDER_U1, f.toyPublic)]), makePackets(5, 11))), 'UNKNOWN_SENDER');
          t.is(toy.keys.recipients().length, 2, 'nor is it a recipient of the toy\'s messages');
          t.true(toy.counters.get('envelope.small_order_key') >= 2);
          // Stored as a roster record, it does not load (roster.corrupt): nothing from it is admitted either.
          f.toyStorage.write(ROSTER_KEY, encodeRoster(members));
          f.restartToy();
          t.is(tryOpen(f.toy.arrivals, sealAll(sealer.begin([V2.pairKey(c, k, SMALL_ORDER_U1, f.toyPublic)]), makePackets(5, 11))), 'UNKNOWN_SENDER');
          // A phone refuses a small-order toy key.
          throwsCode(t, () => new PhoneV2({ crypto: c, random: f.random, storage: new MemoryStorage(), clock: f.clock, secretKey: anySecret, toyPublicKey: SMALL_ORDER_U1 }), 'BAD_KEY');
        }
      }
    },
  },
  {
    name: 'attack 5, the RNG repeats: v1 repeats message id and content key (keystream reuse); v2 derives both from the send counter too',
    fn: (t) => {
      for (const v of [1, 2] as const) {
        const f = new Family(v, new StuckRandom());
        const a = makePackets(15, 12, 40, 40);
        const b = makePackets(15, 13, 40, 40);
        const ca = sealAll(f.mum.env.begin(), a)[0]!;
        const cb = sealAll(f.mum.env.begin(), b)[0]!;
        const idAt = v === 1 ? 2 : V2.OFF_ID;
        const sameId = sameBytes(ca.subarray(idAt, idAt + 16), cb.subarray(idAt, idAt + 16));
        // Keystream reuse: ciphertext XOR ciphertext = plaintext XOR plaintext.
        const bodyAt = v === 1 ? 53 + 56 + 16 : V2.HEADER_BYTES + V2.WRAP_BYTES + 16;
        let leaks = true;
        for (let i = 0; i < 15 * 42; i++) {
          const pa = i % 42 < 2 ? [0, 40][i % 42]! : a[Math.floor(i / 42)]![(i % 42) - 2]!;
          const pb = i % 42 < 2 ? [0, 40][i % 42]! : b[Math.floor(i / 42)]![(i % 42) - 2]!;
          if ((ca[bodyAt + i]! ^ cb[bodyAt + i]!) !== (pa ^ pb)) leaks = false;
        }
        if (v === 1) {
          t.true(sameId, 'v1: the same message id twice');
          t.true(leaks, 'v1: c1 xor c2 = p1 xor p2');
        } else {
          t.false(sameId, 'v2: different message ids');
          t.false(leaks, 'v2: no keystream reuse');
          // Both still open at the toy.
          f.restartToy();
          t.true(typeof tryOpen(f.toy.arrivals, [ca]) !== 'string' && typeof tryOpen(f.toy.arrivals, [cb]) !== 'string');
        }
      }
    },
  },
];
