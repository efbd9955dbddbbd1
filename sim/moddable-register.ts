/**
 * Makes this Node process look like the Moddable runtime to the firmware:
 * registers sim/moddable-loader.ts (Moddable specifiers → sim/moddable/*) and
 * installs the XS globals the adapters use: `trace` (to board.trace) and
 * `native` (host functions of sim/moddable/native.ts). Idempotent.
 *
 * Use: `node --import tsx --import ./sim/moddable-register.ts main.ts`, or in a
 * test `await import('../sim/moddable-register.js')` BEFORE importing any
 * hal/moddable-* module (imports made earlier were already resolved).
 */
import { register } from 'node:module';
import { board } from './moddable/board.js';
import { native } from './moddable/native.js';

const g = globalThis as unknown as Record<string, unknown>;
if (!g.__pawpostModdableSim) {
  g.__pawpostModdableSim = true;
  register('./moddable-loader.ts', import.meta.url);
  if (g.trace === undefined) g.trace = (...parts: unknown[]) => board.trace(parts.map(String).join(''));
  if (g.native === undefined) g.native = native;
}

export { board };
