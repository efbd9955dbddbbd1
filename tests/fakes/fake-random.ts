/**
 * A deterministic RandomPort for tests (xorshift32 from a seed). NOT for real
 * keys: the simulator and the device use real entropy. Portable.
 */
import type { RandomPort } from '../../hal/ports.js';

export class FakeRandom implements RandomPort {
  private s: number;
  calls = 0;
  constructor(seed = 0x9e3779b9) {
    this.s = seed >>> 0 || 1;
  }
  fill(into: Uint8Array): void {
    this.calls++;
    for (let i = 0; i < into.length; i++) {
      let x = this.s;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.s = x >>> 0;
      into[i] = this.s & 0xff;
    }
  }
}
