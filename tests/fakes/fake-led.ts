/** A LedPort that remembers its colour and counts writes. Portable. */
import type { LedPort } from '../../hal/ports.js';

export class FakeLed implements LedPort {
  r = 0;
  g = 0;
  b = 0;
  writes = 0;
  set(r: number, g: number, b: number): void {
    this.r = r;
    this.g = g;
    this.b = b;
    this.writes++;
  }
  get lit(): boolean {
    return this.r + this.g + this.b > 0;
  }
  close(): void {}
}
