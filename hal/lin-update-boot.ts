/**
 * The "bootloader" of the file-backed update slots (issue 14) for the SDK's
 * `lin` runtime and the Node simulator, over Moddable's `file` module: what
 * ESP-IDF's bootloader does with otadata and app rollback, done in JavaScript
 * once per start before the toy is built (hal/main-lin.ts; sim/simulator.ts).
 * Small on purpose: it runs at every boot; the slot writer itself
 * (hal/moddable-file-update.ts) is loaded only when an update needs it.
 *
 * Layout in `dir` (the lin data dir + "pawpost-ota/"; outside the data store,
 * so a factory reset leaves it alone):
 *   slot-0.bin, slot-1.bin   complete images; one being written is slot-N.part,
 *                            renamed to .bin only after it is whole
 *   otadata                  {"boot":0|1,"state":"new"|"pending"|"valid"|"aborted"|"invalid","running":0|1}
 *                            replaced atomically (temp file + rename)
 * Rules (ESP-IDF CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE): 'new' boots as 'pending';
 * a 'pending' slot found again (never confirmed: a crash or reset) becomes
 * 'aborted' and the other slot boots; 'aborted'/'invalid' boot the other slot; a
 * slot without a complete image never boots. No slot file at all: the built-in
 * image (slot 0) runs.
 *
 * lin cannot execute a downloaded image: the process is the same binary after a
 * "switch". So that the version the toy reports follows the slot, an image may
 * start with the simulated-image header below (sim/update-publisher.ts makes such
 * images); the running version is then the header's. This header is trusted
 * ONLY here, in lin and simulator builds; the esp32 image's version is compiled
 * in (manifest config.firmwareVersion) and this file is not in its build.
 *
 * Errors: an unreadable or torn otadata reads as the factory state; boot never throws.
 */
import { Directory, File } from 'file';

export type LinOtaState = 'new' | 'pending' | 'valid' | 'aborted' | 'invalid';
export interface LinOtaData {
  boot: number;
  state: LinOtaState;
  running: number;
}

/** "PPSIMIMG" then major, minor, patch (u16 BE) and 2 reserved bytes: 16 bytes. */
export const SIM_IMAGE_MAGIC = 'PPSIMIMG';
export const SIM_IMAGE_HEADER_BYTES = 16;

const STATES = ['new', 'pending', 'valid', 'aborted', 'invalid'];

export function slotPath(dir: string, n: number, part = false): string {
  return `${dir}slot-${n}.${part ? 'part' : 'bin'}`;
}

function exists(p: string): boolean {
  try {
    return File.exists(p);
  } catch {
    return false;
  }
}

export function readOtaData(dir: string): LinOtaData {
  const p = dir + 'otadata';
  try {
    if (exists(p)) {
      const f = new File(p);
      try {
        if (f.length <= 200) {
          const o = JSON.parse(f.read(String) as string) as LinOtaData;
          if ((o.boot === 0 || o.boot === 1) && (o.running === 0 || o.running === 1) && STATES.includes(o.state)) return o;
        }
      } finally {
        f.close();
      }
    }
  } catch {
    // torn or unreadable: the factory state
  }
  return { boot: 0, state: 'valid', running: 0 };
}

/** Atomic: a temp file, then rename over otadata. Throws on I/O failure. */
export function writeOtaData(dir: string, o: LinOtaData): void {
  const tmp = dir + 'otadata.tmp';
  if (exists(tmp)) File.delete(tmp); // opening for write does not truncate
  const f = new File(tmp, true);
  try {
    f.write(JSON.stringify({ boot: o.boot, state: o.state, running: o.running }));
  } finally {
    f.close();
  }
  if (!File.rename(tmp, dir + 'otadata')) throw new Error('otadata rename failed');
}

/** The version in a simulated image's header, or undefined. */
export function simImageVersion(path: string): string | undefined {
  try {
    if (!exists(path)) return undefined;
    const f = new File(path);
    try {
      if (f.length < SIM_IMAGE_HEADER_BYTES) return undefined;
      const b = new Uint8Array(f.read(ArrayBuffer, SIM_IMAGE_HEADER_BYTES) as ArrayBuffer);
      for (let i = 0; i < 8; i++) if (b[i] !== SIM_IMAGE_MAGIC.charCodeAt(i)) return undefined;
      return `${(b[8]! << 8) | b[9]!}.${(b[10]! << 8) | b[11]!}.${(b[12]! << 8) | b[13]!}`;
    } finally {
      f.close();
    }
  } catch {
    return undefined;
  }
}

export interface LinBoot {
  /** The slot that runs now. */
  slot: number;
  /** True when it runs pending confirmation. */
  pending: boolean;
  /** The running image's version from its simulated-image header, if it has one. */
  version: string | undefined;
}

/** Power-on: applies the bootloader's rules in `dir` (created if missing) and records the running slot. Never throws. */
export function bootLinSlots(dir: string): LinBoot {
  try {
    if (!exists(dir.slice(0, -1))) Directory.create(dir);
  } catch {
    // an existing directory may report an error: reads below fall back to the factory state
  }
  const o = readOtaData(dir);
  let pick = o.boot;
  if (o.state === 'new') o.state = 'pending';
  else if (o.state === 'pending') {
    o.state = 'aborted';
    pick = 1 - o.boot;
  } else if (o.state === 'aborted' || o.state === 'invalid') pick = 1 - o.boot;
  if (!exists(slotPath(dir, pick)) && pick !== 0) {
    if (pick === o.boot) o.state = 'invalid';
    pick = 1 - pick;
  }
  o.running = pick;
  try {
    writeOtaData(dir, o);
  } catch {
    // read-only store: the next boot applies the same rules
  }
  return { slot: pick, pending: o.boot === pick && o.state === 'pending', version: simImageVersion(slotPath(dir, pick)) };
}

/** True when the running image waits for confirmation (cheap: reads otadata only). */
export function linPending(dir: string): boolean {
  const o = readOtaData(dir);
  return o.boot === o.running && o.state === 'pending';
}
