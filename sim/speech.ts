/**
 * Speech for the simulator and tests: text → 16 kHz mono signed 16-bit PCM with
 * espeak-ng (and sox to resample). Both are Debian packages (.ci/run installs them).
 */
import { execFileSync } from 'node:child_process';
import { readWavFile } from './wav-file.js';

export class SpeechUnavailableError extends Error {
  override readonly name = 'SpeechUnavailableError';
  constructor(message: string) {
    super(message);
  }
}

/** Speaks `text` (at most 300 characters) and returns 16 kHz mono PCM samples. */
export function speak(text: string, opts: { voice?: string; wordsPerMinute?: number } = {}): Int16Array {
  if (text.length === 0 || text.length > 300) throw new RangeError('text must be 1..300 characters');
  let wav: Buffer;
  try {
    wav = execFileSync('espeak-ng', ['-v', opts.voice ?? 'en', '-s', String(opts.wordsPerMinute ?? 150), '--stdout', text], {
      maxBuffer: 64 << 20,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    throw new SpeechUnavailableError('espeak-ng is not installed or failed');
  }
  let raw: Buffer;
  try {
    raw = execFileSync('sox', ['-t', 'wav', '-', '-r', '16000', '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', 'raw', '-'], {
      input: wav,
      maxBuffer: 64 << 20,
      stdio: ['pipe', 'pipe', 'ignore'],
    });
  } catch {
    throw new SpeechUnavailableError('sox is not installed or failed');
  }
  const out = new Int16Array(raw.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = raw.readInt16LE(i * 2);
  return out;
}

/**
 * Speaks `text` with espeak-ng when it is installed; otherwise returns the
 * committed speech fixture (tests/fixtures/speech-16k.wav, 3.8 s of espeak-ng
 * speech), so the simulator's microphone and the parent app always have speech.
 */
export function speakOrFixture(text: string): { samples: Int16Array; synthesized: boolean } {
  try {
    return { samples: speak(text), synthesized: true };
  } catch (e) {
    if (!(e instanceof SpeechUnavailableError)) throw e;
    const wav = readWavFile(new URL('../tests/fixtures/speech-16k.wav', import.meta.url).pathname);
    return { samples: wav.samples, synthesized: false };
  }
}
