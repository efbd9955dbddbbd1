/**
 * The toy's side of envelope key handling: resolves senders through the family
 * roster and gives the recipients of a toy → family message.
 *
 * Keys (docs/PROTOCOL.md "Keys"): the cached X25519 shared key K of each member
 * (crypto_box_beforenm, from pairing) is never used directly; each direction
 * has its own pair key, K(member→toy) to receive and K(toy→member) to send
 * (envelope-format.ts `pairKey`, one SHA-512 each, cached in RAM per member).
 * A member whose public key is of small order (src/key-checks.ts) is refused:
 * counted 'envelope.small_order_key', never a sender nor a recipient.
 *
 * X25519 happens only when a member has no cached shared key (pairing normally
 * caches it); the result is then stored in the roster (`Roster.setSharedKey`)
 * and counted ('envelope.shared_key_computed'), so it happens once per member.
 * The toy secret key is held by reference (lent for the life of this object).
 * Portable.
 */
import type { CryptoPort } from '../hal/ports.js';
import { Counters } from './counters.js';
import { EnvelopeError, KEY_BYTES, bytesEqual, pairKey, toHex } from './envelope-format.js';
import type { SenderKeys } from './envelope-opener.js';
import { isSmallOrderKey } from './key-checks.js';
import type { Member, Roster } from './roster.js';

export class RosterKeys implements SenderKeys {
  readonly counters: Counters;
  private readonly cache = new Map<string, { shared: Uint8Array; rx: Uint8Array; tx: Uint8Array }>();
  /** recipients() for the roster's member list `lastList` (the same array until the roster changes). */
  private lastList: readonly Member[] | undefined;
  private lastRecipients: Uint8Array[] | undefined;
  /** The member list the cache was last checked against (see sync()). */
  private syncedList: readonly Member[] | undefined;
  constructor(
    private readonly roster: Roster,
    private readonly crypto: CryptoPort,
    private readonly toySecretKey: Uint8Array,
    private readonly toyPublicKey: Uint8Array,
    counters?: Counters,
  ) {
    if (!(toySecretKey instanceof Uint8Array) || toySecretKey.length !== KEY_BYTES) throw new EnvelopeError('MALFORMED', 'toy secret key must be 32 bytes');
    if (!(toyPublicKey instanceof Uint8Array) || toyPublicKey.length !== KEY_BYTES) throw new EnvelopeError('MALFORMED', 'toy public key must be 32 bytes');
    this.counters = counters ?? new Counters();
  }

  /** K(member→toy) of the roster member with this public key; undefined for anyone else or a small-order key. */
  receiveKeyFor(senderPublicKey: Uint8Array): Uint8Array | undefined {
    if (!(senderPublicKey instanceof Uint8Array) || senderPublicKey.length !== KEY_BYTES) return undefined;
    const m = this.roster.byPublicKey(senderPublicKey);
    return m ? this.keysOf(m)?.rx : undefined;
  }

  /** The cached X25519 shared key of a member (test and migration aid); undefined like receiveKeyFor. */
  sharedKeyFor(senderPublicKey: Uint8Array): Uint8Array | undefined {
    if (!(senderPublicKey instanceof Uint8Array) || senderPublicKey.length !== KEY_BYTES) return undefined;
    const m = this.roster.byPublicKey(senderPublicKey);
    return m ? this.keysOf(m)?.shared : undefined;
  }

  /**
   * K(toy→member) of every member in roster order (the recipients of a toy → family
   * message); small-order members are skipped. Throws EnvelopeError('MALFORMED') when none is left.
   * The array and its keys are cached until the roster changes: lent, the caller must not modify
   * them (EnvelopeSealer.begin copies the keys).
   */
  recipients(): Uint8Array[] {
    // issue 13 (heap slots per message): the roster's member list is a new array after every
    // change (add, remove, setSharedKey, reload, wipe), so the keys are worked out again only then
    const list = this.roster.list();
    if (list === this.lastList && this.lastRecipients) return this.lastRecipients;
    const out: Uint8Array[] = [];
    for (let i = 0; i < list.length; i++) {
      const k = this.keysOf(list[i]!);
      if (k) out.push(k.tx);
    }
    if (out.length === 0) throw new EnvelopeError('MALFORMED', 'no family member to send to');
    this.lastList = list;
    this.lastRecipients = out;
    return out;
  }

  /**
   * Zeroes and drops every pair key the toy worked out itself (rx, tx) for a member no longer
   * in the roster: once per roster change (the member list is a new array after each), so a
   * removed phone's keys do not stay in RAM. The X25519 shared key belongs to the roster.
   */
  private sync(): void {
    const list = this.roster.list();
    if (list === this.syncedList) return;
    this.syncedList = list;
    for (const [id, k] of this.cache) {
      let present = false;
      for (let i = 0; i < list.length && !present; i++) present = toHex(list[i]!.publicKey) === id && bytesEqual(k.shared, list[i]!.sharedKey ?? k.shared);
      if (!present) this.drop(id, k);
    }
  }

  private drop(id: string, k: { rx: Uint8Array; tx: Uint8Array }): void {
    k.rx.fill(0);
    k.tx.fill(0);
    this.cache.delete(id);
  }

  /** Zeroes and drops every cached pair key (factory reset, close). Safe to call twice. */
  forget(): void {
    for (const [id, k] of this.cache) this.drop(id, k);
    this.lastList = undefined;
    this.lastRecipients = undefined;
    this.syncedList = undefined;
  }

  private keysOf(m: Member): { shared: Uint8Array; rx: Uint8Array; tx: Uint8Array } | undefined {
    this.sync();
    if (isSmallOrderKey(m.publicKey)) {
      this.counters.inc('envelope.small_order_key');
      return undefined;
    }
    const shared = this.sharedOf(m);
    const id = toHex(m.publicKey);
    let k = this.cache.get(id);
    if (!k || !bytesEqual(k.shared, shared)) {
      if (k) this.drop(id, k); // this member's shared key changed
      if (this.cache.size >= 16) this.forget(); // (at most MAX_MEMBERS live entries: sync() drops removed ones)
      k = { shared, rx: pairKey(this.crypto, shared, m.publicKey, this.toyPublicKey), tx: pairKey(this.crypto, shared, this.toyPublicKey, m.publicKey) };
      this.cache.set(id, k);
    }
    return k;
  }

  private sharedOf(m: Member): Uint8Array {
    if (m.sharedKey) return m.sharedKey;
    const k = this.crypto.boxBefore(m.publicKey, this.toySecretKey);
    this.counters.inc('envelope.shared_key_computed');
    try {
      this.roster.setSharedKey(m.id, k);
    } catch {
      this.counters.inc('envelope.shared_key_not_saved');
      m.sharedKey = k; // keep it in memory at least
    }
    return this.roster.get(m.id)?.sharedKey ?? k;
  }
}
