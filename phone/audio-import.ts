/**
 * Audio a parent brings from outside (a WAV file at any rate, an Ogg Opus file),
 * turned into what the toy plays: 20 ms Opus packets of 16 kHz mono. Portable: the
 * Opus encoder is a CodecPort (the host's @evan/opus in the CLI, libopus on a device).
 *
 *   const pcm = decodeWavToMono16k(bytes);            // any PCM/float WAV, resampled
 *   const packets = encodePcm(pcm.samples, codec);    // one packet per 20 ms frame
 *   const packets2 = importOggOpus(bytes).packets;    // kept as they are, no re-encoding
 *
 * WAV: RIFF/WAVE with PCM 8, 16, 24 or 32-bit integer or 32/64-bit float
 * (WAVE_FORMAT_EXTENSIBLE included), 1..8 channels, 1 Hz..384 kHz; channels are
 * averaged to mono, then resampled to 16 kHz with a windowed-sinc low-pass
 * (Blackman window, 16 zero crossings, cut-off at 0.95 × the lower Nyquist frequency;
 * about 50 × real time for 44.1 kHz stereo on this host: `npm run bench -- parent`).
 * Every chunk bound is checked: errors are AudioImportError with code FORMAT
 * (not RIFF/WAVE, chunk past the end, no fmt or data), UNSUPPORTED (sample format,
 * channels, rate), TOO_LONG (more than `maxSeconds`, default 60 s: a message's cap),
 * EMPTY (no samples); Ogg files fail with the OggError of phone/ogg-opus.ts, or
 * AudioImportError UNSUPPORTED when a packet does not last 20 ms (the toy's codec
 * decodes 20 ms frames; re-encode such a file from WAV).
 */
import type { CodecPort } from '../hal/ports.js';
import { FRAME_SAMPLES, SAMPLE_RATE_HZ } from '../hal/ports.js';
import { readOggOpus, opusPacketSamples48k, type OggOpusFile } from './ogg-opus.js';

export type AudioImportErrorCode = 'FORMAT' | 'UNSUPPORTED' | 'TOO_LONG' | 'EMPTY';

