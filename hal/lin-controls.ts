/**
 * The toy's controls on the SDK's `lin` simulator, which has no GPIO and no LED
 * driver (manifest.json maps `hal/board-controls` here on `lin`).
 *
 * - The paw and the heart are ButtonPorts whose "pin" is driven by software:
 *   `linButtons.paw.drive(true)` is the contacts closing. As on the device the
 *   change reaches the toy after a debounce quiet time on the ClockPort, so a
 *   scenario exercises the same timing as a finger. Nothing else reaches into
 *   the toy: a scenario module (tests/device/, only in test builds) presses and
 *   releases through these.
 * - The LED logs its state as one trace line per change of colour name
 *   (`led <name> r,g,b`), where the name is the dominant colour (off, red,
 *   green, blue, ...); the brightness of a glow does not make lines.
 */
import type { BoardConfig } from './moddable-config.js';
import type { BoardControls, ButtonId, ButtonPort, ClockPort, LedPort, TimerHandle } from './ports.js';

/** A button driven by software, debounced like the GPIO adapter. */
export class DrivenButton implements ButtonPort {
  private level = false;
  private pressed = false;
  private timer: TimerHandle | undefined;
  private cb: ((pressed: boolean, atMs: number) => void) | undefined;
  private closed = false;
  /** Changes reported to the toy. */
  changes = 0;

  constructor(readonly id: ButtonId, private readonly clock: ClockPort, private readonly onError: (e: unknown) => void, private readonly debounceMs = 30) {}

  /** Closes (true) or opens (false) the contacts. Never throws. */
  drive(down: boolean): void {
    if (this.closed) return;
    this.level = down;
    this.timer?.cancel();
    this.timer = this.clock.after(this.debounceMs, () => this.settle());
  }

  read(): boolean {
    return this.pressed;
  }

  onChange(cb: (pressed: boolean, atMs: number) => void): void {
    this.cb = cb;
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private settle(): void {
    this.timer = undefined;
    if (this.closed || this.level === this.pressed) return;
    this.pressed = this.level;
    this.changes++;
    try {
      this.cb?.(this.pressed, this.clock.now());
    } catch (e) {
      try {
        this.onError(e);
      } catch {
        // onError must not throw
      }
    }
  }
}

/** The dominant colour of (r, g, b), for the log. */
export function colourName(r: number, g: number, b: number): string {
  const m = Math.max(r, g, b);
  if (!(m >= 8)) return 'off';
  const on = (v: number) => v >= m * 0.5;
  const key = (on(r) ? 'r' : '') + (on(g) ? 'g' : '') + (on(b) ? 'b' : '');
  switch (key) {
    case 'r': return 'red';
    case 'g': return 'green';
    case 'b': return 'blue';
    case 'rg': return 'yellow';
    case 'rb': return 'magenta';
    case 'gb': return 'cyan';
    default: return 'white';
  }
}

/** An LED that writes one trace line per change of colour name. */
export class TraceLed implements LedPort {
  private name = '';
  private closed = false;
  /** set() calls. */
  sets = 0;

  constructor(private readonly sink: (line: string) => void) {}

  set(r: number, g: number, b: number): void {
    if (this.closed) return;
    this.sets++;
    const name = colourName(r, g, b);
    if (name === this.name) return;
    this.name = name;
    try {
      this.sink(`led ${name} ${Math.round(r)},${Math.round(g)},${Math.round(b)}\n`);
    } catch {
      // logging must not stop the toy
    }
  }

  close(): void {
    if (!this.closed) this.set(0, 0, 0);
    this.closed = true;
  }
}

/** The buttons of the running toy, for scenario modules. Set by openBoardControls. */
export const linButtons: { paw?: DrivenButton; heart?: DrivenButton } = {};

export function openBoardControls(_board: BoardConfig, clock: ClockPort, onError: (e: unknown) => void): BoardControls {
  const paw = new DrivenButton('paw', clock, onError);
  const heart = new DrivenButton('heart', clock, onError);
  linButtons.paw = paw;
  linButtons.heart = heart;
  return { kind: 'scenario', paw, heart, led: new TraceLed((l) => trace(l)) };
}
