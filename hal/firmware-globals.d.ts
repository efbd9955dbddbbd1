// Globals XS provides on the device that the portable code may rely on.
declare class TextEncoder {
  encode(s?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(b?: ArrayBufferView | ArrayBuffer): string;
}
