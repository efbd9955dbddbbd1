/**
 * The UpdateSlotPort on the SDK's `lin` runtime and in the Node simulator
 * (issue 14): two slot files and otadata in a directory, over Moddable's `file`
 * module, with the bootloader's rules in hal/lin-update-boot.ts (layout there).
 * The lin counterpart of hal/moddable-update.ts (esp32, the SDK's `ota`).
 * Loaded lazily by src/update-gate.ts (hal/main-lin.ts: import()).
 *
 * begin(size) removes the inactive slot's old image (if otadata would boot it,
 * it is marked invalid first) and opens slot-N.part; write() appends; finish()
 * renames .part to .bin (whole or not at all); switchTo() writes otadata
 * {boot: N, state: 'new'}; the next start boots it pending (bootLinSlots).
 * confirm() marks the running pending slot valid; rollback() marks it invalid
 * (the caller restarts: on lin the process exits, hal/moddable-restart.ts).
 * Errors: PortError INVAL (order, size beyond the slot), IO (file system).
 */
import { File } from 'file';
import { PortError, type RunningImageState, type UpdateSlotPort } from './ports.js';
import { readOtaData, slotPath, writeOtaData } from './lin-update-boot.js';

export class LinFileUpdateSlot implements UpdateSlotPort {
  private file: File | undefined;
  private size = 0;
  private written = 0;

  /** `dir` ends in '/' (the same as bootLinSlots'); `slotBytes` the slot's capacity (default 1.5 MiB, the esp32 slot). */
  constructor(private readonly dir: string, private readonly slotBytes = 0x180000) {}

  private inactive(): number {
    return 1 - readOtaData(this.dir).running;
  }

  capacity(): number {
    return this.slotBytes;
  }

  begin(sizeBytes: number): void {
    if (this.file) this.abort();
    if (!(sizeBytes > 0) || sizeBytes > this.slotBytes) throw new PortError('INVAL', 'image size beyond the slot');
    try {
      const n = this.inactive();
      const o = readOtaData(this.dir);
      if (o.boot === n) writeOtaData(this.dir, { ...o, state: 'invalid' });
      if (File.exists(slotPath(this.dir, n))) File.delete(slotPath(this.dir, n));
      const part = slotPath(this.dir, n, true);
      if (File.exists(part)) File.delete(part); // opening for write does not truncate
      this.file = new File(part, true);
    } catch {
      throw new PortError('IO', 'slot begin failed');
    }
    this.size = sizeBytes;
    this.written = 0;
  }

  write(chunk: Uint8Array): void {
    if (!this.file) throw new PortError('INVAL', 'write before begin');
    if (this.written + chunk.length > this.size) throw new PortError('INVAL', 'beyond the announced size');
    try {
      const copy = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength ? chunk.buffer : chunk.slice().buffer;
      this.file.write(copy as ArrayBuffer);
    } catch {
      throw new PortError('IO', 'slot write failed');
    }
    this.written += chunk.length;
  }

  finish(): void {
    if (!this.file || this.written !== this.size) throw new PortError('INVAL', 'finish before the whole image');
    try {
      this.file.close();
      this.file = undefined;
      const n = this.inactive();
      if (!File.rename(slotPath(this.dir, n, true), slotPath(this.dir, n))) throw new Error('rename');
    } catch {
      throw new PortError('IO', 'slot finish failed');
    }
  }

  abort(): void {
    try {
      this.file?.close();
    } catch {
      // already closed
    }
    this.file = undefined;
    try {
      const part = slotPath(this.dir, this.inactive(), true);
      if (File.exists(part)) File.delete(part);
    } catch {
      // a stale .part never boots and is replaced by the next begin()
    }
  }

  switchTo(): void {
    const n = this.inactive();
    if (!File.exists(slotPath(this.dir, n))) throw new PortError('INVAL', 'switch to an unfinished image');
    try {
      writeOtaData(this.dir, { boot: n, state: 'new', running: readOtaData(this.dir).running });
    } catch {
      throw new PortError('IO', 'otadata write failed');
    }
  }

  runningState(): RunningImageState {
    const o = readOtaData(this.dir);
    return o.boot === o.running && o.state === 'pending' ? 'pending' : 'confirmed';
  }

  confirm(): void {
    const o = readOtaData(this.dir);
    try {
      if (o.boot === o.running && o.state === 'pending') writeOtaData(this.dir, { ...o, state: 'valid' });
    } catch {
      throw new PortError('IO', 'otadata write failed');
    }
  }

  rollback(): void {
    const o = readOtaData(this.dir);
    try {
      if (o.boot === o.running) writeOtaData(this.dir, { ...o, state: 'invalid' });
    } catch {
      throw new PortError('IO', 'otadata write failed');
    }
  }
}
