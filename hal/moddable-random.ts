/**
 * RandomPort over the ESP32 hardware RNG.
 *
 * The Moddable SDK has no JS API for cryptographic random bytes: `crypt`'s
 * `rng` module is RC4 seeded from c_rand(), XS has no crypto.getRandomValues,
 * and Math.random() is not cryptographic. So this adapter binds a small host
 * function, hal/native/pawpost-random.c, as native("xs_pawpost_random"):
 * esp_fill_random() on the ESP32 (true random while Wi-Fi or BT is on, see
 * docs/HARDWARE.md), getrandom(2) on Moddable's `lin` simulator.
 *
 * fill(into) fills all of `into` (lent) in place; no allocation. A failure of
 * the platform source throws PortError('IO'); the message never holds bytes.
 */
import { PortError, type RandomPort } from './ports.js';

// XS binds a host function by name; `native` is a keyword of the XS parser
// (not a global), so it is declared here for tsc and erased from the output.
declare function native(name: string): (...args: unknown[]) => unknown;

export class ModdableRandom implements RandomPort {
  private readonly fillHost = native('xs_pawpost_random') as (into: Uint8Array) => void;
  /** Bytes produced so far (for tests and diagnostics). */
  produced = 0;

  fill(into: Uint8Array): void {
    if (!(into instanceof Uint8Array)) throw new PortError('INVAL', 'into must be a Uint8Array');
    if (into.length === 0) return;
    try {
      this.fillHost(into);
    } catch {
      throw new PortError('IO', 'hardware RNG failed');
    }
    this.produced += into.length;
  }
}
