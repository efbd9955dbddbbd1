/**
 * The toy's controls on the ESP32 (and in the Node simulator, which implements
 * the same Moddable modules): the paw and heart buttons over
 * `pins/digital/monitor` and the heart LED over `neopixel`.
 *
 * This module is one of the per-platform modules of manifest.json: src/main.ts
 * imports `hal/board-controls`, and the manifest maps that specifier to this
 * file on `esp32` and to hal/lin-controls.ts on `lin`, whose runtime has no
 * `pins/digital` and no `neopixel` (an ES module links every import before
 * main() runs, so a module that a platform lacks must not be imported there
 * at all). Both files export the same `openBoardControls`.
 */
import type { BoardConfig } from './moddable-config.js';
import { ModdableButton, releaseTargetButtons } from './moddable-button.js';
import { ModdableLed } from './moddable-led.js';
import type { BoardControls, ClockPort } from './ports.js';

export type { BoardControls };

/** Opens the controls from the board configuration. Throws PortError('INVAL' | 'IO') on a bad pin. */
export function openBoardControls(board: BoardConfig, clock: ClockPort, onError: (e: unknown) => void): BoardControls {
  releaseTargetButtons();
  return {
    kind: 'gpio',
    paw: new ModdableButton({ id: 'paw', pin: board.pawPin, pull: board.pawPull, clock, onError }),
    heart: new ModdableButton({ id: 'heart', pin: board.heartPin, pull: board.heartPull, clock, onError }),
    led: new ModdableLed({ pin: board.ledPin, order: board.ledOrder, maxLevel: board.ledMaxLevel, onError }),
  };
}
