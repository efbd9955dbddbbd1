/**
 * The whole toy in XS (bench/xs/toy-entry.ts): src/app.ts on fakes, with the
 * real pairing, envelope, storage records, MQTT codec and session. The codec is
 * faked so the rows are the JS work of the paths; Opus has its own rows.
 * XS compute steps are deterministic (xsnap's meter); heap is xsnap's live slot count.
 */
import { fileURLToPath } from 'node:url';
import { XsSession } from '../tools/xs-worker.js';
import type { BenchRow, BenchSection } from './table.js';

export const section: BenchSection = {
  title: 'The whole toy in XS (src/app.ts on fakes, codec faked)',
  async run(): Promise<BenchRow[]> {
    const s = await XsSession.start(fileURLToPath(new URL('./xs/toy-entry.ts', import.meta.url)));
    try {
      const rows: BenchRow[] = [];
      const prep = await s.call('prepare');
      const boot = await s.call<{ state: string; audioRamBytes: number }>('boot');
      const bootSlots = (boot.heapCount ?? 0) - (prep.heapCount ?? 0);
      rows.push({ what: 'boot: identity, roster, envelope, outbox/inbox, pipelines, pairing, state machine', value: boot.compute, unit: 'XS steps', note: `state ${boot.result.state}` });
      rows.push({ what: 'audio buffers of both pipelines, as wired in src/app.ts', value: boot.result.audioRamBytes, unit: 'bytes', note: 'preallocated at boot; the same for a 1 s or a 60 s message' });
      rows.push({ what: 'live heap slots the booted toy adds (after GC)', value: bootSlots, unit: 'slots', note: `xsnap counts; the ATOM Echo's XS creation has 4,928 slots and 78,848 bytes of chunks, so audio buffers are preallocated typed arrays (chunks)` });
      const pair = await s.call('pair');
      const st = await s.call<{ paired: string; online: string; family: number }>('paired');
      if (st.result.paired !== 'ok') throw new Error(`pairing in XS did not finish: ${st.result.paired}`);
      rows.push({ what: 'first pairing, toy + simulated phone in one engine, then MQTT connect', value: pair.compute, unit: 'XS steps', note: `family ${st.result.family}, session ${st.result.online}; phone-side X25519 included` });
      await s.call('record', 2); // warm-up message
      const rec = await s.call<number>('record', 10);
      rows.push({ what: 'record + seal + outbox + publish, per second of audio', value: rec.compute / 10.5, unit: 'XS steps / s of audio', note: `10 s message, ${rec.result} chunks published` });
      rows.push({ what: 'live heap slots after a 10 s message (after GC), over the booted toy', value: (rec.heapCount ?? 0) - (boot.heapCount ?? 0), unit: 'slots', note: 'includes the fake broker\'s copy of every chunk, the paired member and the in-memory storage records' });
      await s.call('seal', 10);
      const del = await s.call<number>('deliver');
      rows.push({ what: 'receive + admit (inbox write, open, replay check), per second of audio', value: del.compute / 10, unit: 'XS steps / s of audio', note: `10 s message from the paired phone; waiting ${del.result}` });
      const play = await s.call<{ frames: number; waiting: number; state: string }>('play', 10);
      rows.push({ what: 'play (read back, open, decode path, speaker), per second of audio', value: play.compute / 11, unit: 'XS steps / s of audio', note: `${play.result.frames} frames played; then ${play.result.state}, waiting ${play.result.waiting}` });
      const idle = await s.call('idle', 60);
      rows.push({ what: 'idle, per second (timers, MQTT keepalive)', value: idle.compute / 60, unit: 'XS steps / s', note: `${(idle.heapCount ?? 0) - (boot.heapCount ?? 0)} live slots over the booted toy after everything above (same inclusions)` });
      return rows;
    } finally {
      await s.close();
    }
  },
};
