/**
 * The committed pairing vectors (tests/vectors/pairing-v2.json) remade INSIDE
 * the firmware with the native crypto (hal/moddable-crypto.ts over
 * hal/native/pawpost-crypto.c) for every party: run by the device tier's
 * scenario build (tests/device-scenario.ts, command `vectors`), which traces the
 * SHA-512 of each vector's JSON text; tools/device-test.ts compares them with the
 * committed file's (byte for byte, one hash per vector). One vector at a time,
 * so it fits the ESP32's fixed chunk heap beside the running toy.
 *
 * The envelope vectors (79 KB of JSON, built whole by tools/envelope-vectors.ts)
 * do not fit that heap; they go through the adapter on Node only
 * (tests/moddable-crypto-sim.test.ts, the sim's host functions).
 */
import { ModdableCrypto } from '../hal/moddable-crypto.js';
import { makePairingVector, VECTOR_INPUTS } from './pairing-vectors.cases.js';

function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
}

/** SHA-512 (hex) of each pairing vector's JSON text made with the native crypto, and the native calls made. */
export function pairingVectorDigests(): { digests: string[]; calls: number } {
  const crypto = new ModdableCrypto();
  const enc = new TextEncoder();
  const digests: string[] = [];
  for (let k = 0; k < VECTOR_INPUTS.length; k++) {
    const text = JSON.stringify(makePairingVector(`case-${k + 1}`, VECTOR_INPUTS[k]!, crypto));
    digests.push(hex(crypto.sha512(enc.encode(text))));
  }
  return { digests, calls: crypto.calls };
}
