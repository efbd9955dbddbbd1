/**
 * A small RIFF/WAVE reader and writer for 16-bit PCM (host side: tests, tools).
 * The reader checks every chunk bound: a truncated or malformed file is a
 * WavError with a stable code, never an out-of-range read.
 * Codes: FORMAT (not RIFF/WAVE, no fmt or data chunk, chunk beyond the file),
 * UNSUPPORTED (not PCM 16-bit, or 0 channels / rate).
 */
import * as fs from 'node:fs';

export type WavErrorCode = 'FORMAT' | 'UNSUPPORTED';

export class WavError extends Error {
  override readonly name = 'WavError';
  readonly code: WavErrorCode;
  constructor(code: WavErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface WavAudio {
  sampleRate: number;
  channels: number;
  /** Interleaved samples (a copy, owned by the caller). */
  samples: Int16Array;
}

function tag(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);
}

/** Parses a 16-bit PCM WAV file. Throws WavError. */
export function parseWav(bytes: Uint8Array): WavAudio {
  if (bytes.length < 12) throw new WavError('FORMAT', `file of ${bytes.length} bytes is shorter than a RIFF header`);
  if (tag(bytes, 0) !== 'RIFF' || tag(bytes, 8) !== 'WAVE') throw new WavError('FORMAT', 'not a RIFF/WAVE file');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  let off = 12;
  while (off + 8 <= bytes.length) {
    const id = tag(bytes, off);
    const size = dv.getUint32(off + 4, true);
    const body = off + 8;
    // sox/espeak may write a data size of 0xffffffff or one past the end when streaming: clamp data, refuse others
    if (id === 'data') {
      if (!fmt) throw new WavError('FORMAT', 'data chunk before fmt chunk');
      const end = size > bytes.length - body ? bytes.length - body : size;
      const frameBytes = 2 * fmt.channels;
      const n = Math.floor(end / frameBytes) * fmt.channels;
      const samples = new Int16Array(n);
      for (let i = 0; i < n; i++) samples[i] = dv.getInt16(body + 2 * i, true);
      return { sampleRate: fmt.rate, channels: fmt.channels, samples };
    }
    if (size > bytes.length - body) throw new WavError('FORMAT', `chunk '${id}' of ${size} bytes runs past the end of the file`);
    if (id === 'fmt ') {
      if (size < 16) throw new WavError('FORMAT', `fmt chunk of ${size} bytes`);
      let format = dv.getUint16(body, true);
      const channels = dv.getUint16(body + 2, true);
      const rate = dv.getUint32(body + 4, true);
      const bits = dv.getUint16(body + 14, true);
      if (format === 0xfffe && size >= 40) format = dv.getUint16(body + 24, true); // WAVE_FORMAT_EXTENSIBLE sub-format
      if (format !== 1 || bits !== 16) throw new WavError('UNSUPPORTED', `only 16-bit PCM is supported (format ${format}, ${bits} bits)`);
      if (channels < 1 || rate < 1) throw new WavError('UNSUPPORTED', `channels ${channels}, rate ${rate}`);
      fmt = { format, channels, rate, bits };
    }
    off = body + size + (size & 1);
  }
  throw new WavError('FORMAT', fmt ? 'no data chunk' : 'no fmt chunk');
}

/** Encodes samples as a 16-bit PCM WAV file. */
export function formatWav(samples: Int16Array, sampleRate: number, channels = 1): Uint8Array {
  if (!(sampleRate >= 1) || !(channels >= 1)) throw new WavError('UNSUPPORTED', `channels ${channels}, rate ${sampleRate}`);
  const dataBytes = samples.length * 2;
  const out = new Uint8Array(44 + dataBytes);
  const dv = new DataView(out.buffer);
  const put = (at: number, s: string) => {
    for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i);
  };
  put(0, 'RIFF');
  dv.setUint32(4, 36 + dataBytes, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, 1, true);
  dv.setUint16(22, channels, true);
  dv.setUint32(24, sampleRate, true);
  dv.setUint32(28, sampleRate * channels * 2, true);
  dv.setUint16(32, channels * 2, true);
  dv.setUint16(34, 16, true);
  put(36, 'data');
  dv.setUint32(40, dataBytes, true);
  for (let i = 0; i < samples.length; i++) dv.setInt16(44 + 2 * i, samples[i]!, true);
  return out;
}

/** Reads a WAV file from disk. Throws WavError (or the fs error when unreadable). */
export function readWavFile(file: string): WavAudio {
  return parseWav(new Uint8Array(fs.readFileSync(file)));
}

/** Writes a mono or interleaved 16-bit PCM WAV file. */
export function writeWavFile(file: string, samples: Int16Array, sampleRate: number, channels = 1): void {
  fs.writeFileSync(file, formatWav(samples, sampleRate, channels));
}
