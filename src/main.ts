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
import type { BoardControls, SpeakerPort } from '../hal/ports.js';
import { startPawPost, type PawPost, type PawPostOptions } from './app.js';
import { wireNaclRandom } from './nacl-crypto.js';
import { deviceInfoFrom, isReservedContact } from './pairing-device-info.js';

const cfg = firmwareConfig;

/** What the device shows on the BLE device-information characteristic: from the manifest's config "device" (src/pairing-device-info.ts), not code. */
export const DEVICE_INFO = deviceInfoFrom((cfg as { device?: unknown }).device, cfg.firmwareVersion ?? '0.0.0');

/** What differs between platforms, given by the platform entry (hal/main-esp32.ts, hal/main-lin.ts). */
export interface Platform {
  /** Opens the paw, the heart and the LED: hal/board-controls.ts (esp32) or hal/lin-controls.ts (lin). */
  openBoardControls: (board: typeof cfg.board, clock: ModdableClock, onError: (e: unknown) => void) => BoardControls;
  /** The speaker, when the platform's AudioOut cannot be used (lin: hal/lin-speaker.ts). Default: ModdableSpeaker. */
  openSpeaker?: (pins: I2sPins, clock: ModdableClock, slots: number | undefined) => SpeakerPort;
}

/** Hooks for the host simulator; the device passes none (a factory reset restarts it). */
export type MainHooks = Pick<PawPostOptions, 'onChange' | 'onFactoryReset'> & { network?: boolean };

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
  const mic = new ModdableMic({ pins, clock, onError });
  const speaker = platform.openSpeaker ? platform.openSpeaker(pins, clock, board.speakerSlots) : new ModdableSpeaker({ pins, slots: board.speakerSlots, onError });
  const codec = new ModdableOpusCodec();
  const nvs = new NvsIdentityStore({ namespace: board.nvsNamespace ?? 'pawpost' });
  const data = new FileStore({ dir: (cfg.file?.root ?? '') + (board.storeDir ?? 'pawpost/') });
  const app = startPawPost(
    {
      clock, random, crypto, log, paw, heart, led, mic, speaker, codec, nvs, data, ble,
      // TLS: the broker's certificate must name the factory's host and chain to the factory's CA (NVS mqtt_ca)
      socket: (t) => new ModdableSocket({ tls: cfg.useTls !== false, secure: { serverName: t.serverName, ...(t.ca ? { certificate: t.ca.slice().buffer } : {}) } }),
      network: hooks.network === false ? undefined : new ModdableNetwork({ clock, random, log, sntpHost: cfg.sntp, onError }),
    },
    { deviceInfo: DEVICE_INFO, onChange: hooks.onChange, onFactoryReset: hooks.onFactoryReset ?? restartDevice },
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
