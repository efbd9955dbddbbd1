/**
 * FROZEN COPY of the envelope v1 (src/envelope*.ts as of commit 88d1572, before v2), kept only for
 * tests/envelope-attacks.cases.ts (each attack succeeds here) and the v1-beside-v2 bench. Never used by the firmware.
 */
/**
 * The phone's side of the envelope (parent app in the simulator, tests): one
 * phone identity paired with one toy. The shared key is computed once, when
 * this object is built (or passed in from the app's key store), never per message.
 *
 *   const phone = new PhoneEnvelope({ crypto, random, storage, clock, secretKey, toyPublicKey });
 *   const msg = phone.begin();              // family member → toy (one recipient: the toy)
 *   const r = phone.opener.push(chunk);     // toy → family messages (only from the paired toy)
 *
 * Storage holds this phone's send counter (`rp.tx`) and its replay record for
 * the toy (`rp.<toy key prefix>`). Portable.
 */
import type { ClockPort, CryptoPort, RandomPort, StoragePort } from '../../hal/ports.js';
import { Counters } from '../../src/counters.js';
import { EnvelopeError, KEY_BYTES, bytesEqual } from './envelope-format.js';
import { EnvelopeOpener } from './envelope-opener.js';
import { EnvelopeSealer, type OutgoingMessage } from './envelope-sealer.js';
import { ReplayGuard } from './replay-guard.js';

export interface PhoneEnvelopeOptions {
  crypto: CryptoPort;
  random: RandomPort;
  storage: StoragePort;
  clock: Pick<ClockPort, 'wallNow'>;
  /** This phone's X25519 secret key (32 bytes; lent for the life of the object). */
  secretKey: Uint8Array;
  /** The paired toy's X25519 public key. */
  toyPublicKey: Uint8Array;
  /** The cached shared key, if the app stored it at pairing (skips the X25519). */
  sharedKey?: Uint8Array;
  /** Check and record the toy's message counters (default true). */
  replayCheck?: boolean;
  ttlMs?: number;
  packetsPerChunk?: number;
  counters?: Counters;
}

export class PhoneEnvelope {
  readonly publicKey: Uint8Array;
  /** crypto_box_beforenm(toy public, phone secret): cache it in the app's key store. */
  readonly sharedKey: Uint8Array;
  readonly sealer: EnvelopeSealer;
  readonly opener: EnvelopeOpener;
  readonly counters: Counters;
  private readonly toyPublicKey: Uint8Array;

  constructor(o: PhoneEnvelopeOptions) {
    if (!(o.toyPublicKey instanceof Uint8Array) || o.toyPublicKey.length !== KEY_BYTES) throw new EnvelopeError('MALFORMED', 'toy public key must be 32 bytes');
    this.counters = o.counters ?? new Counters();
    this.publicKey = o.crypto.boxKeyPairFromSecret(o.secretKey).publicKey;
    this.toyPublicKey = o.toyPublicKey.slice();
    this.sharedKey = o.sharedKey ? o.sharedKey.slice() : o.crypto.boxBefore(o.toyPublicKey, o.secretKey);
    this.sealer = new EnvelopeSealer({
      crypto: o.crypto,
      random: o.random,
      storage: o.storage,
      clock: o.clock,
      senderPublicKey: this.publicKey,
      packetsPerChunk: o.packetsPerChunk,
      counters: this.counters,
    });
    const toy = this.toyPublicKey;
    const shared = this.sharedKey;
    this.opener = new EnvelopeOpener({
      crypto: o.crypto,
      keys: { sharedKeyFor: (pk) => (pk instanceof Uint8Array && bytesEqual(pk, toy) ? shared : undefined) },
      clock: o.clock,
      replay: o.replayCheck === false ? undefined : new ReplayGuard(o.storage, this.counters),
      ttlMs: o.ttlMs,
      counters: this.counters,
    });
  }

  /** Starts a message from this phone to the toy. */
  begin(): OutgoingMessage {
    return this.sealer.begin([this.sharedKey]);
  }
}
