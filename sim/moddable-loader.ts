/**
 * node:module resolve hook that lets the device adapters (hal/moddable-*.ts)
 * and the firmware's main.ts load UNCHANGED on Node: each Moddable specifier
 * (`timer`, `pins/audioout`, `bleserver`, ...; table in
 * sim/moddable/specifiers.ts) resolves to its Node implementation in
 * sim/moddable/. `tweetnacl` keeps resolving to the npm package (the device
 * maps it to hal/native/tweetnacl-esm.js). A listed specifier whose file does
 * not exist yet fails with a message naming the file to write.
 *
 * Registered by sim/moddable-register.ts (`node --import tsx --import
 * ./sim/moddable-register.ts ...`, or `await import(...)` before importing the
 * adapters). .ts files are then loaded by tsx's hooks.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MODDABLE_SPECIFIERS } from './moddable/specifiers.js';

const DIR = new URL('./moddable/', import.meta.url);

interface ResolveContext {
  conditions: string[];
  importAttributes?: Record<string, string>;
  parentURL?: string;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string; format?: string | null; shortCircuit?: boolean }>;

/** The Node implementation's URL for a Moddable specifier, or undefined when it is not one. */
export function moddableUrl(specifier: string): string | undefined {
  const file = Object.prototype.hasOwnProperty.call(MODDABLE_SPECIFIERS, specifier) ? MODDABLE_SPECIFIERS[specifier] : undefined;
  if (!file) return undefined;
  const url = new URL(file, DIR);
  if (!existsSync(fileURLToPath(url))) {
    throw new Error(`Moddable module "${specifier}" has no Node implementation yet: write sim/moddable/${file}`);
  }
  return url.href;
}

export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve) {
  const url = moddableUrl(specifier);
  // hand the mapped file down the chain (not shortCircuit): tsx's resolve must see it to load the .ts
  return nextResolve(url ?? specifier, context);
}
