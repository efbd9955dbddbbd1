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
import { PortError, type Sha256Port } from '../hal/ports.js';
import type { PlatformUpdate } from '../src/update-gate.js';
import { publishRelease } from '../release/update-publisher.js';
import { mosquittoHash, type BrokerRegistry } from './embedded-broker.js';
import { bootFileSlots, FileUpdateSlot } from './file-update-slot.js';

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

// ==================================================================== the simulator's update (npm start)

export interface SimUpdateOptions {
  /** Where the toy's two slot files and otadata live (sim/file-update-slot.ts). */
  slotDir: string;
  /** The toy's built-in version (manifest config.firmwareVersion): the first image's. */
  builtInVersion: string;
  /** mqtt:// URL of the embedded broker. */
  brokerUrl: string;
  /** The broker's registry: the session's release operator is added to it. */
  registry: BrokerRegistry;
  /** Restarts the simulated toy (close + boot again). */
  restart: () => void;
  log?: (line: string) => void;
}

/** The board name simulator releases carry. */
export const SIM_BOARD = 'sim';

export interface SimUpdate {
  /** Call at every simulated power-on, before main(): applies the bootloader's rules; the hooks for MainHooks.update. */
  boot(): PlatformUpdate;
  /** The version of the image that runs now. */
  readonly runningVersion: string;
  /** Signs the next version with the session key and publishes it to the broker as the release operator. */
  publishNext(): Promise<{ version: string; securityVersion: number; bytes: number; chunks: number }>;
}

const nodeSha256: Sha256Port = {
  create() {
    const h = createHash('sha256');
    let done = false;
    return {
      update(b: Uint8Array) {
        if (done) throw new PortError('CLOSED', 'sha256 stream already digested');
        h.update(b);
      },
      digest() {
        if (done) throw new PortError('CLOSED', 'sha256 stream already digested');
        done = true;
        return new Uint8Array(h.digest());
      },
    };
  },
};

function imageVersion(image: Uint8Array): string | undefined {
  if (image.length < SIM_IMAGE_HEADER_BYTES) return undefined;
  for (let i = 0; i < 8; i++) if (image[i] !== SIM_IMAGE_MAGIC.charCodeAt(i)) return undefined;
  return `${(image[8]! << 8) | image[9]!}.${(image[10]! << 8) | image[11]!}.${(image[12]! << 8) | image[13]!}`;
}

/**
 * The simulator's firmware update: a session release key (memory only), the
 * release operator `pp-release` with a session password (memory only; its hash in the
 * registry), the toy's file slots, and publishing a signed next version.
 */
export function simUpdate(o: SimUpdateOptions): SimUpdate {
  const key = sessionReleaseKey();
  const operator = { user: 'pp-release', password: randomBytes(18).toString('base64url') };
  o.registry.operators = { ...(o.registry.operators ?? {}), [operator.user]: { passwordHash: mosquittoHash(operator.password) } };
  const builtIn = parseVersion(o.builtInVersion) ?? { major: 0, minor: 1, patch: 0 };
  let running = o.builtInVersion;
  return {
    get runningVersion() {
      return running;
    },
    boot(): PlatformUpdate {
      const booted = bootFileSlots(o.slotDir, makeSimImage(builtIn, 16 * 1024));
      running = imageVersion(booted.image) ?? o.builtInVersion;
      const slot = new FileUpdateSlot(o.slotDir);
      return {
        board: SIM_BOARD,
        runningVersion: running,
        releaseKeysHex: [key.publicHex],
        pendingAtBoot: () => slot.runningState() === 'pending',
        load: async () => ({ slot, sha256: nodeSha256 }),
        restart: o.restart,
      };
    },
    async publishNext() {
      const version = nextVersion(running);
      const v = parseVersion(version)!;
      const securityVersion = v.major * 1_000_000 + v.minor * 1000 + v.patch; // rises with every simulator release
      const image = makeSimImage(v, 48 * 1024 + 123);
      const manifest = signSimRelease(image, { board: SIM_BOARD, version, securityVersion, secretKey: key.secretKey });
      const r = await publishRelease(image, manifest, { url: o.brokerUrl, username: operator.user, password: operator.password });
      o.log?.(`release: ${version} (security version ${securityVersion}, ${image.length} bytes, ${r.chunks} chunks) signed with the session key and published`);
      return { version, securityVersion, bytes: image.length, chunks: r.chunks };
    },
  };
}

let route: (() => Promise<unknown>) | undefined;
/** Registers what POST /api/update/publish does (the simulator sets it; sim/server.ts calls simUpdateRoute). */
export function setSimUpdateRoute(f: (() => Promise<unknown>) | undefined): void {
  route = f;
}
/** The handler of an update endpoint of the page, or undefined for any other URL. */
export function simUpdateRoute(url: string): (() => Promise<unknown>) | undefined {
  return url === '/api/update/publish' ? route : undefined;
}