export class AudioImportError extends Error {
  override readonly name = 'AudioImportError';
  readonly code: AudioImportErrorCode;
  constructor(code: AudioImportErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** A message's longest audio, seconds (src/envelope-format.ts MAX_MESSAGE_MS). */
export const MAX_IMPORT_SECONDS = 60;

function tag(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);
}

export interface MonoAudio {
  sampleRate: number;
  /** Mono samples, -1..1. */
  samples: Float32Array;
}

/** Parses a WAV file into mono float samples at its own rate. Throws AudioImportError. */
export function parseWavMono(bytes: Uint8Array, maxSeconds = MAX_IMPORT_SECONDS): MonoAudio {
  if (bytes.length < 12) throw new AudioImportError('FORMAT', `file of ${bytes.length} bytes is shorter than a RIFF header`);
  if (tag(bytes, 0) !== 'RIFF' || tag(bytes, 8) !== 'WAVE') throw new AudioImportError('FORMAT', 'not a RIFF/WAVE file');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: { format: number; channels: number; rate: number; bits: number; align: number } | undefined;
  let off = 12;
  while (off + 8 <= bytes.length) {
    const id = tag(bytes, off);
    const size = dv.getUint32(off + 4, true);
    const body = off + 8;
    if (id === 'data') {
      if (!fmt) throw new AudioImportError('FORMAT', 'data chunk before fmt chunk');
      // streaming writers leave the size at 0xffffffff or past the end: clamp the data chunk
      const avail = Math.min(size, bytes.length - body);
      const frames = Math.floor(avail / fmt.align);
      if (frames === 0) throw new AudioImportError('EMPTY', 'the data chunk holds no samples');
      if (frames / fmt.rate > maxSeconds + 0.5) throw new AudioImportError('TOO_LONG', `${(frames / fmt.rate).toFixed(1)} s is longer than ${maxSeconds} s`);
      const out = new Float32Array(frames);
      const bps = fmt.bits / 8;
      for (let f = 0; f < frames; f++) {
        let sum = 0;
        for (let c = 0; c < fmt.channels; c++) {
          const at = body + f * fmt.align + c * bps;
          let v: number;
          if (fmt.format === 3) v = bps === 4 ? dv.getFloat32(at, true) : dv.getFloat64(at, true);
          else if (bps === 1) v = (bytes[at]! - 128) / 128;
          else if (bps === 2) v = dv.getInt16(at, true) / 32768;
          else if (bps === 3) v = (((bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16)) << 8) >> 8) / 8388608;
          else v = dv.getInt32(at, true) / 2147483648;
          sum += Number.isFinite(v) ? v : 0;
        }
        out[f] = Math.max(-1, Math.min(1, sum / fmt.channels));
      }
      return { sampleRate: fmt.rate, samples: out };
    }
    if (size > bytes.length - body) throw new AudioImportError('FORMAT', `chunk '${id}' of ${size} bytes runs past the end of the file`);
    if (id === 'fmt ') {
      if (size < 16) throw new AudioImportError('FORMAT', `fmt chunk of ${size} bytes`);
      let format = dv.getUint16(body, true);
      const channels = dv.getUint16(body + 2, true);
      const rate = dv.getUint32(body + 4, true);
      const align = dv.getUint16(body + 12, true);
      const bits = dv.getUint16(body + 14, true);
      if (format === 0xfffe && size >= 40) format = dv.getUint16(body + 24, true);
      const intOk = format === 1 && (bits === 8 || bits === 16 || bits === 24 || bits === 32);
      const floatOk = format === 3 && (bits === 32 || bits === 64);
      if (!intOk && !floatOk) throw new AudioImportError('UNSUPPORTED', `sample format ${format} with ${bits} bits (PCM 8/16/24/32 or float 32/64 only)`);
      if (channels < 1 || channels > 8) throw new AudioImportError('UNSUPPORTED', `${channels} channels`);
      if (rate < 1 || rate > 384000) throw new AudioImportError('UNSUPPORTED', `sample rate ${rate}`);
      if (align !== channels * (bits / 8)) throw new AudioImportError('FORMAT', `block align ${align} for ${channels} × ${bits} bits`);
      fmt = { format, channels, rate, bits, align };
    }
    off = body + size + (size & 1);
  }
  throw new AudioImportError('FORMAT', fmt ? 'no data chunk' : 'no fmt chunk');
}

const ZERO_CROSSINGS = 16;
/** Kernel table resolution: entries per input sample of distance. */
const TABLE_STEPS = 512;

/**
 * Resamples mono float audio from `fromRate` to `toRate` with a windowed sinc
 * (Blackman window, cut-off 0.95 × the lower Nyquist), the kernel read from a table
 * with linear interpolation. Output length round(n × toRate / fromRate).
 */
export function resample(samples: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (fromRate === toRate) return samples.slice();
  const ratio = toRate / fromRate;
  const n = Math.round(samples.length * ratio);
  const out = new Float32Array(n);
  const cutoff = 0.95 * Math.min(1, ratio); // in units of the input Nyquist
  const half = Math.ceil(ZERO_CROSSINGS / cutoff / 2); // taps each side, in input samples
  // h(x) for x = 0 .. half in steps of 1/TABLE_STEPS (symmetric)
  const table = new Float64Array(half * TABLE_STEPS + 2);
  for (let i = 0; i < table.length; i++) {
    const x = i / TABLE_STEPS;
    if (x >= half) continue;
    const w = 0.42 + 0.5 * Math.cos((Math.PI * x) / half) + 0.08 * Math.cos((2 * Math.PI * x) / half);
    const px = Math.PI * x * cutoff;
    table[i] = cutoff * (x === 0 ? 1 : Math.sin(px) / px) * w;
  }
  const last = table.length - 1;
  for (let i = 0; i < n; i++) {
    const t = i / ratio; // position in input samples
    const center = Math.floor(t);
    let acc = 0;
    let wsum = 0;
    // left of t: distances t-k for k = center down; right: k-t for k = center+1 up
    let pos = (t - center) * TABLE_STEPS;
    for (let k = center; pos < last; k--, pos += TABLE_STEPS) {
      const j = pos | 0;
      const h = table[j]! + (table[j + 1]! - table[j]!) * (pos - j);
      wsum += h;
      if (k >= 0 && k < samples.length) acc += samples[k]! * h;
    }
    pos = (center + 1 - t) * TABLE_STEPS;
    for (let k = center + 1; pos < last; k++, pos += TABLE_STEPS) {
      const j = pos | 0;
      const h = table[j]! + (table[j + 1]! - table[j]!) * (pos - j);
      wsum += h;
      if (k >= 0 && k < samples.length) acc += samples[k]! * h;
    }
    out[i] = wsum !== 0 ? acc / wsum : 0;
  }
  return out;
}

