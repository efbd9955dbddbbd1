/**
 * ButtonPort over Moddable's `pins/digital/monitor` (GPIO edge interrupts,
 * delivered on the JS thread), debounced in JS.
 *
 * Debounce: every edge (re)starts a `debounceMs` quiet timer on the ClockPort;
 * when it fires, the pin is read and, if the settled state differs from the
 * last reported one, onChange(pressed, clock.now()) is called once. Bounces
 * shorter than debounceMs never reach the toy; a press is reported debounceMs
 * after the contacts settle (default 30 ms).
 *
 * Pins (manifest "config", read in main.ts through mc/config; see
 * docs/HARDWARE.md): the ATOM Echo's own button is GPIO39 (input-only, with an
 * external pull-up, active low: `pull: 'none'`); the heart button is an extra
 * switch to GND on a Grove/header pin (`config.heartPin`, default GPIO32,
 * `pull: 'up'`).
 *
 * On the m5atom_echo target the SDK's setup/target already watches GPIO39
 * (globalThis.button.a, an M5Button). An ESP32 GPIO has one interrupt handler,
 * so call releaseTargetButtons() before creating a ModdableButton on GPIO39.
 *
 * The onChange callback must not throw; if it does, the error goes to onError.
 * close() stops the monitor and the timer; safe twice.
 */
import Monitor from 'pins/digital/monitor';
import type { ButtonId, ButtonPort, ClockPort, TimerHandle } from './ports.js';
import { PortError } from './ports.js';

// Values of the SDK's Digital.* modes and Monitor.* edges (modules/pins/digital).
const MODE_INPUT = 0;
const MODE_INPUT_PULLUP = 1;
const MODE_INPUT_PULLDOWN = 2;
const EDGE_BOTH = 3; // Monitor.Rising | Monitor.Falling

export interface ModdableButtonOptions {
  id: ButtonId;
  /** GPIO number. */
  pin: number;
  /** Level when pressed: 0 (switch to GND, the default) or 1. */
  activeLevel?: 0 | 1;
  /** Internal pull resistor: 'up' (default), 'down' or 'none' (GPIO34..39 have none). */
  pull?: 'up' | 'down' | 'none';
  /** Quiet time in ms before an edge counts (default 30, 0..1000). */
  debounceMs?: number;
  /** Timers for the debounce and the atMs of events. */
  clock: ClockPort;
  /** Receives errors thrown by the onChange callback or the pin. Must not throw. */
  onError?: (err: unknown) => void;
}

export class ModdableButton implements ButtonPort {
  readonly id: ButtonId;
  private readonly clock: ClockPort;
  private readonly activeLevel: number;
  private readonly debounceMs: number;
  private readonly onError: (err: unknown) => void;
  private monitor: Monitor | undefined;
  private timer: TimerHandle | undefined;
  private cb: ((pressed: boolean, atMs: number) => void) | undefined;
  private pressed: boolean;
  /** Edges seen (raw, before debouncing) and changes reported. */
  edges = 0;
  changes = 0;

  constructor(options: ModdableButtonOptions) {
    this.id = options.id;
    this.clock = options.clock;
    this.activeLevel = options.activeLevel ?? 0;
    this.debounceMs = options.debounceMs ?? 30;
    const onError = options.onError ?? (() => {});
    this.onError = (err) => {
      try {
        onError(err);
      } catch {
        // onError must not throw
      }
    };
    if (!Number.isInteger(options.pin) || options.pin < 0 || options.pin > 48) throw new PortError('INVAL', 'bad pin');
    if (!(this.debounceMs >= 0 && this.debounceMs <= 1000)) throw new PortError('INVAL', 'bad debounceMs');
    const pull = options.pull ?? 'up';
    const mode = pull === 'up' ? MODE_INPUT_PULLUP : pull === 'down' ? MODE_INPUT_PULLDOWN : MODE_INPUT;
    try {
      // the typings allow one edge; the driver takes the bit set (Rising | Falling)
      this.monitor = new Monitor({ pin: options.pin, mode: mode as 0, edge: EDGE_BOTH as 1 });
    } catch {
      throw new PortError('IO', 'cannot monitor pin');
    }
    this.pressed = this.level() === this.activeLevel;
    // the driver calls the instance's onChanged property on each edge
    this.monitor.onChanged = () => this.edge();
  }

  read(): boolean {
    return this.pressed;
  }

  onChange(cb: (pressed: boolean, atMs: number) => void): void {
    this.cb = cb;
  }

  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
    const m = this.monitor;
    this.monitor = undefined;
    if (m) {
      try {
        m.close();
      } catch (err) {
        this.onError(err);
      }
    }
  }

  private level(): number {
    return this.monitor ? this.monitor.read() : 1 - this.activeLevel;
  }

  private edge(): void {
    if (!this.monitor) return;
    this.edges++;
    this.timer?.cancel();
    if (this.debounceMs === 0) this.settle();
    else this.timer = this.clock.after(this.debounceMs, () => this.settle());
  }

  private settle(): void {
    this.timer = undefined;
    if (!this.monitor) return;
    try {
      const now = this.level() === this.activeLevel;
      if (now === this.pressed) return;
      this.pressed = now;
      this.changes++;
      this.cb?.(now, this.clock.now());
    } catch (err) {
      this.onError(err);
    }
  }
}

/**
 * Frees the buttons the board's setup/target created (the m5atom_echo target
 * monitors GPIO39 as globalThis.button.a), so ModdableButton can take the pin.
 * Returns how many were released. Never throws (the SDK's M5Button.close()
 * throws after closing its monitor; that is caught here).
 */
export function releaseTargetButtons(): number {
  const g = globalThis as unknown as { button?: Record<string, { close?: () => void }> };
  const buttons = g.button;
  if (!buttons || typeof buttons !== 'object') return 0;
  let n = 0;
  for (const key of Object.keys(buttons)) {
    try {
      buttons[key]?.close?.();
    } catch {
      // M5Button.close() assigns an undeclared name after closing: the monitor is closed anyway
    }
    n++;
  }
  try {
    delete g.button;
  } catch {
    g.button = undefined;
  }
  return n;
}
