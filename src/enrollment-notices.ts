/**
 * The toy's side of phone enrollment at the relay (docs/BROKER.md "Phone
 * enrollment"): when a phone joins the family the toy publishes a sealed grant
 * on its `ctl` topic, and a revoke when the phone is removed. The relay's
 * enrollment service opens them with the toy's public key from the registry and
 * creates (or deletes) the phone's broker account, so no person creates it.
 *
 * Notices go through the outbox like audio (kept across power cuts, sent QoS 1
 * when online). Each carries a sequence number from `eg.seq`, a u32 written
 * BEFORE the notice is made and kept by a factory reset (src/factory-reset.ts):
 * the relay refuses a notice whose number is not above the last it accepted, so a
 * counter that restarted would make a re-paired phone's grant look like a replay.
 *
 * Portable. Errors: never throws; a notice that cannot be made or queued is
 * counted (`enroll.notice_failed`, `enroll.outbox_full`) and logged without keys.
 */
import type { CryptoPort, LogPort, RandomPort, StoragePort } from '../hal/ports.js';
import type { Counters } from './counters.js';
import { makeNotice, type NoticeKind } from './enrollment-grant.js';

/** Storage key of the notice sequence counter (u32 big-endian). */
export const NOTICE_SEQ_KEY = 'eg.seq';

export interface EnrollmentNoticesOptions {
  crypto: CryptoPort;
  random: RandomPort;
  storage: StoragePort;
  toyId: string;
  /** The toy's X25519 secret key (lent for the life of the object). */
  toySecretKey: Uint8Array;
  /** The relay's X25519 public key (factory data `relay_pk`). */
  relayPublicKey: Uint8Array;
  /** Queues one notice for the relay; answers 'OK' or another PortStatus. */
  send: (notice: Uint8Array) => string;
  counters: Counters;
  log?: LogPort;
}

export class EnrollmentNotices {
  private key: Uint8Array | undefined;

  constructor(private readonly o: EnrollmentNoticesOptions) {}

  /** Queues a grant (`grant`) or revoke (`revoke`) for the phone with this public key. Never throws. */
  notify(kind: NoticeKind, phonePublicKey: Uint8Array): boolean {
    try {
      // one X25519 per boot, and only when a notice is needed
      this.key ??= this.o.crypto.boxBefore(this.o.relayPublicKey, this.o.toySecretKey);
      const seq = this.nextSeq();
      const nonce = new Uint8Array(24);
      this.o.random.fill(nonce);
      const notice = makeNotice({ crypto: this.o.crypto, kind, toyId: this.o.toyId, toyRelayKey: this.key, phonePublicKey, seq, nonce });
      const r = this.o.send(notice);
      if (r !== 'OK') {
        this.o.counters.inc('enroll.outbox_full');
        return false;
      }
      this.o.counters.inc(`enroll.${kind}`);
      this.o.log?.log('info', 'enroll.notice', { kind, seq });
      return true;
    } catch (e) {
      this.o.counters.inc('enroll.notice_failed');
      this.o.log?.log('warn', 'enroll.notice_failed', { error: e instanceof Error ? e.name : 'unknown' });
      return false;
    }
  }

  private nextSeq(): number {
    const b = this.o.storage.read(NOTICE_SEQ_KEY);
    const last = b && b.length === 4 ? ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0 : 0;
    const next = (last + 1) >>> 0;
    if (next === 0) throw new Error('notice counter exhausted');
    this.o.storage.write(NOTICE_SEQ_KEY, Uint8Array.of(next >>> 24, (next >>> 16) & 255, (next >>> 8) & 255, next & 255));
    return next;
  }
}
