/**
 * The firmware's entry (manifest "creation.main": "src/main"): builds the device
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
import { ModdableButton, releaseTargetButtons } from '../hal/moddable-button.js';
import { ModdableClock } from '../hal/moddable-clock.js';
import { firmwareConfig } from '../hal/moddable-config.js';
import { ModdableOpusCodec } from '../hal/moddable-codec.js';
import { I2sPins } from '../hal/moddable-i2s-pins.js';
import { ModdableLed } from '../hal/moddable-led.js';
import { ModdableLog } from '../hal/moddable-log.js';
import { ModdableMic } from '../hal/moddable-mic.js';
import { ModdableRandom } from '../hal/moddable-random.js';
import { restartDevice } from '../hal/moddable-restart.js';
import { ModdableSocket } from '../hal/moddable-socket.js';
import { ModdableSpeaker } from '../hal/moddable-speaker.js';
import { FileStore, NvsIdentityStore } from '../hal/moddable-storage.js';
import type { ButtonId, ButtonPort, LedPort } from '../hal/ports.js';
import { startPawPost, type PawPost, type PawPostOptions } from './app.js';
import { naclCrypto, wireNaclRandom } from './nacl-crypto.js';
import { deviceInfoFrom, isReservedContact } from './pairing-device-info.js';

const cfg = firmwareConfig;

/** What the device shows on the BLE device-information characteristic: from the manifest's config "device" (src/pairing-device-info.ts), not code. */
export const DEVICE_INFO = deviceInfoFrom((cfg as { device?: unknown }).device, cfg.firmwareVersion ?? '0.0.0');

/** A control that does not exist on this build (the SDK's lin simulator): never pressed. */
function absentButton(id: ButtonId): ButtonPort {
  return { id, read: () => false, onChange: () => undefined, close: () => undefined };
}
const absentLed: LedPort = { set: () => undefined, close: () => undefined };

/** Starts the toy. `hooks` is for the host simulator; the device passes nothing (a factory reset restarts it). */
export default function main(hooks: Pick<PawPostOptions, 'onChange' | 'onFactoryReset'> = {}): PawPost {
  const log = new ModdableLog();
  if (!textGlobals) log.log('error', 'main.text_globals_missing');
  if (isReservedContact(DEVICE_INFO.securityContact)) log.log('warn', 'main.security_contact_reserved');
  const onError = (e: unknown) => log.log('error', 'main.adapter_error', { error: e instanceof Error ? e.name : 'unknown' });
  const board = cfg.board;
  const clock = new ModdableClock({ onError });
  const random = new ModdableRandom();
  wireNaclRandom(random);
  // The radio first: the ESP32 RNG is truly random only while a radio is on.
  const ble = new ModdableBle({ deviceName: 'PawPost', onError });
  const controls = board.hasControls !== false;
  if (controls) releaseTargetButtons();
  const paw = controls ? new ModdableButton({ id: 'paw', pin: board.pawPin, pull: board.pawPull, clock, onError }) : absentButton('paw');
  const heart = controls ? new ModdableButton({ id: 'heart', pin: board.heartPin, pull: board.heartPull, clock, onError }) : absentButton('heart');
  const led = controls ? new ModdableLed({ pin: board.ledPin, order: board.ledOrder, maxLevel: board.ledMaxLevel, onError }) : absentLed;
  const pins = new I2sPins(board.i2sShared ?? true);
  const mic = new ModdableMic({ pins, clock, onError });
  const speaker = new ModdableSpeaker({ pins, slots: board.speakerSlots, onError });
  const codec = new ModdableOpusCodec();
  const nvs = new NvsIdentityStore({ namespace: board.nvsNamespace ?? 'pawpost' });
  const data = new FileStore({ dir: (cfg.file?.root ?? '') + (board.storeDir ?? 'pawpost/') });
  const app = startPawPost(
    {
      clock, random, crypto: naclCrypto, log, paw, heart, led, mic, speaker, codec, nvs, data, ble,
      socket: () => new ModdableSocket({ tls: cfg.useTls !== false }),
    },
    { deviceInfo: DEVICE_INFO, onChange: hooks.onChange, onFactoryReset: hooks.onFactoryReset ?? restartDevice },
  );
  return app;
}
