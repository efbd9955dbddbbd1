/**
 * The firmware's entry on the ESP32 (manifest platforms.esp32 "creation.main"):
 * the toy wired by src/main.ts with the board's GPIO buttons and SK6812 LED,
 * and firmware updates into the inactive OTA partition through the SDK's `ota`
 * module (hal/moddable-update.ts + hal/native/pawpost-ota.c), loaded only when
 * an update needs it (src/update-gate.ts). The Node simulator runs this same
 * entry over its Moddable modules and replaces the update part (MainHooks.update).
 */
import { startToy, type MainHooks } from '../src/main.js'; // first: its imports install the TextEncoder/TextDecoder globals
import { openBoardControls } from './board-controls.js';
import type { PawPost } from '../src/app.js';

declare function native(name: string): (...args: unknown[]) => unknown;

export default function main(hooks: MainHooks = {}): PawPost {
  return startToy(
    {
      openBoardControls,
      update: {
        // bound on first use: esp_ota_get_state_partition of the running partition (hal/native/pawpost-ota.c)
        pendingAtBoot: () => (native('xs_pawpost_ota_pending') as () => boolean)() === true,
        load: async () => {
          const { ModdableUpdateSlot, cryptSha256 } = await import('./moddable-update.js');
          return { slot: new ModdableUpdateSlot(), sha256: cryptSha256 };
        },
      },
    },
    hooks,
  );
}
