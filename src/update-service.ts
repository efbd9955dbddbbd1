/**
 * The firmware update as one service for src/app.ts to wire (issue 14): an
 * UpdateClient, an UpdateDownloader over the MQTT session's direct topics, the
 * boot health check and the restart, all gated on the toy being idle.
 *
 * Wiring (a few lines in app.ts; see docs/SECURITY.md "Firmware updates"):
 *   const update = new UpdateService({...ports, toyState: () => toy.state, restart });
 *   update.start(identityLoaded && storageOpened)        // at boot
 *   MqttSession options: onDirectMessage: (t, p) => update.onDirectMessage(t, p),
 *                        onState: (st) => update.onSessionState(st, session)
 *   toy state changes:   update.toyChanged()
 *
 * Health check on a pending image: identity loads and storage opens (`start`'s
 * argument) and the session reaches the broker within healthTimeoutMs; then it is
 * confirmed, else rolled back. Updates never start or continue while the toy is
 * not idle (recording, playing, pairing, a button held); the restart into a new
 * image waits for idle too. Never throws from a callback.
 */
import type { ClockPort, CryptoPort, LogPort, Sha256Port, StoragePort, TimerHandle, UpdateSlotPort } from '../hal/ports.js';
import { Counters } from './counters.js';
import { UpdateClient, type BootOutcome } from './update-client.js';
import { UpdateDownloader } from './update-delivery.js';
import type { FirmwareVersion } from './update-manifest.js';

export interface UpdateSessionLike {
  subscribe(topic: string): unknown;
  unsubscribe(topic: string): void;
}

export interface UpdateServiceOptions {
  board: string;
  runningVersion: FirmwareVersion;
  releaseKeys: ReadonlyArray<Uint8Array | undefined>;
  crypto: Pick<CryptoPort, 'signVerify'>;
  sha256: Sha256Port;
  slot: UpdateSlotPort;
  storage: StoragePort;
  clock: ClockPort;
  /** The toy's state ('idle' lets an update proceed). */
  toyState: () => string;
  /** Restarts into the switched image (device: esp_restart; simulator: rebuild). */
  restart: () => void;
  /** Default 120 000 ms. */
  healthTimeoutMs?: number;
  counters?: Counters;
  log?: LogPort;
}

export class UpdateService {
  readonly client: UpdateClient;
  readonly downloader: UpdateDownloader;
  readonly counters: Counters;
  private readonly o: UpdateServiceOptions;
  private session: UpdateSessionLike | undefined;
  private healthTimer: TimerHandle | undefined;
  private waitingForBroker = false;
  private readyToRestart = false;
  private outcome: BootOutcome | 'waiting' | undefined;

  constructor(o: UpdateServiceOptions) {
    this.o = o;
    this.counters = o.counters ?? new Counters();
    this.client = new UpdateClient({
      board: o.board, runningVersion: o.runningVersion, releaseKeys: o.releaseKeys, crypto: o.crypto,
      sha256: o.sha256, slot: o.slot, storage: o.storage, counters: this.counters,
      isBusy: () => this.idle() === false,
    });
    this.downloader = new UpdateDownloader({
      board: o.board,
      client: this.client,
      counters: this.counters,
      transport: {
        subscribe: (t) => void this.session?.subscribe(t),
        unsubscribe: (t) => this.session?.unsubscribe(t),
      },
      onRefused: (code) => this.o.log?.log('warn', 'update.refused', { code }),
      onReady: () => {
        this.readyToRestart = true;
        this.o.log?.log('info', 'update.ready');
        this.maybeRestart();
      },
    });
  }

  /** The boot outcome so far: undefined before start(), 'waiting' during the health check. */
  get bootOutcome(): BootOutcome | 'waiting' | undefined {
    return this.outcome;
  }

  private idle(): boolean {
    try {
      return this.o.toyState() === 'idle';
    } catch {
      return false;
    }
  }

  private finishBoot(ok: boolean): void {
    this.waitingForBroker = false;
    this.healthTimer?.cancel();
    this.healthTimer = undefined;
    void this.client.bootCheck(() => ok).then((r) => {
      this.outcome = r;
      this.o.log?.log(r === 'rolled-back' ? 'warn' : 'info', 'update.boot', { outcome: r });
      if (r === 'rolled-back') this.safeRestart();
    });
  }

  /** At boot: `localOk` = identity loads and storage opens. */
  start(localOk: boolean): void {
    let pending = false;
    try {
      pending = this.o.slot.runningState() === 'pending';
    } catch {
      this.counters.inc('update.boot_state_failed');
    }
    if (!pending) {
      this.finishBoot(true); // settles bookkeeping a power cut interrupted
      return;
    }
    if (!localOk) {
      this.finishBoot(false);
      return;
    }
    this.outcome = 'waiting';
    this.waitingForBroker = true;
    this.healthTimer = this.o.clock.after(this.o.healthTimeoutMs ?? 120_000, () => {
      if (this.waitingForBroker) {
        this.counters.inc('update.health_timeout');
        this.finishBoot(false);
      }
    });
  }

  /** From MqttSession onState. */
  onSessionState(state: string, session: UpdateSessionLike | undefined): void {
    try {
      if (state === 'online') {
        this.session = session;
        if (this.waitingForBroker) this.finishBoot(true);
        this.downloader.start();
        this.downloader.poll();
      } else {
        this.downloader.connectionLost();
      }
    } catch {
      this.counters.inc('update.callback_threw');
    }
  }

  /** From MqttSession onDirectMessage. */
  onDirectMessage(topic: string, payload: Uint8Array): void {
    try {
      this.downloader.onMessage(topic, payload);
    } catch {
      this.counters.inc('update.callback_threw');
    }
  }

  /** The toy's state changed: continue a paused download, or restart into a ready image. */
  toyChanged(): void {
    try {
      if (!this.idle()) return;
      this.maybeRestart();
      this.downloader.poll();
    } catch {
      this.counters.inc('update.callback_threw');
    }
  }

  private maybeRestart(): void {
    if (this.readyToRestart && this.idle()) {
      this.readyToRestart = false;
      this.o.clock.after(0, () => {
        if (this.idle()) this.safeRestart();
        else this.readyToRestart = true; // the paw was pressed in between: wait for idle again
      });
    }
  }

  private safeRestart(): void {
    try {
      this.o.restart();
    } catch {
      this.counters.inc('update.restart_failed');
    }
  }

  /** Cancels the health timer (the toy is being torn down). */
  close(): void {
    this.healthTimer?.cancel();
    this.healthTimer = undefined;
  }
}
