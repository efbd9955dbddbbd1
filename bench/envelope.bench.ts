/**
 * Envelope costs in XS compute steps (deterministic; xsnap's meter), measured
 * with the real sealer/opener and tweetnacl inside XS (bench/xs/envelope-entry.ts).
 * One second of audio = 50 Opus packets of 40 bytes (16 kbps, 20 ms frames).
 */
import { fileURLToPath } from 'node:url';
import { XsSession } from '../tools/xs-worker.js';
import type { BenchRow, BenchSection } from './table.js';

export const section: BenchSection = {
  title: 'Envelope (seal/open, tweetnacl in XS)',
  async run(): Promise<BenchRow[]> {
    const s = await XsSession.start(fileURLToPath(new URL('./xs/envelope-entry.ts', import.meta.url)));
    try {
      const rows: BenchRow[] = [];
      const setup = (await s.call<number>('setup')).result;
      const x = await s.call('x25519');
      rows.push({ what: 'one X25519 (crypto_box_beforenm)', value: x.compute, unit: 'XS steps', note: `once per member at pairing, then cached (${setup} cached here)` });
      for (const recipients of [1, 8]) {
        const r = await s.call<{ chunks: number; bytes: number }>('seal', { recipients, seconds: 1 });
        rows.push({ what: `seal 1 s of audio, ${recipients} recipient${recipients > 1 ? 's' : ''}`, value: r.compute, unit: 'XS steps', note: `${r.result.chunks} chunks, ${r.result.bytes} bytes sealed, incl. head, key wraps and send-counter write` });
        const o = await s.call<number>('open', { slot: recipients - 1 });
        rows.push({ what: `open 1 s of audio (${recipients === 1 ? 'toy, 1 wrap' : 'phone in wrap slot 8 of 8'})`, value: o.compute, unit: 'XS steps', note: `${o.result} packets, incl. replay check and record write` });
      }
      const long = await s.call<{ chunks: number; bytes: number }>('seal', { recipients: 8, seconds: 60 });
      rows.push({ what: 'seal 60 s, per second of audio (8 recipients)', value: long.compute / 60, unit: 'XS steps / s of audio', note: `${long.result.chunks} chunks, ${long.result.bytes} bytes` });
      const lo = await s.call<number>('open', { slot: 0 });
      rows.push({ what: 'open 60 s, per second of audio', value: lo.compute / 60, unit: 'XS steps / s of audio', note: `${lo.result} packets` });
      return rows;
    } finally {
      await s.close();
    }
  },
};
