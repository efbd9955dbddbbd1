/**
 * A minimal ClockPort for step-count measurements: `step(ms)` moves time and
 * fires the periodic timers due, without allocating (ManualClock allocates a
 * little per advance(), which would be charged to the code under measurement).
 * Supports `every` timers only (and `after` as a one-shot). Portable.
 */
import type { ClockPort, TimerHandle } from '../../hal/ports.js';

interface Slot { cb: () => void; period: number; at: number; live: boolean; handle: TimerHandle }

export class StepClock implements ClockPort {
  private t = 0;
  private readonly slots: Slot[] = [];
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return Date.UTC(2026, 10, 28) + this.t;
  }
  after(ms: number, cb: () => void): TimerHandle {
    return this.add(Math.max(0, ms), 0, cb);
  }
  every(ms: number, cb: () => void): TimerHandle {
    if (!(ms > 0)) throw new RangeError('every: ms must be > 0');
    return this.add(ms, ms, cb);
  }
  /** Moves time by ms, firing due timers in slot order (each at most once per period elapsed). */
  step(ms: number): void {
    const end = this.t + ms;
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i]!;
      while (s.live && s.at <= end) {
        this.t = s.at;
        if (s.period > 0) s.at += s.period;
        else s.live = false;
        s.cb();
      }
    }
    this.t = end;
  }
  private add(delay: number, period: number, cb: () => void): TimerHandle {
    const s: Slot = { cb, period, at: this.t + delay, live: true, handle: { cancel: () => { s.live = false; } } };
    this.slots.push(s);
    return s.handle;
  }
}
