/**
 * The phone's side of the family features (issue 15, issue 11; docs/PROTOCOL.md
 * "Family notes", "Toy status"), for the parent command line, the simulator's
 * parent app and the tests:
 *
 *   const fam = new PhoneFamily({ crypto, random, clock, secretKey, toyPublicKey, sharedKey });
 *   const topics = familyTopics(toyId);          // subscribe to topics.fam and topics.status, publish on topics.set
 *   const n = fam.openToyNote(payload);          // a receipt or a member notice from the toy (throws FamilyNoteError)
 *   const note = fam.sealSettings({ quietEnabled: true, quietStartMin: 19 * 60, quietEndMin: 7 * 60, utcOffsetMin: 60, volumePercent: 60 });
 *   const st = parseToyStatus(retainedPayload);  // { online, sinceMs }
 *   tracker.sent(id) → tracker.queued(id) (PUBACK of the final chunk) → tracker.receipt(n) (delivered, heard)
 *
 * Keys: the pair's X25519 shared key K (from pairing: PhoneEnvelope.sharedKey)
 * gives noteKey(toy→phone) to open and noteKey(phone→toy) to seal; nothing
 * else is needed and nothing is readable by the relay.
 *
 * Replays: the toy numbers its notes (`seq`, rising for the life of the toy,
 * across factory resets); this object refuses a note whose seq is not above the
 * last one it accepted (STALE). Keep `lastToySeq` in the app's store and pass
 * it back in (`lastToySeq` option) after a restart. Settings carry this phone's
 * seq: max(last + 1, wall-clock seconds), so the newest settings of any member
 * win at the toy as long as the phones' clocks roughly agree. Portable.
 */
import type { ClockPort, CryptoPort, RandomPort } from '../hal/ports.js';
import { Counters } from '../src/counters.js';
import { KEY_BYTES, bytesEqual, toHex } from '../src/envelope-format.js';
import {
  FamilyNoteError,
  decodeStatus,
  encodeNoteBody,
  noteKey,
  openNote,
  sealNote,
  type FamilySettings,
  type MemberChange,
  type ReceiptState,
} from '../src/family-note.js';
import { isSmallOrderKey } from '../src/key-checks.js';

export { familyTopics, FamilyNoteError, DEFAULT_SETTINGS, checkSettings, type FamilySettings } from '../src/family-note.js';

/** A note from the toy, opened. Times are the toy's wall clock in ms (0 = its clock was unset). */
export type ToyNote =
  | { kind: 'receipt'; seq: number; timeMs: number; messageId: string; state: ReceiptState }
  | { kind: 'member'; seq: number; timeMs: number; change: MemberChange; id: string; name: string };

export interface PhoneFamilyOptions {
  crypto: CryptoPort;
  random: RandomPort;
  clock: Pick<ClockPort, 'wallNow'>;
  /** This phone's X25519 secret key (lent). */
  secretKey: Uint8Array;
  /** The paired toy's X25519 public key. */
  toyPublicKey: Uint8Array;
  /** The pair's X25519 shared key (PhoneEnvelope.sharedKey); computed when absent. */
  sharedKey?: Uint8Array;
  /** The highest toy note seq accepted before (from the app's store). */
  lastToySeq?: number;
  /** The last settings seq this phone used (from the app's store). */
  lastSettingsSeq?: number;
  counters?: Counters;
}

export class PhoneFamily {
  readonly publicKey: Uint8Array;
  readonly counters: Counters;
  private readonly toyPublicKey: Uint8Array;
  private readonly rxKey: Uint8Array;
  private readonly txKey: Uint8Array;
  private seq: number;
  private settingsSeq: number;

  constructor(private readonly o: PhoneFamilyOptions) {
    if (!(o.toyPublicKey instanceof Uint8Array) || o.toyPublicKey.length !== KEY_BYTES || isSmallOrderKey(o.toyPublicKey)) throw new FamilyNoteError('UNKNOWN_SENDER', 'toy public key is not a valid key');
    this.counters = o.counters ?? new Counters();
    this.publicKey = o.crypto.boxKeyPairFromSecret(o.secretKey).publicKey;
    this.toyPublicKey = o.toyPublicKey.slice();
    const shared = o.sharedKey ?? o.crypto.boxBefore(o.toyPublicKey, o.secretKey);
    this.rxKey = noteKey(o.crypto, shared, this.toyPublicKey, this.publicKey);
    this.txKey = noteKey(o.crypto, shared, this.publicKey, this.toyPublicKey);
    this.seq = o.lastToySeq ?? 0;
    this.settingsSeq = o.lastSettingsSeq ?? 0;
  }

  /** The highest toy note seq accepted (store it). */
  get lastToySeq(): number {
    return this.seq;
  }
  /** The last settings seq used (store it). */
  get lastSettingsSeq(): number {
    return this.settingsSeq;
  }

