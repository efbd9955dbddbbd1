/**
 * FROZEN COPY of the envelope v1 (src/envelope*.ts as of commit 88d1572, before v2), kept only for
 * tests/envelope-attacks.cases.ts (each attack succeeds here) and the v1-beside-v2 bench. Never used by the firmware.
 */
/**
 * The toy's side of envelope key handling: resolves senders through the family
 * roster and gives the recipients of a toy → family message.
 *
 * X25519 happens only when a member has no cached shared key (pairing normally
 * caches it); the result is then stored in the roster (`Roster.setSharedKey`)
 * and counted ('envelope.shared_key_computed'), so it happens once per member.
 * The toy secret key is held by reference (lent for the life of this object).
 * Portable.
 */
import type { CryptoPort } from '../../hal/ports.js';
import { Counters } from '../../src/counters.js';
import { EnvelopeError, KEY_BYTES } from './envelope-format.js';
import type { SenderKeys } from './envelope-opener.js';
import type { Member, Roster } from '../../src/roster.js';

export class RosterKeys implements SenderKeys {
  readonly counters: Counters;
  constructor(
    private readonly roster: Roster,
    private readonly crypto: CryptoPort,
    private readonly toySecretKey: Uint8Array,
    counters?: Counters,
  ) {
    if (!(toySecretKey instanceof Uint8Array) || toySecretKey.length !== KEY_BYTES) throw new EnvelopeError('MALFORMED', 'toy secret key must be 32 bytes');
    this.counters = counters ?? new Counters();
  }

  /** The cached shared key of the roster member with this public key; undefined for anyone else. */
  sharedKeyFor(senderPublicKey: Uint8Array): Uint8Array | undefined {
    if (!(senderPublicKey instanceof Uint8Array) || senderPublicKey.length !== KEY_BYTES) return undefined;
    const m = this.roster.byPublicKey(senderPublicKey);
    return m ? this.keyOf(m) : undefined;
  }

  /** Shared keys of every member in roster order (the recipients of a toy → family message). Throws EnvelopeError('MALFORMED') when the roster is empty. */
  recipients(): Uint8Array[] {
    const list = this.roster.list();
    if (list.length === 0) throw new EnvelopeError('MALFORMED', 'no family member to send to');
    return list.map((m) => this.keyOf(m));
  }

  private keyOf(m: Member): Uint8Array {
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
