/**
 * A toy and its family for envelope tests (both tiers): throwaway keys from a
 * FakeRandom, one MemoryStorage per device, a ManualClock, a counting CryptoPort.
 * "Restart" a device = build its envelope again on the same storage.
 * Portable.
 */
import type { CryptoPort } from '../hal/ports.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { Roster } from '../src/roster.js';
import { ToyEnvelope, type OpenedChunk, type OutgoingMessage, type EnvelopeOpener } from '../src/envelope.js';
import { PhoneEnvelope } from '../phone/phone-envelope.js';
import { unframePackets } from '../src/envelope-format.js';
import { FakeRandom } from './fakes/fake-random.js';
import { ManualClock } from './fakes/manual-clock.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import type { CaseAssert } from './xs/harness.js';

/** A CryptoPort that counts calls (to show X25519 is not per message) and can be told to fail. */
export class CountingCrypto implements CryptoPort {
  calls: Record<string, number> = {};
  failSecretbox = false;
  private n(k: string): void {
    this.calls[k] = (this.calls[k] ?? 0) + 1;
  }
  boxKeyPairFromSecret(s: Uint8Array) {
    this.n('boxKeyPairFromSecret');
    return naclCrypto.boxKeyPairFromSecret(s);
  }
  boxBefore(p: Uint8Array, s: Uint8Array) {
    this.n('boxBefore');
    return naclCrypto.boxBefore(p, s);
  }
  secretbox(m: Uint8Array, n: Uint8Array, k: Uint8Array) {
    this.n('secretbox');
    if (this.failSecretbox) throw new Error('injected failure');
    return naclCrypto.secretbox(m, n, k);
  }
  secretboxOpen(b: Uint8Array, n: Uint8Array, k: Uint8Array) {
    this.n('secretboxOpen');
    return naclCrypto.secretboxOpen(b, n, k);
  }
  onetimeauth(m: Uint8Array, k: Uint8Array) {
    this.n('onetimeauth');
    return naclCrypto.onetimeauth(m, k);
  }
  scalarMult(a: Uint8Array, b: Uint8Array) {
    this.n('scalarMult');
    return naclCrypto.scalarMult(a, b);
  }
  sha512(m: Uint8Array) {
    return naclCrypto.sha512(m);
  }
  signVerify(m: Uint8Array, s: Uint8Array, p: Uint8Array) {
    return naclCrypto.signVerify(m, s, p);
  }
}

/**
 * Gives a CountingCrypto the optional allocation-free methods (as hal/moddable-crypto.ts has
 * them; counted as secretboxInPlace, onetimeauthInto, secretboxOpenInPlace). Bound calls: in
 * the native tier naclCrypto is the device's ModdableCrypto, whose methods use `this`.
 */
export function withInPlaceCrypto(c: CountingCrypto): CountingCrypto & Required<Pick<CryptoPort, 'secretboxInPlace' | 'onetimeauthInto' | 'secretboxOpenInPlace'>> {
  const n = (k: string) => {
    c.calls[k] = (c.calls[k] ?? 0) + 1;
  };
  return Object.assign(c, {
    secretboxInPlace: (b: Uint8Array, o: number, l: number, nc: Uint8Array, k: Uint8Array) => (n('secretboxInPlace'), naclCrypto.secretboxInPlace!(b, o, l, nc, k)),
    onetimeauthInto: (t16: Uint8Array, b: Uint8Array, o: number, l: number, k: Uint8Array) => (n('onetimeauthInto'), naclCrypto.onetimeauthInto!(t16, b, o, l, k)),
    secretboxOpenInPlace: (b: Uint8Array, o: number, l: number, nc: Uint8Array, k: Uint8Array) => (n('secretboxOpenInPlace'), naclCrypto.secretboxOpenInPlace!(b, o, l, nc, k)),
  });
}

export interface Phone {
  id: string;
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  storage: MemoryStorage;
  sharedKey: Uint8Array;
  env: PhoneEnvelope;
}

export class World {
  readonly crypto = new CountingCrypto();
  readonly random = new FakeRandom(12345);
  readonly clock = new ManualClock(Date.UTC(2026, 10, 28, 9, 0, 0));
  readonly toyStorage = new MemoryStorage();
  readonly toySecret: Uint8Array;
  readonly toyPublic: Uint8Array;
  roster!: Roster;
  toy!: ToyEnvelope;
  readonly phones: Phone[] = [];

