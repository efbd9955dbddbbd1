/**
 * Firmware update (issue 14): the toy's cost to verify a 1.5 MiB image, as XS
 * compute steps (deterministic; the ESP32 runs about 3-4 M steps/s, so divide by
 * that for seconds). All measured in this run.
 */
import { XsSession } from '../tools/xs-worker.js';
import type { BenchSection } from './table.js';

export const section: BenchSection = {
  title: 'Firmware update verification (1.5 MiB image, XS)',
  async run() {
    const xs = await XsSession.start(new URL('./xs/update-entry.ts', import.meta.url).pathname);
    try {
      const size = (await xs.call('setup')).result as number;
      const v = await xs.call('verify-manifest');
      if (v.result !== true) throw new Error('manifest did not verify in XS');
      const h = await xs.call('hash');
      const inst = await xs.call('install');
      if (inst.result !== 'OK') throw new Error(`install: ${String(inst.result)}`);
      return [
        { what: 'manifest check: parse + Ed25519 verify (tweetnacl)', value: v.compute, unit: 'XS steps', note: 'once per update' },
        { what: `SHA-256 of ${size} bytes in 4 KiB chunks (pure JS Sha256Port)`, value: h.compute, unit: 'XS steps', note: `${(h.compute / size).toFixed(1)} steps/byte; the device hashes in native crypt instead` },
        { what: 'whole install: offer, 384 writes to a fake flash, hash compare, switch', value: inst.compute, unit: 'XS steps', note: 'JS hash included; fake flash copies each chunk' },
      ];
    } finally {
      await xs.close();
    }
  },
};
