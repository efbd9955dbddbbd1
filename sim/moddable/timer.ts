/**
 * Node implementation of the Moddable `timer` module (modules/base/timer):
 * Timer.set(cb, ms, repeat?), Timer.repeat(cb, ms), Timer.schedule, Timer.clear,
 * Timer.delay. Callbacks get the timer and run on the event loop, as on the
 * device. Live timers are counted on the board (leak checks). A callback that
 * throws is reported on the board's trace and does not stop other timers
 * (on the device it would land in xsbug).
 */
import { board } from './board.js';

export type TimerCallback = (timer: Timer) => void;

export default class Timer {
  private handle: NodeJS.Timeout | undefined;
  private live = false;
  private constructor(private readonly cb: TimerCallback) {}

  private arm(first: number, repeat: number | undefined): void {
    this.disarm();
    this.live = true;
    board.liveTimers++;
    const fire = (): void => {
      if (repeat === undefined) this.disarm();
      try {
        this.cb(this);
      } catch (err) {
        board.trace(`# timer callback threw: ${String(err)}\n`);
      }
    };
    this.handle = setTimeout(() => {
      if (repeat !== undefined && this.live) this.handle = setInterval(fire, Math.max(1, repeat));
      fire();
    }, Math.max(0, first));
  }

  private disarm(): void {
    if (this.handle) {
      clearTimeout(this.handle);
      clearInterval(this.handle);
      this.handle = undefined;
    }
    if (this.live) {
      this.live = false;
      board.liveTimers--;
    }
  }

  static set(callback: TimerCallback, interval = 0, repeat?: number): Timer {
    const t = new Timer(callback);
    t.arm(interval, repeat);
    return t;
  }

  static repeat(callback: TimerCallback, interval: number): Timer {
    const t = new Timer(callback);
    t.arm(interval, interval);
    return t;
  }

  static schedule(timer: Timer, interval = 0, repeat?: number): void {
    timer.arm(interval, repeat);
  }

  static clear(timer: Timer | undefined | null): void {
    timer?.disarm();
  }

  /** Blocks the thread for `ms` milliseconds (as on the device). */
  static delay(ms: number): void {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, ms));
  }
}
