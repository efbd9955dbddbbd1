/**
 * The simulator's UpdateSlotPort (issue 14): two slot files and an otadata file
 * in a directory, with the ESP-IDF bootloader's app-rollback rules in
 * `bootFileSlots()` (run it once per simulated power-on, before building the toy).
 *
 *   <dir>/slot-0.bin, slot-1.bin   images; a slot being written is `slot-N.part`
 *                                  and is renamed to .bin only by finish()
 *   <dir>/otadata.json             {"boot": 0|1, "state": "new"|"pending"|"valid"|"aborted"|"invalid", "running": 0|1}
 *                                  replaced atomically (write + rename)
 *
 * A process killed at any point leaves either the old otadata or the new one,
 * and never a .bin that was not completely written. Host only (node:fs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PortError, type RunningImageState, type UpdateSlotPort } from '../hal/ports.js';

type OtaState = 'new' | 'pending' | 'valid' | 'aborted' | 'invalid';
interface OtaData {
  boot: number;
  state: OtaState;
  running: number;
}

function readOta(dir: string): OtaData {
  try {
    const o = JSON.parse(fs.readFileSync(path.join(dir, 'otadata.json'), 'utf8')) as OtaData;
    if ((o.boot === 0 || o.boot === 1) && (o.running === 0 || o.running === 1) && typeof o.state === 'string') return o;
  } catch {
    // absent or torn: the factory state
  }
  return { boot: 0, state: 'valid', running: 0 };
}

function writeOta(dir: string, o: OtaData): void {
  const tmp = path.join(dir, 'otadata.json.tmp');
  fs.writeFileSync(tmp, JSON.stringify(o));
  fs.renameSync(tmp, path.join(dir, 'otadata.json'));
}

const slotFile = (dir: string, n: number) => path.join(dir, `slot-${n}.bin`);

/**
 * Power-on: writes `initialImage` to slot 0 when the directory is new, applies the
 * bootloader's rules and returns the slot that boots and its image.
 */
export function bootFileSlots(dir: string, initialImage: Uint8Array): { slot: number; image: Uint8Array } {
  fs.mkdirSync(dir, { recursive: true });
  if (!fs.existsSync(slotFile(dir, 0)) && !fs.existsSync(slotFile(dir, 1))) fs.writeFileSync(slotFile(dir, 0), initialImage);
  const o = readOta(dir);
  let pick = o.boot;
  if (o.state === 'new') o.state = 'pending';
  else if (o.state === 'pending') {
    o.state = 'aborted';
    pick = 1 - o.boot;
  } else if (o.state === 'aborted' || o.state === 'invalid') pick = 1 - o.boot;
  if (!fs.existsSync(slotFile(dir, pick))) {
    if (pick === o.boot) o.state = 'invalid';
    pick = 1 - pick;
  }
  o.running = pick;
  writeOta(dir, o);
  return { slot: pick, image: new Uint8Array(fs.readFileSync(slotFile(dir, pick))) };
}

export class FileUpdateSlot implements UpdateSlotPort {
  private fd: number | undefined;
  private size = 0;
  private written = 0;

  constructor(private readonly dir: string, private readonly slotBytes = 0x180000) {}

  private inactive(): number {
    return 1 - readOta(this.dir).running;
  }
  private part(): string {
    return path.join(this.dir, `slot-${this.inactive()}.part`);
  }

  capacity(): number {
    return this.slotBytes;
  }

  begin(sizeBytes: number): void {
    if (this.fd !== undefined) this.abort();
    if (!(sizeBytes > 0) || sizeBytes > this.slotBytes) throw new PortError('INVAL', 'image size beyond the slot');
    try {
      const n = this.inactive();
      const o = readOta(this.dir);
      if (o.boot === n) writeOta(this.dir, { ...o, state: 'invalid' });
      fs.rmSync(slotFile(this.dir, n), { force: true });
      this.fd = fs.openSync(this.part(), 'w');
    } catch {
      throw new PortError('IO', 'slot begin failed');
    }
    this.size = sizeBytes;
    this.written = 0;
  }

  write(chunk: Uint8Array): void {
    if (this.fd === undefined) throw new PortError('INVAL', 'write before begin');
    if (this.written + chunk.length > this.size) throw new PortError('INVAL', 'beyond the announced size');
    try {
      fs.writeSync(this.fd, chunk);
    } catch {
      throw new PortError('IO', 'slot write failed');
    }
    this.written += chunk.length;
  }

  finish(): void {
    if (this.fd === undefined || this.written !== this.size) throw new PortError('INVAL', 'finish before the whole image');
    try {
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = undefined;
      fs.renameSync(this.part(), slotFile(this.dir, this.inactive()));
    } catch {
      throw new PortError('IO', 'slot finish failed');
    }
  }

  abort(): void {
    if (this.fd !== undefined) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // already closed
      }
      this.fd = undefined;
    }
    fs.rmSync(this.part(), { force: true });
  }

  switchTo(): void {
    const n = this.inactive();
    if (!fs.existsSync(slotFile(this.dir, n))) throw new PortError('INVAL', 'switch to an unfinished image');
    const o = readOta(this.dir);
    writeOta(this.dir, { boot: n, state: 'new', running: o.running });
  }

  runningState(): RunningImageState {
    const o = readOta(this.dir);
    return o.boot === o.running && o.state === 'pending' ? 'pending' : 'confirmed';
  }

  confirm(): void {
    const o = readOta(this.dir);
    if (o.boot === o.running && o.state === 'pending') writeOta(this.dir, { ...o, state: 'valid' });
  }

  rollback(): void {
    const o = readOta(this.dir);
    if (o.boot === o.running) writeOta(this.dir, { ...o, state: 'invalid' });
    // the simulator restarts the toy (the device's rollback reboots and never returns)
  }
}
