/**
 * A fake ESP32 flash with two OTA slots, otadata and the bootloader's app
 * rollback rules (ESP-IDF CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE), plus a
 * power switch shared with a storage wrapper so that a test can cut power at
 * any one step of write, switch and confirm. Portable (runs in both tiers).
 *
 * Bootloader model (boot()):
 * - the selected slot is otadata.boot; if its state is 'new' it becomes
 *   'pending' and boots; if it is already 'pending' (booted once, never
 *   confirmed: a crash or reset) it becomes 'aborted' and the other slot boots;
 *   'aborted'/'invalid' boot the other slot;
 * - a slot whose image is not complete (finish() never ran) never boots
 *   (ESP-IDF checks the image's appended SHA-256 and, with secure boot, its signature).
 * A power cut (`cutAfter` steps) makes the failing step and every later one throw
 * PortError IO until boot(); a write cut tears the chunk (half of it lands).
 */
import { PortError, type RunningImageState, type StoragePort, type UpdateSlotPort } from '../../hal/ports.js';
import type { MemoryStorage } from './memory-storage.js';

type OtaState = 'new' | 'pending' | 'valid' | 'aborted' | 'invalid';

interface Slot {
  bytes: Uint8Array;
  length: number;
  complete: boolean;
}

export class FakeFlash {
  readonly slots: Slot[];
  /** Which slot runs now. */
  running = 0;
  /** otadata: the slot to boot and its state. */
  otaBoot = 0;
  otaState: OtaState = 'valid';
  /** Steps left before the power fails (-1: never). Every slot call and storage write/remove is a step. */
  cutAfter = -1;
  powerLost = false;
  steps = 0;
  boots = 0;
  restartRequested = false;
  // counters
  begins = 0;
  writes = 0;
  bytesWritten = 0;
  finishes = 0;
  aborts = 0;
  switches = 0;
  confirms = 0;
  rollbacks = 0;
  /** Failure switch: the next write throws IO (without losing power). */
  failNextWrite = false;
  private writing = -1;

  constructor(readonly slotBytes: number, initialImage: Uint8Array) {
    this.slots = [
      { bytes: new Uint8Array(slotBytes), length: 0, complete: false },
      { bytes: new Uint8Array(slotBytes), length: 0, complete: false },
    ];
    this.slots[0]!.bytes.set(initialImage, 0);
    this.slots[0]!.length = initialImage.length;
    this.slots[0]!.complete = true;
  }

  /** One step of work: throws IO once the power is gone. */
  step(): void {
    if (this.powerLost) throw new PortError('IO', 'no power');
    if (this.cutAfter === 0) {
      this.powerLost = true;
      throw new PortError('IO', 'simulated power cut');
    }
    if (this.cutAfter > 0) this.cutAfter--;
    this.steps++;
  }

  /** The image the running slot holds (a copy). */
  runningImage(): Uint8Array {
    const s = this.slots[this.running]!;
    return s.bytes.slice(0, s.length);
  }

  /** Power on: the bootloader chooses a slot. Returns the slot that boots. */
  boot(): number {
    this.powerLost = false;
    this.cutAfter = -1;
    this.restartRequested = false;
    this.writing = -1;
    this.boots++;
    const other = 1 - this.otaBoot;
    let pick = this.otaBoot;
    if (this.otaState === 'new') this.otaState = 'pending';
    else if (this.otaState === 'pending') {
      this.otaState = 'aborted';
      pick = other;
    } else if (this.otaState === 'aborted' || this.otaState === 'invalid') pick = other;
    if (!this.slots[pick]!.complete) {
      if (pick === this.otaBoot) this.otaState = 'invalid';
      pick = 1 - pick;
    }
    this.running = pick;
    return pick;
  }

  /** The UpdateSlotPort for the running image. */
  port(): UpdateSlotPort {
    const f = this;
    const inactive = () => 1 - f.running;
    return {
      capacity: () => f.slotBytes,
      begin(size: number) {
        f.step();
        if (size > f.slotBytes) throw new PortError('INVAL', 'image larger than slot');
        const s = f.slots[inactive()]!;
        s.complete = false; // erasing destroys whatever was there
        s.length = 0;
        s.bytes.fill(0xff);
        f.writing = inactive();
        f.begins++;
        if (f.otaBoot === inactive()) f.otaState = 'invalid';
      },
      write(chunk: Uint8Array) {
        if (f.writing < 0) throw new PortError('INVAL', 'write before begin');
        const s = f.slots[f.writing]!;
        if (s.length + chunk.length > f.slotBytes) throw new PortError('INVAL', 'beyond slot');
        try {
          f.step();
        } catch (e) {
          if (f.powerLost && !f.failNextWrite) s.bytes.set(chunk.subarray(0, chunk.length >> 1), s.length); // torn write
          throw e;
        }
        if (f.failNextWrite) {
          f.failNextWrite = false;
          throw new PortError('IO', 'flash write failed');
        }
        s.bytes.set(chunk, s.length);
        s.length += chunk.length;
        f.writes++;
        f.bytesWritten += chunk.length;
      },
      finish() {
        f.step();
        if (f.writing < 0) throw new PortError('INVAL', 'finish before begin');
        f.slots[f.writing]!.complete = true;
        f.finishes++;
      },
      abort() {
        f.step();
        f.writing = -1;
        f.aborts++;
      },
      switchTo() {
        f.step();
        const s = f.slots[inactive()]!;
        if (!s.complete) throw new PortError('INVAL', 'switch to an unfinished image');
        f.otaBoot = inactive();
        f.otaState = 'new';
        f.writing = -1;
        f.switches++;
      },
      runningState(): RunningImageState {
        return f.otaBoot === f.running && f.otaState === 'pending' ? 'pending' : 'confirmed';
      },
      confirm() {
        f.step();
        if (f.otaBoot === f.running && f.otaState === 'pending') f.otaState = 'valid';
        f.confirms++;
      },
      rollback() {
        f.step();
        if (f.otaBoot === f.running) f.otaState = 'invalid';
        f.rollbacks++;
        f.restartRequested = true;
      },
    };
  }

  /** A StoragePort over `inner` whose writes and removes share this flash's power. */
  storage(inner: MemoryStorage): StoragePort {
    const f = this;
    return {
      read: (k) => {
        if (f.powerLost) throw new PortError('IO', 'no power');
        return inner.read(k);
      },
      write: (k, v) => {
        f.step();
        inner.write(k, v);
      },
      remove: (k) => {
        f.step();
        inner.remove(k);
      },
      keys: (p) => inner.keys(p),
    };
  }
}
