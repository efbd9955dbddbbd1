/**
 * `tsx tools/record-play-file.ts <in.wav> <out.wav>`: runs the toy's record-and-play
 * loop on a file. A mic fake reads in.wav (16 kHz mono 16-bit) → RecordPipeline →
 * Opus packets (host codec) → PlaybackPipeline → a speaker fake writes out.wav.
 * Time is a manual clock, so a minute of audio takes well under a second.
 * Prints frames, packet bytes, bitrate, RAM of the rings and every counter.
 * Exit code 2 on bad usage or input, 1 if the loop did not finish cleanly.
 */
import { FRAME_SAMPLES, SAMPLE_RATE_HZ } from '../hal/ports.js';
import { OpusCodecHost } from '../sim/opus-codec-host.js';
import { readWavFile, WavError, writeWavFile } from '../sim/wav-file.js';
import { Counters } from '../src/counters.js';
import { AudioLoop } from '../tests/audio-loop.js';
import { samplesSource } from '../tests/fakes/fake-mic.js';
import { ManualClock } from '../tests/fakes/manual-clock.js';

const [inFile, outFile] = process.argv.slice(2);
if (!inFile || !outFile) {
  console.error('usage: record-play-file <in.wav> <out.wav>   (in.wav: 16 kHz mono 16-bit PCM)');
  process.exit(2);
}
let input;
try {
  input = readWavFile(inFile);
} catch (e) {
  console.error(`cannot read ${inFile}: ${e instanceof WavError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e)}`);
  process.exit(2);
}
if (input.sampleRate !== SAMPLE_RATE_HZ || input.channels !== 1) {
  console.error(`${inFile} is ${input.sampleRate} Hz, ${input.channels} channel(s); convert it first: sox ${inFile} -r 16000 -c 1 -b 16 x.wav`);
  process.exit(2);
}

const clock = new ManualClock();
const counters = new Counters();
const frames = Math.ceil(input.samples.length / FRAME_SAMPLES);
const out = new Int16Array(frames * FRAME_SAMPLES + 8 * FRAME_SAMPLES);
let written = 0;
const errors: string[] = [];
const recordCodec = new OpusCodecHost();
const playCodec = new OpusCodecHost();
const loop = new AudioLoop({
  clock,
  source: samplesSource(input.samples),
  recordCodec,
  playCodec,
  counters,
  onError: (e) => errors.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e)),
  sink: (f) => {
    if (written + FRAME_SAMPLES <= out.length) out.set(f, written);
    written += FRAME_SAMPLES;
  },
});
const t0 = performance.now();
loop.start();
const limitMs = frames * 20 + 5000;
for (let ms = 0; ms < limitMs && !loop.finished; ms += 100) clock.advance(100);
const wallMs = performance.now() - t0;
const finished = loop.finished;
loop.close();
recordCodec.close();
playCodec.close();
writeWavFile(outFile, out.subarray(0, Math.min(written, out.length)), SAMPLE_RATE_HZ);

const seconds = (loop.rec.framesEncoded * 20) / 1000;
const { rec, play } = loop;
console.log(`in:  ${inFile}: ${input.samples.length} samples, ${(input.samples.length / SAMPLE_RATE_HZ).toFixed(2)} s, ${frames} frames of ${FRAME_SAMPLES}`);
console.log(`record:   ${rec.framesCaptured} frames captured, ${rec.framesEncoded} encoded, ${rec.bytesEncoded} packet bytes, ` +
  `${seconds > 0 ? ((rec.bytesEncoded * 8) / seconds / 1000).toFixed(2) : '0'} kbps, ` +
  `skipped ${rec.framesSkipped + loop.refused} (+${loop.mic.overruns} lost at the mic), encode errors ${rec.encodeErrors}`);
console.log(`transfer: ${loop.moved} packets, ${loop.movedBytes} bytes`);
console.log(`playback: ${play.packetsIn} packets in, ${play.framesDecoded} decoded, ${play.framesPlayed} played, ` +
  `decode errors ${play.decodeErrors}, underruns ${play.underruns}, speaker starved ${loop.speaker.starved} frame times`);
console.log(`rings:    record ${rec.ramBytes} bytes (+ its sink's ${loop.packetSink.packetBuffer.byteLength}) + playback ${play.ramBytes} bytes (fixed; independent of message length)`);
console.log(`counters: ${JSON.stringify(counters.snapshot())}`);
console.log(`out: ${outFile}: ${Math.min(written, out.length)} samples; ${seconds.toFixed(2)} s of audio in ${wallMs.toFixed(0)} ms (${(seconds * 1000 / wallMs).toFixed(0)}x real time)`);
for (const e of errors.slice(0, 5)) console.log(`error: ${e}`);
const clean = finished && rec.framesEncoded === frames && play.framesPlayed === frames && errors.length === 0;
if (!clean) console.log(finished ? 'finished with losses (see counters)' : 'did NOT finish');
process.exitCode = clean ? 0 : 1;
