/**
 * Installs the globals the portable code (src/, audio/) relies on and that
 * the Moddable SDK provides only as modules: TextEncoder (`text/encoder`) and
 * TextDecoder (`text/decoder`). hal/firmware-globals.d.ts declares them for tsc.
 *
 * src/main.ts must import this module FIRST (before any src/ or audio/
 * module), so they exist when those modules are evaluated. Idempotent.
 * In the simulator the sim loader maps both specifiers to Node's own classes.
 */
import TextEncoder from 'text/encoder';
import TextDecoder from 'text/decoder';

const g = globalThis as unknown as Record<string, unknown>;
if (g.TextEncoder === undefined) g.TextEncoder = TextEncoder;
if (g.TextDecoder === undefined) g.TextDecoder = TextDecoder;

/** True once both globals are present. */
export const installed: boolean = g.TextEncoder !== undefined && g.TextDecoder !== undefined;
