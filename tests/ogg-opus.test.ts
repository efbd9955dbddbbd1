/**
 * phone/ogg-opus.ts and phone/audio-import.ts: an Ogg Opus file made from Opus
 * packets (no re-encoding) is accepted by the reference tools (opusinfo, opusdec
 * from opus-tools) and decodes to the audio the packets decode to with the host
 * codec; the reader takes it back packet for packet and refuses every damaged file
 * with an OggError; WAV files at other rates and widths become 16 kHz mono.
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Decoder } from '@evan/opus';
import { FRAME_SAMPLES } from '../hal/ports.js';
import { OpusCodecHost } from '../sim/opus-codec-host.js';
import { formatWav } from '../sim/wav-file.js';
import { DEFAULT_PRE_SKIP, OggError, oggCrc, opusPacketSamples48k, readOggOpus, writeOggOpus } from '../phone/ogg-opus.js';
import { AudioImportError, decodeWavToMono16k, encodePcm, importOggOpus, parseWavMono, resample } from '../phone/audio-import.js';
import { correlationAt } from './audio-compare.js';

const hasOpusTools = spawnSync('opusdec', ['--version']).status === 0 && spawnSync('opusinfo', ['-h']).error === undefined;
const withTools = hasOpusTools ? test : test.skip;

/** A voice-like test signal: a gliding tone with harmonics and a syllable envelope, 16 kHz. */
function voiceLike(seconds: number, rate = 16000): Int16Array {
  const n = Math.round(seconds * rate);
  const out = new Int16Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const f0 = 140 + 60 * Math.sin(2 * Math.PI * 1.3 * t);
    phase += (2 * Math.PI * f0) / rate;
    const env = 0.55 + 0.45 * Math.sin(2 * Math.PI * 3 * t);
    const v = env * (0.5 * Math.sin(phase) + 0.25 * Math.sin(2 * phase) + 0.15 * Math.sin(3 * phase) + 0.08 * Math.sin(5 * phase));
    out[i] = Math.round(v * 12000);
  }
  return out;
}

function decodeAll(packets: Uint8Array[]): Int16Array {
  const codec = new OpusCodecHost();
  const pcm = new Int16Array(packets.length * FRAME_SAMPLES);
  const frame = new Int16Array(FRAME_SAMPLES);
  packets.forEach((p, i) => {
    codec.decode(p, p.length, frame);
    pcm.set(frame, i * FRAME_SAMPLES);
  });
  codec.close();
  return pcm;
}

function encode(seconds: number): Uint8Array[] {
  const codec = new OpusCodecHost();
  const p = encodePcm(voiceLike(seconds), codec);
  codec.close();
  return p;
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-ogg-'));
}

test('Ogg CRC is the one of RFC 3533 (poly 0x04C11DB7, no reflection): check value of "123456789"', (t) => {
  // CRC-32/MPEG-2 without init/xorout ("CRC-32/BZIP2" differs): the Ogg variant's check value is 0x89A1897F
  t.is(oggCrc(new TextEncoder().encode('123456789')), 0x89a1897f);
});

test('TOC durations: 20 ms SILK/CELT/hybrid frames, code 1-3 counts, bad packets', (t) => {
  t.is(opusPacketSamples48k(Uint8Array.of(0x08)), 960); // SILK NB 20 ms
  t.is(opusPacketSamples48k(Uint8Array.of(0xf8)), 960); // CELT FB 20 ms
  t.is(opusPacketSamples48k(Uint8Array.of(0x78)), 960); // hybrid FB 20 ms
  t.is(opusPacketSamples48k(Uint8Array.of(0x09)), 1920); // two 20 ms frames
  t.is(opusPacketSamples48k(Uint8Array.of(0x0b, 0x03)), 2880); // code 3, three frames
  t.is(opusPacketSamples48k(Uint8Array.of(0x0b, 0x07)), -1); // 7 × 20 ms > 120 ms
  t.is(opusPacketSamples48k(Uint8Array.of(0x0b)), -1);
  t.is(opusPacketSamples48k(new Uint8Array(0)), -1);
});

test('writer → reader gives back every packet byte for byte, with pre-skip and granule', (t) => {
  const packets = encode(3.3);
  const file = writeOggOpus(packets, { comments: ['TITLE=hello'] });
  const r = readOggOpus(file);
  t.is(r.packets.length, packets.length);
  for (let i = 0; i < packets.length; i++) t.deepEqual(r.packets[i], packets[i]);
  t.is(r.channels, 1);
  t.is(r.preSkip, DEFAULT_PRE_SKIP);
  t.is(r.inputRate, 16000);
  t.is(r.vendor, 'PawPost');
  t.deepEqual(r.comments, ['TITLE=hello']);
  t.is(r.lastGranule, packets.length * 960);
  // long packets cross page boundaries (continued flag)
  const big = Array.from({ length: 9 }, (_, i) => new Uint8Array(700 + i).fill(i).map((v, k) => (k === 0 ? 0xfc : v)));
  const r2 = readOggOpus(writeOggOpus(big, { packetsPerPage: 9 }));
  t.deepEqual(r2.packets, big);
  // and an empty stream is still a valid file
  t.is(readOggOpus(writeOggOpus([])).packets.length, 0);
});

