/**
 * ClockPort over Moddable's `timer` and `time` modules.
 *
 * - now(): monotonic milliseconds since this object was made, from the platform's
 *   tick counter `Time.ticks` (ESP32: the FreeRTOS tick count in ms; lin: the
 *   monotonic clock), never from Date.now(). Ticks are an unsigned 32-bit
 *   millisecond count handed to JS as a signed 32-bit integer (xsmcSetInteger of
 *   modMilliseconds()), so they wrap after 49.7 days: now() adds the unsigned
 *   difference from the previous read, and every timer this clock schedules or
 *   fires reads the ticks too. now() is exact while something reads it or one of
 *   its timers runs at least once per 49.7 days (a toy waiting on nothing for that
 *   long has no time-based decision pending; the pairing lock is ended by its own
 *   timer). There is deliberately no keeper timer: a permanent timer would keep
 *   the simulator's Node process alive. An earlier version made Date.now() monotonic by absorbing any step over
 *   60 s as a clock set: on an idle toy the first read after a long wait absorbed
 *   the whole wait (issue 11: a pairing lock that never ended).
 * - wallNow(): Date.now() (epoch ms; 1970-based until SNTP has run).
 * - after()/every(): Timer.set / Timer.repeat. A callback that throws is caught
 *   and routed to `onError` (a timer callback must never take the firmware down).
 *
 * close() clears every live timer; safe twice. After close() timers are not
 * created (after/every return a handle whose cancel() does nothing).
 */
import Time from 'time';
import Timer from 'timer';
import type { ClockPort, TimerHandle } from './ports.js';
import { PortError } from './ports.js';

export interface ModdableClockOptions {
  /** Receives errors thrown by timer callbacks. Must not throw. */
  onError?: (err: unknown) => void;
  /** Source of the tick counter (tests); default `() => Time.ticks`. */
  ticks?: () => number;
}

const NOOP: TimerHandle = { cancel() {} };

export class ModdableClock implements ClockPort {
  private readonly onError: (err: unknown) => void;
  private readonly ticks: () => number;
  private elapsed = 0;
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
    this.ticks = options.ticks ?? (() => Time.ticks);
    this.last = this.ticks() >>> 0;
  }

  now(): number {
    const raw = this.ticks() >>> 0;
    this.elapsed += (raw - this.last) >>> 0; // unsigned 32-bit difference: correct across one wrap
    this.last = raw;
    return this.elapsed;
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
    this.now(); // keeps the wrap tracking current (see the file comment)
    let timer: Timer | undefined;
    const fire = (): void => {
      this.now();
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
