/**
 * The part of the SDK's `crypt` typings (typings/crypt.d.ts in SDK 8.2) that
 * hal/moddable-update.ts uses; @moddable/typings 5.6 has no `crypt`. Seen only by
 * tsconfig.firmware.json (mcconfig uses the SDK's own crypt.d.ts).
 */
declare module 'crypt' {
  type DigestType = 'MD5' | 'SHA1' | 'SHA224' | 'SHA256' | 'SHA384' | 'SHA512';
  export class Digest {
    constructor(type: DigestType);
    write(message: string | ArrayBuffer): void;
    close(): ArrayBuffer;
    reset(): void;
  }
}
