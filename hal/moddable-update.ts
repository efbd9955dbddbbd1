/**
 * The UpdateSlotPort and Sha256Port on the ESP32 (issue 14): the SDK's `ota`
 * module writes the inactive OTA slot (esp_ota_begin / write / end +
 * set_boot_partition), hal/native/pawpost-ota.c adds what it lacks (slot size,
 * pending state, confirm, rollback), and the SDK's native `crypt` Digest hashes.
 *
 * Mapping (the SDK's OTA.complete() both ends the image and switches the boot
 * partition, so it runs only in switchTo(), after UpdateClient compared the hash):
 *   begin  → new OTA()        write → ota.write(chunk)      abort → ota.cancel()
 *   finish → (checked only)   switchTo → ota.complete()     (esp_ota_end verifies the image too)
 *   runningState / confirm / rollback → native, ESP-IDF app rollback
 * Errors: every SDK throw becomes PortError IO. esp32 only: `ota` does not exist on lin
 * (hal/moddable-file-update.ts is the lin equivalent, sim/file-update-slot.ts the Node simulator's).
 * Loaded lazily by src/update-gate.ts (hal/main-esp32.ts: import()), so it costs no slot at boot.
 *
 * Why hal/native/pawpost-ota.c is needed: the SDK's `ota` (build/devices/esp32/modules/ota)
 * has only begin/write/cancel/complete; the slot size (esp_ota_get_next_update_partition),
 * the pending state (esp_ota_get_state_partition), confirm (esp_ota_mark_app_valid_cancel_rollback)
 * and rollback (esp_ota_mark_app_invalid_rollback_and_reboot) have no JavaScript binding in SDK 8.2.3.
 */
import OTA from 'ota';
import { PortError, type RunningImageState, type UpdateSlotPort } from './ports.js';

declare function native(name: string): (...args: unknown[]) => unknown;

interface SdkOta {
  write(data: ArrayBufferLike | ArrayBufferView): void;
  cancel(): void;
  complete(): void;
}

export class ModdableUpdateSlot implements UpdateSlotPort {
  private ota: SdkOta | undefined;
  private size = 0;
  private written = 0;
  private finished = false;
  private readonly nCapacity = native('xs_pawpost_ota_capacity') as () => number;
  private readonly nPending = native('xs_pawpost_ota_pending') as () => boolean;
  private readonly nConfirm = native('xs_pawpost_ota_confirm') as () => void;
  private readonly nRollback = native('xs_pawpost_ota_rollback') as () => void;

  capacity(): number {
    return this.nCapacity();
  }

  begin(sizeBytes: number): void {
    if (this.ota) this.abort();
    if (!(sizeBytes > 0) || sizeBytes > this.capacity()) throw new PortError('INVAL', 'image size beyond the OTA slot');
    try {
      this.ota = new (OTA as unknown as new () => SdkOta)();
    } catch {
      throw new PortError('IO', 'ota begin failed');
    }
    this.size = sizeBytes;
    this.written = 0;
    this.finished = false;
  }

  write(chunk: Uint8Array): void {
    if (!this.ota || this.finished) throw new PortError('INVAL', 'ota write out of order');
    if (this.written + chunk.length > this.size) throw new PortError('INVAL', 'beyond the announced size');
    try {
      this.ota.write(chunk);
    } catch {
      throw new PortError('IO', 'ota write failed');
    }
    this.written += chunk.length;
  }

  finish(): void {
    if (!this.ota || this.written !== this.size) throw new PortError('INVAL', 'ota finish before the whole image');
    this.finished = true;
  }

  abort(): void {
    const o = this.ota;
    this.ota = undefined;
    this.finished = false;
    try {
      o?.cancel();
    } catch {
      // cancelling a failed handle: nothing left to undo
    }
  }

  switchTo(): void {
    if (!this.ota || !this.finished) throw new PortError('INVAL', 'switch before finish');
    try {
      this.ota.complete();
    } catch {
      this.abort();
      throw new PortError('IO', 'ota complete failed (image refused by esp_ota_end or boot partition not set)');
    }
    this.ota = undefined;
  }

  runningState(): RunningImageState {
    return this.nPending() ? 'pending' : 'confirmed';
  }

  confirm(): void {
    try {
      this.nConfirm();
    } catch {
      throw new PortError('IO', 'ota confirm failed');
    }
  }

  rollback(): void {
    try {
      this.nRollback();
    } catch {
      throw new PortError('IO', 'ota rollback failed');
    }
  }
}

/** SHA-256 in native code (the SDK's `crypt`; hal/moddable-sha256.ts, shared with lin). */
export { cryptSha256 } from './moddable-sha256.js';
