/**
 * A manual ClockPort for tests: time moves only when the test calls advance(),
 * so a minute of audio runs in milliseconds. Portable (runs in both tiers).
 */
import type { ClockPort, TimerHandle } from '../../hal/ports.js';

interface Entry { at: number; every: number; cb: () => void; live: boolean; seq: number }

export class ManualClock implements ClockPort {
  private t = 0;
  private wall: number;
  private seq = 0;
  private entries: Entry[] = [];
  /** Number of callbacks fired so far. */
  fired = 0;

  constructor(wallStartMs = Date.UTC(2026, 10, 28)) {
    this.wall = wallStartMs;
  }

  now(): number {
    return this.t;
  }
  wallNow(): number {
    return this.wall + this.t;
  }
  /** Moves the wall clock without moving monotonic time (SNTP set, or a test of expiry). */
  setWall(ms: number): void {
    this.wall = ms - this.t;
  }
  after(ms: number, cb: () => void): TimerHandle {
    return this.add(Math.max(0, ms), 0, cb);
  }
  every(ms: number, cb: () => void): TimerHandle {
    if (!(ms > 0)) throw new RangeError('every: ms must be > 0');
    return this.add(ms, ms, cb);
  }
  private add(delay: number, every: number, cb: () => void): TimerHandle {
    const e: Entry = { at: this.t + delay, every, cb, live: true, seq: this.seq++ };
    this.entries.push(e);
    return { cancel: () => { e.live = false; } };
  }
  /** Pending live timers. */
  pending(): number {
    return this.entries.filter((e) => e.live).length;
  }
  /** Advances time by ms, firing due callbacks in time order (ties in creation order). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: Entry | undefined;
      const list = this.entries;
      // an index loop: no iterator is allocated per timer fired (benches count the toy's heap apart)
      for (let i = 0; i < list.length; i++) {
        const e = list[i]!;
        if (!e.live || e.at > end) continue;
        if (!next || e.at < next.at || (e.at === next.at && e.seq < next.seq)) next = e;
      }
      if (!next) break;
      this.t = next.at;
      if (next.every > 0) next.at += next.every;
      else next.live = false;
      this.fired++;
      next.cb();
    }
    this.t = end;
    let dead = false;
    for (let i = 0; i < this.entries.length && !dead; i++) dead = !this.entries[i]!.live;
    if (dead) this.entries = this.entries.filter((e) => e.live);
  }
}
