/**
 * The toy's side of a firmware update (issue 14). Portable: it sees only ports.
 *
 * Flow: offer(manifest) checks format, release key, signature, board, size,
 * security version and firmware version before anything is written; begin()
 * opens the inactive slot; write(offset, chunk) appends in order while hashing
 * (streaming SHA-256, nothing held whole in RAM); finish() compares the hash,
 * records the pending update and only then switches the boot slot. After the
 * restart, bootCheck(health) runs on the new image: a passing health check
 * confirms it and THEN stores its security version; a failing one rolls back.
 * A reset before confirmation boots the previous image (bootloader rollback).
 *
 * Power-cut safety (tests/update-client.xs.ts cuts power at every step):
 * - nothing before switchTo() changes what boots;
 * - the pending record is written before switchTo(); a record whose version is
 *   not the running one is stale and dropped at boot;
 * - the stored security version only rises, and only once the image that
 *   carries it is confirmed; a cut between confirm and that write is completed
 *   at the next boot (the record is still there, the version matches).
 *
 * Errors: every method returns 'OK' or an UpdateRefusal code and counts it
 * (`update.refused.<code>`); none throws on bad input or a failing port.
 */
import type { CryptoPort, Sha256Port, Sha256Stream, StoragePort, UpdateSlotPort } from '../hal/ports.js';
import { Counters } from './counters.js';
import { GATE_PENDING_KEY } from './update-gate.js';
import { compareVersions, verifyManifest, type FirmwareVersion, type UpdateManifest, type UpdateRefusal } from './update-manifest.js';

/** Storage keys (NVS limit 15 characters). */
export const SECURITY_VERSION_KEY = 'upd.secver';
export const PENDING_KEY = GATE_PENDING_KEY;
/** The largest chunk write() takes: bounds RAM per message on the delivery path. */
export const UPDATE_MAX_CHUNK_BYTES = 4096;

export type UpdateResult = 'OK' | UpdateRefusal;
export type UpdatePhase = 'idle' | 'offered' | 'writing' | 'switched';
export type BootOutcome = 'normal' | 'confirmed' | 'rolled-back';

export interface UpdateClientOptions {
  /** The board this firmware was built for (manifest `board`). */
  board: string;
  /** The running firmware's version (compiled in). */
  runningVersion: FirmwareVersion;
  /** Trusted Ed25519 release public keys by key id (compiled in; undefined = retired). */
  releaseKeys: ReadonlyArray<Uint8Array | undefined>;
  crypto: Pick<CryptoPort, 'signVerify'>;
  sha256: Sha256Port;
  slot: UpdateSlotPort;
  storage: StoragePort;
  /** True while recording, playing or pairing: offers and chunks wait. */
  isBusy?: () => boolean;
  counters?: Counters;
}

function encodePending(m: UpdateManifest): Uint8Array {
  const b = new Uint8Array(10);
  b[0] = m.securityVersion >>> 24; b[1] = m.securityVersion >>> 16; b[2] = m.securityVersion >>> 8; b[3] = m.securityVersion;
  b[4] = m.version.major >>> 8; b[5] = m.version.major;
  b[6] = m.version.minor >>> 8; b[7] = m.version.minor;
  b[8] = m.version.patch >>> 8; b[9] = m.version.patch;
  return b;
}

