/**
 * The heart LED driver: named patterns over the LedPort, animated with the
 * ClockPort. Only one pattern shows at a time; the toy's state machine picks it.
 * An animated pattern holds one 50 ms timer; a steady pattern holds none.
 * No allocation per tick (the breathing curve is a preallocated table).
 *
 * What a person sees (docs/USER-GUIDE.md has the same table):
 *   off           nothing to say
 *   recording     steady red for the whole recording (the child's mic is live)
 *   message       slow pink "breathing": a message is waiting, press the heart
 *   playing       steady soft pink while a message plays
 *   pairing       blue blink, 1 s period: the toy listens for a phone (120 s)
 *   paired        green, three flashes, then the previous pattern
 *   failed        red, three quick flashes, then the previous pattern
 *   locked        amber double blink every 2 s: pairing is locked (too many failures)
 *   reset         steady white while a factory reset is armed / under way
 *   no-family     one orange flash: the paw was pressed but no phone is paired yet
 *   error         red/blue alternating, 250 ms: factory data missing or malformed; the toy will not run
 */
import type { ClockPort, LedPort, TimerHandle } from '../hal/ports.js';

export type LedPattern =
  | 'off'
  | 'recording'
  | 'message'
  | 'playing'
  | 'pairing'
  | 'paired'
  | 'failed'
  | 'locked'
  | 'reset'
  | 'no-family'
  | 'error';

const TICK_MS = 50;
/** Patterns that play once and then return to the pattern underneath. */
const ONE_SHOT: Partial<Record<LedPattern, number>> = { paired: 1500, failed: 900, 'no-family': 400 };

// Breathing curve: 60 steps (3 s period), 0..255, computed once.
const BREATH = new Uint8Array(60);
for (let i = 0; i < BREATH.length; i++) BREATH[i] = Math.round(20 + 235 * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / BREATH.length)));

export class HeartLed {
  private pattern: LedPattern = 'off';
  private base: LedPattern = 'off';
  private step = 0;
  private timer: TimerHandle | undefined;
  private oneShotLeftMs = 0;
  private closed = false;
  /** Number of LED writes, for tests. */
  writes = 0;

  constructor(private readonly led: LedPort, private readonly clock: ClockPort) {
    this.led.set(0, 0, 0);
  }

  /** The pattern showing now. */
  get current(): LedPattern {
    return this.pattern;
  }

  /**
   * Shows `p`. A one-shot pattern (paired, failed, no-family) plays once over the
   * current steady pattern and then returns to it; showing a steady pattern while a
   * one-shot plays replaces what it returns to.
   */
  show(p: LedPattern): void {
    if (this.closed) return;
    if (ONE_SHOT[p] !== undefined) {
      this.oneShotLeftMs = ONE_SHOT[p]!;
      this.start(p);
      return;
    }
    this.base = p;
    // The recording light (the mic is live), the error and the reset patterns show at
    // once: a one-shot flash never hides them.
    if (p === 'recording' || p === 'error' || p === 'reset') this.oneShotLeftMs = 0;
    else if (this.oneShotLeftMs > 0) return;
    if (p !== this.pattern) this.start(p);
  }

  private start(p: LedPattern): void {
    this.pattern = p;
    this.step = 0;
    this.render();
    const animated = p !== 'off' && p !== 'recording' && p !== 'playing' && p !== 'reset';
    if (animated && !this.timer) this.timer = this.clock.every(TICK_MS, () => this.tick());
    if (!animated && this.timer) {
      this.timer.cancel();
      this.timer = undefined;
    }
  }

  private tick(): void {
    this.step++;
    if (this.oneShotLeftMs > 0) {
      this.oneShotLeftMs -= TICK_MS;
      if (this.oneShotLeftMs <= 0) {
        this.oneShotLeftMs = 0;
        this.start(this.base);
        return;
      }
    }
    this.render();
  }

  private set(r: number, g: number, b: number): void {
    this.writes++;
    this.led.set(r, g, b);
  }

  private render(): void {
    const s = this.step;
    switch (this.pattern) {
      case 'off':
        return this.set(0, 0, 0);
      case 'recording':
        return this.set(255, 0, 0);
      case 'playing':
        return this.set(120, 20, 60);
      case 'reset':
        return this.set(255, 255, 255);
      case 'message': {
        const v = BREATH[s % BREATH.length]!;
        return this.set(v, (v * 40) >> 8, (v * 110) >> 8);
      }
      case 'pairing':
        return s % 20 < 10 ? this.set(0, 0, 255) : this.set(0, 0, 0);
      case 'paired':
        return s % 10 < 5 ? this.set(0, 255, 0) : this.set(0, 0, 0);
      case 'failed':
        return s % 6 < 3 ? this.set(255, 0, 0) : this.set(0, 0, 0);
      case 'no-family':
        return s < 6 ? this.set(255, 100, 0) : this.set(0, 0, 0);
      case 'locked': {
        const k = s % 40;
        return k < 3 || (k >= 6 && k < 9) ? this.set(255, 120, 0) : this.set(0, 0, 0);
      }
      case 'error':
        return s % 10 < 5 ? this.set(255, 0, 0) : this.set(0, 0, 255);
    }
  }

  /** Stops animating and turns the LED off. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.led.set(0, 0, 0);
    this.closed = true;
  }
}
