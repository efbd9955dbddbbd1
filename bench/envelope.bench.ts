/**
 * Envelope costs in XS compute steps (deterministic; xsnap's meter), v1 (the
 * frozen copy in tests/envelope-v1/) beside v2 in the same run, measured with
 * the real sealer/opener and tweetnacl inside XS (bench/xs/envelope-entry.ts).
 * Per second of audio at the app's chunking (50 packets of 20 ms, 25 a chunk),
 * over a 60 s message. Bytes on the wire per second of audio with constant
 * 40-byte packets and with VBR-like 20..70-byte packets, padded or not.
 */
import { fileURLToPath } from 'node:url';
import { XsSession } from '../tools/xs-worker.js';
import type { BenchRow, BenchSection } from './table.js';

const SECONDS = 60;

export const section: BenchSection = {
  title: 'Envelope v1 beside v2 (seal / admit / open, tweetnacl in XS, per second of audio)',
  async run(): Promise<BenchRow[]> {
    const s = await XsSession.start(fileURLToPath(new URL('./xs/envelope-entry.ts', import.meta.url)));
    try {
      const rows: BenchRow[] = [];
      const setup = (await s.call<number>('setup')).result;
      const x = await s.call('x25519');
      rows.push({ what: 'one X25519 (crypto_box_beforenm)', value: x.compute, unit: 'XS steps', note: `once per member at pairing, then cached (${setup} cached here)` });
      const pk = await s.call('pairkey');
      rows.push({ what: 'v2: one pair key K(S→R) (SHA-512)', value: pk.compute, unit: 'XS steps', note: 'two per member (one per direction), once per boot, cached in RAM' });
      type Sealed = { chunks: number; bytes: number; audio: number };
      const seal = async (v: 1 | 2, recipients: number, pad = 0, sizes?: 'vbr') => {
        const r = await s.call<Sealed>('seal', { v, recipients, seconds: SECONDS, pad, sizes });
        return { steps: r.compute / SECONDS, ...r.result };
      };
      const open = async (slot: number, mode?: string, replay = false) => (await s.call<number>('open', { slot, mode, replay })).compute / SECONDS;

      for (const n of [1, 2, 8]) {
        const a = await seal(1, n);
        rows.push({ what: `v1 seal, ${n} recipient${n > 1 ? 's' : ''}`, value: a.steps, unit: 'XS steps / s of audio', note: `${a.chunks} chunks in ${SECONDS} s` });
        const b = await seal(2, n);
        rows.push({ what: `v2 seal, ${n} recipient${n > 1 ? 's' : ''}`, value: b.steps, unit: 'XS steps / s of audio', note: `${b.chunks} chunks; + per chunk and recipient a tag key and a Poly1305` });
      }
      // The toy receiving a phone → toy message (1 recipient): v1 opened every chunk twice (admission, playback).
      await seal(1, 1);
      const v1open = await open(0, undefined, true);
      const v1play = await open(0);
      rows.push({ what: 'v1 toy: admission (full open) per s of audio', value: v1open, unit: 'XS steps / s of audio', note: 'MessagePlayer verifier, v1' });
      rows.push({ what: 'v1 toy: playback (full open again)', value: v1play, unit: 'XS steps / s of audio' });
      rows.push({ what: 'v1 toy: receive total (admission + playback)', value: v1open + v1play, unit: 'XS steps / s of audio' });
      const dec = (await s.call<number>('decrypt')).compute / SECONDS;
      rows.push({ what: 'one decryption pass alone (XSalsa20 over the bodies)', value: dec, unit: 'XS steps / s of audio', note: 'what v1 did twice' });
      rows.push({ what: 'target: v1 receive total minus one decryption', value: v1open + v1play - dec, unit: 'XS steps / s of audio' });
      await seal(2, 1);
      const v2admit = await open(0, 'admit', true);
      const v2play = await open(0, 'play');
      const v2full = await open(0, 'full');
      rows.push({ what: 'v2 toy: admission (recipient tag only, no decryption)', value: v2admit, unit: 'XS steps / s of audio', note: 'mode admit' });
      rows.push({ what: 'v2 toy: playback (each chunk opened once)', value: v2play, unit: 'XS steps / s of audio', note: 'mode play' });
      rows.push({ what: 'v2 toy: receive total (admission + playback)', value: v2admit + v2play, unit: 'XS steps / s of audio', note: `${v2admit + v2play <= v1open + v1play - dec ? 'at or below' : 'ABOVE'} the target` });
      rows.push({ what: 'v2 full open (tag + body; a phone)', value: v2full, unit: 'XS steps / s of audio' });
      // A phone opening a toy → family message to 8, from wrap slot 8.
      await seal(1, 8);
      rows.push({ what: 'v1 phone: open toy → 8, wrap slot 8', value: await open(7, undefined, true), unit: 'XS steps / s of audio' });
      await seal(2, 8);
      rows.push({ what: 'v2 phone: open toy → 8, wrap slot 8', value: await open(7, 'full', true), unit: 'XS steps / s of audio' });

      // Bytes on the wire per second of audio.
      for (const sizes of [undefined, 'vbr'] as const) {
        const label = sizes === 'vbr' ? 'VBR 20..70-byte packets' : '40-byte packets (CBR 16 kbps)';
        for (const n of [1, 2]) {
          const v1b = await seal(1, n, 0, sizes);
          rows.push({ what: `bytes, v1, ${n} recip., ${label}`, value: v1b.bytes / SECONDS, unit: 'bytes / s of audio', note: `Opus payload ${v1b.audio / SECONDS} B/s` });
          for (const pad of sizes === 'vbr' ? [0, 256, 1024] : [0, 256]) {
            const b = await seal(2, n, pad, sizes);
            rows.push({ what: `bytes, v2 pad ${pad}, ${n} recip., ${label}`, value: b.bytes / SECONDS, unit: 'bytes / s of audio', note: `${(((b.bytes - v1b.bytes) / v1b.bytes) * 100).toFixed(1)} % over v1` });
          }
        }
      }
      return rows;
    } finally {
      await s.close();
    }
  },
};
