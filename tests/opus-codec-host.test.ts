import test from 'ava';
import { FRAME_SAMPLES, SAMPLE_RATE_HZ } from '../hal/ports.js';
import { CodecError } from '../audio/codec-port.js';
import { OpusCodecHost } from '../sim/opus-codec-host.js';
import { readWavFile } from '../sim/wav-file.js';
import { AudioLoop } from './audio-loop.js';
import { samplesSource } from './fakes/fake-mic.js';
import { ManualClock } from './fakes/manual-clock.js';
import { alignedCorrelation } from './audio-compare.js';

const speech = readWavFile(new URL('./fixtures/speech-16k.wav', import.meta.url).pathname);


test('the fixture is a few seconds of 16 kHz mono speech', (t) => {
  t.is(speech.sampleRate, SAMPLE_RATE_HZ);
  t.is(speech.channels, 1);
  t.true(speech.samples.length > 2 * SAMPLE_RATE_HZ);
});

test('speech round trip: decoded signal correlates with the input, bitrate near 16 kbps', (t) => {
  const c = new OpusCodecHost();
  const frames = Math.floor(speech.samples.length / FRAME_SAMPLES);
  const out = new Int16Array(frames * FRAME_SAMPLES);
  const pcm = new Int16Array(FRAME_SAMPLES);
  const dec = new Int16Array(FRAME_SAMPLES);
  const pkt = new Uint8Array(1275);
  let bytes = 0;
  for (let k = 0; k < frames; k++) {
    pcm.set(speech.samples.subarray(k * FRAME_SAMPLES, (k + 1) * FRAME_SAMPLES));
    const n = c.encode(pcm, pkt);
    t.true(n >= 1 && n <= 1275);
    bytes += n;
    t.is(c.decode(pkt, n, dec), FRAME_SAMPLES);
    out.set(dec, k * FRAME_SAMPLES);
  }
  const kbps = (bytes * 8) / (frames * 0.02) / 1000;
  const { r, delay } = alignedCorrelation(speech.samples, out);
  t.log(`bitrate ${kbps.toFixed(2)} kbps, correlation ${r.toFixed(4)} at a codec delay of ${delay} samples`);
  // measured 2026-11-28 (@evan/opus native, complexity 9): 14.08 kbps (VBR; silence is cheap), r = 0.9589 at 104 samples
  t.true(kbps > 12 && kbps < 18, `bitrate ${kbps}`);
  t.true(r > 0.9, `correlation ${r}`);
  t.true(delay > 0 && delay < 400);
});

test('speech through the record and playback pipelines with the host codec', (t) => {
  const clock = new ManualClock();
  const chunks: Int16Array[] = [];
  const loop = new AudioLoop({
    clock,
    source: samplesSource(speech.samples),
    recordCodec: new OpusCodecHost(),
    playCodec: new OpusCodecHost(),
    sink: (f) => chunks.push(f.slice()),
  });
  loop.start();
  for (let ms = 0; ms < 10_000 && !loop.finished; ms += 100) clock.advance(100);
  t.true(loop.finished);
  const frames = Math.ceil(speech.samples.length / FRAME_SAMPLES);
  t.is(chunks.length, frames);
  t.is(loop.rec.framesSkipped + loop.refused + loop.mic.overruns + loop.play.underruns + loop.play.decodeErrors + loop.rec.encodeErrors, 0);
  const out = new Int16Array(chunks.length * FRAME_SAMPLES);
  chunks.forEach((c, i) => out.set(c, i * FRAME_SAMPLES));
  const { r } = alignedCorrelation(speech.samples, out, 400);
  t.true(r > 0.9, `correlation ${r}`);
});

test('bad input is a typed CodecError and the codec keeps working', (t) => {
  const c = new OpusCodecHost();
  const pkt = new Uint8Array(1275);
  const pcm = new Int16Array(FRAME_SAMPLES);
  const code = (fn: () => unknown) => (t.throws(fn, { instanceOf: CodecError }) as CodecError).code;
  t.is(code(() => c.encode(new Int16Array(100), pkt)), 'SIZE');
  t.is(code(() => c.encode(pcm, new Uint8Array(100))), 'SIZE');
  t.is(code(() => c.decode(pkt, 0, pcm)), 'SIZE');
  t.is(code(() => c.decode(new Uint8Array(2000), 1276, pcm)), 'SIZE');
  t.is(code(() => c.decode(pkt, 3, new Int16Array(10))), 'SIZE');
  t.is(code(() => c.decode(new Uint8Array([0xff, 0xff, 0xff]), 3, pcm)), 'DECODE');
  for (let i = 0; i < FRAME_SAMPLES; i++) pcm[i] = Math.round(6000 * Math.sin(i / 5));
  const n = c.encode(pcm, pkt);
  t.is(c.decode(pkt, n, pcm), FRAME_SAMPLES, 'usable after errors');
  c.close();
  c.close();
  t.is(code(() => c.encode(pcm, pkt)), 'CLOSED');
});
