/** A ButtonPort the test presses by hand. Portable. */
import type { ButtonId, ButtonPort } from '../../hal/ports.js';

export class FakeButton implements ButtonPort {
  private cb: ((pressed: boolean, atMs: number) => void) | undefined;
  private down = false;
  closed = 0;
  constructor(readonly id: ButtonId, private readonly now: () => number = () => 0) {}
  read(): boolean {
    return this.down;
  }
  onChange(cb: (pressed: boolean, atMs: number) => void): void {
    this.cb = cb;
  }
  press(): void {
    this.down = true;
    this.cb?.(true, this.now());
  }
  release(): void {
    this.down = false;
    this.cb?.(false, this.now());
  }
  close(): void {
    this.closed++;
  }
}
