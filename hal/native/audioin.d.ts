/**
 * Typings for the Moddable `audioin` module, written from the SDK 8.2 source
 * (modules/pins/audioin/audioin.js). @moddable/typings and the SDK's typings
 * declare it only as 'pins/audioin', but the SDK registers it as `audioin`.
 * manifest.json maps the specifier `audioin` to this file for mcconfig's tsc;
 * tsconfig.firmware.json gets it through hal/moddable-typings.d.ts.
 */
/**
 * `read(samples, buffer, offset)` fills `buffer` from `offset` (bytes) and
 * BLOCKS until that many samples were captured (i2s_channel_read with
 * portMAX_DELAY on the ESP32); on `lin` it loops a WAV resource.
 */
declare module 'audioin' {
  export default class AudioIn {
    constructor(options?: Record<string, unknown>);
    close(): void;
    read(samples: number): ArrayBuffer;
    read(samples: number, buffer: ArrayBuffer | SharedArrayBuffer, offset?: number): ArrayBuffer;
    readonly sampleRate: number;
    readonly bitsPerSample: number;
    readonly numChannels: number;
  }
}

