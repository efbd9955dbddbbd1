/**
 * The pairing rate limit: after MAX_FAILED_ATTEMPTS attempts that did not
 * succeed, pairing is refused for LOCKOUT_MS. Persisted on the data
 * StoragePort under LOCKOUT_KEY so a restart does not reset it. Portable.
 *
 * What counts: an attempt is counted (and persisted) when the toy ACCEPTS a
 * handshake start (M1), before it spends the X25519; a success resets the count
 * to zero. So a wrong confirmation, a phone that vanishes, a timeout, a power
 * cut in mid-handshake all count as failures, and a restart cannot be used to
 * get free attempts.
 *
 * Clock choice (docs/PROTOCOL.md "### Rate limiting"): only the monotonic clock
 * (ClockPort.now) measures the lockout. The toy has no battery-backed RTC: after
 * a restart its wall clock is unset (1970) until SNTP answers, which may be
 * never (no network yet: this IS the pairing path) or be spoofed. So the record
 * keeps no time at all, only the count: when the toy boots with a count of
 * MAX_FAILED_ATTEMPTS or more, the lockout is re-armed for a full LOCKOUT_MS from
 * boot. A restart can lengthen a lockout, never shorten it.
 *
 * Record: u8 version=1, u8 failures (0..255, saturating).
 * A corrupt record is treated as locked (fail closed) and counted.
 * Factory reset keeps this record (src/factory-reset.ts): a reset must not be a
 * way around the rate limit; the lockout expires by itself, so it cannot brick.
 */
import type { ClockPort, StoragePort } from '../hal/ports.js';
import { Counters } from './counters.js';
import { LOCKOUT_MS, MAX_FAILED_ATTEMPTS } from './pairing-protocol.js';

export const LOCKOUT_KEY = 'pairlock';

export class PairingLockout {
  private count = 0;
  /** Monotonic ms when the lock ends; undefined when not locked. */
  private until: number | undefined;

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
    if (this.count >= maxFailures) this.until = clock.now() + lockMs;
  }

  /** Attempts counted since the last success (or the last lock expiry). */
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

  /**
   * Counts an attempt that starts now (persisted before returning).
   * Returns false when locked. Throws the storage's PortError: the caller must then refuse the attempt.
   */
  begin(): boolean {
    if (this.isLocked() || this.count >= this.maxFailures) return false;
    this.persist(this.count + 1);
    return true;
  }

  /** The attempt in progress failed. Returns true when this failure locked pairing. */
  failed(): boolean {
    this.expire();
    if (this.until === undefined && this.count >= this.maxFailures) {
      this.until = this.clock.now() + this.lockMs;
      this.counters.inc('pair.locked');
      return true;
    }
    return false;
  }

  /** The attempt in progress succeeded: the count returns to zero. */
  succeeded(): void {
    this.persist(0);
  }

  private expire(): void {
    if (this.until !== undefined && this.clock.now() >= this.until) {
      this.until = undefined;
      try {
        this.persist(0);
      } catch {
        // Keep the count in memory: still locked-out-capable; the next begin() retries the write.
        this.counters.inc('pair.lock_write_error');
        this.count = 0;
      }
    }
  }

  private persist(n: number): void {
    const v = Math.min(255, n);
    this.storage.write(LOCKOUT_KEY, Uint8Array.of(1, v));
    this.count = v;
  }
}
