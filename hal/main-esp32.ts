/**
 * The firmware's entry on the ESP32 (manifest platforms.esp32 "creation.main"):
 * the toy wired by src/main.ts with the board's GPIO buttons and SK6812 LED.
 * The Node simulator runs this same entry over its Moddable modules.
 */
import { startToy, type MainHooks } from '../src/main.js'; // first: its imports install the TextEncoder/TextDecoder globals
import { openBoardControls } from './board-controls.js';
import type { PawPost } from '../src/app.js';

export default function main(hooks: MainHooks = {}): PawPost {
  return startToy({ openBoardControls }, hooks);
}
