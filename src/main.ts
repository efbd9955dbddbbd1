/**
 * The firmware's wiring (called by the platform entry, hal/main-esp32.ts or hal/main-lin.ts): builds the device
 * adapters (hal/moddable-*) from the board configuration (manifest "config",
 * read with mc/config) and starts PawPost (src/app.ts). The Moddable runtime
 * calls the default export at start-up; the host simulator (sim/start.ts) runs
 * this same file on Node with its implementations of the Moddable modules and
 * passes hooks for its page.
 *
 * This is the only file in src/ that imports device adapters (by relative path:
 * it imports no Moddable specifier itself). It is type-checked by
 * tsconfig.firmware.json, not by the host tsconfig, and runs in the simulator.
 */
import { installed as textGlobals } from '../hal/moddable-globals.js'; // first: TextEncoder/TextDecoder globals
import { ModdableBle } from '../hal/moddable-ble.js';
import { ModdableClock } from '../hal/moddable-clock.js';
import { ModdableCrypto } from '../hal/moddable-crypto.js';
import { firmwareConfig } from '../hal/moddable-config.js';
import { ModdableOpusCodec } from '../hal/moddable-codec.js';
import { I2sPins } from '../hal/moddable-i2s-pins.js';
import { ModdableLog } from '../hal/moddable-log.js';
import { ModdableMic } from '../hal/moddable-mic.js';
import { ModdableNetwork } from '../hal/moddable-network.js';
import { ModdableRandom } from '../hal/moddable-random.js';
import { restartDevice } from '../hal/moddable-restart.js';
import { ModdableSocket } from '../hal/moddable-socket.js';
import { ModdableSpeaker } from '../hal/moddable-speaker.js';
import { FileStore, NvsIdentityStore } from '../hal/moddable-storage.js';
import type { BoardControls, LogPort, SpeakerPort } from '../hal/ports.js';
import { startPawPost, type PawPost, type PawPostOptions } from './app.js';
import { wireNaclRandom } from './nacl-crypto.js';
import { deviceInfoFrom, isReservedContact } from './pairing-device-info.js';
import type { PlatformUpdate, UpdatePort } from './update-gate.js';

const cfg = firmwareConfig;

/** What the device shows on the BLE device-information characteristic: from the manifest's config "device" (src/pairing-device-info.ts), not code. */
export const DEVICE_INFO = deviceInfoFrom((cfg as { device?: unknown }).device, cfg.firmwareVersion ?? '0.0.0');

/** The platform's part of the firmware update (src/update-gate.ts PlatformUpdate). */
export type { PlatformUpdate };