  constructor(members = ['mum', 'dad'], opts: { packetsPerChunk?: number } = {}) {
    this.toySecret = new Uint8Array(32);
    this.random.fill(this.toySecret);
    this.toyPublic = this.crypto.boxKeyPairFromSecret(this.toySecret).publicKey;
    this.roster = new Roster(this.toyStorage);
    for (const id of members) {
      const secretKey = new Uint8Array(32);
      this.random.fill(secretKey);
      const publicKey = this.crypto.boxKeyPairFromSecret(secretKey).publicKey;
      // Pairing computes the shared key once and both sides cache it (the pairing engineer's job; done here by hand).
      const sharedKey = this.crypto.boxBefore(publicKey, this.toySecret);
      this.roster.add({ id, name: id, publicKey, sharedKey });
      const storage = new MemoryStorage();
      this.phones.push({ id, secretKey, publicKey, storage, sharedKey, env: this.makePhone(secretKey, storage, opts.packetsPerChunk, sharedKey) });
    }
    this.restartToy(opts.packetsPerChunk);
  }

  makePhone(secretKey: Uint8Array, storage: MemoryStorage, packetsPerChunk?: number, sharedKey?: Uint8Array): PhoneEnvelope {
    return new PhoneEnvelope({ crypto: this.crypto, random: this.random, storage, clock: this.clock, secretKey, toyPublicKey: this.toyPublic, packetsPerChunk, sharedKey });
  }

  /** Rebuilds the toy's roster and envelope from its storage (a reboot). */
  restartToy(packetsPerChunk?: number): void {
    this.roster = new Roster(this.toyStorage);
    this.toy = new ToyEnvelope({
      crypto: this.crypto,
      random: this.random,
      storage: this.toyStorage,
      clock: this.clock,
      roster: this.roster,
      publicKey: this.toyPublic,
      secretKey: this.toySecret,
      packetsPerChunk,
    });
  }

  /** Rebuilds phone i's envelope from its storage. */
  restartPhone(i: number): void {
    const p = this.phones[i]!;
    p.env = this.makePhone(p.secretKey, p.storage, undefined, p.sharedKey);
  }
}

/** Deterministic pseudo Opus packets: n packets of 1..maxLen bytes (lengths vary). */
export function makePackets(n: number, seed = 1, minLen = 20, maxLen = 60): Uint8Array[] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const len = minLen + (next() % (maxLen - minLen + 1));
    const p = new Uint8Array(len);
    for (let j = 0; j < len; j++) p[j] = next() & 0xff;
    out.push(p);
  }
  return out;
}

/** Seals packets into chunks with msg. */
export function sealAll(msg: OutgoingMessage, packets: Uint8Array[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (const p of packets) {
    const c = msg.addPacket(p);
    if (c) chunks.push(c);
  }
  chunks.push(msg.finish());
  return chunks;
}

/** Pushes every chunk in order; returns the packets (copied) and the results. */
export function openAll(opener: EnvelopeOpener, chunks: Uint8Array[]): { packets: Uint8Array[]; results: OpenedChunk[] } {
  const packets: Uint8Array[] = [];
  const results: OpenedChunk[] = [];
  for (const c of chunks) {
    const r = opener.push(c);
    results.push(r);
    // an opener with packetViews false (the toy's playback) hands the framed plaintext over whole
    const views = r.packets.length === 0 && r.plain ? unframePackets(r.plain.subarray(r.plainAt, r.plainEnd)) : r.packets;
    if (r.plain && r.packetCount !== views.length) throw new Error(`packetCount ${r.packetCount} but ${views.length} packets`);
    for (const p of views) packets.push(p.slice());
  }
  return { packets, results };
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function samePackets(a: Uint8Array[], b: Uint8Array[]): boolean {
  return a.length === b.length && a.every((x, i) => sameBytes(x, b[i]!));
}

/** The assertions ava and tests/xs/harness.ts have in common. */
export type CaseT = CaseAssert;
export interface EnvelopeCase {
  name: string;
  fn: (t: CaseT) => void;
}

/** Asserts fn throws an EnvelopeError with `code`; returns it. */
export function throwsCode(t: CaseT, fn: () => unknown, code: string, message?: string): Error | undefined {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  t.true(caught instanceof Error, message ?? `expected EnvelopeError(${code})`);
  t.is((caught as Error | undefined)?.name, 'EnvelopeError', message);
  t.is((caught as { code?: string } | undefined)?.code, code, message);
  return caught as Error | undefined;
}
