/**
 * Types for tsconfig.firmware.json ONLY (mcconfig never sees this file: it
 * resolves Moddable specifiers to the SDK's own typings through its paths).
 *
 * tsconfig.firmware.json's `exclude: ["node_modules"]` also drops its include
 * of @moddable/typings, so the typings the adapters use are referenced here,
 * plus what @moddable/typings 5.6 lacks: `audioin` (hal/native/audioin.d.ts)
 * and `neopixel` (written from the SDK 8.2 modules/drivers/neopixel/neopixel.js;
 * the SDK's typings/neopixel.d.ts has the same shape). The BLE typings are
 * here too: a triple-slash reference inside a hal/moddable-*.ts file would
 * ALSO load under mcconfig and clash with the SDK's copies (TS2300).
 */
/// <reference path="../node_modules/@moddable/typings/xs.d.ts" />
/// <reference path="../node_modules/@moddable/typings/timer.d.ts" />
/// <reference path="../node_modules/@moddable/typings/time.d.ts" />
/// <reference path="../node_modules/@moddable/typings/preference.d.ts" />
/// <reference path="../node_modules/@moddable/typings/file.d.ts" />
/// <reference path="../node_modules/@moddable/typings/mc/config.d.ts" />
/// <reference path="../node_modules/@moddable/typings/pins/digital/monitor.d.ts" />
/// <reference path="../node_modules/@moddable/typings/pins/audioout.d.ts" />
/// <reference path="../node_modules/@moddable/typings/text/encoder.d.ts" />
/// <reference path="../node_modules/@moddable/typings/text/decoder.d.ts" />
/// <reference path="./native/audioin.d.ts" />
/// <reference path="./native/ota.d.ts" />
/// <reference path="./native/crypt-digest.d.ts" />
/// <reference path="../node_modules/@moddable/typings/ble/bleserver.d.ts" />
/// <reference path="../node_modules/@moddable/typings/ble/btutils.d.ts" />
/// <reference path="../node_modules/@moddable/typings/ble/gap.d.ts" />
/// <reference path="../node_modules/@moddable/typings/ble/gatt.d.ts" />
/// <reference path="../node_modules/@moddable/typings/ble/sm.d.ts" />
/// <reference path="../node_modules/@moddable/typings/socket.d.ts" />
/// <reference path="../node_modules/@moddable/typings/securesocket.d.ts" />
/// <reference path="../node_modules/@moddable/typings/wifi.d.ts" />
/// <reference path="../node_modules/@moddable/typings/net.d.ts" />
/// <reference path="../node_modules/@moddable/typings/instrumentation.d.ts" />
/// <reference path="../node_modules/@moddable/typings/debug.d.ts" />

/** `neopixel` (modules/drivers/neopixel/neopixel.js; ESP32 RMT driver). */
declare module 'neopixel' {
  export default class NeoPixel {
    constructor(options?: { pin?: number; length?: number; order?: string });
    close(): void;
    update(): void;
    makeRGB(r: number, g: number, b: number): number;
    setPixel(index: number, color: number): void;
    fill(color: number, index?: number, count?: number): void;
    getPixel(index: number): number;
    brightness: number;
    readonly length: number;
  }
}
