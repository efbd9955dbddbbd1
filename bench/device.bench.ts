/**
 * The device section: the firmware built by the real Moddable SDK for `lin` at
 * the ESP32's XS creation (manifest.json platforms.esp32.creation), run in the
 * SDK's mcsim by tools/device-test.ts. Memory is what is live right after a
 * forced collection (Debug.gc()), sampled every 100 ms and at each button
 * event; the peak of each phase is reported. Needs a built SDK (MODDABLE or
 * tools/prepare-moddable.sh), xvfb-run and mosquitto; otherwise the section
 * says why it was skipped and has no rows.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { BenchRow, BenchSection } from './table.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

export const section: BenchSection = {
  title: 'Device: the firmware in the real Moddable runtime (lin build at the ESP32 creation, over TLS)',
  async run(): Promise<BenchRow[]> {
    const r = spawnSync(process.execPath, ['--import=tsx', path.join(ROOT, 'tools/device-test.ts'), '--bench'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
    const line = (r.stdout ?? '').split('\n').reverse().find((l) => l.startsWith('{'));
    if (!line) throw new Error(`device tier gave no figures: ${(r.stdout + r.stderr).split('\n').filter((l) => /✘|skipped|rror/.test(l)).slice(0, 3).join(' | ')}`);
    const f = JSON.parse(line) as Record<string, number | string>;
    if (f.skipped) {
      console.log(`\n(device section skipped: ${f.skipped})`);
      return [];
    }
    const n = (k: string) => Number(f[k] ?? NaN);
    const creation = String(f.creation ?? '');
    const heap = Number(creation.replace('-c ', '').split(',')[2]);
    return [
      { what: 'live slots, peak in the provisioned-boot run (no family; includes the test-only native crypto checks)', value: n('bootSlots'), unit: 'slots', note: `of ${heap} (creation.heap); 16 B each on the ESP32` },
      { what: 'live chunk bytes, same', value: n('bootChunks'), unit: 'bytes', note: '64-bit lin: an upper bound for the ESP32' },
      { what: 'live slots, peak while receiving and playing', value: n('receiveSlots'), unit: 'slots', note: 'parent → toy, 2 s message, over TLS' },
      { what: 'live chunk bytes, peak while receiving and playing', value: n('receiveChunks'), unit: 'bytes', note: `of ${creation.split(',')[0]?.replace('-c ', '')} (creation.chunk)` },
      { what: 'live slots, peak while recording', value: n('recordSlots'), unit: 'slots', note: '3 s paw hold, native libopus, sealed, published' },
      { what: 'live chunk bytes, peak while recording', value: n('recordChunks'), unit: 'bytes' },
      { what: 'recording vs the lin mic WAV', value: n('recordCorrelation'), unit: 'correlation', note: `${f.recordSeconds} s decoded by the Node parent` },
      { what: 'played audio RMS (speech, not silence)', value: n('playedRms'), unit: 'RMS', note: 'lin paced speaker' },
      { what: 'heap slots per FileStore read (the toy\'s storage adapter)', value: n('storageRead'), unit: 'slots', note: 'a 2,700-byte value (a chunk record); tests/device-scenario.ts storage' },
      { what: 'heap slots per FileStore write', value: n('storageWrite'), unit: 'slots', note: 'atomic: temp file, then rename' },
      { what: 'heap slots per FileStore remove', value: n('storageRemove'), unit: 'slots' },
    ];
  },
};