function hexKey(h: string | null | undefined): Uint8Array | undefined {
  if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h)) return undefined;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function parseVersionText(v: string): { major: number; minor: number; patch: number } | undefined {
  const m = /^(\d{1,5})\.(\d{1,5})\.(\d{1,5})$/.exec(v);
  if (!m) return undefined;
  const r = { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
  return r.major > 0xffff || r.minor > 0xffff || r.patch > 0xffff ? undefined : r;
}

/** The update port for app.ts, or undefined (no platform part, no board, or a malformed version: logged). */
function updatePort(u: PlatformUpdate | undefined, version: string, log: LogPort): UpdatePort | undefined {
  if (!u) return undefined;
  const conf = cfg as { updateBoard?: string; releaseKeys?: (string | null)[] };
  const board = u.board ?? conf.updateBoard;
  const runningVersion = parseVersionText(version);
  if (!board || !runningVersion) {
    log.log('error', 'main.update_unconfigured');
    return undefined;
  }
  const releaseKeys = (u.releaseKeysHex ?? conf.releaseKeys ?? []).map(hexKey);
  if (!releaseKeys.some((k) => k !== undefined)) log.log('warn', 'main.update_no_release_key'); // every manifest is refused (KEY)
  return { board, runningVersion, releaseKeys, restart: u.restart ?? restartDevice, load: u.load, pendingAtBoot: u.pendingAtBoot };
}

/** What differs between platforms, given by the platform entry (hal/main-esp32.ts, hal/main-lin.ts). */
export interface Platform {
  /** Opens the paw, the heart and the LED: hal/board-controls.ts (esp32) or hal/lin-controls.ts (lin). */
  openBoardControls: (board: typeof cfg.board, clock: ModdableClock, onError: (e: unknown) => void) => BoardControls;
  /** The speaker, when the platform's AudioOut cannot be used (lin: hal/lin-speaker.ts). Default: ModdableSpeaker. */
  openSpeaker?: (pins: I2sPins, clock: ModdableClock, slots: number | undefined) => SpeakerPort;
  /** The firmware update's platform part (hal/moddable-update.ts on esp32, hal/moddable-file-update.ts on lin). */
  update?: PlatformUpdate;
}

/** Hooks for the host simulator; the device passes none (a factory reset restarts it). */
export type MainHooks = Pick<PawPostOptions, 'onChange' | 'onFactoryReset'> & {
  network?: boolean;
  /** The simulator's update slot and session release key, replacing the platform's. */
  update?: PlatformUpdate;
  /** Told what the device-information characteristic will report (the simulator shows the running version). Must not throw. */
  onDeviceInfo?: (info: typeof DEVICE_INFO) => void;
};

/**
 * Starts the toy with the platform's controls. The platform entries
 * (hal/main-esp32.ts, hal/main-lin.ts; manifest "creation.main" per platform)
 * call this: this file imports no module that only one platform has.
 */
export function startToy(platform: Platform, hooks: MainHooks = {}): PawPost {
  const log = new ModdableLog();
  if (!textGlobals) log.log('error', 'main.text_globals_missing');
  if (isReservedContact(DEVICE_INFO.securityContact)) log.log('warn', 'main.security_contact_reserved');
  const onError = (e: unknown) => log.log('error', 'main.adapter_error', { error: e instanceof Error ? e.name : 'unknown' });
  const board = cfg.board;
  const clock = new ModdableClock({ onError });
  const random = new ModdableRandom();
  wireNaclRandom(random);
  // libsodium host functions (hal/native/pawpost-crypto.c); src/nacl-crypto.ts stays the host's and the reference
  const crypto = new ModdableCrypto();
  log.log('info', 'main.crypto', { impl: 'native' });
  // The radio first: the ESP32 RNG is truly random only while a radio is on.
  const ble = new ModdableBle({ deviceName: 'PawPost', onError });
  const { paw, heart, led } = platform.openBoardControls(board, clock, onError);
  const pins = new I2sPins(board.i2sShared ?? true);
  const mic = new ModdableMic({ pins, clock, onError, log });
  const speaker = platform.openSpeaker ? platform.openSpeaker(pins, clock, board.speakerSlots) : new ModdableSpeaker({ pins, slots: board.speakerSlots, onError });
  const codec = new ModdableOpusCodec();
  const nvs = new NvsIdentityStore({ namespace: board.nvsNamespace ?? 'pawpost' });
  const data = new FileStore({ dir: (cfg.file?.root ?? '') + (board.storeDir ?? 'pawpost/') });
  // The version the toy runs and reports (device information): the booted slot's where the platform knows it.
  const upd = hooks.update ?? platform.update;
  const version = upd?.runningVersion ?? cfg.firmwareVersion ?? '0.0.0';
  let deviceInfo = DEVICE_INFO;
  try {
    if (version !== DEVICE_INFO.firmware) deviceInfo = deviceInfoFrom((cfg as { device?: unknown }).device, version);
  } catch {
    log.log('error', 'main.version_unreportable'); // longer than the characteristic allows: report the built-in one
  }
  log.log('info', 'main.firmware', { version });
  try {
    hooks.onDeviceInfo?.(deviceInfo);
  } catch {
    log.log('error', 'main.hook_threw');
  }
  const update = updatePort(upd, version, log);
  const app = startPawPost(
    {
      clock, random, crypto, log, paw, heart, led, mic, speaker, codec, nvs, data, ble,
      // TLS: the broker's certificate must name the factory's host and chain to the factory's CA (NVS mqtt_ca)
      socket: (t) => new ModdableSocket({ tls: cfg.useTls !== false, secure: { serverName: t.serverName, ...(t.ca ? { certificate: t.ca.slice().buffer } : {}) } }),
      network: hooks.network === false ? undefined : new ModdableNetwork({ clock, random, log, sntpHost: cfg.sntp, onError }),
      update,
    },
    { deviceInfo, onChange: hooks.onChange, onFactoryReset: hooks.onFactoryReset ?? restartDevice },
  );
  return withPortsClosed(app, [ble, paw, heart, led, mic, speaker, codec, clock]);
}

/**
 * The app closes what it built; the ports main() opened are closed after it (the clock last: it
 * cancels every timer), so a simulated reboot can open them again (BLE: one BLEServer at a time).
 * The returned close() is safe to call twice.
 */
function withPortsClosed(app: PawPost, ports: { close(): void }[]): PawPost {
  let closed = false;
  return {
    ...app,
    close: () => {
      if (closed) return;
      closed = true;
      app.close();
      for (const port of ports) port.close();
    },
  };
}
