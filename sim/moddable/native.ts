/**
 * The host functions the firmware binds with XS's native("xs_...") — in Node,
 * a global `native(name)` returning these implementations (installed by
 * sim/moddable-register.ts). Add an entry when hal/native/*.c gains a function.
 */
import { randomFillSync } from 'node:crypto';
import { board } from './board.js';

type HostFunction = (...args: any[]) => unknown;

export const hostFunctions: Record<string, HostFunction> = {
  /** hal/native/pawpost-random.c: fills a buffer from the hardware RNG. */
  xs_pawpost_random(view: ArrayBufferView | ArrayBuffer): void {
    if (board.rngBroken) throw new Error('rng failed');
    const v = view instanceof ArrayBuffer ? new Uint8Array(view) : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    randomFillSync(v);
    board.rngBytes += v.length;
  },
};

/** XS's `native`: throws for a name with no Node implementation, as xsl would fail to link it. */
export function native(name: string): HostFunction {
  const f = hostFunctions[name];
  if (!f) throw new Error(`no Node implementation of host function ${name} (add it to sim/moddable/native.ts)`);
  return f;
}