function decodePending(b: Uint8Array | undefined): { securityVersion: number; version: FirmwareVersion } | undefined {
  if (!b || b.length !== 10) return undefined;
  return {
    securityVersion: ((b[0]! << 24) >>> 0) + ((b[1]! << 16) | (b[2]! << 8) | b[3]!),
    version: { major: (b[4]! << 8) | b[5]!, minor: (b[6]! << 8) | b[7]!, patch: (b[8]! << 8) | b[9]! },
  };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export class UpdateClient {
  readonly counters: Counters;
  private readonly o: UpdateClientOptions;
  private phaseNow: UpdatePhase = 'idle';
  private manifest: UpdateManifest | undefined;
  private hash: Sha256Stream | undefined;
  private received = 0;

  constructor(options: UpdateClientOptions) {
    this.o = options;
    this.counters = options.counters ?? new Counters();
  }

  get phase(): UpdatePhase {
    return this.phaseNow;
  }
  /** Bytes of the image written so far (the offset the next chunk must carry). */
  get bytesWritten(): number {
    return this.received;
  }
  /** The accepted manifest, while one is in progress. */
  get current(): UpdateManifest | undefined {
    return this.manifest;
  }

  /** The stored security version (0 when none stored or unreadable). */
  storedSecurityVersion(): number {
    try {
      const b = this.o.storage.read(SECURITY_VERSION_KEY);
      if (!b || b.length !== 4) return 0;
      return ((b[0]! << 24) >>> 0) + ((b[1]! << 16) | (b[2]! << 8) | b[3]!);
    } catch {
      return 0;
    }
  }

  private refuse(code: UpdateRefusal): UpdateRefusal {
    this.counters.inc(`update.refused.${code}`);
    return code;
  }

  /** True while the toy records, plays or pairs (a throwing isBusy counts as busy). */
  busy(): boolean {
    try {
      return this.o.isBusy ? this.o.isBusy() === true : false;
    } catch {
      return true;
    }
  }

  /**
   * Checks a manifest. On 'OK' it becomes the current offer (replacing an
   * unfinished one only if newer). Writes nothing.
   */
  offer(bytes: Uint8Array): UpdateResult {
    if (this.phaseNow === 'switched') return this.refuse('STATE');
    const m = verifyManifest(bytes, this.o.releaseKeys, this.o.crypto);
    if (typeof m === 'string') return this.refuse(m);
    if (m.board !== this.o.board) return this.refuse('BOARD');
    if (m.securityVersion < this.storedSecurityVersion()) return this.refuse('DOWNGRADE');
    if (compareVersions(m.version, this.o.runningVersion) <= 0) return this.refuse('STALE');
    let cap = 0;
    try {
      cap = this.o.slot.capacity();
    } catch {
      return this.refuse('IO');
    }
    if (m.imageSize > cap) return this.refuse('SIZE');
    if (this.manifest) {
      if (equalBytes(this.manifest.signature, m.signature)) return 'OK'; // the same announcement again: keep the progress
      if (compareVersions(m.version, this.manifest.version) <= 0) return this.refuse('STALE');
      this.abort();
    }
    this.manifest = m;
    this.phaseNow = 'offered';
    this.counters.inc('update.offered');
    return 'OK';
  }

  /** Opens the inactive slot for the offered image (restarting any partial download). */
  begin(): UpdateResult {
    if (!this.manifest || this.phaseNow === 'switched' || this.phaseNow === 'idle') return this.refuse('STATE');
    if (this.busy()) return this.refuse('BUSY');
    if (this.phaseNow === 'writing') this.abortSlot();
    try {
      this.o.slot.begin(this.manifest.imageSize);
    } catch {
      this.phaseNow = 'offered';
      return this.refuse('IO');
    }
    this.hash = this.o.sha256.create();
    this.received = 0;
    this.phaseNow = 'writing';
    this.counters.inc('update.begun');
    return 'OK';
  }

  /**
   * Appends `chunk` at `offset`, which must equal bytesWritten (a dropped
   * connection resumes from bytesWritten; offset 0 restarts). Chunk is lent.
   */
  write(offset: number, chunk: Uint8Array): UpdateResult {
    if (this.phaseNow !== 'writing' || !this.manifest || !this.hash) return this.refuse('STATE');
    if (this.busy()) return this.refuse('BUSY');
    if (!(chunk instanceof Uint8Array) || chunk.length === 0 || chunk.length > UPDATE_MAX_CHUNK_BYTES) return this.refuse('SIZE');
    if (offset === 0 && this.received > 0) {
      const r = this.begin();
      if (r !== 'OK') return r;
    }
    if (offset !== this.received) return this.refuse('OFFSET');
    if (this.received + chunk.length > this.manifest.imageSize) {
      this.abort();
      return this.refuse('OVERFLOW');
    }
    try {
      this.o.slot.write(chunk);
    } catch {
      this.abort();
      return this.refuse('IO');
    }
    this.hash.update(chunk);
    this.received += chunk.length;
    return 'OK';
  }

  /**
   * Ends the download: size and hash must match, then the pending record is
   * stored and the boot slot switched. On 'OK' the caller restarts the toy.
   */
  finish(): UpdateResult {
    if (this.phaseNow !== 'writing' || !this.manifest || !this.hash) return this.refuse('STATE');
    const m = this.manifest;
    if (this.received !== m.imageSize) return this.refuse('TRUNCATED');
    const digest = this.hash.digest();
    this.hash = undefined;
    if (!equalBytes(digest, m.sha256)) {
      this.abort();
      return this.refuse('HASH');
    }
    try {
      this.o.slot.finish();
      this.o.storage.write(PENDING_KEY, encodePending(m));
      this.o.slot.switchTo();
    } catch {
      this.abort();
      return this.refuse('IO');
    }
    this.phaseNow = 'switched';
    this.counters.inc('update.switched');
    return 'OK';
  }

  /** Forgets the current download and offer. Safe at any time. */
  abort(): void {
    if (this.phaseNow === 'switched') return;
    if (this.phaseNow === 'writing') this.abortSlot();
    this.manifest = undefined;
    this.hash = undefined;
    this.received = 0;
    this.phaseNow = 'idle';
  }

  private abortSlot(): void {
    try {
      this.o.slot.abort();
    } catch {
      this.counters.inc('update.abort_failed');
    }
  }

  /**
   * At every boot, before the toy reports itself healthy. On a pending image,
   * runs `health` (identity loads, storage opens, the broker is reached): true
   * confirms and then stores the security version; false or a throw rolls back
   * (on the device rollback() restarts and does not return). On a confirmed
   * image, completes bookkeeping a power cut interrupted and drops stale records.
   */
  async bootCheck(health: () => boolean | Promise<boolean>): Promise<BootOutcome> {
    let state: string;
    try {
      state = this.o.slot.runningState();
    } catch {
      this.counters.inc('update.boot_state_failed');
      return 'normal';
    }
    if (state === 'pending') {
      let ok = false;
      try {
        ok = (await health()) === true;
      } catch {
        ok = false;
      }
      if (!ok) {
        this.counters.inc('update.rolled_back');
        try {
          this.o.slot.rollback();
        } catch {
          this.counters.inc('update.rollback_failed');
        }
        return 'rolled-back';
      }
      try {
        this.o.slot.confirm();
      } catch {
        this.counters.inc('update.confirm_failed');
        return 'normal'; // still pending: the next reset rolls back
      }
      this.counters.inc('update.confirmed');
      this.settle();
      return 'confirmed';
    }
    this.settle();
    return 'normal';
  }

  /** Runs on a confirmed image: raises the stored security version if this image's record says so; drops the record. */
  private settle(): void {
    let rec;
    try {
      rec = decodePending(this.o.storage.read(PENDING_KEY));
    } catch {
      return;
    }
    try {
      if (rec && compareVersions(rec.version, this.o.runningVersion) === 0 && rec.securityVersion > this.storedSecurityVersion()) {
        const b = new Uint8Array(4);
        const v = rec.securityVersion;
        b[0] = v >>> 24; b[1] = v >>> 16; b[2] = v >>> 8; b[3] = v;
        this.o.storage.write(SECURITY_VERSION_KEY, b);
      }
      if (this.o.storage.read(PENDING_KEY)) this.o.storage.remove(PENDING_KEY);
    } catch {
      this.counters.inc('update.settle_failed'); // retried at the next boot
    }
  }
}
