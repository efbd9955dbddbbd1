/**
 * Pairing on the toy's side, in XS compute steps (deterministic; xsnap, tweetnacl).
 * Each toy step is one incoming BLE write handled by PairingService; the phone's
 * work runs in between and is not counted. The total is also given in X25519
 * equivalents (the dominant cost); wall ms include the xsnap round trip.
 */
import { XsSession } from '../tools/xs-worker.js';
import type { BenchRow, BenchSection } from './table.js';

export const section: BenchSection = {
  title: 'Pairing (toy side, XS steps, tweetnacl)',
  async run(): Promise<BenchRow[]> {
    const s = await XsSession.start(new URL('./xs/pairing-entry.ts', import.meta.url).pathname);
    try {
      await s.call('setup');
      const rows: BenchRow[] = [];
      let total = 0;
      let totalMs = 0;
      const toy = async (name: string, what: string, note: string) => {
        const t0 = performance.now();
        const r = await s.call(name);
        const ms = performance.now() - t0;
        total += r.compute;
        totalMs += ms;
        rows.push({ what, value: r.compute, unit: 'XS steps', note: `${note}; ${ms.toFixed(0)} ms wall incl. worker round trip` });
      };
      await toy('toy-m1', 'M1 → M2 (ephemeral key, X25519, keys, tag, seal)', '2 X25519');
      await s.call('phone-m2');
      await toy('toy-m3', 'M3 → M4 (open, box.before with the phone key, tag check, small-order check, key proof)', '1 X25519');
      await s.call('phone-m4');
      await toy('toy-register', 'REGISTER (roster write)', 'sealed request + response');
      await s.call('phone-net');
      await toy('toy-network', 'NETWORK (settings write)', 'sealed request + response');
      await s.call('phone-done');
      await toy('toy-done', 'DONE', 'ends pairing mode');
      const x = await s.call('x25519');
      const x25519Steps = x.compute;
      rows.push({ what: 'one pairing, toy side, total', value: total, unit: 'XS steps', note: `${(total / 1e6).toFixed(1)} M steps = ${(total / x25519Steps).toFixed(2)} X25519-equivalents; ${totalMs.toFixed(0)} ms wall` });
      rows.push({ what: 'reference: one X25519 (tweetnacl scalarMult)', value: x25519Steps, unit: 'XS steps', note: 'measured in the same worker; ESP32 pure JS: 3-4 s each (ARCHITECTURE.md)' });
      const h = await s.call('hmac');
      rows.push({ what: 'reference: one HMAC-SHA-512 (96-byte message)', value: h.compute, unit: 'XS steps', note: 'over CryptoPort.sha512' });
      return rows;
    } finally {
      await s.close();
    }
  },
};
