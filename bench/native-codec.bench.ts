/**
 * The toy's record and playback paths with the device's Opus (hal/moddable-codec.ts
 * over hal/native/opus-codec.c and libopus) beside the FakeCodec, in the native
 * worker (tools/xs-native/; bench/xs/native-codec-entry.ts). XS compute steps per
 * second of audio (the JavaScript; the C is not metered, as on the device) plus
 * the native calls. One row saying why when the native worker is skipped.
 */
import { fileURLToPath } from 'node:url';
import { XsSession } from '../tools/xs-worker.js';
import { ensureNativeWorker } from '../tools/xs-native/xs-native-build.js';
import type { BenchRow, BenchSection } from './table.js';

const FRAMES = 1000; // 20 s of audio per measured path
const PER_S = 50;

export const section: BenchSection = {
  title: 'Native Opus beside the FakeCodec (record and playback paths in XS, steps per second of audio)',
  async run(): Promise<BenchRow[]> {
    const w = await ensureNativeWorker();
    if ('skipped' in w) return [{ what: 'native codec rows', value: 0, unit: 'skipped', note: w.skipped }];
    const s = await XsSession.start(fileURLToPath(new URL('./xs/native-codec-entry.ts', import.meta.url)), { nativeBin: w.bin });
    try {
      const measure = async (codec: 'fake' | 'opus') => {
        const avgPacket = (await s.call<number>('setup', { codec })).result;
        await s.call('rec.run', 50); // warm-up
        await s.call('play.run', 50);
        let c0 = (await s.call<number>('calls')).result;
        const rec = await s.call<number>('rec.run', FRAMES);
        const recCalls = (await s.call<number>('calls')).result - c0;
        c0 = (await s.call<number>('calls')).result;
        const play = await s.call<number>('play.run', FRAMES);
        const playCalls = (await s.call<number>('calls')).result - c0;
        if (rec.result < FRAMES || play.result < FRAMES) throw new Error(`${codec}: ${rec.result} frames encoded, ${play.result} played`);
        return { rec: (rec.compute / FRAMES) * PER_S, play: (play.compute / FRAMES) * PER_S, recCalls: (recCalls / FRAMES) * PER_S, playCalls: (playCalls / FRAMES) * PER_S, avgPacket };
      };
      const fake = await measure('fake');
      const opus = await measure('opus');
      return [
        { what: 'record path, FakeCodec (JS core)', value: fake.rec, unit: 'XS steps / s of audio', note: `${FRAMES} frames of a 440 Hz tone` },
        { what: 'record path, native Opus (libopus)', value: opus.rec, unit: 'XS steps / s of audio', note: `${opus.recCalls.toFixed(0)} native calls / s; ${opus.avgPacket.toFixed(0)}-byte packets (16 kbps)` },
        { what: 'playback path, FakeCodec (JS core)', value: fake.play, unit: 'XS steps / s of audio', note: `${FRAMES} packets` },
        { what: 'playback path, native Opus (libopus)', value: opus.play, unit: 'XS steps / s of audio', note: `${opus.playCalls.toFixed(0)} native calls / s; real Opus packets of the tone` },
      ];
    } finally {
      await s.close();
    }
  },
};
