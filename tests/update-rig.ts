/**
 * A rig for firmware update tests (portable: both tiers): a release key, test
 * images that carry their own version in their first three bytes, signed
 * manifests, a fake flash with power switch, and a "toy" that rebuilds its
 * UpdateClient from what the bootloader booted.
 */
import nacl from 'tweetnacl';
import { naclCrypto } from '../src/nacl-crypto.js';
import { jsSha256, sha256 } from '../src/sha256.js';
import { UpdateClient } from '../src/update-client.js';
import { encodeManifestBody, joinManifest, manifestSignedMessage, type FirmwareVersion } from '../src/update-manifest.js';
import { FakeFlash } from './fakes/fake-update-slot.js';
import { MemoryStorage } from './fakes/memory-storage.js';

export const BOARD = 'esp32/m5atom_echo';
export const releaseKey = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(41));
export const otherKey = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(42));

/** An image of `size` bytes whose first three bytes are its version. */
export function makeImage(v: FirmwareVersion, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 131 + v.minor * 7 + v.patch) & 0xff;
  b[0] = v.major;
  b[1] = v.minor;
  b[2] = v.patch;
  return b;
}

export function imageVersion(img: Uint8Array): FirmwareVersion {
  return { major: img[0]!, minor: img[1]!, patch: img[2]! };
}

export interface SignOptions {
  version: FirmwareVersion;
  securityVersion: number;
  board?: string;
  keyId?: number;
  secretKey?: Uint8Array;
  imageSize?: number;
  sha?: Uint8Array;
}

/** A signed manifest for `image` (fields overridable to make bad ones). */
export function signManifest(image: Uint8Array, o: SignOptions): Uint8Array {
  const body = encodeManifestBody({
    keyId: o.keyId ?? 0,
    board: o.board ?? BOARD,
    version: o.version,
    securityVersion: o.securityVersion,
    imageSize: o.imageSize ?? image.length,
    sha256: o.sha ?? sha256(image),
    issuedAt: 1_790_000_000,
  });
  const sig = nacl.sign.detached(manifestSignedMessage(body), o.secretKey ?? releaseKey.secretKey);
  return joinManifest(body, sig);
}

const memo = new Map<string, boolean>();
/** naclCrypto.signVerify, remembered per (message, signature, key): a real check the first time. */
const memoCrypto = {
  signVerify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
    const k = `${Array.from(message).join(',')}|${Array.from(signature).join(',')}|${Array.from(publicKey).join(',')}`;
    let v = memo.get(k);
    if (v === undefined) memo.set(k, (v = naclCrypto.signVerify(message, signature, publicKey)));
    return v;
  },
};

export const V010 = { major: 0, minor: 1, patch: 0 };
export const V020 = { major: 0, minor: 2, patch: 0 };
export const V030 = { major: 0, minor: 3, patch: 0 };

/** A toy on a fake flash: `client` is rebuilt on each boot() from the image that booted. */
export class UpdateToy {
  readonly flash: FakeFlash;
  readonly nvs = new MemoryStorage();
  client!: UpdateClient;
  busy = false;

  /** When set, signature checks are memoized (the power-cut sweep repeats one manifest dozens of times). */
  static memoVerify = false;

  constructor(readonly initial: Uint8Array, slotBytes = 64 * 1024) {
    this.flash = new FakeFlash(slotBytes, initial);
    this.flash.boot();
    this.build();
  }

  build(): void {
    this.client = new UpdateClient({
      board: BOARD,
      runningVersion: imageVersion(this.flash.runningImage()),
      releaseKeys: [releaseKey.publicKey],
      crypto: UpdateToy.memoVerify ? memoCrypto : naclCrypto,
      sha256: jsSha256,
      slot: this.flash.port(),
      storage: this.flash.storage(this.nvs),
      isBusy: () => this.busy,
    });
  }

  /** Power off and on: the bootloader picks, then the firmware's bootCheck runs. */
  async reboot(healthy = true): Promise<string> {
    this.flash.boot();
    this.build();
    return this.client.bootCheck(() => healthy);
  }

  /** Offer, begin, write in `chunk`-byte pieces, finish. Returns the first result that is not OK. */
  install(manifest: Uint8Array, image: Uint8Array, chunk = 1024): string {
    let r: string = this.client.offer(manifest);
    if (r !== 'OK') return r;
    r = this.client.begin();
    if (r !== 'OK') return r;
    for (let o = 0; o < image.length; o += chunk) {
      r = this.client.write(o, image.subarray(o, Math.min(image.length, o + chunk)));
      if (r !== 'OK') return r;
    }
    return this.client.finish();
  }
}
