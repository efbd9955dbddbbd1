/**
 * The whole toy in XS (bench/xs/toy-entry.ts): src/app.ts on fakes, with the
 * real pairing, envelope, storage records, MQTT codec and session. The codec is
 * faked so the rows are the JS work of the paths; Opus has its own rows.
 * XS compute steps are deterministic (xsnap's meter); heap is xsnap's live slot count.
 * The "native crypto" rows run the same toy in the native worker (tools/xs-native/)
 * with the device's CryptoPort (hal/moddable-crypto.ts over libsodium).
 */
import { fileURLToPath } from 'node:url';
import { XsSession } from '../tools/xs-worker.js';
import { ensureNativeWorker } from '../tools/xs-native/xs-native-build.js';
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
      rows.push(...(await nativeRows({ pair: pair.compute, rec: rec.compute / 10.5, del: del.compute / 10, play: play.compute / 11 })));
      return rows;
    } finally {
      await s.close();
    }
  },
};

/**
 * The same toy in the native worker (tools/xs-native/): src/app.ts unchanged, its
 * CryptoPort the device's hal/moddable-crypto.ts over libsodium (the C of
 * hal/native), the codec still faked. Compared with the pure-JS rows above.
 * One row saying why when the native worker is skipped.
 */
async function nativeRows(js: { pair: number; rec: number; del: number; play: number }): Promise<BenchRow[]> {
  const w = await ensureNativeWorker();
  if ('skipped' in w) return [{ what: 'native crypto rows', value: 0, unit: 'skipped', note: w.skipped }];
  const s = await XsSession.start(fileURLToPath(new URL('./xs/toy-entry.ts', import.meta.url)), { nativeBin: w.bin, name: 'toy-entry-native' });
  try {
    const calls = async () => Number(await s.evaluate('issueCommand(new TextEncoder().encode(JSON.stringify({ n: __pawpostNativeCalls() })).buffer)').then(() => JSON.parse(s.drain().pop() ?? '{"n":0}').n));
    await s.call('prepare');
    await s.call('boot');
    let c0 = await calls();
    const pair = await s.call('pair');
    const st = await s.call<{ paired: string }>('paired');
    if (st.result.paired !== 'ok') throw new Error(`pairing with native crypto did not finish: ${st.result.paired}`);
    const pairCalls = (await calls()) - c0;
    await s.call('record', 2);
    c0 = await calls();
    const rec = await s.call<number>('record', 10);
    const recCalls = (await calls()) - c0;
    await s.call('seal', 10);
    c0 = await calls();
    const del = await s.call<number>('deliver');
    const delCalls = (await calls()) - c0;
    c0 = await calls();
    const play = await s.call<{ frames: number }>('play', 10);
    const playCalls = (await calls()) - c0;
    if (play.result.frames < 500) throw new Error(`native: ${play.result.frames} frames played`);
    const rf = await s.call<{ chunks: number; steps: Record<string, number> }>('record-fakes', 10);
    const fakes = Object.values(rf.result.steps).reduce((a, b) => a + b, 0);
    const own = (rf.compute - fakes) / 10.5;
    const shares = Object.entries(rf.result.steps).map(([k, v]) => `${k} ${Math.round(v / 10.5).toLocaleString('en')}`).join(', ');
    const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}× fewer steps than pure JS`;
    const recPerS = rec.compute / 10.5;
    return [
      { what: 'native crypto: first pairing, toy + simulated phone, then MQTT connect', value: pair.compute, unit: 'XS steps', note: `${pairCalls} native calls (both sides); ${ratio(js.pair, pair.compute)}` },
      { what: 'native crypto: record + seal + outbox + publish, per second of audio', value: recPerS, unit: 'XS steps / s of audio', note: `${(recCalls / 10.5).toFixed(1)} native calls / s; ${ratio(js.rec, recPerS)}; target ≤ 100,000: ${recPerS <= 100_000 ? 'met' : 'NOT met'}; ${rec.result} chunks` },
      { what: 'native crypto: the toy\'s own JS while recording (record row minus the fakes), per s of audio', value: own, unit: 'XS steps / s of audio', note: `at most (the meter wrappers count as the toy's); fakes per s: ${shares}; target ≤ 100,000: ${own <= 100_000 ? 'met' : 'NOT met'}` },
      { what: 'native crypto: receive + admit, per second of audio', value: del.compute / 10, unit: 'XS steps / s of audio', note: `${(delCalls / 10).toFixed(1)} native calls / s; ${ratio(js.del, del.compute / 10)}` },
      { what: 'native crypto: play (codec faked), per second of audio', value: play.compute / 11, unit: 'XS steps / s of audio', note: `${(playCalls / 11).toFixed(1)} native calls / s; ${ratio(js.play, play.compute / 11)}; ${play.result.frames} frames` },
    ];
  } finally {
    await s.close();
  }
}