test('the reader refuses damaged files with an OggError, never anything else', (t) => {
  const file = writeOggOpus(encode(1.2));
  let refused = 0;
  // every truncation
  for (let n = 0; n < file.length; n += 7) {
    try {
      readOggOpus(file.subarray(0, n));
    } catch (e) {
      t.true(e instanceof OggError, `prefix ${n}: ${String(e)}`);
      refused++;
    }
  }
  // every flipped byte in the first 400 and a stride after
  for (let i = 0; i < file.length; i += i < 400 ? 1 : 13) {
    const bad = file.slice();
    bad[i]! ^= 0x5a;
    try {
      readOggOpus(bad);
      t.fail(`flip at ${i} accepted`);
    } catch (e) {
      t.true(e instanceof OggError, `flip at ${i}: ${String(e)}`);
      refused++;
    }
  }
  t.true(refused > 500);
  const e = t.throws(() => readOggOpus(new TextEncoder().encode('not an ogg file at all, really')), { instanceOf: OggError });
  t.is(e!.code, 'FORMAT');
});

withTools('opusinfo accepts the export and opusdec decodes it to the audio the packets carry', (t) => {
  const dir = tmp();
  const packets = encode(4);
  const file = path.join(dir, 'm.opus');
  fs.writeFileSync(file, writeOggOpus(packets));
  const info = execFileSync('opusinfo', [file], { encoding: 'utf8' });
  t.regex(info, /Pre-skip: 312/);
  t.regex(info, /Playback length: 0m:03\.99/);
  t.notRegex(info, /WARNING|ERROR/i);
  // 48 kHz, Opus's own rate (opusdec would pick the header's input rate, 16 kHz, by default): the same decoder at 48 kHz on the packets, minus the pre-skip
  const out48 = path.join(dir, 'm48.wav');
  execFileSync('opusdec', ['--rate', '48000', '--quiet', file, out48]);
  const dec48 = parseWavMono(new Uint8Array(fs.readFileSync(out48)));
  t.is(dec48.sampleRate, 48000);
  const d = new Decoder({ channels: 1, sample_rate: 48000 });
  const ref48 = new Float32Array(packets.length * 960);
  packets.forEach((p, i) => {
    const b = d.decode(p);
    const s = new Int16Array(b.buffer, b.byteOffset, b.length / 2);
    for (let k = 0; k < s.length; k++) ref48[i * 960 + k] = s[k]! / 32768;
  });
  t.is(dec48.samples.length, ref48.length - DEFAULT_PRE_SKIP, 'opusdec plays the granule length: packets minus the pre-skip');
  const c48 = correlationAt(dec48.samples, ref48.subarray(DEFAULT_PRE_SKIP), 0);
  t.log(`correlation, opusdec vs the packets decoded at 48 kHz: ${c48.toFixed(6)}`);
  t.true(c48 > 0.999, `correlation ${c48}`);
  for (const lag of [1, 2, 3, 10]) {
    t.true(correlationAt(dec48.samples, ref48.subarray(DEFAULT_PRE_SKIP), lag) < c48, `lag ${lag}`);
    t.true(correlationAt(ref48.subarray(DEFAULT_PRE_SKIP), dec48.samples, lag) < c48, `lag -${lag}`);
  }
  // 16 kHz, the toy's rate: against the host codec (sim/opus-codec-host.ts). opusdec resamples
  // its 48 kHz output, which shifts by a fraction of a sample: the best lag is within one sample.
  const out = path.join(dir, 'm.wav');
  execFileSync('opusdec', ['--rate', '16000', '--quiet', file, out]);
  const dec = decodeWavToMono16k(new Uint8Array(fs.readFileSync(out)));
  const host = decodeAll(packets);
  const skip = DEFAULT_PRE_SKIP / 3; // 48 kHz pre-skip at 16 kHz
  t.true(Math.abs(dec.samples.length - (host.length - skip)) <= 1, `length ${dec.samples.length} vs ${host.length - skip}`);
  const aligned = new Int16Array(host.subarray(skip));
  let best = -1;
  let bestLag = 0;
  for (let lag = -3; lag <= 3; lag++) {
    const c = lag >= 0 ? correlationAt(dec.samples, aligned, lag) : correlationAt(aligned, dec.samples, -lag);
    if (c > best) [best, bestLag] = [c, lag];
  }
  t.log(`correlation, opusdec --rate 16000 vs the host codec: ${best.toFixed(5)} at lag ${bestLag}`);
  t.true(best > 0.99 && Math.abs(bestLag) <= 1, `correlation ${best} at lag ${bestLag}`);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('importing an exported file keeps its packets; a packet that is not 20 ms is refused for the toy', (t) => {
  const packets = encode(2);
  const f = importOggOpus(writeOggOpus(packets));
  t.is(f.packets.length, 100);
  // a 40 ms packet is refused for the toy with a reason
  const e = t.throws(() => importOggOpus(writeOggOpus([Uint8Array.of(0x09, 1, 2, 3)])), { instanceOf: AudioImportError });
  t.is(e!.code, 'UNSUPPORTED');
});

test('WAV import: 44.1 kHz stereo 16-bit and 48 kHz float become 16 kHz mono with the tone kept', (t) => {
  for (const [rate, channels, kind] of [[44100, 2, 'int16'], [48000, 1, 'float'], [8000, 1, 'int16'], [22050, 1, 'int24']] as const) {
    const seconds = 1;
    const n = rate * seconds;
    const f = 440;
    let bytes: Uint8Array;
    if (kind === 'int16') {
      const s = new Int16Array(n * channels);
      for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) s[i * channels + c] = Math.round(10000 * Math.sin((2 * Math.PI * f * i) / rate));
      bytes = formatWav(s, rate, channels);
    } else {
      const bps = kind === 'float' ? 4 : 3;
      bytes = new Uint8Array(44 + n * bps);
      const dv = new DataView(bytes.buffer);
      bytes.set(new TextEncoder().encode('RIFF'), 0);
      dv.setUint32(4, 36 + n * bps, true);
      bytes.set(new TextEncoder().encode('WAVEfmt '), 8);
      dv.setUint32(16, 16, true);
      dv.setUint16(20, kind === 'float' ? 3 : 1, true);
      dv.setUint16(22, 1, true);
      dv.setUint32(24, rate, true);
      dv.setUint32(28, rate * bps, true);
      dv.setUint16(32, bps, true);
      dv.setUint16(34, bps * 8, true);
      bytes.set(new TextEncoder().encode('data'), 36);
      dv.setUint32(40, n * bps, true);
      for (let i = 0; i < n; i++) {
        const v = 0.3 * Math.sin((2 * Math.PI * f * i) / rate);
        if (kind === 'float') dv.setFloat32(44 + 4 * i, v, true);
        else {
          const x = Math.round(v * 8388607);
          bytes[44 + 3 * i] = x & 0xff;
          bytes[45 + 3 * i] = (x >> 8) & 0xff;
          bytes[46 + 3 * i] = (x >> 16) & 0xff;
        }
      }
    }
    const out = decodeWavToMono16k(bytes);
    t.is(out.samples.length, 16000, `${rate} Hz: length`);
    // compare with the ideal 440 Hz tone at 16 kHz (away from the edges)
    const ideal = new Int16Array(16000);
    const amp = kind === 'int16' ? 10000 : 0.3 * 32767;
    for (let i = 0; i < 16000; i++) ideal[i] = Math.round(amp * Math.sin((2 * Math.PI * f * i) / 16000));
    const c = correlationAt(out.samples.subarray(200, 15800), ideal.subarray(200, 15800), 0);
    t.true(c > 0.999, `${rate} Hz ${kind}: correlation ${c}`);
  }
});

test('resampling removes what lies above the new Nyquist frequency (no aliasing)', (t) => {
  const rate = 48000;
  const s = new Float32Array(rate);
  for (let i = 0; i < rate; i++) s[i] = 0.5 * Math.sin((2 * Math.PI * 12000 * i) / rate); // 12 kHz: above 8 kHz
  const r = resample(s, rate, 16000);
  let e = 0;
  for (let i = 500; i < r.length - 500; i++) e += r[i]! * r[i]!;
  const rms = Math.sqrt(e / (r.length - 1000));
  t.true(rms < 0.005, `residual ${rms}`);
});

test('WAV import refuses bad files with a typed error', (t) => {
  const ok = formatWav(new Int16Array(1600), 16000);
  const codes = new Set<string>();
  for (let n = 0; n <= 44; n++) {
    const e = t.throws(() => parseWavMono(ok.subarray(0, n)), { instanceOf: AudioImportError });
    codes.add(e!.code);
  }
  t.deepEqual([...codes].sort(), ['EMPTY', 'FORMAT']);
  const eight = formatWav(new Int16Array(16000 * 61), 16000);
  t.is(t.throws(() => parseWavMono(eight), { instanceOf: AudioImportError })!.code, 'TOO_LONG');
  const odd = ok.slice();
  new DataView(odd.buffer).setUint16(34, 12, true);
  t.is(t.throws(() => parseWavMono(odd), { instanceOf: AudioImportError })!.code, 'UNSUPPORTED');
});
