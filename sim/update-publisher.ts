/**
 * Signed test releases for the simulator and the device tier (issue 14), host only:
 * a session release key (generated in memory per simulator session or test run:
 * never written to the repository or the log), simulated images, their signed
 * manifests, and publishing them to a broker as the release operator.
 *
 * A simulated image starts with the 16-byte header hal/lin-update-boot.ts reads
 * ("PPSIMIMG", version u16 x 3, 2 reserved) followed by filler: lin and the Node
 * simulator cannot execute a downloaded image, so the version the toy reports
 * after the update is the header's (docs/SECURITY.md "Firmware updates").
 */
import nacl from 'tweetnacl';
import { createHash, randomBytes } from 'node:crypto';
import { encodeManifestBody, joinManifest, manifestSignedMessage, parseVersion, type FirmwareVersion } from '../src/update-manifest.js';

/** The header of hal/lin-update-boot.ts (which imports Moddable's `file`, so it is not imported here; tests/update-sim.test.ts checks they agree). */
const SIM_IMAGE_MAGIC = 'PPSIMIMG';
const SIM_IMAGE_HEADER_BYTES = 16;

export interface SessionReleaseKey {
  publicKey: Uint8Array;
  /** Held in memory only. */
  secretKey: Uint8Array;
  /** The public key as the firmware config takes it (64 hex). */
  publicHex: string;
}

/** A fresh Ed25519 release key for one simulator session or test run. */
export function sessionReleaseKey(): SessionReleaseKey {
  const kp = nacl.sign.keyPair.fromSeed(new Uint8Array(randomBytes(32)));
  return { publicKey: kp.publicKey, secretKey: kp.secretKey, publicHex: Buffer.from(kp.publicKey).toString('hex') };
}

/** A simulated firmware image of `size` bytes (>= 16) announcing `version`. */
export function makeSimImage(version: FirmwareVersion, size: number): Uint8Array {
  if (!Number.isInteger(size) || size < SIM_IMAGE_HEADER_BYTES) throw new RangeError('image too small');
  const b = new Uint8Array(size);
  for (let i = 0; i < 8; i++) b[i] = SIM_IMAGE_MAGIC.charCodeAt(i);
  b[8] = version.major >>> 8; b[9] = version.major & 0xff;
  b[10] = version.minor >>> 8; b[11] = version.minor & 0xff;
  b[12] = version.patch >>> 8; b[13] = version.patch & 0xff;
  const fill = createHash('sha256').update(`pawpost sim image ${version.major}.${version.minor}.${version.patch}`).digest();
  for (let i = SIM_IMAGE_HEADER_BYTES; i < size; i++) b[i] = fill[i % 32]! ^ (i & 0xff);
  return b;
}

export interface SimReleaseOptions {
  board: string;
  version: string;
  securityVersion: number;
  secretKey: Uint8Array;
  keyId?: number;
}

/** The 156-byte signed manifest for `image`. Throws RangeError on a bad version or field. */
export function signSimRelease(image: Uint8Array, o: SimReleaseOptions): Uint8Array {
  const version = parseVersion(o.version);
  if (!version) throw new RangeError('version must be major.minor.patch');
  const body = encodeManifestBody({
    keyId: o.keyId ?? 0,
    board: o.board,
    version,
    securityVersion: o.securityVersion,
    imageSize: image.length,
    sha256: new Uint8Array(createHash('sha256').update(image).digest()),
    issuedAt: Math.floor(Date.now() / 1000),
  });
  return joinManifest(body, nacl.sign.detached(manifestSignedMessage(body), o.secretKey));
}

/** The next patch version after `v` ("0.1.0" → "0.1.1"). */
export function nextVersion(v: string): string {
  const p = parseVersion(v) ?? { major: 0, minor: 0, patch: 0 };
  return `${p.major}.${p.minor}.${p.patch + 1}`;
}
