/**
 * The firmware's entry on the SDK's `lin` simulator (manifest platforms.lin
 * "creation.main"): the toy wired by src/main.ts with buttons driven by
 * software and an LED that traces its colour (hal/lin-controls.ts), because
 * lin has neither `pins/digital` nor `neopixel`; and a paced speaker
 * (hal/lin-speaker.ts), because lin's AudioOut stub never drains its queue.
 */
import { startToy, type MainHooks } from '../src/main.js'; // first: its imports install the TextEncoder/TextDecoder globals
import { openBoardControls } from './lin-controls.js';
import { LinSpeaker } from './lin-speaker.js';
import type { PawPost } from '../src/app.js';

export default function main(hooks: MainHooks = {}): PawPost {
  return startToy(
    { openBoardControls, openSpeaker: (pins, clock, slots) => new LinSpeaker({ pins, clock, slots }) },
    hooks,
  );
}
