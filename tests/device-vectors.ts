/**
 * The committed envelope and pairing vectors (tests/vectors/envelope-v2.json,
 * pairing-v2.json) regenerated INSIDE the firmware with the native crypto
 * (hal/moddable-crypto.ts over hal/native/pawpost-crypto.c) for every party:
 * run by the device tier's scenario build (tests/device-scenario.ts, command
 * `vectors`), which traces the SHA-512 of each JSON text; tools/device-test.ts
 * compares them with the committed files' (byte for byte, in one hash each).
 * Also run on Node against the sim's host functions (tests/moddable-crypto-sim.test.ts).
 */
import { ModdableCrypto } from '../hal/moddable-crypto.js';
import type { CryptoPort } from '../hal/ports.js';
import { makeEnvelopeVectors } from '../tools/envelope-vectors.js';
import { makePairingVectors } from './pairing-vectors.cases.js';

function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
}

/**
 * The JSON texts of both vector sets made with `crypto`. `v1ChunkHex`: the v1 chunk the envelope
 * vectors refuse (tests/vectors/envelope-v1.json messages[1].chunks[0].bytes; the firmware cannot
 * import JSON, so the device tier passes it on the `vectors` command line).
 */
export function vectorTexts(v1ChunkHex: string, crypto: CryptoPort): { envelope: string; pairing: string } {
  return { envelope: JSON.stringify(makeEnvelopeVectors(v1ChunkHex, crypto)), pairing: JSON.stringify(makePairingVectors(crypto)) };
}

/** SHA-512 (hex) of each JSON text made with the native crypto, traced by the scenario build as `vectors envelope=<hex> pairing=<hex> calls=<n>`. */
export function vectorDigests(v1ChunkHex: string): { envelope: string; pairing: string; calls: number } {
  const crypto = new ModdableCrypto();
  const t = vectorTexts(v1ChunkHex, crypto);
  const enc = new TextEncoder();
  return { envelope: hex(crypto.sha512(enc.encode(t.envelope))), pairing: hex(crypto.sha512(enc.encode(t.pairing))), calls: crypto.calls };
}
