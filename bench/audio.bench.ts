/**
 * Audio bench: XS compute steps of the record and playback paths with the codec
 * faked (the JS core), the rings next to a naive queue that allocates per frame,
 * and the host Opus codec's speed as multiples of real time. All measured in this run.
 */
import { FRAME_SAMPLES } from '../hal/ports.js';
import { OpusCodecHost } from '../sim/opus-codec-host.js';
import { readWavFile } from '../sim/wav-file.js';
import { XsSession } from '../tools/xs-worker.js';
import type { BenchRow, BenchSection } from './table.js';

const entry = new URL('./xs/audio-entry.ts', import.meta.url).pathname;
const fixture = new URL('../tests/fixtures/speech-16k.wav', import.meta.url).pathname;
const FRAMES = 2000; // 40 s of audio per measured path
const PER_S = 1000 / 20; // frames per second of audio

async function xsRows(): Promise<BenchRow[]> {
  const s = await XsSession.start(entry);
  try {
    const rows: BenchRow[] = [];
    const path = async (name: string) => {
      await s.call(`${name}.setup`);
      await s.call(`${name}.run`, 100); // warm-up (prebuffering, first wrap)
      const base = (await s.call('noop')).compute;
      const h0 = (await s.call('noop')).heapCount ?? 0;
      const r = await s.call(`${name}.run`, FRAMES);
      return { perFrame: (r.compute - base) / FRAMES, slots: (r.heapCount ?? 0) - h0 - ((await s.call('noop')).heapCount! - (r.heapCount ?? 0)) };
    };
    const fakes = await path('fakes');
    const rec = await path('rec');
    const play = await path('play');
    const loop = await path('loop');
    const note = (x: { slots: number }) => `${FRAMES} frames on a step clock; heap slots grown ${Math.max(0, x.slots)}`;
    // the same paths again with the fakes and the step clock metered apart (bench/xs/step-meter.ts)
    const core = async (name: 'rec' | 'play') => {
      await s.call(`${name}.setup`);
      await s.call(`${name}.run`, 100);
      await s.call('meter.install', name);
      return (await s.call<Record<string, number>>('meter.run', { path: name, frames: FRAMES })).result;
    };
    const recParts = await core('rec');
    const playParts = await core('play');
    const partsNote = (p: Record<string, number>) => `fakes ${Math.round(((p.fakes ?? 0) / FRAMES) * PER_S)}, step clock + driver ${Math.round(((p.harness ?? 0) / FRAMES) * PER_S)} steps / s taken out`;
    rows.push({ what: 'record path JS core (pipeline + plaintext sink; mic and codec fakes apart)', value: ((recParts.core ?? 0) / FRAMES) * PER_S, unit: 'XS steps / s of audio', note: partsNote(recParts) });
    rows.push({ what: 'playback path JS core (pipeline only; speaker and codec fakes apart)', value: ((playParts.core ?? 0) / FRAMES) * PER_S, unit: 'XS steps / s of audio', note: partsNote(playParts) });
    rows.push({ what: 'record path with its fakes and step clock', value: rec.perFrame * PER_S, unit: 'XS steps / s of audio', note: `${rec.perFrame.toFixed(0)} steps/frame; ${note(rec)}` });
    rows.push({ what: 'playback path with its fakes and step clock', value: play.perFrame * PER_S, unit: 'XS steps / s of audio', note: `${play.perFrame.toFixed(0)} steps/frame; ${note(play)}` });
    rows.push({ what: 'record → playback loop (both + transfer)', value: loop.perFrame * PER_S, unit: 'XS steps / s of audio', note: `${loop.perFrame.toFixed(0)} steps/frame; ${note(loop)}` });
    rows.push({ what: '  of which the fakes (mic, fake codec, speaker)', value: fakes.perFrame * PER_S, unit: 'XS steps / s of audio', note: 'the same fakes called directly, no pipeline' });

    const N = 2000;
    const ring = async (cmd: string) => {
      await s.call(cmd, 50);
      const h0 = (await s.call('noop')).heapCount ?? 0;
      const base = (await s.call('noop')).compute;
      const r = await s.call(cmd, N);
      const h1 = (await s.call('noop')).heapCount ?? 0;
      return { steps: (r.compute - base) / N, slots: Math.max(0, (h1 - h0 - 24 * 3) / N) };
    };
    const lend = await ring('ring.lend');
    const copy = await ring('ring.copy');
    const naive = await ring('ring.naive');
    const pr = await ring('pring.ring');
    const pn = await ring('pring.naive');
    const sl = (x: { slots: number }) => `${x.slots.toFixed(1)} heap slots allocated / frame`;
    rows.push({ what: 'frame ring, lent slot (reserve/commit/peek/release)', value: lend.steps, unit: 'XS steps / frame', note: `${sl(lend)}; what the pipelines use (the mic and codec write in place)` });
    rows.push({ what: 'frame ring, copying push + pop (320 samples)', value: copy.steps, unit: 'XS steps / frame', note: `${sl(copy)}; two TypedArray.set copies` });
    rows.push({ what: 'naive: new Int16Array(320) per frame + array queue', value: naive.steps, unit: 'XS steps / frame', note: `${sl(naive)}, plus 640 B of chunks: GC work not in the step count` });
    rows.push({ what: 'packet ring, 40 B commit + peek + drop', value: pr.steps, unit: 'XS steps / packet', note: `${sl(pr)}; two copyWithin copies` });
    rows.push({ what: 'naive: slice() per packet + array queue', value: pn.steps, unit: 'XS steps / packet', note: `${sl(pn)}` });
    return rows;
  } finally {
    await s.close();
  }
}

function codecRows(): BenchRow[] {
  const speech = readWavFile(fixture).samples;
  const frames = Math.floor(speech.length / FRAME_SAMPLES);
  const c = new OpusCodecHost();
  const pcm = new Int16Array(FRAME_SAMPLES);
  const dec = new Int16Array(FRAME_SAMPLES);
  const passes = 10;
  const packets: Uint8Array[] = [];
  const pkt = new Uint8Array(1275);
  let bytes = 0;
  const t0 = performance.now();
  for (let p = 0; p < passes; p++) {
    for (let k = 0; k < frames; k++) {
      pcm.set(speech.subarray(k * FRAME_SAMPLES, (k + 1) * FRAME_SAMPLES));
      const n = c.encode(pcm, pkt);
      bytes += n;
      if (p === 0) packets.push(pkt.slice(0, n));
    }
  }
  const encMs = performance.now() - t0;
  const t1 = performance.now();
  for (let p = 0; p < passes; p++) for (const q of packets) c.decode(q, q.length, dec);
  const decMs = performance.now() - t1;
  const audioMs = passes * frames * 20;
  return [
    { what: 'host Opus encode (@evan/opus, 16 kHz VOIP 16 kbps)', value: audioMs / encMs, unit: 'x real time', note: `${passes} x ${(frames * 0.02).toFixed(1)} s of espeak-ng speech` },
    { what: 'host Opus decode', value: audioMs / decMs, unit: 'x real time', note: 'same packets' },
    { what: 'host Opus average bitrate on the speech fixture', value: (bytes * 8) / (audioMs / 1000) / 1000, unit: 'kbps', note: 'VBR: pauses cost less than 16 kbps' },
  ];
}

export const section: BenchSection = {
  title: 'Audio core (XS steps with the codec faked; host Opus codec)',
  async run() {
    return [...(await xsRows()), ...codecRows()];
  },
};
