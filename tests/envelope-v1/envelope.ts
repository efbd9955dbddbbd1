/**
 * FROZEN COPY of the envelope v1 (src/envelope*.ts as of commit 88d1572, before v2), kept only for
 * tests/envelope-attacks.cases.ts (each attack succeeds here) and the v1-beside-v2 bench. Never used by the firmware.
 */
/**
 * The sealed voice-message envelope: one import for its users.
 * - Toy: `ToyEnvelope` (seal toy → family to every roster member; open member → toy).
 * - Phone: phone/phone-envelope.ts `PhoneEnvelope`.
 * - MQTT layer: `chunkKey(bytes)` (dedupe key) and `peekChunk(bytes)` (message id,
 *   index, final, sender from the clear header, without opening).
 * Wire format: docs/PROTOCOL.md, "Envelope (sealed voice messages)". Portable.
 */
import type { ClockPort, CryptoPort, RandomPort, StoragePort } from '../../hal/ports.js';
import { Counters } from '../../src/counters.js';
import { EnvelopeOpener } from './envelope-opener.js';
import { RosterKeys } from './envelope-keys.js';
import { EnvelopeSealer, type OutgoingMessage } from './envelope-sealer.js';
import { ReplayGuard } from './replay-guard.js';
import type { Roster } from '../../src/roster.js';

export * from './envelope-format.js';
export * from './envelope-sealer.js';
export * from './envelope-opener.js';
export * from './envelope-keys.js';
export * from './replay-guard.js';

export interface ToyEnvelopeOptions {
  crypto: CryptoPort;
  random: RandomPort;
  storage: StoragePort;
  clock: Pick<ClockPort, 'wallNow'>;
  roster: Roster;
  /** The toy's X25519 key pair (from the factory identity); the secret is lent for the life of the object. */
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  ttlMs?: number;
  packetsPerChunk?: number;
  counters?: Counters;
}

/**
 * The toy's envelope: `begin()` seals one message for the whole roster;
 * `arrivals` admits new messages from members (replay counters recorded);
 * `playback` re-opens stored messages that were admitted on arrival (no
 * counter check, still authenticated and expiry-checked).
 */
export class ToyEnvelope {
  readonly keys: RosterKeys;
  readonly sealer: EnvelopeSealer;
  readonly arrivals: EnvelopeOpener;
  readonly playback: EnvelopeOpener;
  readonly replay: ReplayGuard;
  readonly counters: Counters;

  constructor(o: ToyEnvelopeOptions) {
    this.counters = o.counters ?? new Counters();
    this.keys = new RosterKeys(o.roster, o.crypto, o.secretKey, this.counters);
    this.sealer = new EnvelopeSealer({
      crypto: o.crypto,
      random: o.random,
      storage: o.storage,
      clock: o.clock,
      senderPublicKey: o.publicKey,
      packetsPerChunk: o.packetsPerChunk,
      counters: this.counters,
    });
    this.replay = new ReplayGuard(o.storage, this.counters);
    const common = { crypto: o.crypto, keys: this.keys, clock: o.clock, ttlMs: o.ttlMs, counters: this.counters };
    this.arrivals = new EnvelopeOpener({ ...common, replay: this.replay });
    this.playback = new EnvelopeOpener(common);
  }

  /** Starts a toy → family message to every roster member. Throws EnvelopeError MALFORMED when the roster is empty. */
  begin(): OutgoingMessage {
    return this.sealer.begin(this.keys.recipients());
  }
}
