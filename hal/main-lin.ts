/**
 * The firmware's entry on the SDK's `lin` simulator (manifest platforms.lin
 * "creation.main"): the toy wired by src/main.ts with buttons driven by
 * software and an LED that traces its colour (hal/lin-controls.ts), because
 * lin has neither `pins/digital` nor `neopixel`; a paced speaker
 * (hal/lin-speaker.ts), because lin's AudioOut stub never drains its queue;
 * and firmware updates into file slots under the lin data dir
 * (hal/lin-update-boot.ts applies the bootloader's rules at start;
 * hal/moddable-file-update.ts writes, loaded only when an update needs it).
 */
import { startToy, type MainHooks } from '../src/main.js'; // first: its imports install the TextEncoder/TextDecoder globals
import { openBoardControls } from './lin-controls.js';
import { LinSpeaker } from './lin-speaker.js';
import { bootLinSlots } from './lin-update-boot.js';
import { firmwareConfig } from './moddable-config.js';
import type { PawPost } from '../src/app.js';

/** The update slots' directory: the lin data dir (config.file.root) + "pawpost-ota/". */
export const LIN_OTA_DIR = (firmwareConfig.file?.root ?? '/tmp/') + 'pawpost-ota/';

export default function main(hooks: MainHooks = {}): PawPost {
  const booted = bootLinSlots(LIN_OTA_DIR);
  return startToy(
    {
      openBoardControls,
      openSpeaker: (pins, clock, slots) => new LinSpeaker({ pins, clock, slots }),
      update: {
        runningVersion: booted.version,
        pendingAtBoot: () => booted.pending,
        load: async () => {
          const [{ LinFileUpdateSlot }, { cryptSha256 }] = await Promise.all([import('./moddable-file-update.js'), import('./moddable-sha256.js')]);
          return { slot: new LinFileUpdateSlot(LIN_OTA_DIR), sha256: cryptSha256 };
        },
      },
    },
    hooks,
  );
}
