/**
 * The pairing rate limit: after MAX_FAILED_ATTEMPTS failed proofs of the setup
 * secret, pairing is refused until LOCKOUT_MS after the last one. Persisted on
 * the data StoragePort under LOCKOUT_KEY so a restart does not reset it. Portable.
 *
 * What counts: only a failed PROOF (recordFailure(): an M3 whose box does not open
 * or whose tag is wrong, i.e. a phone that tried a secret and got it wrong). A
 * timeout, a phone that vanishes or stays silent, a dropped link, an MTU too
 * small, a malformed message, a storage error: none of them counts, so neither a
 * flaky phone nor a phone in range without the secret can lock the toy by doing
 * nothing. The count is persisted before the toy answers the failed proof; a
 * success (succeeded()) or a local pairing gesture (clearByLocalGesture()) sets it
 * to zero.
 *
 * Timing (docs/PROTOCOL.md "### Rate limiting"): the lock ends by a one-shot
 * timer (ClockPort.after) armed for LOCKOUT_MS when the lock starts, so it ends
 * on an idle toy whether or not anything reads the clock; isLocked() also
 * compares ClockPort.now() (monotonic) with the end, whichever comes first. The
 * toy has no battery-backed RTC and its wall clock may be unset or spoofed, so
 * the record keeps no time, only the count: a toy that boots with a count of
 * MAX_FAILED_ATTEMPTS or more is locked for a full LOCKOUT_MS from boot (a
 * restart can lengthen a lock, never shorten it; a local gesture clears it).
 *
 * Record: u8 version=1, u8 failures (0..255, saturating).
 * A corrupt or unreadable record is treated as locked (fail closed) and counted.
 * Factory reset keeps this record (src/factory-reset.ts); it expires by itself.
 *
 * Counters: pair.lock_read_error, pair.lock_corrupt, pair.locked,
 * pair.lock_expired, pair.lock_write_error, pair.lock_cleared_local.
 */
import type { ClockPort, StoragePort, TimerHandle } from '../hal/ports.js';
import { Counters } from './counters.js';
import { LOCKOUT_MS, MAX_FAILED_ATTEMPTS } from './pairing-protocol.js';

export const LOCKOUT_KEY = 'pairlock';

export class PairingLockout {
  private count = 0;
  /** Monotonic ms when the lock ends; undefined when not locked. */
  private until: number | undefined;
  private timer: TimerHandle | undefined;
  /** Called (never throwing into the caller) when a lock ends by itself. */
  onUnlock: (() => void) | undefined;

  constructor(
    private readonly storage: StoragePort,
    private readonly clock: ClockPort,
    readonly counters: Counters = new Counters(),
    private readonly maxFailures = MAX_FAILED_ATTEMPTS,
    private readonly lockMs = LOCKOUT_MS,
  ) {
    let raw: Uint8Array | undefined;
    try {
      raw = storage.read(LOCKOUT_KEY);
    } catch {
      counters.inc('pair.lock_read_error');
      raw = Uint8Array.of(1, maxFailures);
    }
    if (raw) {
      if (raw.length === 2 && raw[0] === 1) this.count = raw[1]!;
      else {
        counters.inc('pair.lock_corrupt');
        this.count = maxFailures;
      }
    }
    if (this.count >= maxFailures) this.lock();
  }

  /** Failed proofs counted since the last success, local clear or lock expiry. */
  get failures(): number {
    this.expire();
    return this.count;
  }

  /** True while pairing is locked. */
  isLocked(): boolean {
    this.expire();
    return this.until !== undefined;
  }

  /** Milliseconds until the lock ends (0 when not locked). */
  remainingMs(): number {
    this.expire();
    return this.until === undefined ? 0 : Math.max(0, this.until - this.clock.now());
  }

  /** May a handshake start now? False while locked. Counts nothing. */
  begin(): boolean {
    return !this.isLocked();
  }

  /**
   * A phone proved a wrong secret: counts it (persisted before returning) and
   * locks at maxFailures. Returns true when this failure locked pairing.
   * Throws the storage's PortError after locking in memory (fail closed).
   */
  recordFailure(): boolean {
    this.expire();
    const n = Math.min(255, this.count + 1);
    this.count = n;
    const locks = this.until === undefined && n >= this.maxFailures;
    if (locks) {
      this.counters.inc('pair.locked');
      this.lock();
    }
    this.storage.write(LOCKOUT_KEY, Uint8Array.of(1, n));
    return locks;
  }

  /** The attempt succeeded: the count returns to zero. Throws the storage's PortError. */
  succeeded(): void {
    this.persist(0);
  }

  /**
   * A local pairing gesture (physical presence) clears the count and any lock.
   * Returns false when the record could not be written (the lock then stays).
   */
  clearByLocalGesture(): boolean {
    try {
      this.persist(0);
    } catch {
      this.counters.inc('pair.lock_write_error');
      return false;
    }
    if (this.until !== undefined) this.counters.inc('pair.lock_cleared_local');
    this.unlock();
    return true;
  }

  /** Cancels the expiry timer (the service is closing). Safe twice. */
  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private lock(): void {
    this.until = this.clock.now() + this.lockMs;
    this.timer?.cancel();
    this.timer = this.clock.after(this.lockMs, () => {
      this.timer = undefined;
      try {
        if (this.until !== undefined) this.end();
      } catch {
        this.counters.inc('pair.lock_write_error');
      }
    });
  }

  private unlock(): void {
    this.until = undefined;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private expire(): void {
    if (this.until !== undefined && this.clock.now() >= this.until) this.end();
  }

  /** The lock ran its time: count to zero (in memory even if the write fails). */
  private end(): void {
    this.unlock();
    this.counters.inc('pair.lock_expired');
    try {
      this.persist(0);
    } catch {
      // The record still says locked: a restart would lock again for LOCKOUT_MS (fail closed).
      this.counters.inc('pair.lock_write_error');
      this.count = 0;
    }
    try {
      this.onUnlock?.();
    } catch {
      this.counters.inc('pair.listener_error');
    }
  }

  private persist(n: number): void {
    const v = Math.min(255, n);
    this.storage.write(LOCKOUT_KEY, Uint8Array.of(1, v));
    this.count = v;
  }
}
