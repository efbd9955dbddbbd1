/**
 * Sha256Port in native code: the SDK's `crypt` Digest("SHA256")
 * (modules/crypt/digest, in the build through tls.json on esp32 and lin).
 * Used by the firmware update (issue 14) on both platforms; loaded lazily with
 * the update modules (src/update-gate.ts). Errors: PortError CLOSED after digest().
 */
import { Digest } from 'crypt';
import { PortError, type Sha256Port, type Sha256Stream } from './ports.js';

class CryptSha256 implements Sha256Stream {
  private d: Digest | undefined = new Digest('SHA256');
  update(bytes: Uint8Array): void {
    if (!this.d) throw new PortError('CLOSED', 'sha256 stream already digested');
    this.d.write(bytes as unknown as ArrayBuffer); // xsmcGetBufferReadable takes any byte view
  }
  digest(): Uint8Array {
    if (!this.d) throw new PortError('CLOSED', 'sha256 stream already digested');
    const out = new Uint8Array(this.d.close());
    this.d = undefined;
    return out;
  }
}

/** SHA-256 in native code (the SDK's `crypt`). */
export const cryptSha256: Sha256Port = { create: () => new CryptSha256() };
