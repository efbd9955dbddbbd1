/**
 * The phone's side of the envelope (parent app in the simulator, tests): one
 * phone identity paired with one toy. The X25519 shared key is computed once,
 * when this object is built (or passed in from the app's key store), never per
 * message; the two directional pair keys K(phone→toy) and K(toy→phone)
 * (envelope-format.ts `pairKey`) are derived from it here.
 *
 *   const phone = new PhoneEnvelope({ crypto, random, storage, clock, secretKey, toyPublicKey });
 *   const msg = phone.begin();              // family member → toy (one recipient: the toy)
 *   const r = phone.opener.push(chunk);     // toy → family messages (only from the paired toy)
 *
 * Storage holds this phone's send counter (`rp.tx`) and its replay record for
 * the toy (`rp.rx`). A toy public key of small order is refused
 * (EnvelopeError BAD_KEY). Receivers must show a message only once its final
 * chunk has been accepted (docs/PROTOCOL.md). Portable.
 */
import type { ClockPort, CryptoPort, RandomPort, StoragePort } from '../hal/ports.js';
import { Counters } from '../src/counters.js';
import { EnvelopeError, KEY_BYTES, bytesEqual, pairKey } from '../src/envelope-format.js';
import { EnvelopeOpener } from '../src/envelope-opener.js';
import { DEFAULT_PAD_BLOCK, EnvelopeSealer, type OutgoingMessage } from '../src/envelope-sealer.js';
import { isSmallOrderKey } from '../src/key-checks.js';
import { ReplayGuard } from '../src/replay-guard.js';

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
  /** Padding block of chunk plaintexts in bytes (default DEFAULT_PAD_BLOCK = 256; 0 = none). */
  padBlock?: number;
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
  private readonly sendKey: Uint8Array;

  constructor(o: PhoneEnvelopeOptions) {
    if (!(o.toyPublicKey instanceof Uint8Array) || o.toyPublicKey.length !== KEY_BYTES) throw new EnvelopeError('MALFORMED', 'toy public key must be 32 bytes');
    if (isSmallOrderKey(o.toyPublicKey)) throw new EnvelopeError('BAD_KEY', 'toy public key is of small order');
    this.counters = o.counters ?? new Counters();
    this.publicKey = o.crypto.boxKeyPairFromSecret(o.secretKey).publicKey;
    this.toyPublicKey = o.toyPublicKey.slice();
    this.sharedKey = o.sharedKey ? o.sharedKey.slice() : o.crypto.boxBefore(o.toyPublicKey, o.secretKey);
    this.sendKey = pairKey(o.crypto, this.sharedKey, this.publicKey, this.toyPublicKey);
    const receiveKey = pairKey(o.crypto, this.sharedKey, this.toyPublicKey, this.publicKey);
    this.sealer = new EnvelopeSealer({
      crypto: o.crypto,
      random: o.random,
      storage: o.storage,
      clock: o.clock,
      senderPublicKey: this.publicKey,
      senderSecretKey: o.secretKey,
      packetsPerChunk: o.packetsPerChunk,
      padBlock: o.padBlock ?? DEFAULT_PAD_BLOCK,
      counters: this.counters,
    });
    const toy = this.toyPublicKey;
    this.opener = new EnvelopeOpener({
      crypto: o.crypto,
      keys: { receiveKeyFor: (pk: Uint8Array) => (pk instanceof Uint8Array && bytesEqual(pk, toy) ? receiveKey : undefined) },
      clock: o.clock,
      replay: o.replayCheck === false ? undefined : new ReplayGuard(o.storage, this.counters),
      ttlMs: o.ttlMs,
      counters: this.counters,
    });
  }

  /** Starts a message from this phone to the toy. */
  begin(): OutgoingMessage {
    return this.sealer.begin([this.sendKey]);
  }
}
