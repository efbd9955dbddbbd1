/**
 * XS entry for the firmware update bench (issue 14): the toy's verification work
 * for a 1.5 MiB image inside XS: the manifest check (Ed25519 verify, tweetnacl),
 * SHA-256 of the image in 4 KiB chunks (the portable JS Sha256Port; the device
 * uses the SDK's native `crypt` instead), and a whole UpdateClient install on a
 * fake flash (offer, 384 chunk writes, hash compare, switch).
 */
import { onXsCommand } from '../../tests/xs/commands.js';
import { naclCrypto } from '../../src/nacl-crypto.js';
import { jsSha256 } from '../../src/sha256.js';
import { verifyManifest } from '../../src/update-manifest.js';
import { makeImage, releaseKey, signManifest, UpdateToy, V010, V020 } from '../../tests/update-rig.js';

const SIZE = 1536 * 1024;
const CHUNK = 4096;
let image: Uint8Array | undefined;
let manifest: Uint8Array | undefined;
let digest: Uint8Array | undefined;

onXsCommand('setup', () => {
  image = makeImage(V020, SIZE);
  manifest = signManifest(image, { version: V020, securityVersion: 1 });
  return image.length;
});
onXsCommand('verify-manifest', () => typeof verifyManifest(manifest!, [releaseKey.publicKey], naclCrypto) === 'object');
onXsCommand('hash', () => {
  const s = jsSha256.create();
  for (let o = 0; o < SIZE; o += CHUNK) s.update(image!.subarray(o, o + CHUNK));
  digest = s.digest();
  return digest.length;
});
onXsCommand('install', () => {
  const toy = new UpdateToy(makeImage(V010, 1000), 0x180000);
  return toy.install(manifest!, image!, CHUNK);
});
