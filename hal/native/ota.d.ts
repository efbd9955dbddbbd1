/**
 * Typings for the Moddable `ota` module (esp32 only), written from the SDK 8.2
 * source (build/devices/esp32/modules/ota/ota.js + ota.c): the constructor
 * calls esp_ota_begin on the next update partition (sequential writes, erased
 * as it goes); write() appends; cancel() ends without switching; complete()
 * calls esp_ota_end (verifies the image) and esp_ota_set_boot_partition.
 * Every failure throws Error ("begin failed", "write failed", "end failed", ...).
 * For mcconfig's tsc the manifest must map the specifier `ota` to this file
 * (as it does for audioin); tsconfig.firmware.json sees it through hal/moddable-typings.d.ts.
 */
declare module 'ota' {
  export default class OTA {
    constructor();
    write(data: ArrayBufferLike | ArrayBufferView): void;
    cancel(): void;
    complete(): void;
  }
}
