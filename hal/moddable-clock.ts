/**
 * ClockPort over Moddable's `timer` and the XS clock.
 *
 * - now(): monotonic milliseconds. XS on the ESP32 has no performance.now();
 *   Date.now() jumps when SNTP sets the clock, so now() is Date.now() made
 *   monotonic: a backwards or forward jump larger than `maxStepMs` between two
 *   reads is absorbed into an offset (time then advances by 0 for that read).
 * - wallNow(): Date.now() (epoch ms; 1970-based until SNTP has run).
 * - after()/every(): Timer.set / Timer.repeat. A callback that throws is caught
 *   and routed to `onError` (a timer callback must never take the firmware down).
 *
 * close() clears every live timer; safe twice. After close() timers are not
 * created (after/every return a handle whose cancel() does nothing).
 */
import Timer from 'timer';
import type { ClockPort, TimerHandle } from './ports.js';
import { PortError } from './ports.js';

export interface ModdableClockOptions {
  /** Receives errors thrown by timer callbacks. Must not throw. */
  onError?: (err: unknown) => void;
  /** A Date.now() step larger than this (ms, either way) is treated as a clock set, not elapsed time. Default 60 000. */
  maxStepMs?: number;
}

const NOOP: TimerHandle = { cancel() {} };

export class ModdableClock implements ClockPort {
  private readonly onError: (err: unknown) => void;
  private readonly maxStepMs: number;
  private offset = 0;
  private last: number;
  private readonly live = new Set<Timer>();
  private closed = false;

  constructor(options: ModdableClockOptions = {}) {
    const onError = options.onError ?? (() => {});
    this.onError = (err) => {
      try {
        onError(err);
      } catch {
        // onError must not throw; if it does, the error stops here
      }
    };
    this.maxStepMs = options.maxStepMs ?? 60_000;
    if (!(this.maxStepMs > 0)) throw new PortError('INVAL', 'maxStepMs must be > 0');
    this.last = Date.now();
  }

  now(): number {
    const raw = Date.now();
    const step = raw - this.last;
    if (step < 0 || step > this.maxStepMs) this.offset -= step; // a clock set: absorb it
    this.last = raw;
    return raw + this.offset;
  }

  wallNow(): number {
    return Date.now();
  }

  after(ms: number, cb: () => void): TimerHandle {
    if (!(ms >= 0)) throw new PortError('INVAL', 'ms must be >= 0');
    return this.schedule(ms, cb, false);
  }

  every(ms: number, cb: () => void): TimerHandle {
    if (!(ms > 0)) throw new PortError('INVAL', 'ms must be > 0');
    return this.schedule(ms, cb, true);
  }

  /** Live timers (for tests and the memory budget). */
  liveTimers(): number {
    return this.live.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.live) Timer.clear(t);
    this.live.clear();
  }

  private schedule(ms: number, cb: () => void, repeat: boolean): TimerHandle {
    if (this.closed) return NOOP;
    let timer: Timer | undefined;
    const fire = (): void => {
      if (!repeat && timer !== undefined) {
        this.live.delete(timer); // a one-shot Moddable timer frees itself after firing
        timer = undefined;
      }
      try {
        cb();
      } catch (err) {
        this.onError(err);
      }
    };
    timer = repeat ? Timer.repeat(fire, ms) : Timer.set(fire, ms);
    this.live.add(timer);
    return {
      cancel: () => {
        if (timer === undefined) return;
        Timer.clear(timer);
        this.live.delete(timer);
        timer = undefined;
      },
    };
  }
}
