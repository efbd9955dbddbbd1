/**
 * The firmware update's doorkeeper (issue 14): what src/app.ts keeps at boot in
 * place of the update modules, which cost about 1,750 live XS slots once loaded
 * (docs/HARDWARE.md "Memory"). It loads them (src/update-service.ts, the
 * client, the manifest verifier, the delivery, and the platform's slot and hash
 * adapters) with a dynamic import() only when they have work to do:
 *
 * - at boot, when the running image waits for confirmation (the platform's cheap
 *   `pendingAtBoot()`, a native call on the ESP32) or the storage holds the
 *   pending record UpdateClient writes before a switch (`upd.pending`): the
 *   health check, confirm or rollback, and the security-version bookkeeping;
 * - online, when a message arrives on the retained manifest topic whose
 *   firmware version (bytes 40..45, read without trusting anything else) is
 *   newer than the running one. Everything else about it, signature first, is
 *   checked by UpdateClient after the load; an equal or older announcement (the
 *   usual case: the relay keeps the current release retained) loads nothing.
 *
 * While not loaded, the gate subscribes to the manifest topic after each
 * CONNACK; once loaded it hands over (the service subscribes itself, the
 * session state and the manifest that woke it are replayed). Modules stay
 * loaded once loaded (XS has no unloading). Never throws from a callback;
 * counters: `update.gate.loads`, `update.gate.ignored`, `update.gate.load_failed`.
 *
 * Portable: the loads are ordinary ES import() (XS resolves them in the
 * firmware archive; esbuild inlines them in the XS test bundles).
 */
import type { ClockPort, CryptoPort, LogPort, Sha256Port, StoragePort, UpdateSlotPort } from '../hal/ports.js';
import type { Counters } from './counters.js';
import type { UpdateService, UpdateSessionLike } from './update-service.js';
import type { FirmwareVersion } from './update-manifest.js';

/** The same key as src/update-client.ts PENDING_KEY (kept literal here so that the gate loads nothing). */
export const GATE_PENDING_KEY = 'upd.pending';
/** MANIFEST_BYTES of src/update-manifest.ts. */
const MANIFEST_LEN = 156;

/** pp/fw/<board>/manifest (src/update-delivery.ts uses this one). */
export function manifestTopic(board: string): string {
  return `pp/fw/${board}/manifest`;
}

/** The platform's update adapters, built on first need. */
export interface UpdatePlatformParts {
  slot: UpdateSlotPort;
  sha256: Sha256Port;
}

/**
 * The platform's part of the firmware update (issue 14), given by hal/main-*.ts
 * to src/main.ts
 * (or the simulator's hooks). The adapters load lazily (`load`, an import()),
 * see src/update-gate.ts. The release keys and the board come from the
 * manifest's config: "releaseKeys" (Ed25519 public keys, 64 hex each, indexed by the
 * manifest's key id; null for a retired id) and "updateBoard" (per platform).
 */
export interface PlatformUpdate {
  /** Board name the manifests must carry; default config.updateBoard. */
  board?: string;
  /** The version of the image that booted (lin, simulator: the slot's image header); default config.firmwareVersion. */
  runningVersion?: string;
  /** Cheap: the running image is pending confirmation. */
  pendingAtBoot?: () => boolean;
  /** Loads the slot and SHA-256 adapters. */
  load: () => Promise<UpdatePlatformParts>;
  /** Restarts into the switched image; default hal/moddable-restart.ts. */
  restart?: () => void;
  /** Release public keys (hex) instead of config.releaseKeys (the simulator's session key). */
  releaseKeysHex?: ReadonlyArray<string | null>;
}

/** What app.ts is given to run updates (PawPostPorts.update). */
export interface UpdatePort {
  board: string;
  runningVersion: FirmwareVersion;
  releaseKeys: ReadonlyArray<Uint8Array | undefined>;
  /** Restarts into the switched image (device: esp_restart; simulator: rebuild). */
  restart: () => void;
  healthTimeoutMs?: number;
  /** The slot and hash adapters when they are cheap to hold (tests, simulator)... */
  slot?: UpdateSlotPort;
  sha256?: Sha256Port;
  /** ...or how to load them (the firmware: a dynamic import of hal/moddable-update.ts or hal/moddable-file-update.ts). */
  load?: () => Promise<UpdatePlatformParts>;
  /** True when the running image is pending confirmation; must be cheap (no update module). Default: the slot's own answer when given. */
  pendingAtBoot?: () => boolean;
}

export interface UpdateGateOptions {
  port: UpdatePort;
  crypto: Pick<CryptoPort, 'signVerify'>;
  storage: StoragePort;
  clock: ClockPort;
  toyState: () => string;
  counters: Counters;
  log?: LogPort;
}

export class UpdateGate {
  private readonly o: UpdateGateOptions;
  private svc: UpdateService | undefined;
  private loading: Promise<UpdateService | undefined> | undefined;
  private closed = false;
  private localOk: boolean | undefined;
  private sessionState = 'offline';
  private session: UpdateSessionLike | undefined;
  private wakeManifest: Uint8Array | undefined;