  /**
   * Opens a note from the toy (the `fam` topic). Throws FamilyNoteError: SIZE,
   * VERSION, UNKNOWN_SENDER (not from this phone's toy), AUTH (not sealed for this
   * phone, e.g. a notice for another member, or tampered), MALFORMED, KIND (settings
   * never come from the toy), STALE (a replay). Each is counted `family.<CODE>`.
   */
  openToyNote(note: Uint8Array): ToyNote {
    try {
      const n = openNote(this.o.crypto, note, (sender) => (bytesEqual(sender, this.toyPublicKey) ? this.rxKey : undefined));
      if (n.content.kind === 'settings') throw new FamilyNoteError('KIND', 'settings never come from the toy');
      if (n.seq <= this.seq) throw new FamilyNoteError('STALE', 'note not newer than the last one');
      this.seq = n.seq;
      this.counters.inc(`family.${n.content.kind}`);
      if (n.content.kind === 'receipt') return { kind: 'receipt', seq: n.seq, timeMs: n.timeMs, messageId: toHex(n.content.messageId), state: n.content.state };
      return { kind: 'member', seq: n.seq, timeMs: n.timeMs, change: n.content.change, id: n.content.id, name: n.content.name };
    } catch (e) {
      const err = e instanceof FamilyNoteError ? e : new FamilyNoteError('MALFORMED', 'note could not be read');
      this.counters.inc(`family.${err.code}`);
      throw err;
    }
  }

  /** Seals family settings for the toy (publish on familyTopics(toyId).set, QoS 1). Throws FamilyNoteError BAD_SETTINGS. */
  sealSettings(settings: FamilySettings): Uint8Array {
    const wall = Math.floor(this.o.clock.wallNow() / 1000);
    const seq = Math.max(this.settingsSeq + 1, wall > 0 && wall < 0xffffffff ? wall : 0);
    if (seq > 0xffffffff) throw new FamilyNoteError('MALFORMED', 'settings counter exhausted');
    const body = encodeNoteBody(seq, this.o.clock.wallNow(), { kind: 'settings', settings });
    const nonce = new Uint8Array(24);
    this.o.random.fill(nonce);
    const note = sealNote(this.o.crypto, this.txKey, this.publicKey, nonce, body);
    this.settingsSeq = seq;
    return note;
  }
}

/** The toy's retained status record (familyTopics(toyId).status). Throws FamilyNoteError SIZE, VERSION, MALFORMED. */
export function parseToyStatus(payload: Uint8Array): { online: boolean; sinceMs: number; neverSubscribed?: true } {
  return decodeStatus(payload);
}

/**
 * Where a sent message is, as the sender's phone sees it (issue 15):
 * `sending` (published, no PUBACK yet) → `queued` (the relay's PUBACK for the final
 * chunk: the relay holds it for the toy) → `delivered` (the toy's receipt: stored on
 * the toy) → `heard` (the child played it to the end). States only move forward
 * (a late or repeated receipt never moves one back). Holds at most `max` messages
 * (oldest forgotten first).
 */
export type DeliveryState = 'sending' | 'queued' | 'delivered' | 'heard';
const RANK: Record<DeliveryState, number> = { sending: 0, queued: 1, delivered: 2, heard: 3 };

export class DeliveryTracker {
  private readonly states = new Map<string, { state: DeliveryState; atMs: number }>();
  constructor(private readonly max = 500) {}

  /** A message (id as 32 hex chars, or the 16 bytes) was published. */
  sent(id: string | Uint8Array, atMs = 0): void {
    this.move(id, 'sending', atMs);
  }
  /** The relay acknowledged the final chunk (PUBACK). */
  queued(id: string | Uint8Array, atMs = 0): void {
    this.move(id, 'queued', atMs);
  }
  /** A receipt from the toy (PhoneFamily.openToyNote). Unknown ids are tracked from here. */
  receipt(n: { messageId: string; state: ReceiptState; timeMs: number }): DeliveryState {
    return this.move(n.messageId, n.state, n.timeMs);
  }
  /** The state of a message, or undefined when it is not tracked. */
  state(id: string | Uint8Array): DeliveryState | undefined {
    return this.states.get(typeof id === 'string' ? id : toHex(id))?.state;
  }
  /** When it reached its state (ms; the toy's clock for delivered/heard, 0 = unknown). */
  at(id: string | Uint8Array): number | undefined {
    return this.states.get(typeof id === 'string' ? id : toHex(id))?.atMs;
  }

  private move(id: string | Uint8Array, to: DeliveryState, atMs: number): DeliveryState {
    const k = typeof id === 'string' ? id.toLowerCase() : toHex(id);
    const cur = this.states.get(k);
    if (cur && RANK[cur.state] >= RANK[to]) return cur.state;
    if (!cur && this.states.size >= this.max) this.states.delete(this.states.keys().next().value as string);
    this.states.set(k, { state: to, atMs });
    return to;
  }
}