/** Float -1..1 to 16-bit with clipping. */
export function toInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.round(samples[i]! * 32767);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}

/** A WAV file as 16 kHz mono 16-bit samples (what the toy's codec takes). Throws AudioImportError. */
export function decodeWavToMono16k(bytes: Uint8Array, maxSeconds = MAX_IMPORT_SECONDS): { samples: Int16Array; sourceRate: number } {
  const m = parseWavMono(bytes, maxSeconds);
  return { samples: toInt16(resample(m.samples, m.sampleRate, SAMPLE_RATE_HZ)), sourceRate: m.sampleRate };
}

/**
 * Encodes 16 kHz mono samples into 20 ms Opus packets with `codec` (reset first; the
 * last frame is padded with silence). Returns copies, one per frame.
 * Throws AudioImportError TOO_LONG past `maxSeconds`, EMPTY for no samples, and the
 * codec's CodecError when encoding fails.
 */
export function encodePcm(samples: Int16Array, codec: CodecPort, maxSeconds = MAX_IMPORT_SECONDS): Uint8Array[] {
  if (samples.length === 0) throw new AudioImportError('EMPTY', 'no samples');
  const frames = Math.ceil(samples.length / FRAME_SAMPLES);
  if (frames > (maxSeconds * SAMPLE_RATE_HZ) / FRAME_SAMPLES) throw new AudioImportError('TOO_LONG', `${((frames * FRAME_SAMPLES) / SAMPLE_RATE_HZ).toFixed(1)} s is longer than ${maxSeconds} s`);
  codec.reset();
  const frame = new Int16Array(FRAME_SAMPLES);
  const out = new Uint8Array(1275);
  const packets: Uint8Array[] = [];
  for (let i = 0; i < frames; i++) {
    frame.fill(0);
    frame.set(samples.subarray(i * FRAME_SAMPLES, Math.min(samples.length, (i + 1) * FRAME_SAMPLES)));
    const n = codec.encode(frame, out);
    packets.push(out.slice(0, n));
  }
  return packets;
}

/**
 * An Ogg Opus file's packets for the toy, unchanged. Throws OggError (ogg-opus.ts),
 * AudioImportError UNSUPPORTED (a packet not of 20 ms), EMPTY, TOO_LONG.
 */
export function importOggOpus(bytes: Uint8Array, maxSeconds = MAX_IMPORT_SECONDS): OggOpusFile {
  const f = readOggOpus(bytes, { maxPackets: Math.ceil((maxSeconds * 1000) / 20) + 5 });
  if (f.packets.length === 0) throw new AudioImportError('EMPTY', 'the file holds no audio packets');
  if (f.packets.length > (maxSeconds * 1000) / 20) throw new AudioImportError('TOO_LONG', `${(f.packets.length / 50).toFixed(1)} s is longer than ${maxSeconds} s`);
  f.packets.forEach((p, i) => {
    const d = opusPacketSamples48k(p);
    if (d !== 960) throw new AudioImportError('UNSUPPORTED', `packet ${i} lasts ${d < 0 ? 'an invalid time' : `${d / 48} ms`}: the toy plays 20 ms packets (convert the file to WAV and send that)`);
  });
  return f;
}
