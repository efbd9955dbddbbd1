/**
 * src/nacl-crypto.ts as bundled for the native XS worker (tools/xs-worker.ts
 * bundleForXs `native`): the same exports, but `naclCrypto` is the device's
 * CryptoPort, hal/moddable-crypto.ts over libsodium (hal/native/pawpost-crypto.c),
 * so the portable tests and the bench run the device's C unchanged.
 * Only the native worker defines the global `native` this needs.
 */
import type { CryptoPort } from '../../hal/ports.js';
import { ModdableCrypto } from '../../hal/moddable-crypto.js';

export * from '../../src/nacl-crypto.js';

/** The native CryptoPort, under the reference's name. */
export const naclCrypto: CryptoPort & { calls: number; failures: number } = new ModdableCrypto();