  constructor(o: UpdateGateOptions) {
    this.o = o;
  }

  /** The update service once loaded (tests and the simulator read its client and outcome). */
  get service(): UpdateService | undefined {
    return this.svc;
  }

  /** Resolves when a load in progress has finished (undefined when none was started). */
  whenLoaded(): Promise<UpdateService | undefined> {
    return this.loading ?? Promise.resolve(this.svc);
  }

  private count(name: string): void {
    this.o.counters.inc(name);
  }

  /** At boot: `localOk` = identity loads and storage opens. Loads the update modules only if a pending image or record needs them. */
  start(localOk: boolean): void {
    this.localOk = localOk;
    let needed = false;
    try {
      const p = this.o.port;
      needed = p.pendingAtBoot ? p.pendingAtBoot() === true : p.slot ? p.slot.runningState() === 'pending' : false;
    } catch {
      needed = true; // cannot tell: let the service decide
    }
    if (!needed) {
      try {
        needed = this.o.storage.read(GATE_PENDING_KEY) !== undefined;
      } catch {
        needed = true;
      }
    }
    if (needed) void this.load('boot');
  }

  private load(why: string): Promise<UpdateService | undefined> {
    if (this.loading) return this.loading;
    this.count('update.gate.loads');
    this.o.log?.log('info', 'update.gate.load', { why });
    this.loading = this.doLoad().then(
      (svc) => svc,
      () => {
        this.count('update.gate.load_failed');
        this.o.log?.log('error', 'update.gate.load_failed');
        this.loading = undefined; // the next manifest tries again
        return undefined;
      },
    );
    return this.loading;
  }

  private async doLoad(): Promise<UpdateService | undefined> {
    const p = this.o.port;
    const parts = p.slot && p.sha256 ? { slot: p.slot, sha256: p.sha256 } : p.load ? await p.load() : undefined;
    if (!parts) throw new Error('no update slot');
    const { UpdateService: Service } = await import('./update-service.js');
    if (this.closed) return undefined;
    const svc = new Service({
      board: p.board, runningVersion: p.runningVersion, releaseKeys: p.releaseKeys, restart: p.restart, healthTimeoutMs: p.healthTimeoutMs,
      slot: parts.slot, sha256: parts.sha256,
      crypto: this.o.crypto, storage: this.o.storage, clock: this.o.clock, toyState: this.o.toyState, counters: this.o.counters, log: this.o.log,
    });
    this.svc = svc;
    svc.start(this.localOk ?? false);
    svc.onSessionState(this.sessionState, this.session);
    const m = this.wakeManifest;
    this.wakeManifest = undefined;
    if (m) svc.onDirectMessage(manifestTopic(p.board), m);
    return svc;
  }

  /** From MqttSession onState. */
  onSessionState(state: string, session: UpdateSessionLike | undefined): void {
    try {
      this.sessionState = state;
      this.session = session;
      if (this.svc) return this.svc.onSessionState(state, session);
      if (state === 'online' && session) session.subscribe(manifestTopic(this.o.port.board));
    } catch {
      this.count('update.callback_threw');
    }
  }

  /** From MqttSession onDirectMessage. */
  onDirectMessage(topic: string, payload: Uint8Array): void {
    try {
      if (this.svc) return this.svc.onDirectMessage(topic, payload);
      if (topic !== manifestTopic(this.o.port.board)) {
        this.count('update.rx_unexpected');
        return;
      }
      const newer = this.announcesNewer(payload);
      if (newer !== true) {
        this.count(newer === 'FORMAT' ? 'update.refused.FORMAT' : 'update.gate.ignored');
        return;
      }
      this.wakeManifest = payload.slice();
      void this.load('manifest');
    } catch {
      this.count('update.callback_threw');
    }
  }

  /** Length, magic and version only; nothing here is trusted (the service verifies the signature first). */
  private announcesNewer(b: Uint8Array): boolean | 'FORMAT' {
    if (!(b instanceof Uint8Array) || b.length !== MANIFEST_LEN) return 'FORMAT';
    if (b[0] !== 0x50 || b[1] !== 0x50 || b[2] !== 0x46 || b[3] !== 0x57) return 'FORMAT'; // "PPFW"
    const v = [(b[40]! << 8) | b[41]!, (b[42]! << 8) | b[43]!, (b[44]! << 8) | b[45]!];
    const r = this.o.port.runningVersion;
    const run = [r.major, r.minor, r.patch];
    for (let i = 0; i < 3; i++) if (v[i] !== run[i]) return v[i]! > run[i]!;
    return false;
  }

  /** The toy's state changed (or the periodic tick). */
  toyChanged(): void {
    this.svc?.toyChanged();
  }

  close(): void {
    this.closed = true;
    this.svc?.close();
  }
}
