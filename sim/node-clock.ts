/**
 * ClockPort on Node timers, for the simulator and integration tests.
 * now() is performance.now() (monotonic), wallNow() is Date.now().
 * Timers keep the process alive until cancelled (unref: false) unless `unref` is set.
 */
import { performance } from 'node:perf_hooks';
import type { ClockPort, TimerHandle } from '../hal/ports.js';

export class NodeClock implements ClockPort {
  /** Number of callbacks that threw (callbacks must not throw; counted, never rethrown). */
  threw = 0;
  constructor(private readonly opts: { unref?: boolean } = {}) {}

  now(): number {
    return performance.now();
  }
  wallNow(): number {
    return Date.now();
  }
  after(ms: number, cb: () => void): TimerHandle {
    const t = setTimeout(() => this.run(cb), Math.max(0, ms));
    if (this.opts.unref) t.unref();
    return { cancel: () => clearTimeout(t) };
  }
  every(ms: number, cb: () => void): TimerHandle {
    if (!(ms > 0)) throw new RangeError('every: ms must be > 0');
    const t = setInterval(() => this.run(cb), ms);
    if (this.opts.unref) t.unref();
    return { cancel: () => clearInterval(t) };
  }
  private run(cb: () => void): void {
    try {
      cb();
    } catch {
      this.threw++;
    }
  }
}
