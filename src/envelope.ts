/**
 * The sealed voice-message envelope (version 2): one import for its users.
 * - Toy: `ToyEnvelope` (seal toy → family to every roster member; open member → toy).
 * - Phone: phone/phone-envelope.ts `PhoneEnvelope`.
 * - MQTT layer: `chunkKey(bytes)` (dedupe key) and `peekChunk(bytes)` (message id,
 *   index, final, sender from the clear header, without opening).
 * Wire format: docs/PROTOCOL.md, "Envelope (sealed voice messages)". Portable.
 */
import type { ClockPort, CryptoPort, RandomPort, StoragePort } from '../hal/ports.js';
import { Counters } from './counters.js';
import { EnvelopeOpener } from './envelope-opener.js';
import { RosterKeys } from './envelope-keys.js';
import { DEFAULT_PAD_BLOCK, EnvelopeSealer, type OutgoingMessage } from './envelope-sealer.js';
import { ReplayGuard } from './replay-guard.js';
import type { Roster } from './roster.js';

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
  /** Padding block of sealed chunk plaintexts in bytes (default DEFAULT_PAD_BLOCK; 0 = none). */
  padBlock?: number;
  counters?: Counters;
}

/**
 * The toy's envelope: `begin()` seals one message for the whole roster;
 * `arrivals` admits new messages from members (everything checked, replay
 * counters recorded); `playback` opens each chunk of an admitted message once
 * (no counter check, expiry checked). Admission of stored chunks without
 * decrypting them is an EnvelopeOpener in mode 'admit' (MessagePlayer).
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
    this.keys = new RosterKeys(o.roster, o.crypto, o.secretKey, o.publicKey, this.counters);
    this.sealer = new EnvelopeSealer({
      crypto: o.crypto,
      random: o.random,
      storage: o.storage,
      clock: o.clock,
      senderPublicKey: o.publicKey,
      senderSecretKey: o.secretKey,
      packetsPerChunk: o.packetsPerChunk,
      padBlock: o.padBlock ?? DEFAULT_PAD_BLOCK,
      counters: this.counters,
    });
    this.replay = new ReplayGuard(o.storage, this.counters);
    const common = { crypto: o.crypto, keys: this.keys, clock: o.clock, ttlMs: o.ttlMs, counters: this.counters };
    this.arrivals = new EnvelopeOpener({ ...common, replay: this.replay });
    // playback hands the framed plaintext to the pipeline whole (no view per packet, issue 13),
    // opened in place in the chunk read back from storage (the caller's own copy), one reused result
    this.playback = new EnvelopeOpener({ ...common, mode: 'play', packetViews: false, inPlace: true, reuseResult: true });
  }

  /** Starts a toy → family message to every roster member. Throws EnvelopeError MALFORMED when the roster is empty. */
  begin(): OutgoingMessage {
    return this.sealer.begin(this.keys.recipients());
  }
}
